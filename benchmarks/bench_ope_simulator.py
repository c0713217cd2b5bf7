"""Off-policy evaluation validated against known truth in the simulator (issue point 6a).

Protocol, per world (the synthetic shop; a semi-synthetic ml-100k world when ../shared/data/ml-100k
exists; both with their default configs, read at round 0):
- contexts: every user with a history, each with their N best unseen, available items (the
  candidates) by an ALS model fitted on the world's history; the world's attraction of each
  candidate and examination of each slot are the truth (position-based clicks);
- logging policy: softmax (Plackett-Luce) sampling of K slots at temperature 1 over the ALS scores
  standardised within each candidate list; R requests of K slots, users uniformly with
  replacement, each row logged with its exact slot propensity;
- target policies on the same candidates: greedy, softmax at temperatures 0.5 and 2, and
  epsilon-greedy (epsilon 0.1) on the same scores; greedy by popularity (another scorer); uniform
  random (softmax over equal scores);
- truth: each target's exact expected clicks per slot, (1/K) sum_ij P[i, j] A_i e_j from its exact
  slot probabilities P, averaged over the logged requests' users; the population value (every
  context weighted equally) is reported too;
- estimators: IPS, SNIPS, DR and Switch-DR of `lmrec.simulation.ope` at their defaults (DR's reward
  model the per-(candidate, slot) mean click with empirical-Bayes smoothing, 3-fold cross-fitted,
  a candidate being its place in the ALS order; Switch-DR tau 10), with 95% percentile bootstrap
  intervals over requests; beside them, on the same estimates, the empirical-likelihood interval
  and the empirical-likelihood interval with every row's importance weight held to its known mean,
  1 (the logging policy can show every candidate);
- seeds: the world and scorers stay fixed; each seed draws a new log (users, lists, clicks) and
  bootstrap. Per target and estimator: mean and largest relative error |estimate - truth| / truth,
  mean signed error, and the share of seeds whose interval covers the truth;
- check seeds: 20 seeds measure a coverage of 95% only to about ±5%, so further seeds (numbered
  from 1000, without the bootstrap) measure how often the delta-method 95% interval covers the
  truth, and how the spread of the errors compares with the standard error.

Targets: for every target, SNIPS and DR within 10% of the truth in every seed, and their 95%
intervals covering the truth in at least 90% of the seeds.

    python benchmarks/bench_ope_simulator.py [--worlds shop ml-100k] [--seeds 20] [--rounds 100000]
        [--candidates 10] [--k 5] [--bootstrap 100] [--check-seeds 100]

Writes benchmarks/results/ope_simulator.json and the README's ope-simulator section.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
from common import replace_readme_section, shared_data, timer, write_results

from lmrec.models import create_model
from lmrec.pipeline.explore import EpsilonGreedy, Greedy, Softmax
from lmrec.simulation.ope import DR, IPS, SNIPS, Estimator, SlotTarget, SwitchDR
from lmrec.simulation.validation import LoggedSlates, SlateContexts, SlatePolicy, log_slates, slot_values
from lmrec.simulation.worlds import SemiSyntheticWorld, ShopWorld, World

WORLDS = ("shop", "ml-100k")
LABELS = {"ips": "IPS", "snips": "SNIPS", "dr": "DR", "switch_dr": "Switch-DR"}
#: The estimators the issue's targets are about.
TARGETED = ("snips", "dr")
#: Largest relative error allowed in any seed, and least share of seeds whose interval covers the truth.
MAX_ERROR, MIN_COVERAGE = 0.10, 0.90
#: Half-width of a normal 95% interval in standard errors (the delta-method interval, for comparison).
NORMAL_95 = 1.959964
#: The likelihood intervals computed beside the bootstrap on the main seeds, and what the README calls them.
LIKELIHOOD = {"likelihood": "likelihood", "likelihood_mean": "likelihood, E[w] known"}
#: The first of the check seeds, far from the main seeds.
CHECK_SEEDS_FROM = 1000
LOGGING_TEMPERATURE = 1.0
RETRIEVER = {"factors": 64, "num_threads": 1, "seed": 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worlds", nargs="+", default=list(WORLDS), choices=WORLDS)
    parser.add_argument("--seeds", type=int, default=20, help="logs drawn per world")
    parser.add_argument("--rounds", type=int, default=100_000, help="requests (impressions) per log")
    parser.add_argument("--candidates", type=int, default=10, help="candidates per request")
    parser.add_argument("--k", type=int, default=5, help="slots per list")
    parser.add_argument("--bootstrap", type=int, default=100, help="bootstrap resamples per interval")
    parser.add_argument("--check-seeds", type=int, default=100, help="further logs per world, delta-method only")
    args = parser.parse_args()

    results: dict[str, Any] = {}
    with timer() as took:
        for name in args.worlds:
            world = build_world(name)
            if world is None:
                continue
            results[name] = run_world(name, world, args)
    settings = {
        "seeds": args.seeds,
        "rounds": args.rounds,
        "candidates": args.candidates,
        "k": args.k,
        "n_bootstrap": args.bootstrap,
        "check_seeds": args.check_seeds,
        "logging_temperature": LOGGING_TEMPERATURE,
        "retriever": {"model": "als", **RETRIEVER},
    }
    payload = {
        "question": "do the off-policy estimators recover the exact values of target policies in a known world",
        "protocol": "Protocol, per world" + __doc__.split("Protocol, per world")[1].split("    python")[0].rstrip(),
        "settings": settings,
        "seconds": round(took["seconds"], 1),
        "worlds": results,
    }
    path = write_results("ope_simulator", payload)
    print(f"wrote {path} ({took['seconds']:.0f}s)")
    replace_readme_section("ope-simulator", readme_section(results, settings))


def build_world(name: str) -> World | None:
    """The shop world, or the semi-synthetic ml-100k world (None when its data is absent)."""
    started = time.perf_counter()
    if name == "shop":
        world: World = ShopWorld.build()
    else:
        from lmrec.data.ingest import load_dataset

        path = shared_data(name)
        if path is None:
            return None
        dataset, _ = load_dataset(path)
        world = SemiSyntheticWorld.build(dataset)
    print(f"{name}: {world.n_users:,} users x {world.n_items:,} items, built in {time.perf_counter() - started:.1f}s")
    return world


def setup(world: World, n: int, k: int) -> tuple[SlateContexts, SlatePolicy, list[SlatePolicy]]:
    """The contexts, the logging policy and the target policies of one world (module docstring)."""
    history = world.history.matrix(binary=True)[world.user_rows]
    users = np.flatnonzero(np.diff(history.indptr) > 0)  # users with a history
    rows = world.user_rows[users]
    retriever = create_model("als", RETRIEVER).fit(world.history)
    scores = np.asarray(retriever.score_histories(world.history.histories(rows)), dtype=np.float64)  # (C, I)
    contexts = SlateContexts.from_world(world, scores, n, k, users=users)
    by_context = np.arange(contexts.n_contexts)[:, None]
    als = standardised(scores[by_context, contexts.candidates])  # (C, n)
    popularity = world.history.item_counts()[contexts.candidates].astype(np.float64)  # (C, n)
    logging = SlatePolicy(f"softmax T={LOGGING_TEMPERATURE:g}", Softmax({"temperature": LOGGING_TEMPERATURE}), als)
    targets = [
        SlatePolicy("greedy", Greedy(), als),
        SlatePolicy("softmax T=0.5", Softmax({"temperature": 0.5}), als),
        SlatePolicy("softmax T=2", Softmax({"temperature": 2.0}), als),
        SlatePolicy("epsilon-greedy 0.1", EpsilonGreedy({"epsilon": 0.1}), als),
        SlatePolicy("greedy by popularity", Greedy(), popularity),
        SlatePolicy("uniform random", Softmax(), np.zeros_like(als)),
    ]
    return contexts, logging, targets


def standardised(scores: np.ndarray) -> np.ndarray:
    """Each row minus its mean over its standard deviation (a constant row becomes zeros)."""
    spread = scores.std(axis=1, keepdims=True)
    return (scores - scores.mean(axis=1, keepdims=True)) / np.where(spread > 0, spread, 1.0)


def estimators(n_bootstrap: int, seed: int, interval: str = "bootstrap") -> list[Estimator[Any]]:
    config = {"n_bootstrap": n_bootstrap, "seed": seed, "interval": interval}
    return [IPS(config), SNIPS(config), DR(config), SwitchDR(config)]


def run_world(name: str, world: World, args: argparse.Namespace) -> dict[str, Any]:
    """Every seed's log and estimates in one world, and their summary per target and estimator."""
    started = time.perf_counter()
    contexts, logging, targets = setup(world, args.candidates, args.k)
    logging_table = logging.slot_table(contexts)
    tables = {t.name: t.slot_table(contexts) for t in targets}
    values = {t: slot_values(contexts, table) for t, table in tables.items()}
    print(
        f"{name}: {contexts.n_contexts:,} contexts of {contexts.n_candidates} candidates, {len(targets)} targets; "
        f"exact slot probabilities in {time.perf_counter() - started:.1f}s"
    )

    def estimate_seeds(
        seeds: range, n_bootstrap: int
    ) -> tuple[dict[str, dict[str, list[dict[str, float]]]], list[float]]:
        """Per target and estimator, the record of each seed's log; and each log's click rate."""
        runs: dict[str, dict[str, list[dict[str, float]]]] = {t: {e: [] for e in LABELS} for t in tables}
        ctr = []
        for seed in seeds:
            tick = time.perf_counter()
            logged = log_slates(contexts, logging, args.rounds, seed, table=logging_table)
            ctr.append(float(logged.impressions.reward.mean()))
            for target, table in tables.items():
                for estimator, record in estimate_target(logged, table, values[target], n_bootstrap, seed).items():
                    runs[target][estimator].append(record)
            worst = max(abs(t[e][-1]["value"] / t[e][-1]["truth"] - 1) for t in runs.values() for e in TARGETED)
            print(f"  seed {seed}: {time.perf_counter() - tick:.1f}s, largest SNIPS/DR error {worst:.1%}", flush=True)
        return runs, ctr

    runs, logging_ctr = estimate_seeds(range(args.seeds), args.bootstrap)
    check, _ = estimate_seeds(range(CHECK_SEEDS_FROM, CHECK_SEEDS_FROM + args.check_seeds), 0)
    population = {t: float(v.mean()) for t, v in values.items()}
    out = {
        "world": world.describe(),
        "contexts": contexts.n_contexts,
        "logging_policy": logging.name,
        "logging_value": float(slot_values(contexts, logging_table).mean()),
        "logging_ctr_mean": float(np.mean(logging_ctr)),
        "seconds": round(time.perf_counter() - started, 1),
        "targets": {t: summarise(runs[t], population[t]) for t in tables},
        "check": {
            "seeds": args.check_seeds,
            "targets": {t: {e: error_stats(r) for e, r in check[t].items()} for t in tables}
            if args.check_seeds
            else {},
        },
    }
    print_world(name, out)
    return out


