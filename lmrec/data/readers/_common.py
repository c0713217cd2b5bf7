"""What every reader shares: the batch type, line reading with row numbers, mappings, rejects."""

from __future__ import annotations

import gzip
import io
import json
import logging
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, cast

import numpy as np
import pandas as pd

from lmrec.data.columns import EVENT_COLUMNS, ITEM_COLUMNS, USER_COLUMNS, Columns
from lmrec.data.schema import REJECT_COLUMNS
from lmrec.diagnostics import DataError, FormatError

log = logging.getLogger("lmrec.data.readers")

Kind = Literal["events", "items", "users"]

#: The fields each kind of table may have, in `Columns` names.
KIND_COLUMNS: dict[str, tuple[str, ...]] = {"events": EVENT_COLUMNS, "items": ITEM_COLUMNS, "users": USER_COLUMNS}
#: Where columns a table has no field for are kept, as one JSON object per row.
EXTRA_FIELD: dict[str, str] = {"events": Columns.Context, "items": Columns.Attributes, "users": Columns.Attributes}
#: Longest piece of a bad line kept in a reject record.
MAX_REJECT_TEXT = 200


@dataclass(frozen=True, eq=False)
class RawBatch:
    """Rows a reader parsed from one file, not yet validated.

    Attributes:
        kind: which table the rows are for.
        frame: the rows, columns already renamed to `Columns` names.
        first_row: row number (in the user's file) of the first row of `frame`.
        source: the file name the rows came from.
        read_rejects: rows the reader itself could not parse, columns `schema.REJECT_COLUMNS`.
        rows: row number of every row of `frame` when they are not `first_row, first_row + 1, ...`
            (a sequence line holds many events; sorted readers reorder rows).
    """

    kind: Kind
    frame: pd.DataFrame
    first_row: int
    source: str
    read_rejects: pd.DataFrame
    rows: np.ndarray | None = field(default=None)

    def row_numbers(self) -> np.ndarray:
        """Row number in the user's file of every row of `frame`, shape (len(frame),)."""
        if self.rows is not None:
            return np.asarray(self.rows, dtype=np.int64)
        return np.arange(self.first_row, self.first_row + len(self.frame), dtype=np.int64)

    @property
    def n_read(self) -> int:
        """Rows read: parsed rows plus rows the reader rejected."""
        return len(self.frame) + len(self.read_rejects)


class Rejects:
    """Collects rows a reader cannot parse, as `(row, field, value, reason)` records."""

    def __init__(self) -> None:
        self.records: list[tuple[int, str, Any, str]] = []

    def add(self, row: int, field: str, value: Any, reason: str) -> None:
        if isinstance(value, str) and len(value) > MAX_REJECT_TEXT:
            value = value[: MAX_REJECT_TEXT - 3] + "..."
        self.records.append((int(row), field, value, reason))

    def __len__(self) -> int:
        return len(self.records)

    def take(self) -> pd.DataFrame:
        """The collected records as a frame; the collector starts empty again."""
        frame = reject_frame(self.records)
        self.records = []
        return frame


def reject_frame(records: Sequence[tuple[int, str, Any, str]] = ()) -> pd.DataFrame:
    """A rejects table (`schema.REJECT_COLUMNS`) from records."""
    frame = pd.DataFrame(list(records), columns=list(REJECT_COLUMNS))
    frame["row"] = frame["row"].astype(np.int64)
    return frame


# -- files ------------------------------------------------------------------------------------


def open_binary(path: Path) -> IO[bytes]:
    """Open a file for reading bytes, decompressing `.gz` files."""
    try:
        if path.suffix == ".gz":
            return cast(IO[bytes], gzip.open(path, "rb"))
        return path.open("rb")
    except OSError as exc:
        raise FormatError(f"cannot open: {exc.strerror or exc}", source=str(path)) from exc


def base_name(path: Path) -> str:
    """The file name without a `.gz` suffix, lower case (what detection looks at)."""
    name = path.name.lower()
    return name[:-3] if name.endswith(".gz") else name


def read_lines(path: Path, encoding: str = "utf-8") -> Iterator[tuple[int, str | None, bytes]]:
    """Every non-blank line as `(line number, text or None when it cannot be decoded, raw bytes)`."""
    with open_binary(path) as handle:
        try:
            for number, raw in enumerate(handle, start=1):
                stripped = raw.rstrip(b"\r\n")
                if not stripped.strip():
                    continue
                try:
                    text: str | None = stripped.decode(encoding)
                except UnicodeDecodeError:
                    text = None
                yield number, text, stripped
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise FormatError(f"cannot read: {exc}", source=path.name) from exc


