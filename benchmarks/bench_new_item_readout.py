"""What could clicks at best teach the balance agent about who likes a new item?

In the simulator world of bench_balance.py (same world settings and agent), every way the agent
could read a new item's attraction is fitted by ridge regression to the world's *exact* attraction
of the new items for one half of a sample of users, as if from unlimited clicks, and then read on
the other half: for each of those users, the true attraction of the new item it ranks first. A
model that cannot beat the user's 10th known item by base rank this way cannot earn a new item a
slot in the top 10 from real clicks either.

Readouts (v_i: the agent's item vector, u_u: its user factors, sim: profile · v_i):

- `shared text`: [1, sim(u, i), v_i] with weights shared by all new items (the head's θ);
- `shared text × user factors`: plus v_i ⊗ u_u, so that what one new item's clicks say about
  which users like which kind of text carries over to its look-alikes;
- `own offset`: each new item's own mean attraction over users, nothing personal;
- `shared text × user factors + own offset`: the two together;
- `own offset + taste`: each new item's own weights on [1, u_u] (the head's per-item arm);
- `text: mean cosine to the history`, `text: highest cosine to a history item`: nothing fitted,
  the language model's full item vectors (not the agent's reduced ones) read against every item in
  the user's history, as a content model would, or for the one history item most like the new one
  (a sequel to a game the user has);
- `text → EASE column`: nothing fitted to the new items, learned on the known ones: a ridge
  regression from an item's language-model vector to its column of the agent's EASE weights, so a
  new item's column is read from its text and the item scores h_u · B̂ = s_u T_k (T_kᵀT_k + μI)⁻¹ t_i,
  with s_u the user's EASE scores of the known items (their seen ones at 0), T_k the known items'
  unit text vectors (μ = `TEXT_RIDGE`);
- `clickers' histories`: an EASE fold-in, the form of the world's own truth. EASE's column of an
  item it never saw is the ridge regression of its users on the history's items, P⁻¹ Σ_c h_c with
  P = XᵀX + λI of the history, so the new item scores h_u · P⁻¹ Σ_c y_c h_c for user u: every fit
  user c weighted by their exact attraction y_c, or, as clicks would give, by the clicks drawn from
  `EXPOSURES` impressions of each new item to fit users drawn uniformly, at one examination
  probability (0.1 is a bottom slot's, 1.0 the top slot's), each click counting B / (n e) so that
  the weights estimate y_c without bias; for the lists below, each fold-in is mapped onto the
  attraction's scale by a line of the fit users' attraction on their own fold-in score, each scored
  from the others' weights (which shrinks a noisy one toward the mean).

Each readout is then also read as a list: the read users' top-10 of their 10 best known items by
base rank and the new items by the readout, each at its value (`list_lifts`; one not fitted to the
attraction is first mapped onto its scale by a line fitted on the fit users), and its expected
clicks against the known items' list alone. Beside it, the same with every new item at its true
attraction, the static counterpart of the simulator's `new_oracle`: how much of that lift a readout
keeps bounds what the head, learning that readout from clicks, could gain.

    python benchmarks/bench_new_item_readout.py [--dataset amazon-games] [--seed 100] [--users 800]

`--users 2500` fits on half of the world's 5,000 users and reads the other half (13 GB at
peak on amazon-games): the fold-ins then learn from half of the users the simulator has.

`--dataset shop` reads the synthetic shop's world (its new items are the products nobody had bought
by the history's cut, and those launched after it).

Writes benchmarks/results/new_item_readout_<dataset>.json (`_users<N>` added to the name when
`--users` is not 800).
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable

import numpy as np
from bench_balance import AGENT, SHOP, WORLDS, build, world_settings, world_source
from common import write_results

from lmrec.models.ease import EASEConfig, gram_precision
from lmrec.simulation.agents import Agent, ridge_onto_text, text_vectors
from lmrec.simulation.worlds import World

#: Ridge penalty of every readout (the exact attraction has no noise to shrink against).
RIDGE = 1e-3
#: μ of the `text → EASE column` readout (the best of 1, 10 and 100 on tuning seed 100 of amazon-games).
TEXT_RIDGE = 1.0
#: Users the readouts are fitted on (and as many read on) unless `--users` says otherwise.
DEFAULT_USERS = 800
#: Impressions of each new item and the examination probability of their slot, for the fold-in read
#: from clicks.
EXPOSURES = ((300, 0.1), (1_000, 0.3), (1_000, 1.0), (10_000, 1.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="amazon-games", choices=[*sorted(WORLDS), SHOP])
    parser.add_argument("--seed", type=int, default=100, help="World seed (bench_balance tunes on 100, 101).")
    parser.add_argument(
        "--users", type=int, default=DEFAULT_USERS, help="Users to fit on, and as many again to read on."
    )
    args = parser.parse_args()
    started = time.perf_counter()
    source = world_source(args.dataset)
    if source is None:
        return
    world, agent, _ = build(args.dataset, *source, args.seed, 100_000)
    print(f"{args.dataset}: world and agent built in {time.perf_counter() - started:.0f}s", flush=True)

    users = np.random.default_rng(args.seed).choice(world.n_users, 2 * args.users, replace=False)
    fit_users, read_users = users[: args.users], users[args.users :]
    new = np.flatnonzero(~agent.known)
    fit_attraction = world.attraction_rows(fit_users, 0).astype(np.float64)  # (B, I) at the first round
    fit_truth = fit_attraction[:, new]  # (B, P)
    attraction = world.attraction_rows(read_users, 0).astype(np.float64)  # (B', I)
    readouts = {name: readout(agent, new, fit_users, fit_truth, read_users) for name, readout in READOUTS.items()}
    readouts["random"] = np.random.default_rng([args.seed, 1]).random((len(read_users), len(new)))
    rows = np.arange(len(read_users))
    results = {name: float(attraction[rows, new[np.argmax(p, axis=1)]].mean()) for name, p in readouts.items()}
    results["the user's best new item (reference)"] = float(attraction[:, new].max(axis=1).mean())
    tenth = agent.static[read_users][:, 9]
    results["the user's 10th known item by base rank (reference)"] = float(attraction[rows, tenth].mean())
    width = max(map(len, results))
    for name, value in results.items():
        print(f"  {name:<{width}} {value:.4f}")
    on_scale = _on_attraction_scale(agent, new, fit_users, fit_truth, readouts)
    lifts = list_lifts(world, agent, new, fit_users, fit_attraction, read_users, attraction, on_scale)
    for name, value in lifts.items():
        print(f"  top-10 lift, {name:<{width}} {value:+.1%}")
    suffix = "" if args.users == DEFAULT_USERS else f"_users{args.users}"
    write_results(
        f"new_item_readout_{args.dataset}{suffix}",
        {
            "dataset": args.dataset,
            "world": {**world_settings(args.dataset), "seed": args.seed},
            "agent": {**AGENT, "seed": args.seed},
            "new_items": len(new),
            "users": {"fit": args.users, "read": args.users},
            "true_attraction_of_top_new_item": results,
            "top_10_expected_clicks_lift": lifts,
            "expected_clicks_per_new_item": {
                f"{n} impressions at examination {e}": round(n * e * float(fit_truth.mean()), 3) for n, e in EXPOSURES
            },
        },
    )


def _on_attraction_scale(
    agent: Agent, new: np.ndarray, fit_users: np.ndarray, fit_truth: np.ndarray, readouts: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The readouts to read as lists, each on the attraction's scale (B', P): the fitted ones as they
    are, the others through a line of the fit users' attraction on their own readout (a fold-in's
    fit users each scored from the others)."""
    on_scale = {name: readouts[name] for name in CALIBRATED}
    for name in UNFITTED:
        fitted = READOUTS[name](agent, new, fit_users, fit_truth, fit_users).ravel()  # (B * P,)
        line = _ridge(np.stack([np.ones_like(fitted), fitted], axis=1), fit_truth.ravel())
        on_scale[f"{name}, on the attraction's scale"] = line[0] + line[1] * readouts[name]
    line = _fold_in_line(agent, fit_users, fit_truth, fit_truth)
    on_scale[SCALED_FOLD_IN] = line[0] + line[1] * readouts[EXACT_FOLD_IN]
    for n, e in EXPOSURES:
        line = _fold_in_line(agent, fit_users, fit_truth, _click_weights(n, e, fit_users, fit_truth))
        on_scale[f"{_from_clicks(n, e)}, on the attraction's scale"] = line[0] + line[1] * readouts[_from_clicks(n, e)]
    return on_scale