def estimate_target(
    logged: LoggedSlates, table: np.ndarray, values: np.ndarray, n_bootstrap: int, seed: int
) -> dict[str, dict[str, float]]:
    """Every estimator's estimate of one target (slot table (C, n, k), exact values (C,)) from one log;
    with the bootstrap (main seeds) the two likelihood intervals too."""
    truth = logged.truth(values)
    dist = logged.target_dist(table)  # (rows, n)
    out = {}
    for estimator in estimators(n_bootstrap, seed):
        e = estimator.estimate(logged.impressions, dist)
        out[e.estimator] = {
            "truth": truth,
            "value": e.value,
            "low": e.low,
            "high": e.high,
            "std_error": e.std_error,
            "effective_sample_size": e.effective_sample_size,
        }
    if n_bootstrap == 0:
        return out
    held = SlotTarget.from_dense(dist, np.ones(len(dist)))  # softmax logging reaches every candidate
    for interval, target in (("likelihood", dist), ("likelihood_mean", held)):
        for estimator in estimators(0, seed, "likelihood"):
            e = estimator.estimate(logged.impressions, target)
            out[e.estimator][interval] = [e.low, e.high]
    return out


def summarise(runs: dict[str, list[dict[str, float]]], population: float) -> dict[str, Any]:
    """Per estimator over the seeds: errors, coverage and the per-seed records."""
    logged = [r["truth"] for r in next(iter(runs.values()))]
    out: dict[str, Any] = {
        "population_value": population,
        "logged_value_mean": float(np.mean(logged)),
        "estimators": {},
    }
    for estimator, records in runs.items():
        truth = np.array([r["truth"] for r in records])
        low, high = np.array([r["low"] for r in records]), np.array([r["high"] for r in records])
        out["estimators"][estimator] = {
            **error_stats(records),
            "coverage": float(np.mean((low <= truth) & (truth <= high))),
            "coverage_population": float(np.mean((low <= population) & (population <= high))),
            "misses_below": int(np.sum(high < truth)),
            "misses_above": int(np.sum(low > truth)),
            "interval_width_mean": float(np.mean((high - low) / truth)),
            **{f"coverage_{interval}": _coverage([r[interval] for r in records], truth) for interval in LIKELIHOOD},
            "runs": records,
        }
    return out


