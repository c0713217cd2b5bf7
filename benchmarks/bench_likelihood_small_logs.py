"""How many requests a likelihood interval held to the weights' known mean needs.

The side constraint of `constrained_likelihood_interval` corrects a log for large importance weights
it happened to draw too few or too many of, by moving mass toward or away from the requests that
carry them. It can only move mass to requests it has: when a log holds one or two large-weight
requests, the constraint puts almost all their expected share on those one or two, and the
interval shrinks around their rewards. This benchmark measures where that starts to matter.

Two known worlds, each with E[w] = 1 and an exact true value E[w r]:

- `two-point`: a request's importance weight is 10 with probability 0.05 (5% of the requests carry
  half the weight) and 10/19 otherwise; its click probability is 0.6 where the weight is large and
  0.2 where it is small (true value 0.4);
- `lognormal`: log w is normal with standard deviation 1.5 (a continuous heavy tail: 5% of the
  requests carry about 40% of the weight); the click probability is 0.1 + 0.4 min(w / 10, 1).

For logs of several sizes, over many seeds, the IPS estimate's 95% interval three ways: the
percentile bootstrap (200 resamples), the plain empirical-likelihood interval, and the one held to
E[w] = 1. Reported per world and size: coverage and mean width; over all sizes, the held and plain
likelihood intervals' coverage by how many requests carry half of the weight above its mean
(`heavy_units`), the count `lmrec ope` checks against `RELIABLE_HEAVY_UNITS`.

    python benchmarks/bench_likelihood_small_logs.py [--seeds 500]

Writes benchmarks/results/likelihood_small_logs.json and the README section
`likelihood-small-logs`.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from common import replace_readme_section, write_results
from scipy.stats import norm

from lmrec.evaluation.stats import bootstrap_intervals
from lmrec.simulation.likelihood import (
    RELIABLE_HEAVY_UNITS,
    constrained_likelihood_interval,
    heavy_units,
    likelihood_interval,
)

#: Log sizes (requests), smallest first.
SIZES = (50, 100, 200, 400, 1000, 2000)
LEVEL = 0.95
#: Bands (inclusive) of `heavy_units`: how many requests carry half the weight above its mean.
BANDS = {"0": (0, 0), "1": (1, 1), "2-4": (2, 4), "5-9": (5, 9), "10-19": (10, 19), "20 or more": (20, 1 << 30)}

#: The two-point world: a large weight, its probability, the click probabilities where large and small.
LARGE, SHARE, CLICK_LARGE, CLICK_SMALL = 10.0, 0.05, 0.6, 0.2
SMALL = (1.0 - SHARE * LARGE) / (1.0 - SHARE)  # E[w] = 1
#: The lognormal world: the spread of log w, and where the click probability stops growing.
SIGMA, CAP = 1.5, 10.0


@dataclass(frozen=True)
class World:
    """A known world: `draw(size, rng)` gives (weights, rewards), each (size,); E[w] = 1."""

    description: str
    draw: Callable[[int, np.random.Generator], tuple[np.ndarray, np.ndarray]]
    truth: float


def _two_point(size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    large = rng.random(size) < SHARE
    weight = np.where(large, LARGE, SMALL)
    reward = (rng.random(size) < np.where(large, CLICK_LARGE, CLICK_SMALL)).astype(np.float64)
    return weight, reward


def _lognormal(size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    weight = np.exp(rng.normal(-(SIGMA**2) / 2.0, SIGMA, size))  # E[w] = 1
    reward = (rng.random(size) < 0.1 + 0.4 * np.minimum(weight / CAP, 1.0)).astype(np.float64)
    return weight, reward


def _lognormal_truth() -> float:
    """E[w (0.1 + 0.4 min(w / CAP, 1))] = 0.1 + 0.4 (E[w^2; w < CAP] / CAP + E[w; w >= CAP]), from
    E[w^k; w < c] = exp(k mu + k^2 sigma^2 / 2) Phi((log c - mu - k sigma^2) / sigma)."""
    mu = -(SIGMA**2) / 2.0

    def partial(k: int) -> float:
        return math.exp(k * mu + k * k * SIGMA**2 / 2.0) * float(norm.cdf((math.log(CAP) - mu - k * SIGMA**2) / SIGMA))

    return 0.1 + 0.4 * (partial(2) / CAP + (1.0 - partial(1)))


WORLDS = {
    "two-point": World(
        f"weight {LARGE:g} with probability {SHARE:g}, else {SMALL:.3f}; click probability {CLICK_LARGE:g} "
        f"where large, {CLICK_SMALL:g} where small",
        _two_point,
        SHARE * LARGE * CLICK_LARGE + (1.0 - SHARE) * SMALL * CLICK_SMALL,
    ),
    "lognormal": World(
        f"log w normal with standard deviation {SIGMA:g}; click probability 0.1 + 0.4 min(w / {CAP:g}, 1)",
        _lognormal,
        _lognormal_truth(),
    ),
}


#: Each interval of the IPS estimate from (weights, rewards, seed).
INTERVALS: dict[str, Callable[[np.ndarray, np.ndarray, int], tuple[float, float]]] = {
    "bootstrap": lambda w, r, seed: tuple(bootstrap_intervals(w * r, n_bootstrap=200, seed=seed, level=LEVEL)[0]),
    "likelihood": lambda w, r, seed: likelihood_interval(w * r, np.ones(len(w)), LEVEL),
    "likelihood_mean": lambda w, r, seed: constrained_likelihood_interval(w * r, np.ones(len(w)), w - 1.0, LEVEL),
}
#: The intervals whose coverage is reported by `heavy_units`.
BY_HEAVY = ("likelihood", "likelihood_mean")


def measure(world: World, size: int, seeds: int) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Coverage and mean width of each interval on `seeds` logs of `size` requests, and per log
    (each (seeds,)): its `heavy_units` and whether each of `BY_HEAVY` covered the truth."""
    covered = {name: np.zeros(seeds, dtype=bool) for name in INTERVALS}
    width = {name: np.zeros(seeds) for name in INTERVALS}
    heavy = np.zeros(seeds, dtype=int)
    for seed in range(seeds):
        weight, reward = world.draw(size, np.random.default_rng(seed))
        heavy[seed] = heavy_units(weight - 1.0)
        for name, interval in INTERVALS.items():
            low, high = interval(weight, reward, seed)
            covered[name][seed] = low <= world.truth <= high
            width[name][seed] = high - low
    row = {
        "requests": size,
        "heavy_units_median": float(np.median(heavy)),
        "coverage": {name: float(c.mean()) for name, c in covered.items()},
        "mean_width": {name: float(w.mean()) for name, w in width.items()},
    }
    return row, {"heavy_units": heavy, **{name: covered[name] for name in BY_HEAVY}}


