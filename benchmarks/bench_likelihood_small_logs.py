"""How many requests a likelihood interval held to the weights' known mean needs.

The side constraint of `constrained_likelihood_interval` corrects a log for large importance weights
it happened to draw too few or too many of, by moving mass toward or away from the requests that
carry them. It can only move mass to requests it has: when a log holds one or two large-weight
requests, the constraint puts almost all their expected share on those one or two, and the
interval shrinks around their rewards. This benchmark measures where that starts to matter.

A known world: each request's importance weight is 10 with probability 0.05 (so 5% of requests
carry half the weight) and 10/19 otherwise (E[w] = 1); its reward is a click with probability 0.6
where the weight is large and 0.2 where it is small, so the true value E[w r] is 0.4. For logs of
several sizes, over many seeds, the IPS estimate's 95% interval three ways: the percentile
bootstrap (200 resamples), the plain empirical-likelihood interval, and the one held to E[w] = 1.
Reported per size: coverage and mean width; over all sizes, the held interval's coverage by how
many requests carry half of the weight above its mean (`heavy_units`), the count `lmrec ope` checks
against `RELIABLE_HEAVY_UNITS`.

    python benchmarks/bench_likelihood_small_logs.py [--seeds 500]

Writes benchmarks/results/likelihood_small_logs.json and the README section
`likelihood-small-logs`.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from common import replace_readme_section, write_results

from lmrec.evaluation.stats import resampled_means
from lmrec.simulation.likelihood import (
    RELIABLE_HEAVY_UNITS,
    constrained_likelihood_interval,
    heavy_units,
    likelihood_interval,
)

#: Log sizes (requests), smallest first.
SIZES = (50, 100, 200, 400, 1000, 2000)
#: A large weight, its probability, and the click probabilities where the weight is large and small.
LARGE, SHARE, CLICK_LARGE, CLICK_SMALL = 10.0, 0.05, 0.6, 0.2
SMALL = (1.0 - SHARE * LARGE) / (1.0 - SHARE)  # E[w] = 1
TRUTH = SHARE * LARGE * CLICK_LARGE + (1.0 - SHARE) * SMALL * CLICK_SMALL
LEVEL = 0.95
#: Per-log entries of `measure`, pooled into `by_heavy_units` and left out of the results file.
PER_LOG = ("held_covered", "heavy_units")
#: Bands (inclusive) of `heavy_units`: how many requests carry half the weight above its mean.
BANDS = {"0": (0, 0), "1": (1, 1), "2-4": (2, 4), "5-9": (5, 9), "10-19": (10, 19), "20 or more": (20, 1 << 30)}


def draw_log(size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Importance weights and rewards of `size` requests, each (size,)."""
    rng = np.random.default_rng(seed)
    large = rng.random(size) < SHARE
    weight = np.where(large, LARGE, SMALL)
    reward = (rng.random(size) < np.where(large, CLICK_LARGE, CLICK_SMALL)).astype(np.float64)
    return weight, reward


def bootstrap(numerator: np.ndarray, seed: int) -> tuple[float, float]:
    """The percentile interval of the mean over 200 resamples of the requests."""
    means = resampled_means(numerator[:, None], 200, seed)[:, 0]  # (200,)
    tail = (1.0 - LEVEL) / 2.0 * 100.0
    low, high = np.percentile(means, [tail, 100.0 - tail])
    return float(low), float(high)


#: Each interval of the IPS estimate from (weights, rewards, seed).
INTERVALS: dict[str, Callable[[np.ndarray, np.ndarray, int], tuple[float, float]]] = {
    "bootstrap": lambda w, r, seed: bootstrap(w * r, seed),
    "likelihood": lambda w, r, seed: likelihood_interval(w * r, np.ones(len(w)), LEVEL),
    "likelihood_mean": lambda w, r, seed: constrained_likelihood_interval(w * r, np.ones(len(w)), w - 1.0, LEVEL),
}


