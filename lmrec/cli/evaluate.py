"""`lmrec evaluate`: train on a split, rank the whole catalogue, report metrics with intervals."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from lmrec.cli.common import (
    check_writable,
    console,
    errors,
    errors_as_exit_codes,
    parse_settings,
    training_report,
    write_json,
)
from lmrec.cli.data_source import load_data
from lmrec.data.columns import Columns

if TYPE_CHECKING:
    from lmrec.data.splits import Split

SHOWN = ("HR@10", "NDCG@10", "HR@20", "NDCG@20", "MRR", "Coverage@10")


def evaluate_command(
    model: Annotated[list[str], typer.Option("--model", "-m", help="Model name; repeat to compare models.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="JSON file for the results.")],
    data: Annotated[Path | None, typer.Option(help="File or folder to evaluate on.")] = None,
    store: Annotated[str | None, typer.Option(help="Evaluate on the store instead of --data.")] = None,
    format: Annotated[str | None, typer.Option("--format", help="Format of --data; detected when omitted.")] = None,
    split: Annotated[
        str, typer.Option(help="leave-last-out, time, cold-item, cold-user or held-out-items.")
    ] = "leave-last-out",
    k: Annotated[list[int] | None, typer.Option("-k", min=1, help="Cut-offs (repeatable); default 10 and 20.")] = None,
    config: Annotated[str | None, typer.Option(help="Model config as JSON text or a JSON file.")] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Config override key=value, or MODEL.key=value (repeatable).")
    ] = None,
    report: Annotated[Path | None, typer.Option(help="Also write report.json/.md/.png into this folder.")] = None,
    include_seen: Annotated[bool, typer.Option(help="Rank items the user already interacted with too.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap intervals.")] = 0,
) -> None:
    """Evaluate one or more models with full ranking over the whole catalogue.

    The JSON output holds `metrics` (of the first model) and `models` (every model's metrics,
    95% bootstrap intervals, timings, settings and, for models that train in epochs, the training
    report), plus paired comparisons against the first model.

    Examples:

      lmrec evaluate --data ../shared/data/ml-100k --model ease --output ease.json

      lmrec evaluate --data shop/ -m popularity -m ease -m content --output cmp.json --report report/
    """
    from lmrec.data.splits import SPLITS
    from lmrec.diagnostics import ConfigError
    from lmrec.evaluation.protocol import EvaluationConfig, compare, evaluate
    from lmrec.evaluation.report import write_report
    from lmrec.models import create_model

    with errors_as_exit_codes():
        if split not in SPLITS:
            raise ConfigError(f"unknown split {split!r}; choose one of {sorted(SPLITS)}")
        settings = parse_settings(config, set_)
        models = [create_model(name, _settings_for(name, settings, model)) for name in model]
        with errors.status("reading data"):
            dataset = load_data(data, store, format)
        check_writable(output, folder=False)  # fails now, not after training
        if report is not None:
            check_writable(report, folder=True)
        the_split = SPLITS[split](dataset)
        if the_split.n_test_users == 0:
            from lmrec.diagnostics import DataError

            raise DataError(
                f"the {split} split of {dataset} has no test users: there is nothing to evaluate",
                source=str(data or store),
            )
        eval_config = EvaluationConfig(ks=tuple(k or (10, 20)), exclude_seen=not include_seen, seed=seed)
        results, entries = [], {}
        for name, recommender in zip(model, models, strict=True):
            with errors.status(f"training {name} on {the_split.train}"):
                started = time.perf_counter()
                recommender.fit(the_split.train)
                fit_seconds = time.perf_counter() - started
            with errors.status(f"evaluating {name}"):
                results.append(evaluate(recommender, the_split, eval_config, name=name))
            entries[name] = _entry(results[-1], recommender, fit_seconds)
        comparisons = [compare(results[0], other, "NDCG@10", seed=seed) for other in results[1:]]
    payload: dict[str, Any] = {
        "data": str(data) if data is not None else store,
        "split": split,
        "dataset": {"users": dataset.n_users, "items": dataset.n_items, "interactions": dataset.n_interactions},
        "metrics": results[0].metrics,
        "models": entries,
        "comparisons": [c.to_dict() for c in comparisons],
    }
    with errors_as_exit_codes():
        write_json(output, payload)
        if report is not None:
            title = f"{Path(str(data or store)).name}, {split}"
            write_report(results, report, title=title, comparisons=comparisons)
    _print_table(results, entries)
    note = _cold_note(the_split)
    if note is not None:
        errors.print(f"[yellow]note:[/] {note}")
    console.print(f"results written to {output}")


def _settings_for(name: str, settings: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """Settings for one model: unprefixed keys apply to all, `MODEL.key` only to that model."""
    mine: dict[str, Any] = {}
    for key, value in settings.items():
        prefix, dot, rest = key.partition(".")
        if dot and prefix in names:
            if prefix == name:
                mine[rest] = value
        else:
            mine[key] = value
    return mine


def _entry(result: Any, recommender: Any, fit_seconds: float) -> dict[str, Any]:
    """One model's JSON: its evaluation, fit time, settings and training report (where it has one)."""
    entry: dict[str, Any] = result.to_dict()
    entry["fit_seconds"] = round(fit_seconds, 2)
    entry["config"] = recommender.config.model_dump(mode="json")
    training = training_report(recommender)
    if training is not None:
        entry["training"] = training
    return entry


def _cold_note(split: Split) -> str | None:
    """What to expect where most test items have no training interaction (None elsewhere)."""
    share = float((split.train.item_counts()[split.test[Columns.ItemIdx].to_numpy()] == 0).mean())  # new targets
    if share < 0.5:
        return None
    how_many = "every" if share == 1.0 else f"{share:.0%} of the"
    return (
        f"{how_many} test item of the {split.name} split is new (no training interaction): a model that knows "
        "items only from interactions has nothing to rank them by; content, and sasrec with item text, read "
        "their text"
    )


def _print_table(results: list[Any], entries: dict[str, dict[str, Any]]) -> None:
    table = Table(show_edge=False)
    table.add_column("model")
    for metric in SHOWN:
        table.add_column(metric, justify="right")
    table.add_column("users", justify="right")
    table.add_column("fit s", justify="right")
    for result in results:
        table.add_row(
            result.model,
            *(f"{result.metrics[m]:.4f}" if m in result.metrics else "-" for m in SHOWN),
            f"{result.n_users:,}",
            f"{entries[result.model]['fit_seconds']:.1f}",
        )
    console.print(table)
