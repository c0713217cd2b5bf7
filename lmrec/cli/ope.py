"""`lmrec ope`: estimate a target policy's click rate from another policy's impression log."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table

from lmrec.cli.common import check_writable, console, errors, errors_as_exit_codes, write_json
from lmrec.diagnostics import ConfigError

#: Columns of a generic impression log file (CSV, Parquet or JSON lines).
LOG_COLUMNS = ("round", "position", "item", "reward", "propensity")

T = TypeVar("T")


def ope_command(
    log: Annotated[Path, typer.Option(help="The logging policy's impressions (see below for formats).", exists=True)],
    target_log: Annotated[
        Path | None, typer.Option(help="A log of the target policy: its per-slot item mix is the target.", exists=True)
    ] = None,
    target: Annotated[str, typer.Option(help="`log` (the --target-log's mix) or `uniform`.")] = "log",
    pipeline: Annotated[
        Path | None,
        typer.Option(
            help="The target is this pipeline config (TOML or JSON), replayed on each logged request; "
            "needs MODEL_DIR and --store or --data.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    logging_pipeline: Annotated[
        Path | None,
        typer.Option(
            help="--pipeline: the config that wrote the log, replayed too, to measure how much of the "
            "target's probability falls on items it never shows (no estimator sees those).",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    model_dir: Annotated[
        Path | None, typer.Option("--model", help="--pipeline: the saved model the pipeline runs.", exists=True)
    ] = None,
    store: Annotated[
        str | None, typer.Option(help="--pipeline: store URL or SQLite path of the data the model was trained on.")
    ] = None,
    data: Annotated[
        Path | None, typer.Option(help="--pipeline: the file or folder the model was trained on (else --store).")
    ] = None,
    format: Annotated[str | None, typer.Option("--format", help="Format of --data; detected when omitted.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the estimates here as JSON.")] = None,
    interval: Annotated[
        str,
        typer.Option(
            help="bootstrap (percentile, over resamples of the rounds) or likelihood (empirical likelihood: "
            "follows the skew of large importance weights; with --logging-pipeline it also holds the weights "
            "to their known mean, which needs the large weights spread over many rounds: noted otherwise)."
        ),
    ] = "bootstrap",
    full_support: Annotated[
        bool,
        typer.Option(
            "--full-support",
            help="The logging policy gives every item a positive probability at every slot (a uniform "
            "random log does): a likelihood interval then holds the weights to their mean, 1. Not with "
            "--pipeline (--logging-pipeline measures it).",
        ),
    ] = False,
    n_bootstrap: Annotated[int, typer.Option(min=0, help="Bootstrap resamples of rounds for the intervals.")] = 1000,
    tau: Annotated[float, typer.Option(min=0.0, help="Switch-DR: importance weights above this use the model.")] = 5.0,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
) -> None:
    """Off-policy evaluation: IPS, SNIPS, doubly robust and Switch-DR with 95% intervals.

    A log is an Open Bandit Dataset file (`.../random/all/all.csv`) or a CSV, Parquet or JSON-lines
    table with columns round, position, item, reward, propensity (item and position as 0-based
    integers). With --target-log, the target policy is that log's share of each item at each slot,
    and the target log's own mean reward is reported beside the estimates as the on-policy truth.

    With --pipeline the target is a whole declared pipeline (another policy, re-ranker, retrievers
    or model) and the log a pipeline log: columns round, user, position, item, reward, propensity,
    with the catalogue's user and item ids and the propensity `Pipeline.recommend` gave each shown
    item, and optionally query: the rest of the request as JSON (`lmrec.simulation.replay.pipeline_log`
    writes one, and so does `lmrec simulate --pipeline --log-dir`). Each logged request is replayed
    through the target for its user, and the target's probability of every item at the logged
    slot weighs the logged click. Items the logging pipeline could never show get no weight, so
    a target that shows them is underestimated; --logging-pipeline (the config that wrote the log,
    over the same model and data) reports that share as `blind_mass`.

    Examples:

      lmrec ope --log obd/random/all/all.csv --target-log obd/bts/all/all.csv

      lmrec ope --log obd/random/all/all.csv --target-log obd/bts/all/all.csv --interval likelihood --full-support

      lmrec ope --log impressions.parquet --target uniform --output ope.json

      lmrec ope --log shown.parquet --pipeline candidate.toml --model models/ease --store lmrec.db

      lmrec ope --log shown.parquet --pipeline new.toml --logging-pipeline live.toml --model m/ease --store lmrec.db
    """
    import numpy as np

    from lmrec.simulation.ope import SlotTarget, estimate_all

    with errors_as_exit_codes():
        if output is not None:
            check_writable(output, folder=False)  # fails now, not after the estimates
        if pipeline is not None:
            if target_log is not None or target != "log":
                raise ConfigError("--pipeline is the target; drop --target and --target-log")
            if full_support:
                raise ConfigError("--full-support does not apply with --pipeline; --logging-pipeline measures it")
            loaded = (model_dir, store, data, format)
            logged, target_dist, blind, versions = _pipeline_target(log, pipeline, logging_pipeline, *loaded)
            truth, described = None, str(pipeline)
        else:
            if any(o is not None for o in (logging_pipeline, model_dir, store, data, format)):
                raise ConfigError(
                    "--logging-pipeline, --model, --store, --data and --format only apply with --pipeline"
                )
            logged, target_dist, truth, described = _policy_target(log, target_log, target)
            if full_support:
                target_dist = SlotTarget.from_dense(target_dist, np.ones(len(logged)))
            blind, versions = None, None
        estimates = estimate_all(logged, target_dist, estimators=_estimators(interval, n_bootstrap, seed, tau))
    payload: dict[str, Any] = {
        "log": str(log),
        "target": described,
        "rows": len(logged),
        "rounds": logged.n_rounds,
        "logged_reward": float(logged.reward.mean()),
        "truth": truth,
        "blind_mass": blind,
        "pipeline_versions": versions,
        "interval": interval,
        "weight_constraint": interval == "likelihood" and getattr(target_dist, "expected_weight", None) is not None,
        "heavy_rounds": next(iter(estimates.values())).heavy_units,  # the same weights under every estimator
        "estimators": {name: e.to_dict() for name, e in estimates.items()},
    }
    _print_report(payload, estimates)
    if output is not None:
        with errors_as_exit_codes():
            write_json(output, payload)


def _print_report(payload: dict[str, Any], estimates: dict[str, Any]) -> None:
    """The estimates as a table, the truth where known, and notes on blind mass, heavy rounds and versions."""
    from lmrec.simulation.likelihood import RELIABLE_HEAVY_UNITS

    truth, blind, versions = payload["truth"], payload["blind_mass"], payload["pipeline_versions"]
    held = " with the weights held to their known mean" if payload["weight_constraint"] else ""
    title = f"estimated reward per slot of the target policy (95% {payload['interval']} interval{held})"
    table = Table(title=title, show_edge=False)
    for column in ("estimator", "estimate", "interval", "relative error" if truth else "ESS"):
        table.add_column(column, justify="right")
    for name, e in estimates.items():
        last = f"{abs(e.value - truth) / truth:.3f}" if truth else f"{e.effective_sample_size:,.0f}"
        interval = "-" if math.isnan(e.low) else f"{e.low:.5f}-{e.high:.5f}"  # NaN: skipped or too little data
        table.add_row(name, f"{e.value:.5f}", interval, last)
    console.print(table)
    console.print(f"the logging policy's own reward per slot: {payload['logged_reward']:.5f}")
    if truth is not None:
        console.print(f"on-policy truth (the target log's mean reward): {truth:.5f}")
    if blind == 0.0:
        console.print("the logging pipeline can show every item the target would show, at every logged slot")
    elif blind is not None:
        console.print(
            f"{blind:.1%} of the target's slot probability falls on items the logging pipeline never shows "
            "there; no estimator sees what they would earn"
        )
    if payload["heavy_rounds"] is not None and payload["heavy_rounds"] < RELIABLE_HEAVY_UNITS:
        errors.print(
            f"[yellow]note:[/] only {payload['heavy_rounds']} rounds carry half of the importance weight "
            "above its known mean; with so few, an interval held to that mean can be far too narrow "
            "(README: 'How many requests a held interval needs'); compare the plain one, without "
            "--full-support or --logging-pipeline"
        )
    if versions and versions["log"] and versions["logging"] and versions["logging"] not in versions["log"]:
        errors.print(
            f"[yellow]note:[/] the log was written by pipeline version {', '.join(versions['log'])}, and "
            f"--logging-pipeline is {versions['logging']} (another config or model): its blind mass "
            "describes another pipeline than the one that wrote the log, and no interval uses it"
        )


def _policy_target(log: Path, target_log: Path | None, target: str) -> tuple[Any, Any, float | None, str]:
    """A context-free target: uniform, or another log's per-slot item mix (and its mean reward)."""
    import numpy as np

    from lmrec.simulation.logs import context_free_policy

    if target not in ("log", "uniform"):
        raise ConfigError(f"unknown --target {target!r}; choose log or uniform")
    if target == "log" and target_log is None:
        raise ConfigError("--target log needs --target-log PATH (or use --target uniform, or --pipeline)")
    logged = read_log(log)
    if target == "uniform":
        return logged, np.full((len(logged), logged.n_items), 1.0 / logged.n_items), None, target
    assert target_log is not None
    on_policy = read_log(target_log)
    if on_policy.n_items != logged.n_items or on_policy.n_positions != logged.n_positions:
        raise ConfigError("the two logs have different items or slots")
    policy = context_free_policy(on_policy, "frequency")
    return logged, policy[logged.position], float(on_policy.reward.mean()), str(target_log)