def measure(size: int, seeds: int) -> dict[str, Any]:
    """Coverage and mean width of each interval on `seeds` logs of `size` requests."""
    covered = {name: np.zeros(seeds, dtype=bool) for name in INTERVALS}
    width = {name: np.zeros(seeds) for name in INTERVALS}
    heavy = np.zeros(seeds, dtype=int)
    for seed in range(seeds):
        weight, reward = draw_log(size, seed)
        heavy[seed] = heavy_units(weight - 1.0)
        for name, interval in INTERVALS.items():
            low, high = interval(weight, reward, seed)
            covered[name][seed] = low <= TRUTH <= high
            width[name][seed] = high - low
    return {
        "requests": size,
        "expected_large": SHARE * size,
        "coverage": {name: float(c.mean()) for name, c in covered.items()},
        "mean_width": {name: float(w.mean()) for name, w in width.items()},
        "held_covered": covered["likelihood_mean"].tolist(),
        "heavy_units": heavy.tolist(),
    }


def by_heavy_units(rows: list[dict[str, Any]]) -> dict[str, dict[str, float | int | None]]:
    """The held interval's coverage and its number of logs per band of `heavy_units`, over all sizes."""
    covered = np.concatenate([row["held_covered"] for row in rows])
    heavy = np.concatenate([row["heavy_units"] for row in rows])
    out: dict[str, dict[str, float | int | None]] = {}
    for label, (low, high) in BANDS.items():
        mask = (heavy >= low) & (heavy <= high)
        out[label] = {"logs": int(mask.sum()), "coverage": float(covered[mask].mean()) if mask.any() else None}
    return out


def section(rows: list[dict[str, Any]], bands: dict[str, dict[str, Any]], seeds: int) -> str:
    """The README table."""
    lines = [
        f"IPS intervals (95%) in a known world (`python benchmarks/bench_likelihood_small_logs.py --seeds {seeds}`): "
        f"each request's importance weight is {LARGE:g} with probability {SHARE:g} and {SMALL:.3f} otherwise "
        f"(E[w] = 1), its click probability {CLICK_LARGE:g} where the weight is large and {CLICK_SMALL:g} where "
        f"it is small; the true value is {TRUTH:.1f}. {seeds} logs per size. Each cell: share of logs whose "
        "interval covers the truth · mean width. *Held* is the likelihood interval held to E[w] = 1.",
        "",
        "| requests | large weights expected | bootstrap | likelihood | likelihood, held |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        coverage, width = row["coverage"], row["mean_width"]
        cells = [f"{coverage[name]:.0%} · {width[name]:.3f}" for name in INTERVALS]
        lines.append(f"| {row['requests']:,} | {row['expected_large']:g} | " + " | ".join(cells) + " |")
    pooled = ", ".join(
        f"{label}: {band['coverage']:.0%} ({band['logs']:,} logs)"
        for label, band in bands.items()
        if band["coverage"] is not None
    )
    lines += [
        "",
        "The held interval's coverage by how many requests carry half of the weight above its mean "
        f"(`heavy_units`; all sizes pooled): {pooled}. `lmrec ope` notes a held interval that leans on "
        f"fewer than {RELIABLE_HEAVY_UNITS}.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=500, help="Logs per size.")
    args = parser.parse_args()
    rows = []
    for size in SIZES:
        started = time.perf_counter()
        rows.append(measure(size, args.seeds))
        coverage = rows[-1]["coverage"]
        print(f"{size:>5} requests: {coverage} in {time.perf_counter() - started:.0f}s", flush=True)
    bands = by_heavy_units(rows)
    payload = {
        "truth": TRUTH,
        "large_weight": LARGE,
        "large_share": SHARE,
        "seeds": args.seeds,
        "sizes": [{key: value for key, value in row.items() if key not in PER_LOG} for row in rows],
        "held_by_heavy_units": bands,
    }
    print(f"wrote {write_results('likelihood_small_logs', payload)}")
    replace_readme_section("likelihood-small-logs", section(rows, bands, args.seeds))


if __name__ == "__main__":
    main()