def _coverage(bounds: list[list[float]], truth: np.ndarray) -> float:
    """The share of seeds whose interval (low, high) covers the truth."""
    low, high = np.array(bounds).T  # (seeds,) each
    return float(np.mean((low <= truth) & (truth <= high)))


def error_stats(records: list[dict[str, float]]) -> dict[str, float]:
    """One estimator's errors over seeds: mean, largest and mean signed relative error, the share
    within 10%, the coverage of the delta-method 95% interval, the spread of the errors over the
    mean standard error, and the mean effective sample size."""
    truth, value = np.array([r["truth"] for r in records]), np.array([r["value"] for r in records])
    std_error = np.array([r["std_error"] for r in records])
    error = np.abs(value - truth) / truth
    return {
        "relative_error_mean": float(error.mean()),
        "relative_error_max": float(error.max()),
        "signed_relative_error_mean": float(np.mean((value - truth) / truth)),
        "within_10pct": float(np.mean(error <= MAX_ERROR)),
        "coverage_normal": float(np.mean(np.abs(value - truth) <= NORMAL_95 * std_error)),
        "error_sd_over_std_error": float(np.std(value - truth, ddof=1) / np.mean(std_error)),
        "effective_sample_size_mean": float(np.mean([r["effective_sample_size"] for r in records])),
    }