def list_lifts(
    world: World,
    agent: Agent,
    new: np.ndarray,
    fit_users: np.ndarray,
    fit_attraction: np.ndarray,
    read_users: np.ndarray,
    attraction: np.ndarray,
    readouts: dict[str, np.ndarray],
) -> dict[str, float]:
    """How many more clicks a top-10 list would draw if each readout put new items in it, over the
    list of the user's 10 best known items by base rank (one round, every new item out at once).

    A known item at base rank r is valued at the mean exact attraction of the fit users' rank-r
    items (what the head's calibration of the base rank learns); a new item at its readout. The 10
    best by value make the list, whose expected clicks are Σ_k examination(k) · attraction.
    `readouts` (B', P) must be on the attraction's scale; `new items by their true attraction` is
    added as the bound `new_oracle` plays against. `fit_attraction` (B, I) and `attraction` (B', I)
    are the fit and read users' exact attraction of every item.
    """
    k = 10
    exam = world.examination_probability(np.arange(k))  # (k,)
    fit_static = agent.static[fit_users][:, :k]  # (B, k); -1 pads a user with fewer unseen items
    fit_values = np.take_along_axis(fit_attraction, np.maximum(fit_static, 0), axis=1)
    curve = (fit_values * (fit_static >= 0)).sum(axis=0) / np.maximum((fit_static >= 0).sum(axis=0), 1)  # (k,)
    static = agent.static[read_users][:, :k]  # (B', k)
    rows = np.arange(len(read_users))[:, None]
    baseline = (np.where(static >= 0, attraction[rows, np.maximum(static, 0)], 0.0) * exam).sum(axis=1).mean()
    known_values = np.where(static >= 0, curve, -np.inf)  # (B', k)
    scored = readouts | {"new items by their true attraction": attraction[:, new]}
    lifts = {}
    for name, predicted in scored.items():
        values = np.concatenate([known_values, predicted], axis=1)  # (B', k + P)
        items = np.concatenate([static, np.broadcast_to(new, predicted.shape)], axis=1)
        order = np.argsort(-values, axis=1, kind="stable")[:, :k]
        shown = np.take_along_axis(items, order, axis=1)  # (B', k)
        clicks = np.where(shown >= 0, attraction[rows, np.maximum(shown, 0)], 0.0) * exam  # (B', k)
        lifts[name] = float(clicks.sum(axis=1).mean() / baseline - 1.0)
    return lifts


