"""Off-policy evaluation against a known truth: exact values of slate policies in a world, and their logs.

A world of `lmrec.simulation.worlds` knows each user's true attraction to every item and the
examination probability of each slot, so the expected clicks of any policy whose slot
probabilities are known follow without simulation. Here a *context* is one user with a fixed list
of n candidates (one request's candidates), and a slate policy fills k slots from them. With
P[c, i, j] = P(candidate i at slot j | context c), the exact matrix of `Policy.slot_probabilities`,
the attraction A[c, i] and the examination e_j, the position-based click model gives

    V(c) = (1 / k) sum_{i, j} P[c, i, j] · A[c, i] · e_j,

the expected clicks per slot: the per-row value that the estimators of `lmrec.simulation.ope`
estimate (k · V(c) is the expected clicks of the whole list). `log_slates` writes a logging
policy's impression log over such contexts: each request draws a context uniformly with
replacement, the list by the policy's own sampler and the clicks by the click model, and each row
carries its exact slot propensity P[c, a, j]. An estimate can then be compared with the exact value
of the target, averaged over the logged requests' contexts (`LoggedSlates.truth`).

The log's items are candidate indices (0..n-1 within a context's list), not world items, so a
target's distribution over each row has n columns rather than one per catalogue item; for the
default reward model of the doubly robust estimators an "item" is then a candidate's place in its
list. The world is read at one round (`SlateContexts.from_world`): the truth is that snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lmrec.diagnostics import DataError
from lmrec.itemlist import ItemList
from lmrec.pipeline.explore import Policy
from lmrec.simulation.logs import ImpressionLog
from lmrec.simulation.worlds import World, top_k_rows


@dataclass(frozen=True, eq=False)
class SlateContexts:
    """Requests of a frozen world: each context is a user with a fixed candidate list; validated.

    Arrays (C contexts, n candidates, k slots):
        users: (C,) int64, the world user of each context.
        candidates: (C, n) int64, the world item of each candidate.
        attraction: (C, n) float64, the true probability that the user clicks each candidate when
            they look at it, in [0, 1].
        examination: (k,) float64, the probability that the user looks at each slot, in [0, 1].
    """

    users: np.ndarray
    candidates: np.ndarray
    attraction: np.ndarray
    examination: np.ndarray

    def __post_init__(self) -> None:
        users = np.asarray(self.users, dtype=np.int64)
        candidates = np.asarray(self.candidates, dtype=np.int64)
        attraction = np.asarray(self.attraction, dtype=np.float64)
        examination = np.asarray(self.examination, dtype=np.float64)
        if users.ndim != 1 or candidates.ndim != 2 or len(candidates) != len(users):
            raise DataError(
                f"must have shape ({len(users)}, n) for {len(users)} users, got {candidates.shape}", field="candidates"
            )
        if attraction.shape != candidates.shape:
            raise DataError(f"must have the candidates' shape {candidates.shape}", field="attraction")
        if examination.ndim != 1 or not 1 <= len(examination) <= candidates.shape[1]:
            raise DataError(
                f"must hold one probability per slot, 1 to {candidates.shape[1]} (the candidates) of them",
                field="examination",
                value=examination.shape,
            )
        for name, array in (("attraction", attraction), ("examination", examination)):
            bad = ~((array >= 0.0) & (array <= 1.0))  # NaN fails both
            if bad.any():
                row = int(np.argwhere(bad)[0][0])
                raise DataError("must be a probability in [0, 1]", field=name, row=row, value=array[bad][0])
        object.__setattr__(self, "users", users)
        object.__setattr__(self, "candidates", candidates)
        object.__setattr__(self, "attraction", attraction)
        object.__setattr__(self, "examination", examination)

    @property
    def n_contexts(self) -> int:
        """Number of contexts C."""
        return len(self.users)

    @property
    def n_candidates(self) -> int:
        """Candidates per context n."""
        return int(self.candidates.shape[1])

    @property
    def k(self) -> int:
        """Slots per list."""
        return len(self.examination)

    @classmethod
    def from_world(
        cls,
        world: World,
        scores: np.ndarray,
        n_candidates: int,
        k: int,
        *,
        users: np.ndarray | None = None,
        round: int = 0,
    ) -> SlateContexts:
        """One context per user: their `n_candidates` best-scored items, best first, among those
        available at `round` and not in their history; attraction and examination read at `round`.

        Args:
            scores: (len(users), n_items) a retrieval model's scores of every item for each user.
            users: world users, one context each (default every world user).

        Raises:
            DataError: for scores of the wrong shape, or a user with fewer eligible items than asked.
        """
        if not 1 <= k <= n_candidates:
            raise DataError(f"k must be in [1, n_candidates = {n_candidates}]", field="k", value=k)
        users = np.arange(world.n_users) if users is None else np.asarray(users, dtype=np.int64)
        expected = (len(users), world.n_items)
        if np.shape(scores) != expected:
            raise DataError(f"must have shape {expected} (users, world items), got {np.shape(scores)}", field="scores")
        values = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=-np.inf)
        seen = world.history.matrix(binary=True)[world.user_rows[users]].tocsr()  # (C, I)
        values[np.repeat(np.arange(len(users)), np.diff(seen.indptr)), seen.indices] = -np.inf
        values[:, ~world.available(round)] = -np.inf
        eligible = np.isfinite(values).sum(axis=1)  # (C,)
        short = np.flatnonzero(eligible < n_candidates)
        if len(short):
            row = int(short[0])
            raise DataError(
                f"user {users[row]} has {eligible[row]} unseen, available, scored items; {n_candidates} asked",
                field="n_candidates",
                row=row,
                value=int(eligible[row]),
            )
        candidates = top_k_rows(values, n_candidates)  # (C, n)
        attraction = world.click_probability(users[:, None], candidates, round)  # (C, n)
        return cls(users, candidates, attraction, world.examination_probability(np.arange(k)))


@dataclass(frozen=True, eq=False)
class SlatePolicy:
    """A policy of `lmrec.pipeline.explore` applied to fixed scores of each context's candidates.

    Attributes:
        name: label in reports.
        policy: the policy (greedy, epsilon, softmax, thompson, ...).
        scores: (C, n) the score of each candidate of each context, higher is better.
        columns: extra candidate columns the policy reads, each (C, n), such as `uncertainty`.
    """

    name: str
    policy: Policy[Any]
    scores: np.ndarray
    columns: dict[str, np.ndarray] | None = None

    def candidates(self, contexts: SlateContexts, context: int) -> ItemList:
        """The candidate list of one context, ids and index its world items."""
        items = contexts.candidates[context]
        extra = {name: values[context] for name, values in (self.columns or {}).items()}
        return ItemList(items.astype(object), items, self.scores[context], extra)

    def slot_table(self, contexts: SlateContexts) -> np.ndarray:
        """P[c, i, j] = P(candidate i at slot j | context c), exactly, shape (C, n, k)."""
        self._check(contexts)
        table = np.empty((contexts.n_contexts, contexts.n_candidates, contexts.k))
        for c in range(contexts.n_contexts):
            probabilities = self.policy.slot_probabilities(self.candidates(contexts, c), contexts.k)  # (n, m)
            if probabilities.shape[1] != contexts.k:
                raise DataError(
                    f"policy {self.name!r} fills {probabilities.shape[1]} of {contexts.k} slots (NaN scores?)",
                    field="scores",
                    row=c,
                )
            table[c] = probabilities
        return table

    def sample(self, contexts: SlateContexts, context: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One list per request by the policy's sampler: candidate indices in slot order, shape (R, k).

        Args:
            context: (R,) the context of each request.
        """
        self._check(contexts)
        shown = np.empty((len(context), contexts.k), dtype=np.int64)
        order = np.argsort(context, kind="stable")
        bounds = np.searchsorted(context[order], np.arange(contexts.n_contexts + 1))  # (C + 1,)
        for c in np.flatnonzero(np.diff(bounds)).tolist():
            requests = order[bounds[c] : bounds[c + 1]]
            positions, _ = self.policy.sample(self.candidates(contexts, c), contexts.k, rng, len(requests))
            shown[requests] = positions
        return shown

    def _check(self, contexts: SlateContexts) -> None:
        for name, values in {"scores": self.scores, **(self.columns or {})}.items():
            if np.shape(values) != contexts.candidates.shape:
                raise DataError(
                    f"policy {self.name!r}: must have the candidates' shape {contexts.candidates.shape}",
                    field=name,
                    value=np.shape(values),
                )


