"""Bulk import: read a file or folder, validate every row, store the valid ones, report the rest.

The accounting never loses a row: for every kind of row and in total,
`stored + duplicates + rejected == read`, and `import_path` checks it after every batch.
- read: rows the reader met (a sequence line holds one row per item).
- stored: events newly stored; items and users written (inserted or replaced; last row wins).
- duplicates: events whose id was already stored or came earlier in the same import (events get a
  hash of their content as id when the file gives none, so importing a file twice stores nothing
  twice); items or users repeated within one batch.
- rejected: rows the reader could not parse plus rows validation refused.

Each batch is one transaction (`Store.writer()`): it lands whole or not at all. Rejects go to a
JSON-lines file, one object per rejected row: `{"source", "kind", "row", "field", "value", "reason"}`
where `row` is the row (line) number in the user's file.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

import numpy as np
import pandas as pd
import sqlalchemy as sa

from lmrec.data.columns import EVENT_COLUMNS, ITEM_COLUMNS, USER_COLUMNS, Columns
from lmrec.data.dataset import Dataset
from lmrec.data.readers import RawBatch, detect_format, read_source
from lmrec.data.schema import DEFAULT_EVENT_TYPES, Validated, validate_events, validate_items, validate_users
from lmrec.data.store import Store, StoreWriter, as_stored
from lmrec.diagnostics import StoreError
from lmrec.serialization import json_ready

log = logging.getLogger(__name__)

#: How many rejects an `ImportSummary` keeps in memory (all of them go to the rejects file).
SAMPLE_REJECTS = 20
KINDS = ("items", "users", "events")


@dataclass
class ImportSummary:
    """What an import read, stored, skipped as duplicate and rejected, in total and per kind."""

    source: str
    read: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    per_kind: dict[str, dict[str, int]] = field(default_factory=dict)
    rejects_path: Path | None = None
    seconds: float = 0.0
    format: str = ""
    sample_rejects: list[dict[str, Any]] = field(default_factory=list)

    def add(self, kind: str, read: int, stored: int, duplicates: int, rejected: int) -> None:
        """Count one batch, checking that it lost no row."""
        if stored + duplicates + rejected != read:
            raise AssertionError(
                f"import accounting broken for {kind} in {self.source}: stored {stored} + duplicates {duplicates} "
                f"+ rejected {rejected} != read {read}"
            )
        counts = self.per_kind.setdefault(kind, {"read": 0, "stored": 0, "duplicates": 0, "rejected": 0})
        for name, value in (("read", read), ("stored", stored), ("duplicates", duplicates), ("rejected", rejected)):
            counts[name] += value
        self.read += read
        self.stored += stored
        self.duplicates += duplicates
        self.rejected += rejected

    def is_balanced(self) -> bool:
        """True when stored + duplicates + rejected == read, in total and for every kind."""
        kinds_ok = all(c["stored"] + c["duplicates"] + c["rejected"] == c["read"] for c in self.per_kind.values())
        return kinds_ok and self.stored + self.duplicates + self.rejected == self.read


class _Sink(Protocol):
    def event_types(self) -> Mapping[str, float]: ...

    def write(self, kind: str, valid: pd.DataFrame) -> tuple[int, int]: ...


def validate_batch(batch: RawBatch, event_types: Mapping[str, float]) -> tuple[Validated, pd.DataFrame]:
    """Validate a reader's batch; returns the valid rows and every reject (reader's and validation's),
    with row numbers of the user's file."""
    if batch.kind == "events":
        checked = validate_events(batch.frame, event_types, first_row=0)
    elif batch.kind == "items":
        checked = validate_items(batch.frame, first_row=0)
    else:
        checked = validate_users(batch.frame, first_row=0)
    rejects = checked.rejects
    if len(rejects):
        rejects = rejects.assign(row=batch.row_numbers()[rejects["row"].to_numpy(dtype=np.int64)])
    if len(batch.read_rejects):
        rejects = pd.concat([batch.read_rejects, rejects], ignore_index=True) if len(rejects) else batch.read_rejects
    rejects = rejects.sort_values("row", kind="stable").reset_index(drop=True)
    return checked, rejects


