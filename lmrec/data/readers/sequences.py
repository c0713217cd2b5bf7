"""Sequence files (`user item item ...`) and the benchmark folders built on them.

Sequence data only knows the order of a user's items, so each item becomes a `view` event (the
neutral implicit type, weight 1) whose timestamp is its position in the line: 0, 1, 2, ...
A `?` token marks an item whose id is unknown: it is rejected (it keeps its position, so the
items after it keep theirs). Row numbers in rejects are line numbers; every event of a line
shares its line's number.

Folders:
- `sequence-folder` (ML-1M and Amazon-Beauty as published for SASRec / S3-Rec): `sequences.txt`,
  optional `items.tsv` (header; first column the item id, `title`, `genres`, others kept as
  attributes), `item_attributes.json` (item -> integer attribute ids, which mix brands and
  categories and cannot be told apart, so they become tags "attribute 12"), `item_asin.tsv`
  (item -> ASIN, an attribute) and `users.dat` (GroupLens demographics).
- `llmrank-folder` (Amazon-Games as published for LLMRank / UniSRec): `items.tsv` (id, title),
  `test.tsv` (user, history, target = last item) and `valid.tsv` (target = second-to-last).
  A user's sequence is the test history followed by the test target; valid.tsv is checked to
  agree with it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lmrec.data.columns import Columns
from lmrec.data.readers._common import (
    RawBatch,
    Rejects,
    bad_text,
    batches,
    read_lines,
    reject_frame,
    split_lines,
)
from lmrec.diagnostics import FormatError

UNKNOWN_ITEM = "?"


def read_sequences(path: Path, *, batch_size: int = 50_000) -> Iterator[RawBatch]:
    """Read `user<whitespace>item item ...` lines, one user per line, items in time order."""
    rejects = Rejects()
    users: list[str] = []
    items: list[str] = []
    stamps: list[int] = []
    rows: list[int] = []
    for number, text, raw in read_lines(path):
        if text is None:
            rejects.add(number, "", bad_text(raw), "line is not valid UTF-8 text")
            continue
        tokens = text.split()
        if len(tokens) < 2:
            rejects.add(number, Columns.Item, text, "a sequence line needs a user followed by at least one item")
            continue
        for position, token in enumerate(tokens[1:]):
            if token == UNKNOWN_ITEM:
                rejects.add(number, Columns.Item, token, "unknown item ('?' marks an item whose id is not known)")
                continue
            users.append(tokens[0])
            items.append(token)
            stamps.append(position)
            rows.append(number)
        if len(items) >= batch_size:
            yield _sequence_batch(users, items, stamps, rows, rejects, path.name)
            users, items, stamps, rows = [], [], [], []
    if items or len(rejects):
        yield _sequence_batch(users, items, stamps, rows, rejects, path.name)


def _sequence_batch(
    users: list[str], items: list[str], stamps: list[int], rows: list[int], rejects: Rejects, source: str
) -> RawBatch:
    frame = pd.DataFrame(
        {
            Columns.User: pd.Series(users, dtype=object),
            Columns.Item: pd.Series(items, dtype=object),
            Columns.Type: "view",
            Columns.Timestamp: np.asarray(stamps, dtype=float),
        }
    )
    array = np.asarray(rows, dtype=np.int64)
    return RawBatch("events", frame, int(array[0]) if len(array) else 1, source, rejects.take(), array)


def read_sequence_folder(path: Path, *, batch_size: int = 50_000) -> Iterator[RawBatch]:
    """Read a `sequences.txt` folder (ML-1M, Amazon-Beauty layouts): items, users, then events."""
    items = _folder_items(path)
    if items is not None:
        yield from batches("items", items[0], items[1], reject_frame(items[2]), items[3], batch_size)
    if (path / "users.dat").is_file():
        yield from _users_dat(path / "users.dat", batch_size)
    yield from read_sequences(path / "sequences.txt", batch_size=batch_size)


def _folder_items(path: Path) -> tuple[pd.DataFrame, np.ndarray, list[Any], str] | None:
    """Items from items.tsv, item_attributes.json and item_asin.tsv, merged on the item id."""
    tables = []
    rejects = Rejects()
    sources = []
    if (path / "items.tsv").is_file():
        tables.append(_items_tsv(path / "items.tsv", rejects))
        sources.append("items.tsv")
    if (path / "item_attributes.json").is_file():
        tables.append(_item_attributes(path / "item_attributes.json"))
        sources.append("item_attributes.json")
    if (path / "item_asin.tsv").is_file():
        frame, rows = _items_tsv(path / "item_asin.tsv", rejects)
        tables.append((frame, rows))
        sources.append("item_asin.tsv")
    if not tables:
        return None
    merged, rows = tables[0]
    for frame, more_rows in tables[1:]:
        merged, rows = _merge_items(merged, rows, frame, more_rows)
    return merged, rows, rejects.records, "+".join(sources)


def _merge_items(
    left: pd.DataFrame, left_rows: np.ndarray, right: pd.DataFrame, right_rows: np.ndarray
) -> tuple[pd.DataFrame, np.ndarray]:
    left = left.assign(_row=left_rows)
    right = right.assign(_row_right=right_rows)
    merged = left.merge(right, on=Columns.Item, how="outer", suffixes=("", "_right"), sort=False)
    if Columns.Attributes + "_right" in merged:
        merged[Columns.Attributes] = [
            _merge_json(a, b)
            for a, b in zip(merged[Columns.Attributes], merged[Columns.Attributes + "_right"], strict=True)
        ]
        merged = merged.drop(columns=[Columns.Attributes + "_right"])
    for column in [c for c in merged.columns if c.endswith("_right") and c != "_row_right"]:
        base = column.removesuffix("_right")
        merged[base] = merged[base].where(merged[base].notna(), merged[column])
        merged = merged.drop(columns=[column])
    rows = merged["_row"].fillna(merged["_row_right"]).to_numpy(dtype=np.int64)
    return merged.drop(columns=["_row", "_row_right"]), rows


def _merge_json(a: Any, b: Any) -> str | None:
    out: dict[str, Any] = {}
    for part in (a, b):
        if isinstance(part, str):
            out.update(json.loads(part))
    return json.dumps(out, sort_keys=True, ensure_ascii=False) if out else None


def _items_tsv(path: Path, rejects: Rejects) -> tuple[pd.DataFrame, np.ndarray]:
    head, fields, numbers = split_lines(path, "\t", 0, rejects, header=True)
    names = [h.partition(":")[0] for h in head or []]
    if not names:
        raise FormatError("an item table needs a header row", source=path.name, row=1)
    records = []
    for values in fields:
        record: dict[str, Any] = {Columns.Item: values[0]}
        attributes: dict[str, str] = {}
        for name, value in zip(names[1:], values[1:], strict=True):
            if name == "title":
                record[Columns.Title] = value
            elif name in ("genres", "categories"):
                tags = [g for g in value.split("|") if g.strip()]
                record[Columns.Tags] = json.dumps(tags, ensure_ascii=False)
                record[Columns.Category] = tags[0] if tags else ""
            elif value.strip():
                attributes[name] = value.strip()
        record[Columns.Attributes] = json.dumps(attributes, sort_keys=True, ensure_ascii=False) if attributes else None
        records.append(record)
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame({Columns.Item: pd.Series([], dtype=object)})
    return frame, np.asarray(numbers, dtype=np.int64)


def _item_attributes(path: Path) -> tuple[pd.DataFrame, np.ndarray]:
    try:
        data = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise FormatError(f"not a JSON object of item -> attribute ids: {exc}", source=path.name) from exc
    if not isinstance(data, dict):
        raise FormatError("expected a JSON object of item -> list of attribute ids", source=path.name)
    items = list(data)
    tags = [json.dumps([f"attribute {a}" for a in v]) if isinstance(v, list) else v for v in data.values()]
    frame = pd.DataFrame({Columns.Item: pd.Series(items, dtype=object), Columns.Tags: tags})
    return frame, np.arange(1, len(items) + 1, dtype=np.int64)


def _users_dat(path: Path, batch_size: int) -> Iterator[RawBatch]:
    rejects = Rejects()
    _, fields, numbers = split_lines(path, "::", 5, rejects, encoding="latin-1")
    keys = ("gender", "age", "occupation", "zip_code")
    frame = pd.DataFrame(
        {
            Columns.User: pd.Series([f[0] for f in fields], dtype=object),
            Columns.Attributes: [json.dumps(dict(zip(keys, f[1:], strict=True)), sort_keys=True) for f in fields],
        }
    )
    yield from batches("users", frame, np.asarray(numbers, dtype=np.int64), rejects.take(), path.name, batch_size)


def read_llmrank_folder(path: Path, *, batch_size: int = 50_000) -> Iterator[RawBatch]:
    """Read an LLMRank folder: items.tsv, then each user's history + target from test.tsv as events."""
    if (path / "items.tsv").is_file():
        rejects = Rejects()
        catalogue, item_rows = _items_tsv(path / "items.tsv", rejects)
        yield from batches("items", catalogue, item_rows, rejects.take(), "items.tsv", batch_size)
    rejects = Rejects()
    _, fields, numbers = split_lines(path / "test.tsv", "\t", 0, rejects, header=True)
    valid = _valid_targets(path / "valid.tsv")
    users: list[str] = []
    items: list[str] = []
    stamps: list[int] = []
    rows: list[int] = []
    for values, number in zip(fields, numbers, strict=True):
        user, history, target = values[0].strip(), values[1].split(), values[2].strip()
        sequence = [*history, target]
        _check_valid(valid, user, history, number)
        users.extend([user] * len(sequence))
        items.extend(sequence)
        stamps.extend(range(len(sequence)))
        rows.extend([number] * len(sequence))
    frame = pd.DataFrame(
        {
            Columns.User: pd.Series(users, dtype=object),
            Columns.Item: pd.Series(items, dtype=object),
            Columns.Type: "view",
            Columns.Timestamp: np.asarray(stamps, dtype=float),
        }
    )
    yield from batches("events", frame, np.asarray(rows, dtype=np.int64), rejects.take(), "test.tsv", batch_size)


def _valid_targets(path: Path) -> dict[str, tuple[list[str], str, int]]:
    if not path.is_file():
        return {}
    rejects = Rejects()
    _, fields, numbers = split_lines(path, "\t", 0, rejects, header=True)
    return {f[0].strip(): (f[1].split(), f[2].strip(), n) for f, n in zip(fields, numbers, strict=True)}


def _check_valid(valid: dict[str, tuple[list[str], str, int]], user: str, history: list[str], row: int) -> None:
    """valid.tsv's target must be the test history's last item and its history must end like ours."""
    if user not in valid:
        return
    valid_history, valid_target, valid_row = valid[user]
    known = [*valid_history, valid_target]
    overlap = min(len(known), len(history))
    if not history or known[-overlap:] != history[-overlap:]:
        raise FormatError(
            f"valid.tsv row {valid_row} disagrees with test.tsv for user {user!r}: its history + target "
            "should be the test history (the test target excluded)",
            source="test.tsv",
            row=row,
            value=valid_target,
        )
