"""Amazon review data (McAuley lab): reviews and product metadata of the 2014, 2018 and 2023 releases.

Reviews become `rating` events: 2014/2018 `reviewerID`, `asin`, `overall`, `unixReviewTime`
(seconds); 2023 `user_id`, `parent_asin` (the item), `rating`, `timestamp` (milliseconds, divided
by 1000 here). `vote`, `verified`, `style` and `image` (2018) and `asin`, `verified_purchase`,
`helpful_vote` (2023) are kept in the event context. Metadata rows become items: title, brand
(2023: `details["Brand"]` or `store`), price, description (a list is joined), category (2014: the
first category path joined with " > "; 2018: `main_cat`; 2023: `main_category`) and the categories
as tags; other fields of interest are kept as attributes. A price that is not one number (such as
"$5.99 - $9.99") is kept as `attributes["price_text"]` and the price left empty.
The 2014 files hold Python literals rather than JSON on some lines; both are read.
"""

from __future__ import annotations

import ast
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lmrec.data.columns import Columns
from lmrec.data.readers._common import Kind, RawBatch, Rejects, bad_text, read_lines
from lmrec.diagnostics import FormatError

_REVIEW_CONTEXT = ("vote", "verified", "style", "image", "verified_purchase", "helpful_vote")
_META_ATTRIBUTES = (
    "main_cat",
    "salesRank",
    "rank",
    "feature",
    "features",
    "details",
    "store",
    "average_rating",
    "rating_number",
    "imUrl",
)


def parse_record(text: str) -> Any:
    """A JSON object, or a Python dict literal (2014 files); None when the text is neither."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    if not text.startswith("{"):
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return None


def record_kind(record: dict[str, Any]) -> Kind | None:
    """`events` for a review, `items` for product metadata, None for anything else."""
    if "reviewerID" in record or ("user_id" in record and "parent_asin" in record):
        return "events"
    if ("asin" in record or "parent_asin" in record) and (
        {"title", "categories", "category", "related", "salesRank", "main_category", "main_cat"} & set(record)
    ):
        return "items"
    return None


def is_amazon_file(path: Path) -> bool:
    """True when a JSON-lines file's first record is an Amazon review or product."""
    from lmrec.data.readers._common import first_json_object

    record = first_json_object(path)
    return record is not None and record_kind(record) is not None


def read_amazon(path: Path, *, batch_size: int = 50_000) -> Iterator[RawBatch]:
    """Read an Amazon reviews or metadata file, or a folder of them (metadata first)."""
    if path.is_dir():
        files = [f for f in sorted(path.iterdir()) if f.is_file() and _looks_json(f) and is_amazon_file(f)]
        if not files:
            raise FormatError("no Amazon review or metadata file in this folder", source=str(path))
        files.sort(key=lambda f: 0 if "meta" in f.name.lower() else 1)
    else:
        files = [path]
    for file in files:
        yield from _read_file(file, batch_size)


def _looks_json(path: Path) -> bool:
    name = path.name.lower().removesuffix(".gz")
    return name.endswith((".json", ".jsonl", ".ndjson"))


def _read_file(path: Path, batch_size: int) -> Iterator[RawBatch]:
    rejects = Rejects()
    kind: Kind | None = None
    rows: list[dict[str, Any]] = []
    numbers: list[int] = []
    for number, text, raw in read_lines(path):
        if text is None:
            rejects.add(number, "", bad_text(raw), "line is not valid UTF-8 text")
            continue
        record = parse_record(text)
        if not isinstance(record, dict):
            rejects.add(number, "", text, "not a JSON object")
            continue
        this = record_kind(record)
        kind = kind or this
        if this is None or this != kind:
            rejects.add(number, "", text, f"not an Amazon {'review' if kind == 'events' else 'product'} record")
            continue
        rows.append(_review(record) if kind == "events" else _product(record))
        numbers.append(number)
        if len(rows) >= batch_size:
            yield _batch(kind, rows, numbers, rejects, path.name)
            rows, numbers = [], []
    if rows or len(rejects):
        yield _batch(kind or "events", rows, numbers, rejects, path.name)


def _batch(kind: Kind, rows: list[dict[str, Any]], numbers: list[int], rejects: Rejects, source: str) -> RawBatch:
    key = Columns.User if kind == "events" else Columns.Item
    frame = pd.DataFrame.from_records(rows) if rows else pd.DataFrame({key: pd.Series([], dtype=object)})
    array = np.asarray(numbers, dtype=np.int64)
    return RawBatch(kind, frame, int(array[0]) if len(array) else 1, source, rejects.take(), array)


def _review(record: dict[str, Any]) -> dict[str, Any]:
    if "reviewerID" in record:
        user, item, value, stamp = record.get("reviewerID"), record.get("asin"), record.get("overall"), None
        stamp = record.get("unixReviewTime")
    else:
        user, item, value = record.get("user_id"), record.get("parent_asin"), record.get("rating")
        stamp = _milliseconds(record.get("timestamp"))
    context = {k: record[k] for k in _REVIEW_CONTEXT if record.get(k) not in (None, "", [])}
    if "parent_asin" in record and record.get("asin") not in (None, record.get("parent_asin")):
        context["asin"] = record["asin"]
    return {
        Columns.User: user,
        Columns.Item: item,
        Columns.Type: "rating",
        Columns.Value: value,
        Columns.Timestamp: stamp,
        Columns.Context: json.dumps(context, sort_keys=True, default=str) if context else None,
    }


def _milliseconds(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return value / 1000.0
    return value  # validation rejects it, naming the value


def _product(record: dict[str, Any]) -> dict[str, Any]:
    item = record.get("parent_asin", record.get("asin"))
    raw_details = record.get("details")
    details: dict[str, Any] = raw_details if isinstance(raw_details, dict) else {}
    category, tags = _categories(record)
    price, price_text = _price(record.get("price"))
    attributes = {k: record[k] for k in _META_ATTRIBUTES if record.get(k) not in (None, "", [], {})}
    if price_text is not None:
        attributes["price_text"] = price_text
    brand = record.get("brand") or details.get("Brand") or record.get("store") or ""
    description = record.get("description") or ""
    if isinstance(description, list):
        description = " ".join(str(d) for d in description)
    return {
        Columns.Item: item,
        Columns.Title: record.get("title") or "",
        Columns.Description: description,
        Columns.Brand: brand,
        Columns.Category: category,
        Columns.Tags: json.dumps(tags, ensure_ascii=False),
        Columns.Price: price,
        Columns.Attributes: json.dumps(attributes, sort_keys=True, default=str) if attributes else None,
    }


def _categories(record: dict[str, Any]) -> tuple[str, list[str]]:
    raw = record.get("categories", record.get("category"))
    paths = raw if isinstance(raw, list) else []
    flat: list[str] = []
    for entry in paths:
        for name in entry if isinstance(entry, list) else [entry]:
            if isinstance(name, str) and name.strip() and name.strip() not in flat:
                flat.append(name.strip())
    main = record.get("main_category") or record.get("main_cat")
    if isinstance(main, str) and main.strip():
        return main.strip(), flat
    if paths and isinstance(paths[0], list):
        return " > ".join(str(n).strip() for n in paths[0] if str(n).strip()), flat
    return (flat[0] if flat else ""), flat


def _price(value: Any) -> tuple[Any, str | None]:
    if value is None or isinstance(value, bool):
        return None, None
    if isinstance(value, (int, float)):
        return value, None
    text = str(value).strip().replace("$", "").replace(",", "")
    if text in ("", "None", "null"):
        return None, None
    try:
        return float(text), None
    except ValueError:
        return None, str(value)