def bad_text(raw: bytes) -> str:
    """A line that is not valid text, shown with its bad bytes escaped."""
    return raw.decode("utf-8", errors="backslashreplace")


def split_lines(
    path: Path, sep: str, n_fields: int, rejects: Rejects, *, header: bool = False, encoding: str = "utf-8"
) -> tuple[list[str] | None, list[list[str]], list[int]]:
    """Split a delimited text file with no quoting; lines with the wrong field count are rejected.

    Returns the header (or None), the rows of fields and their line numbers.
    """
    head: list[str] | None = None
    rows: list[list[str]] = []
    numbers: list[int] = []
    for number, text, raw in read_lines(path, encoding):
        if text is None:
            rejects.add(number, "", bad_text(raw), f"line is not valid {encoding} text")
            continue
        fields = text.split(sep)
        if header and head is None:
            head = [f.strip() for f in fields]
            n_fields = len(head)
            continue
        if len(fields) != n_fields:
            rejects.add(number, "", text, f"expected {n_fields} fields separated by {sep!r}, got {len(fields)}")
            continue
        rows.append(fields)
        numbers.append(number)
    return head, rows, numbers


def peek_text(path: Path, size: int = 4096) -> str:
    """The first bytes of a file as text (undecodable bytes replaced)."""
    with open_binary(path) as handle:
        try:
            return handle.read(size).decode("utf-8", errors="replace")
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise FormatError(f"cannot read: {exc}", source=path.name) from exc


def first_json_object(path: Path) -> dict[str, Any] | None:
    """The first line of a JSON-lines file as an object, or None when it is not one."""
    from lmrec.data.readers.amazon import parse_record

    with open_binary(path) as handle:
        try:
            line = io.TextIOWrapper(handle, encoding="utf-8", errors="replace").readline()
        except (OSError, EOFError, gzip.BadGzipFile):
            return None
    record = parse_record(line.strip())
    return record if isinstance(record, dict) else None


# -- columns ----------------------------------------------------------------------------------


def numbers_or_text(values: Sequence[str] | pd.Series) -> pd.Series:
    """Numbers where text parses as one; the original text elsewhere (so validation names it).

    Blank strings become missing values.
    """
    text = pd.Series(values, dtype=object)
    parsed = pd.to_numeric(text, errors="coerce")
    failed = np.array(parsed.isna(), dtype=bool)
    if failed.any():
        blank = np.fromiter((not str(v).strip() for v in text[failed]), dtype=bool, count=int(failed.sum()))
        failed[np.flatnonzero(failed)[blank]] = False
    if not failed.any():
        return parsed.astype(float)
    return parsed.astype(object).where(~failed, text)


