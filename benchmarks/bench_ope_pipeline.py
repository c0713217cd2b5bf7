"""Whole pipelines estimated from another pipeline's log, against a shop world's exact values.

What `lmrec ope --pipeline` does, checked where the truth is known. Protocol (the synthetic shop
world at its defaults, read at round 0):
- the recommender: EASE fitted on the world's history; item text vectors by the bundled encoder;
- logging pipeline: the model's top 200 and 20 trending items, relevance order, a pool of 30, and
  softmax (Plackett-Luce) sampling of 10 slots at temperature 0.05 over the pool's relevance;
- a log: R requests, users uniformly with replacement, each list drawn by `Pipeline.recommend`
  (request id = the request's number), clicks by the world's position-based model (examination of
  the slot x the user's true attraction), written by `pipeline_log`;
- targets, each replayed on the log by `replay` (`lmrec.simulation.replay`): greedy; epsilon-greedy
  0.1; softmax at 0.02; MMR diversity at its default weight, greedy; a pool of 10; and item-kNN
  greedy (another model: its items may lie outside anything the logging pipeline shows);
- truth: each target's exact expected clicks per logged slot, the mean over the log's rows of
  sum_i P[i, j] x examination(j) x attraction(user, i) (P from `Pipeline.slot_distribution`);
- blind mass: the mean share of a target's slot probability on items the logging pipeline gives
  probability 0 at that slot; no importance weight can see it, so IPS and SNIPS miss that part;
- intervals, all three on the same estimates: the percentile bootstrap over requests; the
  empirical likelihood (`interval = "likelihood"`); and the empirical likelihood with each row's
  expected weight known from the logging pipeline's replay (`SlotTarget.expected_weight`), what
  `lmrec ope --interval likelihood --logging-pipeline` uses;
- seeds: each seed a new log and bootstrap; per target and estimator the mean and largest relative
  error and, per interval, the share of seeds whose 95% interval covers the truth and the mean
  width relative to the truth.

    python benchmarks/bench_ope_pipeline.py [--seeds 40] [--rounds 20000] [--bootstrap 100]

Writes benchmarks/results/ope_pipeline.json and the README's ope-pipeline and ope-pipeline-intervals
sections.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from typing import Any

import numpy as np
from common import replace_readme_section, write_results

from lmrec.encoders import EncoderConfig, embed_texts
from lmrec.models import create_model
from lmrec.pipeline.pipeline import Pipeline, Query
from lmrec.simulation.logs import ImpressionLog
from lmrec.simulation.ope import DR, IPS, SNIPS, Estimator, SlotTarget, SwitchDR, estimate_all
from lmrec.simulation.replay import expected_weights, pipeline_log, replay
from lmrec.simulation.worlds import ShopWorld

K = 10
BASE: dict[str, Any] = {
    "retrievers": [{"kind": "model", "n": 200}, {"kind": "trending", "n": 20}],
    "reranker": {"name": "relevance"},
    "pool": 30,
    "rules": {"exclude_unavailable": False},
    "explain": "none",
}
LOGGING = {**BASE, "policy": {"name": "softmax", "config": {"temperature": 0.05}}}
#: name -> (pipeline config, model); the model is EASE unless named.
TARGETS: dict[str, tuple[dict[str, Any], str]] = {
    "greedy": ({**BASE, "policy": {"name": "greedy"}}, "ease"),
    "epsilon 0.1": ({**BASE, "policy": {"name": "epsilon", "config": {"epsilon": 0.1}}}, "ease"),
    "softmax T=0.02": ({**BASE, "policy": {"name": "softmax", "config": {"temperature": 0.02}}}, "ease"),
    "mmr, greedy": ({**BASE, "reranker": {"name": "mmr"}, "policy": {"name": "greedy"}}, "ease"),
    "pool 10": ({**LOGGING, "pool": 10}, "ease"),
    "item-kNN, greedy": ({**BASE, "policy": {"name": "greedy"}}, "itemknn"),
}
LABELS = {"ips": "IPS", "snips": "SNIPS", "dr": "DR", "switch_dr": "Switch-DR"}
#: interval -> what it is called in the README.
INTERVALS = {"bootstrap": "bootstrap", "likelihood": "likelihood", "likelihood_mean": "likelihood, E[w] known"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=40, help="logs drawn")
    parser.add_argument("--rounds", type=int, default=20_000, help="requests per log")
    parser.add_argument("--bootstrap", type=int, default=100, help="bootstrap resamples per interval")
    args = parser.parse_args()
    started = time.perf_counter()
    world = ShopWorld.build({"horizon": 1, "seed": 0})
    data = world.history
    vectors = embed_texts(data.item_text(), EncoderConfig())
    models = {name: create_model(name).fit(data) for name in ("ease", "itemknn")}
    logging = Pipeline(LOGGING, models["ease"], data, vectors)
    targets = {name: Pipeline(config, models[model], data, vectors) for name, (config, model) in TARGETS.items()}
    attraction = world.attraction_rows(np.arange(world.n_users), 0)  # (U, I)
    exam = world.examination_probability(np.arange(K))  # (K,)
    user_ids = data.users.ids[world.user_rows]  # (U,)
    print(
        f"shop world: {world.n_users:,} users, {world.n_items:,} items; set up in {time.perf_counter() - started:.0f}s"
    )
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {t: {e: [] for e in LABELS} for t in TARGETS}
    blind: dict[str, list[float]] = {t: [] for t in TARGETS}
    logged_ctr = []
    for seed in range(args.seeds):
        tick = time.perf_counter()
        log, users = draw_log(logging, world.n_users, user_ids, attraction, exam, args.rounds, seed)
        logged_ctr.append(float(log["reward"].mean()))
        impressions, own = replay(logging, log)
        for name, pipeline in targets.items():
            _, target = replay(pipeline, log)
            truth = exact_value(target, impressions, users, attraction, exam)
            shares = expected_weights(target, own)  # (n,)
            blind[name].append(float(1.0 - shares.mean()))
            for estimator, record in estimate_target(impressions, target, shares, args.bootstrap, seed).items():
                runs[name][estimator].append({"truth": truth, **record})
        worst = max(abs(r["snips"][-1]["value"] / r["snips"][-1]["truth"] - 1) for r in runs.values())
        print(f"  seed {seed}: {time.perf_counter() - tick:.0f}s, largest SNIPS error {worst:.1%}", flush=True)
    result = {
        "settings": {**vars(args), "k": K, "logging": LOGGING, "targets": TARGETS, "intervals": INTERVALS},
        "world": world.describe(),
        "logged_ctr_per_slot": float(np.mean(logged_ctr)),
        "seconds": round(time.perf_counter() - started, 1),
        "targets": {
            name: {
                "truth": float(np.mean([r["truth"] for r in runs[name]["ips"]])),
                "blind_mass": float(np.mean(blind[name])),
                "estimators": {e: summarise(records) for e, records in runs[name].items()},
            }
            for name in TARGETS
        },
    }
    path = write_results("ope_pipeline", result)
    replace_readme_section("ope-pipeline", readme_section(result))
    replace_readme_section("ope-pipeline-intervals", intervals_section(result))
    print(readme_section(result))
    print(intervals_section(result))
    print(f"wrote {path}")


def estimate_target(
    impressions: ImpressionLog, target: SlotTarget, shares: np.ndarray, n_bootstrap: int, seed: int
) -> dict[str, dict[str, Any]]:
    """Every estimator's value, standard error and interval of each kind (`INTERVALS`) for one target:
    the bootstrap and the likelihood on the target as replayed, the likelihood again with each row's
    expected weight (`shares`, from the logging pipeline's replay) known."""
    held = replace(target, expected_weight=shares)
    found = {
        interval: estimate_all(impressions, slots, estimators=estimators(kind, n_bootstrap, seed))
        for interval, kind, slots in (
            ("bootstrap", "bootstrap", target),
            ("likelihood", "likelihood", target),
            ("likelihood_mean", "likelihood", held),
        )
    }
    return {
        e.estimator: {
            "value": e.value,
            "std_error": e.std_error,
            "intervals": {i: [found[i][e.estimator].low, found[i][e.estimator].high] for i in INTERVALS},
        }
        for e in found["bootstrap"].values()
    }


def estimators(interval: str, n_bootstrap: int, seed: int) -> list[Estimator[Any]]:
    """IPS, SNIPS, DR and Switch-DR at their defaults with the given interval."""
    shared = {"interval": interval, "n_bootstrap": n_bootstrap, "seed": seed}
    return [IPS(shared), SNIPS(shared), DR(shared), SwitchDR(shared)]


def draw_log(
    logging: Pipeline,
    n_users: int,
    user_ids: np.ndarray,
    attraction: np.ndarray,
    exam: np.ndarray,
    rounds: int,
    seed: int,
) -> tuple[Any, np.ndarray]:
    """One log of the logging pipeline, and each request's world user, shape (rounds,)."""
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, rounds)
    queries = [Query(user_id=str(user_ids[user]), k=K, request_id=f"{seed}-{t}") for t, user in enumerate(users)]
    shown, rewards = [], []
    for query, user in zip(queries, users.tolist(), strict=True):
        listed = logging.recommend(query)
        shown.append(listed)
        rewards.append((rng.random(len(listed)) < exam[: len(listed)] * attraction[user, listed.index]).astype(float))
    return pipeline_log(queries, shown, rewards), users