def slot_values(contexts: SlateContexts, table: np.ndarray) -> np.ndarray:
    """Exact expected clicks per slot of the policy `table` in each context, shape (C,).

    V(c) = (1 / k) sum_{i, j} P[c, i, j] · A[c, i] · e_j (module docstring).

    Args:
        table: (C, n, k) slot probabilities, from `SlatePolicy.slot_table`.
    """
    if np.shape(table) != (contexts.n_contexts, contexts.n_candidates, contexts.k):
        raise DataError(
            f"must have shape {(contexts.n_contexts, contexts.n_candidates, contexts.k)} (contexts, candidates, slots)",
            field="table",
            value=np.shape(table),
        )
    clicks = np.einsum("cij,ci,j->c", table, contexts.attraction, contexts.examination)  # (C,)
    return np.asarray(clicks / contexts.k)


@dataclass(frozen=True, eq=False)
class LoggedSlates:
    """A logging policy's log over `SlateContexts`, with each row's context.

    Attributes:
        impressions: R requests of k rows each; `item` is the candidate index within the context's
            list and `propensity` its exact slot probability under the logging policy.
        context: (R · k,) the context of each row.
    """

    impressions: ImpressionLog
    context: np.ndarray

    def target_dist(self, table: np.ndarray) -> np.ndarray:
        """A target's pi_e(. | x_i, p_i) for every row i, shape (R · k, n): what the estimators take."""
        return np.asarray(table[self.context, :, self.impressions.position])

    def truth(self, values: np.ndarray) -> float:
        """The exact value per slot averaged over the logged requests' contexts.

        Args:
            values: (C,) from `slot_values`.
        """
        return float(np.mean(values[self.context]))  # every request fills k rows: rows weigh requests equally


