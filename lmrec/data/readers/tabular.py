"""Any CSV (or other delimited text), Parquet or JSON-lines file, with a column mapping.

Row numbers in rejects: for CSV the line number where the record starts (the header is line 1),
for JSON lines the line number, for Parquet the 1-based row index.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lmrec.data.readers._common import (
    RawBatch,
    Rejects,
    apply_mapping,
    fold_extras,
    infer_kind,
    open_binary,
    read_lines,
    reject_frame,
)
from lmrec.diagnostics import DataError, FormatError

#: Cells larger than this are not a valid field (csv would raise on them otherwise).
_MAX_CELL = 10_000_000


def read_csv(
    path: Path, *, mapping: Mapping[str, str] | None = None, batch_size: int = 50_000, delimiter: str | None = None
) -> Iterator[RawBatch]:
    """Read a delimited text file with a header row.

    The delimiter is `,` for `.csv`, a tab for `.tsv`, else sniffed from the first lines. A record
    with the wrong number of fields, or with bytes that are not UTF-8, is rejected; empty cells
    are missing values.
    """
    csv.field_size_limit(_MAX_CELL)
    with open_binary(path) as handle:
        text = io.TextIOWrapper(handle, encoding="utf-8", errors="surrogateescape", newline="")
        try:
            sample = text.read(65536)
        except OSError as exc:
            raise FormatError(f"cannot read: {exc}", source=path.name) from exc
        if not sample.strip():
            return
        sep = delimiter or _delimiter(path, sample)
        reader = csv.reader(_chain(sample, text), delimiter=sep)
        yield from _csv_batches(reader, path.name, mapping, batch_size)


def _chain(sample: str, rest: io.TextIOWrapper) -> Iterator[str]:
    yield from io.StringIO(sample + rest.readline())
    yield from rest


def _delimiter(path: Path, sample: str) -> str:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".csv"):
        return ","
    if name.endswith(".tsv"):
        return "\t"
    try:
        return csv.Sniffer().sniff(sample.split("\n", 5)[0], delimiters=",\t;|").delimiter
    except csv.Error as exc:
        raise FormatError("cannot tell the delimiter of this file; name it .csv or .tsv", source=path.name) from exc


def _csv_batches(reader: Any, source: str, mapping: Mapping[str, str] | None, batch_size: int) -> Iterator[RawBatch]:
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise FormatError(f"cannot read the header: {exc}", source=source, row=1) from exc
    if any(_has_bad_bytes(h) for h in header):
        raise FormatError("the header is not valid UTF-8", source=source, row=1, value=header)
    names = [h.strip() for h in header]
    empty = pd.DataFrame(columns=names)
    renamed = apply_mapping(empty, mapping, source)
    kind = infer_kind(renamed.columns, source)
    rejects = Rejects()
    rows: list[list[str]] = []
    numbers: list[int] = []
    line = reader.line_num + 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            rejects.add(line, "", "", f"cannot parse the record: {exc}")
            line = reader.line_num + 1
            continue
        _take_record(record, line, names, renamed.columns, rows, numbers, rejects)
        line = reader.line_num + 1
        if len(rows) >= batch_size:
            yield _frame_batch(kind, rows, numbers, renamed.columns, rejects, source)
            rows, numbers = [], []
    if rows or len(rejects):
        yield _frame_batch(kind, rows, numbers, renamed.columns, rejects, source)


def _take_record(
    record: list[str],
    line: int,
    names: list[str],
    fields: pd.Index,
    rows: list[list[str]],
    numbers: list[int],
    rejects: Rejects,
) -> None:
    if not record or (len(record) == 1 and not record[0].strip()):
        return  # a blank line holds no row
    if len(record) != len(names):
        text = ",".join(record).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        rejects.add(line, "", text, f"expected {len(names)} fields ({', '.join(names)}), got {len(record)}")
        return
    for field, cell in zip(fields, record, strict=True):
        if _has_bad_bytes(cell):
            shown = cell.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            rejects.add(line, str(field), shown, "not valid UTF-8 text")
            return
    rows.append(record)
    numbers.append(line)


def _has_bad_bytes(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def _frame_batch(
    kind: Any, rows: list[list[str]], numbers: list[int], columns: pd.Index, rejects: Rejects, source: str
) -> RawBatch:
    frame = pd.DataFrame(rows, columns=list(columns), dtype=object) if rows else pd.DataFrame(columns=columns)
    frame = frame.where(frame.map(lambda v: isinstance(v, str) and bool(v.strip())), None) if rows else frame
    frame = fold_extras(frame, kind)
    numbers_array = np.asarray(numbers, dtype=np.int64)
    first = int(numbers_array[0]) if len(numbers_array) else 1
    return RawBatch(kind, frame, first, source, rejects.take(), numbers_array)


def read_parquet(
    path: Path, *, mapping: Mapping[str, str] | None = None, batch_size: int = 50_000
) -> Iterator[RawBatch]:
    """Read a Parquet file a row group slice at a time; rows are numbered from 1."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        handle = pq.ParquetFile(path)
        names = handle.schema_arrow.names
    except (pa.ArrowException, OSError) as exc:
        raise FormatError(f"not a readable Parquet file: {exc}", source=path.name) from exc
    renamed = apply_mapping(pd.DataFrame(columns=names), mapping, path.name)
    kind = infer_kind(renamed.columns, path.name)
    first = 1
    try:
        for record_batch in handle.iter_batches(batch_size=batch_size):
            frame = record_batch.to_pandas()
            frame.columns = renamed.columns
            frame = fold_extras(frame, kind)
            yield RawBatch(kind, frame, first, path.name, reject_frame())
            first += len(frame)
    except (pa.ArrowException, OSError) as exc:
        raise FormatError(f"cannot read Parquet rows from row {first}: {exc}", source=path.name) from exc


