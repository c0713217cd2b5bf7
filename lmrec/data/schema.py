"""What a valid item, user and event is, checked a whole column at a time.

Every entry point (bulk import, the CLI, later the REST API) funnels rows through
`validate_events`, `validate_items` or `validate_users`. Each returns the normalised valid rows
and a rejects table naming the row, field, value and reason, so nothing valid is lost and nothing
invalid is stored silently.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lmrec.data.columns import EVENT_COLUMNS, ITEM_COLUMNS, USER_COLUMNS, Columns

#: Built-in event types and the weight each carries as implicit feedback.
DEFAULT_EVENT_TYPES: dict[str, float] = {
    "view": 1.0,
    "click": 2.0,
    "cart": 3.0,
    "purchase": 5.0,
    "rating": 1.0,
}

MAX_ID_LENGTH = 256
MAX_TEXT_LENGTH = 20_000
#: Latest accepted timestamp: year 2200 in unix seconds; anything later is a unit mistake.
MAX_TIMESTAMP = 7_258_118_400.0
MAX_PRICE = 1e12
MAX_VALUE = 1e9

REJECT_COLUMNS = ("row", "field", "value", "reason")


@dataclass(frozen=True)
class Validated:
    """Valid rows (normalised, in input order) and one reject per invalid row."""

    valid: pd.DataFrame
    rejects: pd.DataFrame


class _Checker:
    """Collects the first failing field of each row while columns are checked one by one."""

    def __init__(self, frame: pd.DataFrame, first_row: int) -> None:
        self.frame = frame
        self.rows = np.arange(first_row, first_row + len(frame))
        self.bad = np.zeros(len(frame), dtype=bool)
        self.records: list[tuple[int, str, Any, str]] = []

    def reject(self, field: str, mask: np.ndarray, values: pd.Series, reason: str) -> None:
        new = mask & ~self.bad
        for pos in np.flatnonzero(new):
            self.records.append((int(self.rows[pos]), field, _jsonable(values.iloc[pos]), reason))
        self.bad |= new

    def result(self, out: pd.DataFrame) -> Validated:
        valid = out.loc[~self.bad].reset_index(drop=True)
        rejects = pd.DataFrame(self.records, columns=list(REJECT_COLUMNS))
        rejects = rejects.sort_values("row", kind="stable").reset_index(drop=True)
        return Validated(valid, rejects)


def validate_events(
    frame: pd.DataFrame,
    event_types: Mapping[str, float] = DEFAULT_EVENT_TYPES,
    *,
    first_row: int = 1,
) -> Validated:
    """Check and normalise event rows.

    Args:
        frame: columns named as in `Columns` (`user_id`, `item_id` required; `type` defaults to
            `view`, `timestamp` to 0, `event_id` to a hash of the row's content so that importing
            the same data twice stores it once).
        event_types: the known types; any other type is rejected.
        first_row: the number of the first row in the user's file, for error messages.
    """
    _check_unknown_columns(frame, EVENT_COLUMNS)
    check = _Checker(frame, first_row)
    n = len(frame)
    out = pd.DataFrame(index=frame.index)
    out[Columns.User] = _id_column(check, frame, Columns.User, required=True)
    out[Columns.Item] = _id_column(check, frame, Columns.Item, required=True)

    out[Columns.Type] = _event_types(check, frame, event_types)

    raw_value = _column(frame, Columns.Value, None, n)
    value = _numbers(raw_value)
    bad_value = (raw_value.notna().to_numpy() & np.isnan(value)) | (np.abs(value) > MAX_VALUE)
    check.reject(Columns.Value, bad_value, raw_value, f"value must be a finite number within ±{MAX_VALUE:g}")
    needs_value = (out[Columns.Type] == "rating").to_numpy() & np.isnan(value)
    check.reject(Columns.Value, needs_value, raw_value, "a rating event needs a numeric value")
    out[Columns.Value] = value

    raw_ts = _column(frame, Columns.Timestamp, 0.0, n)
    ts = _timestamps(raw_ts)
    bad_ts = np.isnan(ts) | (ts < 0) | (ts > MAX_TIMESTAMP)
    check.reject(
        Columns.Timestamp, bad_ts, raw_ts, "timestamp must be unix seconds or an ISO date between 1970 and 2200"
    )
    out[Columns.Timestamp] = np.where(bad_ts, 0.0, ts)

    raw_ctx = _column(frame, Columns.Context, None, n)
    ctx, bad_ctx = _json_objects(raw_ctx)
    check.reject(Columns.Context, bad_ctx, raw_ctx, "context must be a JSON object")
    out[Columns.Context] = ctx

    out[Columns.Event] = _event_ids(check, frame, out)
    return check.result(out[list(EVENT_COLUMNS)])


def _event_types(check: _Checker, frame: pd.DataFrame, event_types: Mapping[str, float]) -> pd.Series:
    """The `type` column stripped and lower-cased (`view` where absent); unknown types are rejected."""
    types = _column(frame, Columns.Type, "view", len(frame))
    if _all_strings(types):
        type_text = types.astype(_ARROW_STRING).str.strip().str.lower().astype(object)
    else:
        type_text = types.map(lambda v: v.strip().lower() if isinstance(v, str) else v)
    known = type_text.isin(list(event_types))
    check.reject(
        Columns.Type,
        ~known.to_numpy(),
        types,
        f"unknown event type; expected one of {sorted(event_types)} or a registered type",
    )
    return type_text.where(known, "view").astype(str)


def _event_ids(check: _Checker, frame: pd.DataFrame, out: pd.DataFrame) -> pd.Series:
    """The `event_id` column; a row without one gets a hash of its normalised content (`out`)."""
    raw_eid = _column(frame, Columns.Event, None, len(frame))
    eid = _id_column(check, frame, Columns.Event, required=False)
    missing = raw_eid.isna().to_numpy() | (eid == "").to_numpy()
    if missing.any():
        eid = eid.copy()
        eid.loc[missing] = _content_ids(out.loc[missing])
    return eid


def validate_items(frame: pd.DataFrame, *, first_row: int = 1) -> Validated:
    """Check and normalise item rows; only `item_id` is required."""
    _check_unknown_columns(frame, ITEM_COLUMNS)
    check = _Checker(frame, first_row)
    n = len(frame)
    out = pd.DataFrame(index=frame.index)
    out[Columns.Item] = _id_column(check, frame, Columns.Item, required=True)
    for field in (Columns.Title, Columns.Description, Columns.Category, Columns.Brand):
        out[field] = _text_column(check, frame, field)
    raw_tags = _column(frame, Columns.Tags, None, n)
    tags, bad_tags = _tag_lists(raw_tags)
    check.reject(Columns.Tags, bad_tags, raw_tags, "tags must be a list of strings or a '|'-separated string")
    out[Columns.Tags] = tags
    raw_price = _column(frame, Columns.Price, None, n)
    price = _numbers(raw_price)
    bad_price = (raw_price.notna().to_numpy() & np.isnan(price)) | (price < 0) | (price > MAX_PRICE)
    check.reject(Columns.Price, bad_price, raw_price, f"price must be a number between 0 and {MAX_PRICE:g}")
    out[Columns.Price] = price
    raw_attrs = _column(frame, Columns.Attributes, None, n)
    attrs, bad_attrs = _json_objects(raw_attrs)
    check.reject(Columns.Attributes, bad_attrs, raw_attrs, "attributes must be a JSON object")
    out[Columns.Attributes] = attrs
    out[Columns.CreatedAt] = _created_at(check, frame)
    raw_avail = _column(frame, Columns.Available, True, n)
    avail, bad_avail = _booleans(raw_avail)
    check.reject(Columns.Available, bad_avail, raw_avail, "available must be true or false")
    out[Columns.Available] = avail
    return check.result(out[list(ITEM_COLUMNS)])


def validate_users(frame: pd.DataFrame, *, first_row: int = 1) -> Validated:
    """Check and normalise user rows; only `user_id` is required."""
    _check_unknown_columns(frame, USER_COLUMNS)
    check = _Checker(frame, first_row)
    out = pd.DataFrame(index=frame.index)
    out[Columns.User] = _id_column(check, frame, Columns.User, required=True)
    raw_attrs = _column(frame, Columns.Attributes, None, len(frame))
    attrs, bad_attrs = _json_objects(raw_attrs)
    check.reject(Columns.Attributes, bad_attrs, raw_attrs, "attributes must be a JSON object")
    out[Columns.Attributes] = attrs
    out[Columns.CreatedAt] = _created_at(check, frame)
    return check.result(out[list(USER_COLUMNS)])


# ---------------------------------------------------------------------------------------------
# column helpers


def _check_unknown_columns(frame: pd.DataFrame, known: tuple[str, ...]) -> None:
    from lmrec.diagnostics import DataError

    unknown = [c for c in frame.columns if c not in known]
    if unknown:
        raise DataError(
            f"unknown column(s) {unknown}; expected a subset of {list(known)} (map other columns first)",
            field=str(unknown[0]),
        )


def _column(frame: pd.DataFrame, name: str, default: Any, n: int) -> pd.Series:
    if name in frame.columns:
        col = frame[name]
        if default is None:
            return col.astype(object).where(col.notna(), None)
        if not col.isna().any():
            return col
        fits = isinstance(default, str) == pd.api.types.is_string_dtype(col.dtype)
        return col.fillna(default) if fits else col.astype(object).where(col.notna(), default)
    return pd.Series([default] * n, index=frame.index, dtype=object)


def _id_column(check: _Checker, frame: pd.DataFrame, field: str, *, required: bool) -> pd.Series:
    raw = _column(frame, field, None, len(frame))
    if pd.api.types.is_integer_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        return raw.astype(str)  # the common case (MovieLens ids): nothing can be wrong
    fast = _all_strings(raw)
    if fast:
        # text ids (the usual case for files): Arrow string kernels, no Python call per row
        arrow = raw.astype(_ARROW_STRING).str.strip()
        lengths = arrow.str.len().fillna(0).to_numpy(dtype=np.int64)
        present = pd.Series(lengths > 0, index=raw.index)
        strings = arrow.where(present, "").astype(object)
        # Python's strip also removes \x1c-\x1f, Arrow's does not: any control character at all
        # sends the column down the reference path below, which defines the rules
        fast = _CONTROL_RE.search("".join(strings.tolist())) is None
    if not fast:
        text = raw.map(_id_text).astype(object)
        present = text.notna()
        strings = text.where(present, "").astype(object)
        lengths = strings.str.len().fillna(0).to_numpy(dtype=np.int64)
        bad_chars = np.fromiter((_CONTROL_RE.search(v) is not None for v in strings), dtype=bool, count=len(strings))
    if required:
        check.reject(field, ~present.to_numpy(), raw, "an id is required and must be a non-empty string or integer")
    if lengths.max(initial=0) > MAX_ID_LENGTH:
        check.reject(field, lengths > MAX_ID_LENGTH, raw, f"an id may have at most {MAX_ID_LENGTH} characters")
    if not fast:
        check.reject(field, bad_chars, raw, "an id may not contain control characters")
    return strings.astype(str)


_CONTROL_CHARS = "[\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029]"
_CONTROL_RE = re.compile(_CONTROL_CHARS)
_ARROW_STRING = pd.StringDtype("pyarrow")


def _all_strings(values: pd.Series) -> bool:
    """True when every present value is a `str` (a C-speed check)."""
    if pd.api.types.is_string_dtype(values.dtype) and not pd.api.types.is_object_dtype(values.dtype):
        return True
    return bool(pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"))


def _id_text(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return str(int(value)) if math.isfinite(value) and float(value).is_integer() else None
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if isinstance(value, str):
        text = value.strip()
        return text or None
    return None


def _text_column(check: _Checker, frame: pd.DataFrame, field: str) -> pd.Series:
    raw = _column(frame, field, None, len(frame))

    def to_text(value: Any) -> str | None:
        if value is None:
            return ""
        if isinstance(value, str):
            return value.strip()
        if isinstance(value, bytes):
            try:
                return value.decode("utf-8").strip()
            except UnicodeDecodeError:
                return None
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return " > ".join(v.strip() for v in value)  # a category path given as a list
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
            return str(value)
        return None

    text = raw.map(to_text)
    check.reject(field, text.isna().to_numpy(), raw, "must be text (UTF-8)")
    too_long = text.map(lambda v: isinstance(v, str) and len(v) > MAX_TEXT_LENGTH).to_numpy(dtype=bool)
    check.reject(field, too_long, raw, f"text may have at most {MAX_TEXT_LENGTH} characters")
    return text.fillna("").astype(str)


def _numbers(raw: pd.Series) -> np.ndarray:
    def to_float(value: Any) -> float:
        if value is None or isinstance(value, bool):
            return math.nan
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            return math.nan
        return number if math.isfinite(number) else math.nan

    if pd.api.types.is_float_dtype(raw.dtype) or pd.api.types.is_integer_dtype(raw.dtype):
        values = raw.to_numpy(dtype=float, na_value=math.nan)
        return np.where(np.isfinite(values), values, math.nan)
    return np.fromiter((to_float(v) for v in raw), dtype=float, count=len(raw))


def _timestamps(raw: pd.Series) -> np.ndarray:
    numbers = _numbers(raw)
    if not pd.api.types.is_numeric_dtype(raw.dtype):
        strings = raw.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool) & np.isnan(numbers)
        if strings.any():
            parsed = pd.to_datetime(raw[strings], errors="coerce", utc=True, format="ISO8601")
            seconds = (parsed - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(dtype=float, na_value=math.nan)
            numbers = numbers.copy()
            numbers[strings] = seconds
        stamps = raw.map(lambda v: isinstance(v, pd.Timestamp)).to_numpy(dtype=bool)
        if stamps.any():
            numbers = numbers.copy()
            numbers[stamps] = [_stamp_seconds(v) for v in raw[stamps]]
    return numbers


def _stamp_seconds(value: pd.Timestamp) -> float:
    stamp = value if value.tzinfo is not None else value.tz_localize("UTC")
    return float((stamp - pd.Timestamp(0, tz="UTC")).total_seconds())


def _created_at(check: _Checker, frame: pd.DataFrame) -> np.ndarray:
    raw = _column(frame, Columns.CreatedAt, None, len(frame))
    ts = _timestamps(raw)
    given = raw.notna().to_numpy()
    bad = given & (np.isnan(ts) | (ts < 0) | (ts > MAX_TIMESTAMP))
    check.reject(Columns.CreatedAt, bad, raw, "created_at must be unix seconds or an ISO date between 1970 and 2200")
    return np.where(given & ~bad, ts, math.nan)


def _json_objects(raw: pd.Series) -> tuple[pd.Series, np.ndarray]:
    def parse(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, (str, bytes)):
            if not str(value if isinstance(value, str) else "x").strip():
                return None
            try:
                value = json.loads(value)
            except (ValueError, UnicodeDecodeError):
                return _BAD
        if isinstance(value, Mapping):
            try:
                return json.dumps(dict(value), sort_keys=True, allow_nan=False)
            except (TypeError, ValueError):
                return _BAD
        return _BAD

    if raw.isna().all():  # no context or attributes given: nothing to parse
        return pd.Series([None] * len(raw), index=raw.index, dtype=object), np.zeros(len(raw), dtype=bool)
    parsed = [parse(v) for v in raw.tolist()]
    bad = np.fromiter((v is _BAD for v in parsed), dtype=bool, count=len(parsed))
    kept = [v if isinstance(v, str) else None for v in parsed]  # object dtype: missing stays None
    return pd.Series(kept, index=raw.index, dtype=object), bad


def _tag_lists(raw: pd.Series) -> tuple[pd.Series, np.ndarray]:
    def parse(value: Any) -> Any:
        if value is None:
            return "[]"
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    value = json.loads(text)
                except ValueError:
                    return _BAD
            else:
                return json.dumps([t.strip() for t in text.split("|") if t.strip()])
        if isinstance(value, (list, tuple, np.ndarray)) and all(isinstance(t, str) for t in value):
            return json.dumps([t.strip() for t in value if t.strip()])
        return _BAD

    parsed = raw.map(parse)
    bad = parsed.map(lambda v: v is _BAD).to_numpy(dtype=bool)
    return parsed.where(~bad, "[]"), bad


def _booleans(raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    truthy = {"true", "1", "yes", "y", "t"}
    falsy = {"false", "0", "no", "n", "f"}

    def parse(value: Any) -> Any:
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        if isinstance(value, (int, np.integer)) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in truthy | falsy:
            return value.strip().lower() in truthy
        return None

    parsed = raw.map(parse)
    bad = parsed.isna().to_numpy()
    return parsed.fillna(True).to_numpy(dtype=bool), bad


def _content_ids(frame: pd.DataFrame) -> list[str]:
    """A stable id from an event's content, so re-importing the same row is recognised.

    The hashed key is `user, item, type, repr(value) or "", repr(timestamp)` joined by U+001F.
    """
    keys = zip(
        frame[Columns.User].astype(str).tolist(),
        frame[Columns.Item].astype(str).tolist(),
        frame[Columns.Type].astype(str).tolist(),
        frame[Columns.Value].to_numpy(dtype=float).tolist(),
        frame[Columns.Timestamp].to_numpy(dtype=float).tolist(),
        strict=True,
    )
    blake2b = hashlib.blake2b
    return [
        "h:"
        + blake2b(f"{u}\x1f{i}\x1f{t}\x1f{'' if v != v else repr(v)}\x1f{s!r}".encode(), digest_size=12).hexdigest()
        for u, i, t, v, s in keys
    ]


def _jsonable(value: Any) -> Any:
    """The rejected value in a form a JSON rejects file can hold."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return _jsonable(value.item())
    return repr(value)


_BAD = object()