def _pipeline_target(
    log: Path,
    path: Path,
    logging_path: Path | None,
    model_dir: Path | None,
    store: str | None,
    data: Path | None,
    format: str | None,
) -> tuple[Any, Any, float | None, dict[str, Any]]:
    """A declared pipeline replayed on a pipeline log, its blind mass when the logging config is
    given, and the pipeline versions: the log's, the target's and the logging config's. With the
    logging config, the target also carries each row's expected importance weight (for a
    likelihood interval), unless the log names another pipeline version as its writer."""
    from lmrec.cli.data_source import load_pipeline
    from lmrec.simulation.replay import expected_weights, logged_versions, replay

    if model_dir is None:
        raise ConfigError("--pipeline needs --model MODEL_DIR (and --store or --data)")
    runner = load_pipeline(path, model_dir, data, store, format)
    frame = read_table(log)
    versions: dict[str, Any] = {"log": logged_versions(frame), "target": runner.version, "logging": None}
    with errors.status(f"replaying the logged requests through {path.name}"):
        logged, target = _in_file(lambda: replay(runner, frame), log)
    if logging_path is None:
        return logged, target, None, versions
    deployed = load_pipeline(logging_path, model_dir, data, store, format)
    versions["logging"] = deployed.version
    with errors.status(f"replaying the logged requests through {logging_path.name}"):
        _, logging = _in_file(lambda: replay(deployed, frame), log)
    shares = expected_weights(target, logging)  # (n,)
    if not versions["log"] or deployed.version in versions["log"]:
        target = replace(target, expected_weight=shares)
    return logged, target, float(1.0 - shares.mean()), versions