def import_path(
    store: Store,
    path: str | Path,
    *,
    format: str | None = None,
    mapping: Mapping[str, str] | None = None,
    rejects_path: Path | None = None,
    batch_size: int = 50_000,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Import a file or folder into `store`; every valid row is stored, every invalid one reported.

    Args:
        store: the store to write to.
        path: a file or folder in one of `lmrec.data.readers.FORMATS`.
        format: the format; detected when None.
        mapping: file column -> lmrec field, for csv, parquet and jsonl files.
        rejects_path: where to write rejected rows (JSON lines). When None and rows are rejected,
            `<path>.rejects.jsonl` is written beside the input, or in the current folder when
            the input's folder is read-only.
        batch_size: rows per transaction.
        progress: called with the number of rows read after each batch.

    Raises:
        FormatError, DataError: the input cannot be read (nothing of the failing batch is stored).
        StoreError: the database refused a batch (nothing of it is stored).
    """
    path = Path(path)
    sink = _StoreSink(store)
    return _run(sink, path, format, mapping, rejects_path, batch_size, progress)


def load_dataset(
    path: str | Path, *, format: str | None = None, mapping: Mapping[str, str] | None = None
) -> tuple[Dataset, ImportSummary]:
    """Read, validate and deduplicate a file or folder in memory, with no store.

    Gives exactly the Dataset that importing into a fresh store and calling `store.dataset()`
    gives. Rejects are counted in the summary (and sampled) but not written to a file.
    """
    sink = _MemorySink()
    summary = _run(sink, Path(path), format, mapping, None, 50_000, None, write_rejects=False)
    return sink.dataset(), summary


def _run(
    sink: _Sink,
    path: Path,
    format: str | None,
    mapping: Mapping[str, str] | None,
    rejects_path: Path | None,
    batch_size: int,
    progress: Callable[[int], None] | None,
    *,
    write_rejects: bool = True,
) -> ImportSummary:
    started = time.perf_counter()
    chosen = format or detect_format(path)
    summary = _summary(path, chosen)
    writer = _RejectsFile(rejects_path, path, create=rejects_path is not None and write_rejects)
    event_types = sink.event_types()
    try:
        for batch in read_source(path, format=chosen, mapping=mapping, batch_size=batch_size):
            checked, rejects = validate_batch(batch, event_types)
            stored, duplicates = sink.write(batch.kind, checked.valid)
            summary.add(batch.kind, batch.n_read, stored, duplicates, len(rejects))
            if len(rejects):
                _sample(summary, batch, rejects)
                if write_rejects:
                    writer.write(batch, rejects)
            if progress is not None:
                progress(batch.n_read)
    finally:
        writer.close()
    summary.rejects_path = writer.path if writer.opened else None
    summary.seconds = time.perf_counter() - started
    log.info("imported %s: %s", path, {k: summary.per_kind[k] for k in summary.per_kind})
    return summary


def _summary(path: Path, format: str) -> ImportSummary:
    summary = ImportSummary(source=str(path), format=format)
    summary.per_kind = {}
    return summary


def _sample(summary: ImportSummary, batch: RawBatch, rejects: pd.DataFrame) -> None:
    room = SAMPLE_REJECTS - len(summary.sample_rejects)
    for record in rejects.head(max(room, 0)).to_dict("records"):
        summary.sample_rejects.append({"source": batch.source, "kind": batch.kind, **_str_keys(record)})


def _str_keys(record: Mapping[Any, Any]) -> dict[str, Any]:
    return {str(k): v for k, v in record.items()}


class _StoreSink:
    """Writes each batch in its own transaction."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def event_types(self) -> Mapping[str, float]:
        return self.store.event_types()

    def write(self, kind: str, valid: pd.DataFrame) -> tuple[int, int]:
        try:
            with self.store.writer() as writer:
                return _write(writer, kind, valid)
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"the store refused a batch of {len(valid)} {kind}; none of it was stored: {exc}") from exc