def exact_value(
    target: SlotTarget, impressions: ImpressionLog, users: np.ndarray, attraction: np.ndarray, exam: np.ndarray
) -> float:
    """The target's expected clicks per logged slot: the mean over rows of sum_c P(item c at the row's
    slot) x examination(slot) x the request's user's attraction to item c (`users` by request)."""
    row_users = users[impressions.round][:, None]  # (n, 1)
    liked = attraction[row_users, np.maximum(target.items, 0)]  # (n, c); padding has probability 0
    return float(((target.probability * liked).sum(axis=1) * exam[impressions.position]).mean())


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    truth = np.array([r["truth"] for r in records])
    value = np.array([r["value"] for r in records])
    per_interval = {}
    for interval in INTERVALS:
        low, high = np.array([r["intervals"][interval] for r in records]).T  # (seeds,) each
        per_interval[interval] = {
            "coverage": float(np.mean((low <= truth) & (truth <= high))),
            "mean_relative_width": float(np.mean((high - low) / truth)),
        }
    return {
        "mean_relative_error": float(np.abs(value / truth - 1).mean()),
        "max_relative_error": float(np.abs(value / truth - 1).max()),
        "mean_signed_error": float((value / truth - 1).mean()),
        "error_in_std_errors": float(np.std((value - truth) / np.array([r["std_error"] for r in records]))),
        "coverage": per_interval["bootstrap"]["coverage"],
        "intervals": per_interval,
        "seeds": records,
    }