def by_heavy_units(logs: list[dict[str, np.ndarray]]) -> dict[str, dict[str, Any]]:
    """Per band of `heavy_units`, over the per-log results of all sizes: the number of logs and
    each of `BY_HEAVY`'s coverage."""
    pooled = {key: np.concatenate([log[key] for log in logs]) for key in ("heavy_units", *BY_HEAVY)}
    heavy = pooled["heavy_units"]
    out: dict[str, dict[str, Any]] = {}
    for label, (low, high) in BANDS.items():
        mask = (heavy >= low) & (heavy <= high)
        out[label] = {"logs": int(mask.sum())}
        for name in BY_HEAVY:
            out[label][name] = float(pooled[name][mask].mean()) if mask.any() else None
    return out


def section(results: dict[str, dict[str, Any]], seeds: int) -> str:
    """The README tables, one per world."""
    lines = [
        f"IPS intervals (95%) in two known worlds with E[w] = 1 "
        f"(`python benchmarks/bench_likelihood_small_logs.py --seeds {seeds}`), {seeds} logs per size. Each "
        "cell: share of logs whose interval covers the truth · mean width. *Held* is the likelihood "
        "interval held to E[w] = 1; *heavy* is the median number of requests that carry half of the "
        "weight above its mean (`heavy_units`).",
    ]
    for name, result in results.items():
        lines += [
            "",
            f"**{name}** ({result['description']}; true value {result['truth']:.4f})",
            "",
            "| requests | heavy | bootstrap | likelihood | likelihood, held |",
            "|---|---|---|---|---|",
        ]
        for row in result["sizes"]:
            coverage, width = row["coverage"], row["mean_width"]
            cells = [f"{coverage[i]:.0%} · {width[i]:.3f}" for i in INTERVALS]
            lines.append(f"| {row['requests']:,} | {row['heavy_units_median']:g} | " + " | ".join(cells) + " |")
        pooled = ", ".join(
            f"{label}: {band['likelihood_mean']:.0%} / {band['likelihood']:.0%} ({band['logs']:,} logs)"
            for label, band in result["by_heavy_units"].items()
            if band["logs"]
        )
        lines += ["", f"Held / plain likelihood coverage by `heavy_units`, all sizes pooled: {pooled}."]
    lines += ["", f"`lmrec ope` notes a held interval that leans on fewer than {RELIABLE_HEAVY_UNITS}."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=500, help="Logs per world and size.")
    args = parser.parse_args()
    results: dict[str, dict[str, Any]] = {}
    for name, world in WORLDS.items():
        rows, logs = [], []
        for size in SIZES:
            started = time.perf_counter()
            row, per_log = measure(world, size, args.seeds)
            rows.append(row)
            logs.append(per_log)
            print(f"{name}, {size:>5} requests: {row['coverage']} in {time.perf_counter() - started:.0f}s", flush=True)
        results[name] = {
            "description": world.description,
            "truth": world.truth,
            "sizes": rows,
            "by_heavy_units": by_heavy_units(logs),
        }
    payload = {"seeds": args.seeds, "level": LEVEL, "worlds": results}
    print(f"wrote {write_results('likelihood_small_logs', payload)}")
    replace_readme_section("likelihood-small-logs", section(results, args.seeds))


if __name__ == "__main__":
    main()