def _estimators(interval: str, n_bootstrap: int, seed: int, tau: float) -> list[Any]:
    from lmrec.simulation.ope import DR, IPS, SNIPS, SwitchDR

    shared = {"interval": interval, "n_bootstrap": n_bootstrap, "seed": seed}
    return [IPS(shared), SNIPS(shared), DR(shared), SwitchDR({**shared, "tau": tau})]


def read_log(path: Path) -> Any:
    """An `ImpressionLog` from an Open Bandit file or a generic table (see `ope_command`)."""
    import pandas as pd

    from lmrec.diagnostics import DataError
    from lmrec.simulation.logs import ImpressionLog, read_open_bandit

    if path.suffix == ".csv" and "propensity_score" in pd.read_csv(path, nrows=0).columns:
        folder, policy, campaign = path.parents[2], path.parent.parent.name, path.parent.name
        return read_open_bandit(folder, policy, campaign)  # type: ignore[arg-type]
    frame = read_table(path)
    missing = [c for c in LOG_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"missing column(s) {missing}", field=missing[0], source=str(path))
    if frame.empty:
        raise DataError("the log has no rows", source=str(path))
    return _in_file(lambda: ImpressionLog.sized(**{name: frame[name].to_numpy() for name in LOG_COLUMNS}), path)


def _in_file(read: Callable[[], T], path: Path) -> T:
    """`read()`, a `DataError` it raises naming the log file and the row's place in it: the log's
    rows count from 0, the user reads the file's."""
    from lmrec.diagnostics import DataError

    try:
        return read()
    except DataError as exc:
        row = None if exc.row is None else _file_row(path, exc.row)
        raise DataError(exc.reason, field=exc.field, row=row, value=exc.value, source=str(path)) from exc


def _file_row(path: Path, index: int) -> int:
    """Where the log's row `index` (from 0) is in the file: its line in a CSV (the header is line 1)
    or JSON-lines file, its index in a Parquet file."""
    return index + {".csv": 2, ".jsonl": 1}.get(path.suffix, 0)


def read_table(path: Path) -> Any:
    """A CSV, Parquet or JSON-lines file as a DataFrame."""
    import pandas as pd

    from lmrec.diagnostics import FormatError

    readers: dict[str, Callable[[Path], pd.DataFrame]] = {
        ".csv": pd.read_csv,
        ".parquet": pd.read_parquet,
        ".jsonl": lambda p: pd.read_json(p, lines=True),
    }
    if path.suffix not in readers:
        raise FormatError(f"an impression log must be .csv, .parquet or .jsonl, got {path.suffix!r}", source=str(path))
    return readers[path.suffix](path)
