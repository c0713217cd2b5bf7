"""Simulation metrics, the side-by-side comparison with greedy, and the JSON and PNG reports.

Per policy (`policy_metrics`), over R rounds (requests) of up to k items each:

- `cumulative_reward`: clicks; `expected_reward`: Σ over rounds of the true expected clicks of the
  shown list (the same without click noise); `oracle_reward`: the same for the true best lists.
- `regret`: oracle_reward - expected_reward, the expected clicks lost against the oracle.
- `ctr`: clicks per item impression; `ctr_windows` (and `expected_ctr_windows`): the same in each
  of `windows` equal windows of the horizon; `regret_curve`: cumulative regret at each window's end.
- `coverage`: share of the items available during the horizon that were shown at least once.
- `diversity`: mean intra-list diversity (1 - cos of the world's item vectors, over pairs).
- `new_items`: for the items released during the horizon, the rounds from when an item could first
  be shown until its `reach`-th impression. Items that never reach it are right-censored at the end
  of the horizon, and the median is the Kaplan–Meier median: the first duration at which the share
  of items still short of `reach` falls to one half. When it never does (fewer than half get there),
  the median is `null` and `median_at_least` gives the largest follow-up time, which it exceeds.

`compare_with` sets each policy against a reference (greedy): click lift, how many times sooner new
items reach `reach` (a lower bound when the reference's median is censored), and the worst ratio of
window click rates.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from lmrec.simulation.simulator import SimulationResult


def policy_metrics(result: SimulationResult) -> dict[str, Any]:
    """Every metric of one run (module docstring), JSON-ready."""
    cfg = result.config
    rounds = len(result.clicks)
    edges = np.linspace(0, rounds, cfg.windows + 1).astype(np.int64)
    shown = result.shown.sum()
    regret = result.oracle - result.expected
    horizon_items = result.available_from < rounds
    return {
        "cumulative_reward": int(result.clicks.sum()),
        "expected_reward": float(result.expected.sum()),
        "oracle_reward": float(result.oracle.sum()),
        "regret": float(regret.sum()),
        "ctr": float(result.clicks.sum() / max(shown, 1)),
        "expected_ctr": float(result.expected.sum() / max(shown, 1)),
        "ctr_windows": _windowed(result.clicks, result.shown, edges),
        "expected_ctr_windows": _windowed(result.expected, result.shown, edges),
        "regret_curve": [float(regret[:end].sum()) for end in edges[1:]],
        "window_edges": [int(e) for e in edges],
        "coverage": float((result.impressions[horizon_items] > 0).mean()) if horizon_items.any() else 0.0,
        "diversity": float(np.nanmean(result.diversity)) if np.isfinite(result.diversity).any() else None,
        "explored_share": float(result.explored.sum() / max(shown, 1)),
        "new_items": new_item_metrics(result, edges),
        "rounds": rounds,
        "item_impressions": int(shown),
        "seconds": round(result.seconds, 2),
        "rounds_per_minute": round(rounds / max(result.seconds, 1e-9) * 60.0),
    }


def new_item_metrics(result: SimulationResult, edges: np.ndarray) -> dict[str, Any]:
    """Exposure of the items released during the horizon (module docstring)."""
    rounds, reach = len(result.clicks), result.config.reach
    new = (result.release_round > 0) & (result.available_from < rounds)
    start = result.available_from[new]
    reached = result.reach_round[new] >= 0
    durations = np.where(reached, result.reach_round[new] - start, rounds - start)
    median = kaplan_meier_median(durations, reached)
    curve = []
    for end in edges[1:]:
        out = start < end
        done = reached & (result.reach_round[new] < end)
        curve.append(float(done[out].mean()) if out.any() else 0.0)
    return {
        "released": int(new.sum()),
        "reach": reach,
        "shown": int((result.impressions[new] > 0).sum()),
        "reached": int(reached.sum()),
        "median_rounds_to_reach": median,
        "median_at_least": int(durations.max()) if median is None and len(durations) else None,
        "mean_impressions": float(result.impressions[new].mean()) if new.any() else 0.0,
        "reached_curve": curve,
    }


def kaplan_meier_median(durations: np.ndarray, observed: np.ndarray) -> float | None:
    """Kaplan–Meier median of right-censored durations; None when survival never falls to 1/2.

    S(t) = Π_{event times s <= t} (1 - d_s / n_s) with d_s events at s and n_s durations >= s.
    """
    durations = np.asarray(durations, dtype=np.float64)
    observed = np.asarray(observed, dtype=bool)
    survival = 1.0
    for t in np.unique(durations[observed]):
        at_risk = int((durations >= t).sum())
        events = int(((durations == t) & observed).sum())
        survival *= 1.0 - events / at_risk
        if survival <= 0.5:
            return float(t)
    return None


def compare_with(metrics: Mapping[str, Mapping[str, Any]], reference: str = "greedy") -> dict[str, dict[str, Any]]:
    """Each policy against `reference` (module docstring); empty when the reference did not run."""
    if reference not in metrics:
        return {}
    ref = metrics[reference]
    out = {}
    for name, m in metrics.items():
        if name == reference:
            continue
        ratios = [_ratio(a, b) for a, b in zip(m["ctr_windows"], ref["ctr_windows"], strict=True)]
        expected = [_ratio(a, b) for a, b in zip(m["expected_ctr_windows"], ref["expected_ctr_windows"], strict=True)]
        sooner, at_least = _speedup(m["new_items"], ref["new_items"])
        out[name] = {
            "clicks_lift": _ratio(m["cumulative_reward"], ref["cumulative_reward"]) - 1.0,
            "expected_clicks_lift": _ratio(m["expected_reward"], ref["expected_reward"]) - 1.0,
            "times_sooner_to_reach": sooner,
            "times_sooner_is_lower_bound": at_least,
            "worst_window_ctr_ratio": min(ratios),
            "worst_window_expected_ctr_ratio": min(expected),
        }
    return out


def _speedup(mine: Mapping[str, Any], ref: Mapping[str, Any]) -> tuple[float | None, bool]:
    median = mine["median_rounds_to_reach"]
    if median is None:
        return None, False
    if ref["median_rounds_to_reach"] is not None:
        return float(ref["median_rounds_to_reach"]) / max(median, 1.0), False
    if ref["median_at_least"] is None:
        return None, False
    return float(ref["median_at_least"]) / max(median, 1.0), True


def _ratio(a: float, b: float) -> float:
    return float(a) / float(b) if b else math.nan


def _windowed(values: np.ndarray, shown: np.ndarray, edges: np.ndarray) -> list[float]:
    sums = np.add.reduceat(values.astype(np.float64), edges[:-1])
    counts = np.add.reduceat(shown.astype(np.float64), edges[:-1])
    return [float(s / c) if c else 0.0 for s, c in zip(sums, counts, strict=True)]


def simulation_report(
    results: Mapping[str, SimulationResult],
    *,
    world: Mapping[str, Any],
    settings: Mapping[str, Any],
    policy_configs: Mapping[str, Any],
) -> dict[str, Any]:
    """The JSON payload: `world`, `settings`, `policies` (name -> metrics and config), `vs_greedy`."""
    metrics = {name: policy_metrics(result) for name, result in results.items()}
    for name, m in metrics.items():
        m["config"] = dict(policy_configs.get(name) or {})
    return {"world": dict(world), "settings": dict(settings), "policies": metrics, "vs_greedy": compare_with(metrics)}


def plot_simulation(payload: Mapping[str, Any], path: Path, *, title: str) -> Path:
    """A PNG of three panels: click rate per window, cumulative regret, share of new items at `reach`."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    policies = payload["policies"]
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 3.8))
    for name, m in policies.items():
        edges = np.asarray(m["window_edges"], dtype=np.float64)
        middle = (edges[:-1] + edges[1:]) / 2
        style = "--" if name in ("oracle", "random") else "-"
        axes[0].plot(middle, m["ctr_windows"], style, marker="o", markersize=3, label=name)
        axes[1].plot(edges[1:], m["regret_curve"], style, marker="o", markersize=3, label=name)
        axes[2].plot(edges[1:], m["new_items"]["reached_curve"], style, marker="o", markersize=3, label=name)
    reach = next(iter(policies.values()))["new_items"]["reach"] if policies else 100
    for ax, label in zip(
        axes,
        (
            "click rate per item impression",
            "cumulative regret (expected clicks)",
            f"new items with {reach} impressions",
        ),
        strict=True,
    ):
        ax.set_xlabel("round (request)", fontsize=8)
        ax.set_title(label, fontsize=9)
        ax.tick_params(labelsize=7)
    axes[2].legend(fontsize=7, loc="best")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