def sort_events(frame: pd.DataFrame, rows: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """Events stably sorted by (user, timestamp, item), ids compared as numbers when all are numeric.

    Dataset keeps input order for equal timestamps, so this makes ties break by item id, as the
    published MovieLens protocols do.
    """
    keys = pd.DataFrame(
        {
            "u": _sort_key(frame[Columns.User]),
            "t": pd.to_numeric(frame[Columns.Timestamp], errors="coerce") if Columns.Timestamp in frame else 0.0,
            "i": _sort_key(frame[Columns.Item]),
        }
    )
    order = keys.sort_values(["u", "t", "i"], kind="stable", na_position="last").index.to_numpy()
    return frame.iloc[order].reset_index(drop=True), rows[order]


def _sort_key(ids: pd.Series) -> pd.Series:
    numeric = pd.to_numeric(ids, errors="coerce")
    if numeric.notna().all():
        return numeric
    return ids.astype(str)


def apply_mapping(frame: pd.DataFrame, mapping: Mapping[str, str] | None, source: str) -> pd.DataFrame:
    """Rename a file's columns to `Columns` names; without a mapping, well-known names are used.

    Raises:
        DataError: a mapping names a column the file lacks, or a target that is no lmrec field.
    """
    fields = sorted(set(EVENT_COLUMNS) | set(ITEM_COLUMNS) | set(USER_COLUMNS))
    if mapping:
        missing = [c for c in mapping if c not in frame.columns]
        if missing:
            raise DataError(
                f"the mapping names column(s) {missing} that the file does not have; it has {list(frame.columns)}",
                field=missing[0],
                source=source,
            )
        wrong = [t for t in mapping.values() if t not in fields]
        if wrong:
            raise DataError(f"unknown lmrec field(s) {wrong}; map columns to one of {fields}", field=wrong[0])
        renamed = frame.rename(columns=dict(mapping))
    else:
        renamed = frame.rename(columns={c: ALIASES.get(_norm(c), c) for c in frame.columns if c not in fields})
    duplicated = renamed.columns[renamed.columns.duplicated()].tolist()
    if duplicated:
        raise DataError(f"several columns map to the same field(s) {duplicated}", field=str(duplicated[0]))
    return renamed


def _norm(name: Any) -> str:
    return "".join(ch for ch in str(name).lower() if ch.isalnum())


#: Column names understood without a mapping (compared lower case, letters and digits only).
ALIASES: dict[str, str] = {
    "user": Columns.User,
    "userid": Columns.User,
    "visitorid": Columns.User,
    "customerid": Columns.User,
    "reviewerid": Columns.User,
    "item": Columns.Item,
    "itemid": Columns.Item,
    "movieid": Columns.Item,
    "productid": Columns.Item,
    "asin": Columns.Item,
    "rating": Columns.Value,
    "eventid": Columns.Event,
    "eventtype": Columns.Type,
    "event": Columns.Type,
    "time": Columns.Timestamp,
    "ts": Columns.Timestamp,
}


def infer_kind(columns: Iterable[str], source: str) -> Kind:
    """Events when rows name a user and an item, items for items alone, users for users alone."""
    names = set(columns)
    if Columns.User in names and Columns.Item in names:
        return "events"
    if Columns.Item in names:
        return "items"
    if Columns.User in names:
        return "users"
    raise DataError(
        f"cannot tell what the rows are: no {Columns.User!r} or {Columns.Item!r} column among {sorted(names)}; "
        f"give a mapping such as {{'userId': '{Columns.User}', 'movieId': '{Columns.Item}'}}",
        source=source,
    )


def fold_extras(frame: pd.DataFrame, kind: Kind) -> pd.DataFrame:
    """Keep columns the table has no field for as one JSON object per row (context or attributes).

    Nothing a file holds is dropped; a value that is missing in a row is left out of its object.
    """
    known = KIND_COLUMNS[kind]
    extras = [c for c in frame.columns if c not in known]
    if kind == "events" and Columns.Value in frame.columns and Columns.Type not in frame.columns:
        frame = frame.assign(**{Columns.Type: "rating"})  # a value with no type is a rating
    if not extras:
        return frame
    target = EXTRA_FIELD[kind]
    if target in frame.columns:
        raise DataError(
            f"column(s) {extras} have no lmrec field and cannot be kept in {target!r}, which a column already fills; "
            "map or drop them",
            field=str(extras[0]),
        )
    log.info("keeping column(s) %s in %r", extras, target)
    columns = [frame[c].tolist() for c in extras]
    names = [str(c) for c in extras]
    objects = [_json_object(names, values) for values in zip(*columns, strict=True)]
    out = frame.drop(columns=extras)
    out[target] = pd.Series(objects, index=frame.index, dtype=object)
    return out


def _json_object(names: list[str], values: tuple[Any, ...]) -> str | None:
    kept = {n: v for n, v in zip(names, values, strict=True) if not is_missing(v)}
    if not kept:
        return None
    return json.dumps(kept, default=_json_default, sort_keys=True, allow_nan=False, ensure_ascii=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    return str(value)


def is_missing(value: Any) -> bool:
    """None, NaN or an empty string."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, str):
        return not value.strip()
    return bool(value is pd.NA or value is pd.NaT)


def batches(
    kind: Kind,
    frame: pd.DataFrame,
    rows: np.ndarray,
    rejects: pd.DataFrame,
    source: str,
    batch_size: int,
) -> Iterator[RawBatch]:
    """Slice a whole table into batches; the reader's rejects travel with the first one."""
    if frame.empty and rejects.empty:
        return
    for start in range(0, max(len(frame), 1), batch_size):
        part = frame.iloc[start : start + batch_size].reset_index(drop=True)
        part_rows = rows[start : start + batch_size]
        first = int(part_rows[0]) if len(part_rows) else (int(rejects["row"].min()) if len(rejects) else 1)
        yield RawBatch(kind, part, first, source, rejects if start == 0 else reject_frame(), part_rows)
