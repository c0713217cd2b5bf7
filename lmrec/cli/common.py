"""What every CLI command shares: the console, option parsing, errors -> exit codes."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from lmrec.diagnostics import ConfigError, LmrecError

# Piped or captured output gets 120 columns rather than rich's 80, so result tables stay readable.
_WIDTH = None if os.isatty(1) else 120
console = Console(stderr=False, highlight=False, width=_WIDTH)
errors = Console(stderr=True, highlight=False)

#: The store used when no --store is given: `$LMREC_STORE`, else `lmrec.db` in the current folder.
DEFAULT_STORE = os.environ.get("LMREC_STORE", "sqlite:///lmrec.db")


def parse_settings(config: str | None, settings: list[str] | None, option: str = "--set") -> dict[str, Any]:
    """Merge a JSON config (inline text or a file path) with `key=value` overrides (from `option`).

    Values are read as JSON when they parse (`l2=300` -> 300, `fallback="popularity"`), else
    kept as strings.
    """
    merged: dict[str, Any] = {}
    if config:
        text = Path(config).read_text() if Path(config).is_file() else config
        try:
            loaded = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"--config is neither a JSON object nor a JSON file: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"--config must be a JSON object, got {type(loaded).__name__}")
        merged.update(loaded)
    for item in settings or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{option} expects key=value, got {item!r}")
        try:
            merged[key.strip()] = json.loads(raw)
        except ValueError:
            merged[key.strip()] = raw
    return merged


def parse_mapping(items: list[str] | None) -> dict[str, str] | None:
    """`--map src=dst` options as a dict from the file's column names to lmrec field names."""
    if not items:
        return None
    mapping = {}
    for item in items:
        source, sep, target = item.partition("=")
        if not sep or not source or not target:
            raise ConfigError(f"--map expects FILE_COLUMN=FIELD, got {item!r}")
        mapping[source] = target
    return mapping


def fail(error: LmrecError) -> typer.Exit:
    """Print an lmrec error and return the Exit carrying its exit code."""
    errors.print(f"[bold red]error:[/] {error}")
    return typer.Exit(code=error.exit_code)


@contextmanager
def errors_as_exit_codes() -> Iterator[None]:
    """Turn lmrec's own errors into a one-line message and their exit code."""
    try:
        yield
    except LmrecError as exc:
        raise fail(exc) from None
    except OSError as exc:  # a path that cannot be read or written: the user's to fix, not a bug
        where = f"{exc.filename}: " if exc.filename else ""
        errors.print(f"[bold red]error:[/] {where}{exc.strerror or exc}")
        raise typer.Exit(code=74) from None  # EX_IOERR, as for a store that cannot be read or written


def check_writable(path: Path, *, folder: bool) -> None:
    """Fail now, before any long work, where `path` (a file, or a folder with `folder`) could not be
    written later: it or an ancestor is of the wrong kind, or its nearest existing folder is read-only.
    Nothing is created.

    Raises:
        OSError: naming the path at fault (`errors_as_exit_codes` turns it into a message).
    """
    if not folder:
        if path.is_dir():
            raise OSError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        path = path.parent  # a file is written beside its final name, then renamed
    existing = path
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(existing))
    if not os.access(existing, os.W_OK):
        raise OSError(errno.EACCES, os.strerror(errno.EACCES), str(existing))


def progress_bar() -> Progress:
    """A progress bar in the house style."""
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
    )


def training_report(recommender: Any) -> dict[str, Any] | None:
    """How a model that trains in epochs trained (SASRec's `TrainingReport`), as JSON-ready data;
    None for a model without one."""
    report = getattr(recommender, "report", None)
    return None if report is None else dataclasses.asdict(report)


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write JSON atomically (temp file + rename), creating parent folders."""
    from lmrec.serialization import dumps  # numpy, loaded only when a command writes

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(dumps(payload, indent=2) + "\n")
    tmp.replace(path)
