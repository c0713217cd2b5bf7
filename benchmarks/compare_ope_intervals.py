"""Is the likelihood interval's better coverage its shape or its width? Read from bench_ope_pipeline.

Reads benchmarks/results/ope_pipeline.json (each seed's estimate, standard error and three
intervals per target and estimator) and compares, over SNIPS and DR and all targets:

- how often each interval covers the truth, and in how many cases one covers where another misses;
- the median width of the likelihood interval over the bootstrap one, and the coverage of the
  bootstrap interval widened by that ratio about its centre, and of the delta-method ±z·SE;
- for the interval held to the weights' mean: its median width against the plain likelihood one
  (SNIPS and DR; IPS apart), and how often the estimate falls outside it.

    python benchmarks/compare_ope_intervals.py

Writes benchmarks/results/ope_intervals_compared.json.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from common import RESULTS, write_results
from scipy.stats import norm

#: The estimators whose intervals are compared (IPS's held interval is reported apart).
COMPARED = ("snips", "dr")
#: The level of bench_ope_pipeline's intervals.
LEVEL = 0.95


def covers(interval: list[float], truth: float) -> bool:
    """Whether the interval [low, high] holds the value."""
    return interval[0] <= truth <= interval[1]


def width(interval: list[float]) -> float:
    """high - low."""
    return interval[1] - interval[0]


def compare(result: dict[str, Any]) -> dict[str, Any]:
    """The comparisons of the module docstring, from one bench_ope_pipeline result."""
    z = float(norm.ppf(0.5 + LEVEL / 2.0))
    seeds = [
        (name, seed)
        for target in result["targets"].values()
        for name, estimator in target["estimators"].items()
        for seed in estimator["seeds"]
    ]
    compared = [seed for name, seed in seeds if name in COMPARED]
    covered = {
        interval: np.array([covers(s["intervals"][interval], s["truth"]) for s in compared])
        for interval in compared[0]["intervals"]
    }
    ratio = float(
        np.median([width(s["intervals"]["likelihood"]) / width(s["intervals"]["bootstrap"]) for s in compared])
    )

    def widened(s: dict[str, Any]) -> bool:
        low, high = s["intervals"]["bootstrap"]
        centre, half = (low + high) / 2.0, (high - low) / 2.0 * ratio
        return bool(centre - half <= s["truth"] <= centre + half)

    def held_over_plain(names: tuple[str, ...]) -> float:
        ratios = [
            width(s["intervals"]["likelihood_mean"]) / width(s["intervals"]["likelihood"])
            for n, s in seeds
            if n in names
        ]
        return float(np.median(ratios))

    return {
        "intervals": len(compared),
        "covered": {interval: int(c.sum()) for interval, c in covered.items()},
        "likelihood_only": int((covered["likelihood"] & ~covered["bootstrap"]).sum()),
        "bootstrap_only": int((covered["bootstrap"] & ~covered["likelihood"]).sum()),
        "held_only": int((covered["likelihood_mean"] & ~covered["likelihood"]).sum()),
        "plain_only": int((covered["likelihood"] & ~covered["likelihood_mean"]).sum()),
        "likelihood_over_bootstrap_width_median": ratio,
        "bootstrap_widened_covered": int(sum(widened(s) for s in compared)),
        "delta_method_covered": int(sum(abs(s["value"] - s["truth"]) <= z * s["std_error"] for s in compared)),
        "held_over_plain_width_median": {"snips_dr": held_over_plain(COMPARED), "ips": held_over_plain(("ips",))},
        "estimate_outside_held": int(sum(not covers(s["intervals"]["likelihood_mean"], s["value"]) for _, s in seeds)),
        "estimates": len(seeds),
    }


def main() -> None:
    result = json.loads((RESULTS / "ope_pipeline.json").read_text())
    payload = compare(result)
    print(json.dumps(payload, indent=2))
    print(f"wrote {write_results('ope_intervals_compared', {'source': 'ope_pipeline.json', **payload})}")


if __name__ == "__main__":
    main()