def read_jsonl(path: Path, *, mapping: Mapping[str, str] | None = None, batch_size: int = 50_000) -> Iterator[RawBatch]:
    """Read one JSON object per line; a line that is not a JSON object is rejected.

    Keys may differ between lines; a key with no lmrec field is kept in `context` (events) or
    `attributes` (items, users). The kind is decided from the keys of the first batch.
    """
    rejects = Rejects()
    records: list[dict[str, Any]] = []
    numbers: list[int] = []
    kind: Any = None
    for number, text, raw in read_lines(path):
        record = _json_line(number, text, raw, rejects)
        if record is None:
            continue
        records.append(record)
        numbers.append(number)
        if len(records) >= batch_size:
            kind, batch = _json_batch(kind, records, numbers, rejects, path.name, mapping)
            yield batch
            records, numbers = [], []
    if records or len(rejects):
        if kind is None and not records:
            kind = "events"  # nothing parsed: the rejects still need a batch to travel in
        _, batch = _json_batch(kind, records, numbers, rejects, path.name, mapping)
        yield batch


def _json_line(number: int, text: str | None, raw: bytes, rejects: Rejects) -> dict[str, Any] | None:
    if text is None:
        rejects.add(number, "", raw.decode("utf-8", "backslashreplace"), "line is not valid UTF-8 text")
        return None
    try:
        record = json.loads(text)
    except ValueError as exc:
        rejects.add(number, "", text, f"not valid JSON: {exc.args[0] if exc.args else exc}")
        return None
    if not isinstance(record, dict):
        rejects.add(number, "", text, f"expected a JSON object, got {type(record).__name__}")
        return None
    return record


def _json_batch(
    kind: Any,
    records: list[dict[str, Any]],
    numbers: list[int],
    rejects: Rejects,
    source: str,
    mapping: Mapping[str, str] | None,
) -> tuple[Any, RawBatch]:
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    frame = frame.astype(object).where(frame.notna(), None) if records else frame
    if mapping:
        present = {k: v for k, v in mapping.items() if k in frame.columns}
        if kind is None and len(present) < len(mapping):
            apply_mapping(frame, mapping, source)  # raises, naming the missing column
        frame = frame.rename(columns=present)
        frame = _dedupe_targets(frame)
    else:
        frame = apply_mapping(frame, None, source)
    if kind is None:
        kind = infer_kind(frame.columns, source)
    frame = fold_extras(frame, kind)
    array = np.asarray(numbers, dtype=np.int64)
    return kind, RawBatch(kind, frame, int(array[0]) if len(array) else 1, source, rejects.take(), array)


def _dedupe_targets(frame: pd.DataFrame) -> pd.DataFrame:
    duplicated = frame.columns[frame.columns.duplicated()].tolist()
    if duplicated:
        raise DataError(f"several keys map to the same field(s) {duplicated}", field=str(duplicated[0]))
    return frame
