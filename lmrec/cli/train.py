"""`lmrec train`: fit a model on all data and save it as an artifact folder."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from lmrec.cli.common import check_writable, console, errors, errors_as_exit_codes, parse_settings, training_report
from lmrec.cli.data_source import load_data


def train_command(
    model: Annotated[str, typer.Option("--model", "-m", help="Model name (see `lmrec models`).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder to save the fitted model in.")],
    data: Annotated[Path | None, typer.Option(help="Train on this file or folder instead of the store.")] = None,
    store: Annotated[str | None, typer.Option(help="Store URL or SQLite path (default $LMREC_STORE).")] = None,
    format: Annotated[str | None, typer.Option("--format", help="Format of --data; detected when omitted.")] = None,
    config: Annotated[str | None, typer.Option(help="Model config as JSON text or a JSON file.")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Config override key=value (repeatable).")] = None,
) -> None:
    """Fit a model on every interaction and save it (config.json + state.npz).

    Examples:

      lmrec train --model ease --set l2=300 --output models/ease

      lmrec train --model content --data ../shared/data/ml-100k --output models/content
    """
    from lmrec.models import create_model

    with errors_as_exit_codes():
        settings = parse_settings(config, set_)
        recommender = create_model(model, settings)
        with errors.status(f"reading data for {model}"):
            dataset = load_data(data, store, format)
        check_writable(output, folder=True)  # fails now, not after training
        start = time.perf_counter()
        with errors.status(f"training {model} on {dataset}"):
            recommender.fit(dataset)
        seconds = time.perf_counter() - start
        folder = recommender.save(output)
    version = recommender.version()
    console.print(f"trained {model} on {dataset} in {seconds:.1f}s; saved to {folder} (version {version})")
    report = training_report(recommender)
    if report is not None:
        console.print(_training_summary(report))


def _training_summary(report: dict[str, Any]) -> str:
    """Epochs, steps, the best epoch and its validation NDCG@10, and the refit's time, in one line."""
    text = (
        f"  {report['epochs']} epochs ({report['steps']:,} steps), best epoch {report['best_epoch']} "
        f"at validation NDCG@10 {report['best_ndcg']:.4f}"
    )
    if report["refit_seconds"] is not None:
        text += f"; refit on every item for {report['best_epoch']} epochs in {report['refit_seconds']:.1f}s"
    return text