def readme_section(result: dict[str, Any]) -> str:
    s = result["settings"]
    lines = [
        f"Whole pipelines estimated from one pipeline's log in the shop world ({result['world']['users']:,} users, "
        f"{result['world']['items']:,} items; `python benchmarks/bench_ope_pipeline.py --seeds {s['seeds']}`): "
        "the logging pipeline "
        f"draws {s['k']} of a re-ranked pool of 30 by softmax at temperature 0.05 for {s['rounds']:,} requests "
        f"per log ({result['logged_ctr_per_slot']:.4f} clicks per slot); each target is replayed on the log with "
        f"`lmrec.simulation.replay` and its truth is exact. {s['seeds']} seeds, each a new log and bootstrap "
        f"({s['bootstrap']} resamples of the requests). "
        "Each cell: mean relative error (largest of the "
        "seeds) · share of seeds whose 95% interval covers the truth. *Blind* is the share of the target's "
        "probability on items the logging pipeline never shows at that slot, which no weight can see.",
        "",
        "| target | true value | " + " | ".join(LABELS.values()) + " | blind |",
        "|---" * (len(LABELS) + 3) + "|",
    ]
    for name, target in result["targets"].items():
        cells = [
            f"{e['mean_relative_error']:.1%} ({e['max_relative_error']:.1%}) · {e['coverage']:.0%}"
            for e in target["estimators"].values()
        ]
        lines.append(f"| {name} | {target['truth']:.4f} | " + " | ".join(cells) + f" | {target['blind_mass']:.1%} |")
    return "\n".join(lines) + "\n"


def intervals_section(result: dict[str, Any]) -> str:
    """Coverage and width of the three intervals on the same estimates, per target and estimator."""
    s = result["settings"]
    lines = [
        f"The three intervals on the same {s['seeds']} logs and estimates (the run above): "
        + "; ".join(f"*{label}*" for label in INTERVALS.values())
        + " (each row's expected importance weight, from the logging pipeline's replay, held as a side "
        "constraint). Each cell: share of seeds whose 95% interval covers the truth, per interval in that "
        "order · mean width relative to the truth, in the same order.",
        "",
        "| target | " + " | ".join(LABELS.values()) + " |",
        "|---" * (len(LABELS) + 1) + "|",
    ]
    totals = {interval: 0 for interval in INTERVALS}
    for name, target in result["targets"].items():
        cells = []
        for estimator, e in target["estimators"].items():
            shown = e["intervals"]
            cells.append(
                " / ".join(f"{shown[i]['coverage']:.0%}" for i in INTERVALS)
                + " · "
                + " / ".join(f"{shown[i]['mean_relative_width']:.3f}" for i in INTERVALS)
            )
            if estimator in ("snips", "dr"):
                for interval in INTERVALS:
                    totals[interval] += round(shown[interval]["coverage"] * s["seeds"])
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    out_of = 2 * len(result["targets"]) * s["seeds"]
    lines += [
        "",
        "SNIPS and DR intervals covering the truth, over all targets: "
        + ", ".join(f"{label} {totals[i]} of {out_of}" for i, label in INTERVALS.items())
        + ".",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