def _write(writer: StoreWriter, kind: str, valid: pd.DataFrame) -> tuple[int, int]:
    if kind == "events":
        result = writer.add_events(valid)
        return result.stored, result.duplicates
    written = writer.upsert_items(valid) if kind == "items" else writer.upsert_users(valid)
    return written, len(valid) - written


class _MemorySink:
    """Keeps validated rows the way the store would: first event per id, last item/user per id."""

    def __init__(self) -> None:
        self.events: list[pd.DataFrame] = []
        self.items: list[pd.DataFrame] = []
        self.users: list[pd.DataFrame] = []
        self.seen: set[str] = set()

    def event_types(self) -> Mapping[str, float]:
        return dict(DEFAULT_EVENT_TYPES)

    def write(self, kind: str, valid: pd.DataFrame) -> tuple[int, int]:
        if kind == "events":
            ids = valid[Columns.Event]
            seen = self.seen  # set lookups: O(batch), where Series.isin(set) copies the whole set
            known = np.fromiter((i in seen for i in ids.tolist()), dtype=bool, count=len(ids))
            fresh = ~ids.duplicated(keep="first").to_numpy() & ~known
            kept = valid.loc[fresh]
            self.seen.update(kept[Columns.Event].tolist())
            self.events.append(kept)
            return len(kept), len(valid) - len(kept)
        key = Columns.Item if kind == "items" else Columns.User
        unique = valid.drop_duplicates(key, keep="last")
        (self.items if kind == "items" else self.users).append(unique)
        return len(unique), len(valid) - len(unique)

    def dataset(self) -> Dataset:
        events = as_stored(_concat(self.events, EVENT_COLUMNS), EVENT_COLUMNS)
        items = as_stored(_latest(_concat(self.items, ITEM_COLUMNS), Columns.Item), ITEM_COLUMNS)
        users = as_stored(_latest(_concat(self.users, USER_COLUMNS), Columns.User), USER_COLUMNS)
        events[Columns.Value] = events[Columns.Value].astype(float)
        events[Columns.Timestamp] = events[Columns.Timestamp].astype(float)
        items[Columns.Price] = items[Columns.Price].astype(float)
        items[Columns.CreatedAt] = items[Columns.CreatedAt].astype(float)
        items[Columns.Available] = items[Columns.Available].astype(bool)
        users[Columns.CreatedAt] = users[Columns.CreatedAt].astype(float)
        return Dataset.from_frames(events, items, users, DEFAULT_EVENT_TYPES)


def _concat(frames: list[pd.DataFrame], columns: tuple[str, ...]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    return pd.concat(frames, ignore_index=True)[list(columns)]


def _latest(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """Last row per id, sorted by id as the store returns them (code-point order)."""
    frame = frame.drop_duplicates(key, keep="last")
    return frame.sort_values(key, kind="stable").reset_index(drop=True)


class _RejectsFile:
    """A JSON-lines file of rejected rows, opened at the first reject (or at once when asked for)."""

    def __init__(self, path: Path | None, source: Path, *, create: bool) -> None:
        self.path = path if path is not None else _default_rejects_path(source)
        self.handle: IO[str] | None = None
        self.opened = False
        if create:
            self._open()

    def _open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.handle = self.path.open("w", encoding="utf-8")
        except OSError as exc:
            raise StoreError(f"cannot write the rejects file {self.path}: {exc}") from exc
        self.opened = True

    def write(self, batch: RawBatch, rejects: pd.DataFrame) -> None:
        if self.handle is None:
            self._open()
        assert self.handle is not None
        for record in rejects.to_dict("records"):
            line = {"source": batch.source, "kind": batch.kind, **_str_keys(record)}
            # a missing cell as null: `NaN` is not JSON; a value of any other type as its text
            self.handle.write(json.dumps(json_ready(line), default=str, ensure_ascii=False, allow_nan=False) + "\n")

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


def _default_rejects_path(source: Path) -> Path:
    beside = source.parent / (source.name + ".rejects.jsonl")
    if os.access(source.parent, os.W_OK):
        return beside
    return Path.cwd() / beside.name