def passes(result: dict[str, Any]) -> bool:
    """SNIPS and DR of one target within 10% in every seed and covering in at least 90% of them."""
    return all(
        result["estimators"][e]["relative_error_max"] <= MAX_ERROR
        and result["estimators"][e]["coverage"] >= MIN_COVERAGE
        for e in TARGETED
    )


def print_world(name: str, result: dict[str, Any]) -> None:
    print(f"\n{name}: logging value {result['logging_value']:.4f} per slot ({result['logging_policy']})")
    print(f"{'target':<22} {'truth':>7} " + " ".join(f"{LABELS[e]:>21}" for e in LABELS) + "  pass")
    for target, r in result["targets"].items():
        cells = " ".join(
            f"{100 * s['relative_error_mean']:5.1f}% ({100 * s['relative_error_max']:4.1f}%) {s['coverage']:4.0%}"
            for s in r["estimators"].values()
        )
        print(f"{target:<22} {r['logged_value_mean']:7.4f} {cells}  {'yes' if passes(r) else 'NO'}")


def readme_section(results: dict[str, Any], settings: dict[str, Any]) -> str:
    seeds, rounds, k = settings["seeds"], settings["rounds"], settings["k"]
    lines = [
        "Off-policy estimates checked against the exact truth of a simulated world (`python "
        "benchmarks/bench_ope_simulator.py`). Each world user with a history is a context with their "
        f"{settings['candidates']} best unseen items by ALS as candidates; the logging policy is softmax "
        f"(Plackett-Luce) sampling of {k} slots at temperature {settings['logging_temperature']:g} over the "
        f"standardised ALS scores, logging {rounds:,} requests ({rounds * k:,} rows) with exact slot propensities; "
        "clicks follow the world's position-based model. Each target's true value is its exact expected clicks per "
        "slot, from its exact slot probabilities and the world's attraction and examination, averaged over the "
        f"logged requests' users. {seeds} seeds, each a new log and bootstrap ({settings['n_bootstrap']} resamples "
        "of the requests for each 95% interval); the estimators are those of `lmrec.simulation.ope` at their "
        "defaults (DR: per-(candidate, slot) mean click, empirical-Bayes smoothed, cross-fitted; Switch-DR: "
        "tau 10). Each cell: mean relative error (largest of the seeds) · share of seeds whose interval covers the "
        f"truth. Target: SNIPS and DR within {MAX_ERROR:.0%} in every seed and covering in at least "
        f"{MIN_COVERAGE:.0%} of the seeds.",
        "",
    ]
    for name, r in results.items():
        world = r["world"]
        lines += [
            f"**{name}** ({world['kind']} world, {r['contexts']:,} contexts; logging value "
            f"{r['logging_value']:.4f} per slot)",
            "",
            "| target | true value | " + " | ".join(LABELS.values()) + " | target met |",
            "|---|---|" + "---|" * len(LABELS) + "---|",
        ]
        for target, t in r["targets"].items():
            cells = " | ".join(
                f"{100 * s['relative_error_mean']:.1f}% ({100 * s['relative_error_max']:.1f}%) · {s['coverage']:.0%}"
                for s in t["estimators"].values()
            )
            lines.append(f"| {target} | {t['logged_value_mean']:.4f} | {cells} | {'yes' if passes(t) else 'no'} |")
        lines += ["", world_note(r, seeds), *likelihood_note(r, seeds), *check_note(r), ""]
    return "\n".join(lines)