def log_slates(
    contexts: SlateContexts, logging: SlatePolicy, n_rounds: int, seed: int, *, table: np.ndarray | None = None
) -> LoggedSlates:
    """`n_rounds` requests of the logging policy: contexts uniformly with replacement, each list by
    the policy's sampler, a click at slot j with probability e_j · A[c, i], exact propensities.

    Args:
        table: `logging.slot_table(contexts)` when already computed (it is the costly part).
        seed: contexts, lists and clicks draw from three streams of it.
    """
    if isinstance(n_rounds, bool) or not isinstance(n_rounds, int | np.integer) or n_rounds < 1:
        raise DataError("must be a whole number >= 1", field="n_rounds", value=n_rounds)
    table = logging.slot_table(contexts) if table is None else table
    rng_contexts, rng_lists, rng_clicks = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3))
    k = contexts.k
    context = rng_contexts.integers(0, contexts.n_contexts, size=n_rounds)  # (R,)
    shown = logging.sample(contexts, context, rng_lists)  # (R, k)
    click = contexts.examination[None, :] * np.take_along_axis(contexts.attraction[context], shown, axis=1)  # (R, k)
    reward = (rng_clicks.random((n_rounds, k)) < click).astype(np.float64)
    slots = np.tile(np.arange(k), n_rounds)
    rows = np.repeat(context, k)
    impressions = ImpressionLog(
        round=np.repeat(np.arange(n_rounds), k),
        position=slots,
        item=shown.ravel(),
        reward=reward.ravel(),
        propensity=table[rows, shown.ravel(), slots],
        n_items=contexts.n_candidates,
        n_positions=k,
    )
    return LoggedSlates(impressions, rows)