def _shared_features(agent: Agent, users: np.ndarray, new: np.ndarray, cross: bool) -> np.ndarray:
    """(B, P, f): [1, sim, v_i] and, with `cross`, v_i ⊗ u_u of each user with each new item."""
    vectors = agent.vectors[new].astype(np.float64)  # (P, D)
    b, p = len(users), len(new)
    sim = agent.profiles[users].astype(np.float64) @ vectors.T  # (B, P)
    parts = [np.ones((b, p, 1)), sim[..., None], np.broadcast_to(vectors, (b, p, vectors.shape[1]))]
    if cross:
        parts.append(np.einsum("bq,pd->bpqd", agent.user_factors[users], vectors).reshape(b, p, -1))
    return np.concatenate(parts, axis=-1)


def _ridge(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Weights (f, ...) minimising |x w - y|² + RIDGE |w|² for x (n, f) and y (n, ...)."""
    return np.linalg.solve(x.T @ x + RIDGE * np.eye(x.shape[1]), x.T @ y)


def _shared(cross: bool, own_offset: bool = False) -> Callable[..., np.ndarray]:
    def readout(
        agent: Agent, new: np.ndarray, fit_users: np.ndarray, y: np.ndarray, read_users: np.ndarray
    ) -> np.ndarray:
        x = _shared_features(agent, fit_users, new, cross)  # (B, P, f)
        weights = _ridge(x.reshape(-1, x.shape[-1]), y.ravel())  # (f,)
        scores = _shared_features(agent, read_users, new, cross) @ weights  # (B', P)
        return scores + (y - x @ weights).mean(axis=0) if own_offset else scores

    return readout


def _own_offset(
    agent: Agent, new: np.ndarray, fit_users: np.ndarray, y: np.ndarray, read_users: np.ndarray
) -> np.ndarray:
    return np.broadcast_to(y.mean(axis=0), (len(read_users), len(new)))


def _own_taste(
    agent: Agent, new: np.ndarray, fit_users: np.ndarray, y: np.ndarray, read_users: np.ndarray
) -> np.ndarray:
    def w(users: np.ndarray) -> np.ndarray:
        return np.concatenate([np.ones((len(users), 1)), agent.user_factors[users]], axis=1)  # (B, 1 + q)

    return w(read_users) @ _ridge(w(fit_users), y)  # (B', P)


@functools.cache
def _text_vectors(agent: Agent) -> np.ndarray:
    """The language model's unit vectors of every item's text, shape (I, 384) float32."""
    return text_vectors(agent.config, agent.world.history)


def _text_similarity(highest: bool) -> Callable[..., np.ndarray]:
    def readout(
        agent: Agent, new: np.ndarray, fit_users: np.ndarray, y: np.ndarray, read_users: np.ndarray
    ) -> np.ndarray:
        vectors = _text_vectors(agent)  # (I, 384)
        rows = agent.world.history.histories()
        scores = np.zeros((len(read_users), len(new)))
        for b, row in enumerate(agent.world.user_rows[read_users]):
            items = rows.items[rows.indptr[row] : rows.indptr[row + 1]]
            if len(items):
                cosines = vectors[items] @ vectors[new].T  # (L, P)
                scores[b] = cosines.max(axis=0) if highest else cosines.mean(axis=0)
        return scores

    return readout


def _text_ease(
    agent: Agent, new: np.ndarray, fit_users: np.ndarray, y: np.ndarray, read_users: np.ndarray
) -> np.ndarray:
    known = np.flatnonzero(agent.known)
    vectors = _text_vectors(agent).astype(np.float64)  # (I, 384)
    history = agent.world.history.matrix(binary=True)[agent.world.user_rows[read_users]].toarray()  # (B', I)
    folded, diagonal = _ease_precision(agent)
    scores = history - folded[read_users] / diagonal  # (B', I): h_u B, B = -P⁻¹ / diag(P⁻¹) with zero diagonal
    scores[history > 0] = 0.0  # a seen item's score is the model echoing the history, not a taste
    profile = ridge_onto_text(scores[:, known] @ vectors[known], vectors[known], TEXT_RIDGE)  # (B', 384)
    return profile @ vectors[new].T  # (B', P)


@functools.cache
def _ease_precision(agent: Agent) -> tuple[np.ndarray, np.ndarray]:
    """P⁻¹ h_u of every world user, shape (U, I), and diag(P⁻¹), shape (I,): their history read through
    the precision of the history's regularised Gram matrix P, with the agent's EASE penalty (one dense
    inverse)."""
    matrix = agent.world.history.matrix(binary=True)  # (users, I)
    precision = gram_precision(matrix, EASEConfig.model_validate(agent.config.ranker_config).l2)  # (I, I)
    folded = np.asarray(matrix[agent.world.user_rows] @ precision, dtype=np.float32)  # (U, I)
    return folded, np.diag(precision).copy()


def _folded_histories(agent: Agent) -> np.ndarray:
    """P⁻¹ h_u of every world user, shape (U, I) (`_ease_precision`)."""
    return _ease_precision(agent)[0]


def _fold_kernel(agent: Agent, users: np.ndarray, fit_users: np.ndarray) -> np.ndarray:
    """h_u · P⁻¹ h_c of each of `users` with each fit user c, shape (len(users), len(fit_users)):
    how much each fit user's attraction of a new item counts in the fold-in's score for u."""
    history = agent.world.history.matrix(binary=True)[agent.world.user_rows[users]]  # (B', I)
    return np.asarray(history @ _folded_histories(agent)[fit_users].T, dtype=np.float64)  # (B', B)


def _fold_in(exposures: int | None = None, examination: float = 1.0) -> Callable[..., np.ndarray]:
    def readout(
        agent: Agent, new: np.ndarray, fit_users: np.ndarray, y: np.ndarray, read_users: np.ndarray
    ) -> np.ndarray:
        weights = y if exposures is None else _click_weights(exposures, examination, fit_users, y)  # (B, P)
        kernel = _fold_kernel(agent, read_users, fit_users)  # (B', B)
        ties = 1e-12 * np.random.default_rng(1).random((len(read_users), len(new)))  # items no click reached
        return kernel @ weights + ties  # (B', P)

    return readout


def _click_weights(exposures: int, examination: float, fit_users: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each fit user's weight in a fold-in read from clicks, shape (B, P): the clicks drawn from
    `exposures` impressions of each new item to fit users drawn uniformly, at `examination`, each
    counting B / (exposures · examination), so that the weights estimate the attraction y without
    bias (a fixed draw for each setting)."""
    rng = np.random.default_rng([exposures, round(examination * 1000)])
    shown = np.stack(
        [
            np.bincount(rng.integers(len(fit_users), size=exposures), minlength=len(fit_users))
            for _ in range(y.shape[1])
        ],
        axis=1,
    )  # (B, P) impressions of each new item per fit user
    clicks = rng.binomial(shown, np.clip(y * examination, 0.0, 1.0))  # (B, P); E = shown · examination · y
    return clicks * (len(fit_users) / (exposures * examination))


def _fold_in_line(agent: Agent, fit_users: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Intercept and slope (2,) that map a fold-in with these fit-user `weights` (B, P) onto the
    attraction's scale: the fit users' attraction y regressed on their fold-in scores, each scored
    from the others (so a noisy fold-in is shrunk toward the mean)."""
    kernel = _fold_kernel(agent, fit_users, fit_users)  # (B, B)
    np.fill_diagonal(kernel, 0.0)  # a fit user's own weight does not score them
    scores = (kernel @ weights).ravel()  # (B * P,)
    return _ridge(np.stack([np.ones_like(scores), scores], axis=1), y.ravel())


def _from_clicks(exposures: int, examination: float) -> str:
    return f"clickers' histories, clicks of {exposures:,} impressions at examination {examination}"


EXACT_FOLD_IN = "clickers' histories (EASE fold-in), exact attraction"
#: Its list is read with its scores mapped onto the attraction's scale (`_fold_in_line`).
SCALED_FOLD_IN = "clickers' histories, exact attraction, on the attraction's scale"

#: A readout: (agent, new items (P,), fit users (B,), their exact attraction of the new items (B, P),
#: read users (B',)) -> scores (B', P).
READOUTS: dict[str, Callable[..., np.ndarray]] = {
    "shared text": _shared(cross=False),
    "shared text × user factors": _shared(cross=True),
    "own offset": _own_offset,
    "shared text × user factors + own offset": _shared(cross=True, own_offset=True),
    "own offset + taste": _own_taste,
    "text: mean cosine to the history": _text_similarity(highest=False),
    "text: highest cosine to a history item": _text_similarity(highest=True),
    "text → EASE column": _text_ease,
    EXACT_FOLD_IN: _fold_in(),
    **{_from_clicks(n, e): _fold_in(n, e) for n, e in EXPOSURES},
}

#: The readouts fitted to the exact attraction, so on its scale (the text ones and the fold-ins
#: are not; `UNFITTED` are mapped onto it for the lists).
CALIBRATED = (
    "shared text",
    "shared text × user factors",
    "own offset",
    "shared text × user factors + own offset",
    "own offset + taste",
)

#: Readouts that read the new items without their attraction, mapped onto its scale for the lists.
UNFITTED = ("text: mean cosine to the history", "text: highest cosine to a history item", "text → EASE column")


if __name__ == "__main__":
    main()