def world_note(result: dict[str, Any], seeds: int) -> str:
    """How the SNIPS and DR intervals missed, how well their standard errors matched the spread, Switch-DR's bias."""
    chosen = [t["estimators"][e] for t in result["targets"].values() for e in TARGETED]
    below, above = sum(s["misses_below"] for s in chosen), sum(s["misses_above"] for s in chosen)
    ratios = [s["error_sd_over_std_error"] for s in chosen]
    switch = {name: t["estimators"]["switch_dr"]["signed_relative_error_mean"] for name, t in result["targets"].items()}
    worst = max(switch, key=lambda name: abs(switch[name]))
    return (
        f"SNIPS and DR intervals that missed the truth: {below} with the estimate below it, {above} above. The "
        f"spread of their errors over the seeds is {min(ratios):.2f} to {max(ratios):.2f} times their mean "
        f"delta-method standard error (1 when the standard error is right; {seeds} seeds measure it to about "
        f"±{1 / np.sqrt(2 * (seeds - 1)):.0%}). "
        f"Switch-DR's largest mean bias is {switch[worst]:+.1%} ({worst}): rows with weights above tau use the "
        "reward model alone, and the per-(candidate, slot) model pooled over users is off for targets that "
        "reorder the candidates."
    )


def likelihood_note(result: dict[str, Any], seeds: int) -> list[str]:
    """How often the SNIPS and DR intervals cover the truth with each interval, over every target."""
    chosen = [t["estimators"][e] for t in result["targets"].values() for e in TARGETED]
    counts = [("bootstrap", sum(round(s["coverage"] * seeds) for s in chosen))]
    counts += [(label, sum(round(s[f"coverage_{i}"] * seeds) for s in chosen)) for i, label in LIKELIHOOD.items()]
    return [
        "",
        f"The SNIPS and DR intervals on the same estimates cover the truth, of {len(chosen) * seeds}: "
        + ", ".join(f"{label} {count}" for label, count in counts)
        + " (the last holds every row's importance weight to its known mean, 1: softmax logging shows every "
        "candidate).",
    ]


def check_note(result: dict[str, Any]) -> list[str]:
    """The check seeds' coverage of the delta-method intervals of SNIPS and DR, per target."""
    check = result.get("check", {})
    if not check.get("seeds"):
        return []
    cells = []
    for target, estimators in check["targets"].items():
        covered = " / ".join(f"{estimators[e]['coverage_normal']:.0%}" for e in TARGETED)
        spread = " / ".join(f"{estimators[e]['error_sd_over_std_error']:.2f}" for e in TARGETED)
        cells.append(f"{target} {covered} ({spread})")
    return [
        "",
        f"On {check['seeds']} further seeds, without the bootstrap, the delta-method 95% intervals of SNIPS / DR "
        "cover the truth in (spread of the errors over the standard error in brackets): " + "; ".join(cells) + ".",
    ]


if __name__ == "__main__":
    main()
