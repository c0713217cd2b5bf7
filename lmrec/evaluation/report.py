"""Evaluation reports: JSON for machines, a Markdown table for people, a PNG plot with intervals."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lmrec.evaluation.protocol import EvaluationResult, PairedComparison
from lmrec.serialization import dumps

#: Plot panels per row in `report.png`.
_PANELS_PER_ROW = 4


def write_report(
    results: list[EvaluationResult],
    folder: Path,
    *,
    title: str,
    comparisons: Sequence[PairedComparison] = (),
) -> dict[str, Path]:
    """Write `report.json`, `report.md` and `report.png` into `folder` (created if needed).

    Returns:
        the written paths under the keys `json`, `markdown` and `plot`.
    """
    if not results:
        raise ValueError("a report needs at least one evaluation result")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    metrics = metric_names(results)
    payload: dict[str, Any] = {
        "title": title,
        "results": [r.to_dict() for r in results],
        "comparisons": [c.to_dict() for c in comparisons],
    }
    paths = {"json": folder / "report.json", "markdown": folder / "report.md", "plot": folder / "report.png"}
    paths["json"].write_text(dumps(payload, indent=2) + "\n")
    paths["markdown"].write_text(_markdown(results, metrics, title, comparisons))
    plot_results(results, metrics, paths["plot"], title=title)
    return paths


def metric_names(results: Sequence[EvaluationResult]) -> list[str]:
    """Every metric of the results, in the order of first appearance."""
    names: dict[str, None] = {}
    for result in results:
        names.update(dict.fromkeys(result.metrics))
    return list(names)


def markdown_table(results: list[EvaluationResult], metrics: Sequence[str]) -> str:
    """One row per model, one column per metric; a cell is `mean [low, high]` when the result has
    a 95% interval for it and `-` when it lacks the metric."""
    header = ["model", *metrics, "users"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    for result in results:
        cells = [_escape(result.model)]
        for metric in metrics:
            cells.append(_cell(result, metric))
        cells.append(f"{result.n_users:,}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def comparison_table(comparisons: Sequence[PairedComparison]) -> str:
    """One row per paired comparison: means, difference (a - b), its interval and p-value."""
    lines = [
        "| metric | model a | model b | mean a | mean b | a - b | 95% interval | p-value | users |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for c in comparisons:
        lines.append(
            f"| {c.metric} | {_escape(c.model_a)} | {_escape(c.model_b)} | {_number(c.mean_a)} | {_number(c.mean_b)} "
            f"| {_number(c.diff, signed=True)} | [{_number(c.interval[0])}, {_number(c.interval[1])}] "
            f"| {_number(c.p_value)} | {c.n_users:,} |"
        )
    return "\n".join(lines) + "\n"


def plot_results(results: Sequence[EvaluationResult], metrics: Sequence[str], path: Path, *, title: str) -> Path:
    """A PNG with one panel per metric: a bar per model with its 95% interval as error bars."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    n_cols = min(_PANELS_PER_ROW, max(1, len(metrics)))
    n_rows = max(1, math.ceil(len(metrics) / n_cols))
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3.2 * n_cols, 2.6 * n_rows), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    names = [r.model for r in results]
    for panel, metric in enumerate(metrics):
        ax = axes[panel // n_cols][panel % n_cols]
        for position, result in enumerate(results):
            value = result.metrics.get(metric, math.nan)
            low, high = result.intervals.get(metric, (math.nan, math.nan))
            error = None
            if math.isfinite(low) and math.isfinite(high) and math.isfinite(value):
                error = [[max(value - low, 0.0)], [max(high - value, 0.0)]]
            ax.bar(position, value, yerr=error, capsize=3, color=colors[position % len(colors)])
        ax.set_title(metric, fontsize=9)
        ax.set_xticks(range(len(results)), names, rotation=30, ha="right", fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
    for panel in range(len(metrics), n_rows * n_cols):
        axes[panel // n_cols][panel % n_cols].set_visible(False)
    fig.suptitle(f"{title} (bars: mean, whiskers: 95% bootstrap interval)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _markdown(
    results: list[EvaluationResult], metrics: list[str], title: str, comparisons: Sequence[PairedComparison]
) -> str:
    splits = sorted({r.split for r in results})
    parts = [
        f"# {title}\n",
        f"Split: {', '.join(splits)}. Full ranking over the whole catalogue; cells are the mean over test users "
        "with the 95% bootstrap interval (resampling users) in brackets.\n",
        markdown_table(results, metrics),
    ]
    if comparisons:
        parts += ["## Paired comparisons\n", comparison_table(comparisons)]
    parts.append("![metrics](report.png)\n")
    return "\n".join(parts)


def _cell(result: EvaluationResult, metric: str) -> str:
    if metric not in result.metrics:
        return "-"
    value = _number(result.metrics[metric])
    if metric in result.intervals:
        low, high = result.intervals[metric]
        return f"{value} [{_number(low)}, {_number(high)}]"
    return value


def _number(value: float, *, signed: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    if abs(value) >= 100:
        return f"{value:+,.1f}" if signed else f"{value:,.1f}"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def _escape(text: str) -> str:
    return text.replace("|", "\\|")
