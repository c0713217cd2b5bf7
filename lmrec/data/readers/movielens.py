"""MovieLens (100K, 1M, 10M, 20M, latest) as GroupLens ships it, and RecBole atomic files.

Ratings become events of type `rating` with the rating as value. Events are presented sorted by
(user, timestamp, item id), ids compared as numbers when they are numeric, so that ties in
timestamps break by item id as in the published protocols (Dataset keeps input order for ties).
Item files beside the ratings give title, genres (as tags; the first genre as category) and the
rest as attributes; user files give demographics as attributes.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lmrec.data.columns import Columns
from lmrec.data.readers._common import (
    Kind,
    RawBatch,
    Rejects,
    base_name,
    batches,
    numbers_or_text,
    open_binary,
    sort_events,
    split_lines,
)
from lmrec.diagnostics import FormatError

#: The 19 genres of MovieLens-100K's `u.item` flags, used when no `u.genre` file is beside it.
ML100K_GENRES = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)

RATING_FILES = ("u.data", "ratings.dat", "ratings.csv")
ITEM_FILES = ("u.item", "movies.dat", "movies.csv")
USER_FILES = ("u.user", "users.dat")


def read_movielens(path: Path, *, batch_size: int = 50_000) -> Iterator[RawBatch]:
    """Read a MovieLens folder, or one of its files together with the item and user files beside it."""
    folder = path if path.is_dir() else path.parent
    names = {base_name(p): p for p in folder.iterdir() if p.is_file()}
    if path.is_dir():
        chosen = [names[n] for n in (*ITEM_FILES, *USER_FILES, *RATING_FILES) if n in names]
    elif base_name(path) in RATING_FILES:
        chosen = [names[n] for n in (*ITEM_FILES, *USER_FILES) if n in names] + [path]
    else:
        chosen = [path]
    if not chosen:
        raise FormatError(f"no MovieLens file ({', '.join(RATING_FILES)}) found", source=str(path))
    for file in _first_of_each_kind(chosen):
        yield from _read_file(file, batch_size)


def _first_of_each_kind(files: list[Path]) -> list[Path]:
    seen: set[tuple[str, ...]] = set()
    out = []
    for file in files:
        group = next(g for g in (ITEM_FILES, USER_FILES, RATING_FILES) if base_name(file) in g)
        if group not in seen:
            seen.add(group)
            out.append(file)
    return out


def _read_file(path: Path, batch_size: int) -> Iterator[RawBatch]:
    name = base_name(path)
    rejects = Rejects()
    if name in RATING_FILES:
        frame, rows = _ratings(path, name, rejects)
        frame, rows = sort_events(frame, rows)
        kind: Kind = "events"
    elif name in ITEM_FILES:
        frame, rows = _movies(path, name, rejects)
        kind = "items"
    elif name in USER_FILES:
        frame, rows = _users(path, name, rejects)
        kind = "users"
    else:
        raise FormatError(f"not a MovieLens file; expected one of {[*RATING_FILES, *ITEM_FILES, *USER_FILES]}")
    yield from batches(kind, frame, rows, rejects.take(), path.name, batch_size)


def _ratings(path: Path, name: str, rejects: Rejects) -> tuple[pd.DataFrame, np.ndarray]:
    if name == "ratings.csv":
        head, fields, numbers = _csv_rows(path, rejects)
        if head[:3] != ["userId", "movieId", "rating"]:
            raise FormatError("expected the header userId,movieId,rating,timestamp", source=path.name, value=head)
    else:
        _, fields, numbers = split_lines(path, "\t" if name == "u.data" else "::", 4, rejects)
    columns = list(zip(*fields, strict=True)) if fields else [(), (), (), ()]
    frame = pd.DataFrame(
        {
            Columns.User: pd.Series(columns[0], dtype=object),
            Columns.Item: pd.Series(columns[1], dtype=object),
            Columns.Type: "rating",
            Columns.Value: numbers_or_text(columns[2]),
            Columns.Timestamp: numbers_or_text(columns[3]),
        }
    )
    return frame, np.asarray(numbers, dtype=np.int64)


def _csv_rows(path: Path, rejects: Rejects) -> tuple[list[str], list[list[str]], list[int]]:
    """A quoted CSV file (ml-20m / ml-latest) as header, rows and line numbers."""
    import io

    with open_binary(path) as handle:
        text = io.TextIOWrapper(handle, encoding="utf-8", errors="surrogateescape", newline="")
        reader = csv.reader(text)
        head = next(reader, [])
        rows, numbers = [], []
        line = reader.line_num + 1
        for record in reader:
            joined = ",".join(record)
            if len(record) != len(head):
                rejects.add(line, "", joined, f"expected {len(head)} fields, got {len(record)}")
            elif any("\udc80" <= ch <= "\udcff" for ch in joined):
                rejects.add(
                    line,
                    "",
                    joined.encode("utf-8", "surrogateescape").decode("utf-8", "replace"),
                    "not valid UTF-8 text",
                )
            else:
                rows.append(record)
                numbers.append(line)
            line = reader.line_num + 1
    return head, rows, numbers


def _movies(path: Path, name: str, rejects: Rejects) -> tuple[pd.DataFrame, np.ndarray]:
    if name == "u.item":
        genres = _genre_names(path.parent / "u.genre")
        _, fields, numbers = split_lines(path, "|", 5 + len(genres), rejects, encoding="latin-1")
        records = [_u_item(f, genres) for f in fields]
    elif name == "movies.dat":
        _, fields, numbers = split_lines(path, "::", 3, rejects, encoding="latin-1")
        records = [_movie(f[0], f[1], f[2].split("|"), {}) for f in fields]
    else:
        head, fields, numbers = _csv_rows(path, rejects)
        if head[:3] != ["movieId", "title", "genres"]:
            raise FormatError("expected the header movieId,title,genres", source=path.name, value=head)
        records = [_movie(f[0], f[1], f[2].split("|"), {}) for f in fields]
    return _records_frame(records, "items"), np.asarray(numbers, dtype=np.int64)


def _genre_names(path: Path) -> list[str]:
    if not path.is_file():
        return list(ML100K_GENRES)
    pairs = [line.split("|") for line in path.read_text(encoding="latin-1").splitlines() if "|" in line]
    return [name for name, _ in sorted(pairs, key=lambda p: int(p[1]) if p[1].strip().isdigit() else 0)]


def _u_item(fields: list[str], genres: list[str]) -> dict[str, Any]:
    flags = fields[5:]
    chosen = [g for g, flag in zip(genres, flags, strict=True) if flag.strip() == "1"]
    attributes = {"release_date": fields[2], "video_release_date": fields[3], "imdb_url": fields[4]}
    return _movie(fields[0], fields[1], chosen, attributes)


def _movie(item: str, title: str, genres: list[str], attributes: dict[str, str]) -> dict[str, Any]:
    tags = [g.strip() for g in genres if g.strip() and g.strip() != "(no genres listed)"]
    kept = {k: v.strip() for k, v in attributes.items() if v.strip()}
    return {
        Columns.Item: item,
        Columns.Title: title.strip(),
        Columns.Category: tags[0] if tags else "",
        Columns.Tags: json.dumps(tags, ensure_ascii=False),
        Columns.Attributes: json.dumps(kept, sort_keys=True, ensure_ascii=False) if kept else None,
    }


def _users(path: Path, name: str, rejects: Rejects) -> tuple[pd.DataFrame, np.ndarray]:
    if name == "u.user":
        _, fields, numbers = split_lines(path, "|", 5, rejects, encoding="latin-1")
        keys = ("age", "gender", "occupation", "zip_code")
    else:
        _, fields, numbers = split_lines(path, "::", 5, rejects, encoding="latin-1")
        keys = ("gender", "age", "occupation", "zip_code")
    records = [
        {Columns.User: f[0], Columns.Attributes: json.dumps(dict(zip(keys, f[1:], strict=True)), sort_keys=True)}
        for f in fields
    ]
    return _records_frame(records, "users"), np.asarray(numbers, dtype=np.int64)


def _records_frame(records: list[dict[str, Any]], kind: Kind) -> pd.DataFrame:
    if records:
        return pd.DataFrame.from_records(records)
    key = Columns.Item if kind == "items" else Columns.User
    return pd.DataFrame({key: pd.Series([], dtype=object)})


# -- RecBole atomic files ---------------------------------------------------------------------

RECBOLE_SUFFIXES = (".inter", ".item", ".user")

#: RecBole field names (before `:type`) and the lmrec field each fills.
_RECBOLE_FIELDS: dict[str, str] = {
    "user_id": Columns.User,
    "item_id": Columns.Item,
    "rating": Columns.Value,
    "timestamp": Columns.Timestamp,
    "title": Columns.Title,
    "movie_title": Columns.Title,
    "brand": Columns.Brand,
    "price": Columns.Price,
    "description": Columns.Description,
    "categories": Columns.Tags,
    "class": Columns.Tags,
    "genre": Columns.Tags,
    "genres": Columns.Tags,
}


def read_recbole(path: Path, *, batch_size: int = 50_000) -> Iterator[RawBatch]:
    """Read RecBole atomic files: a folder's `.item`, `.user` then `.inter`, or one file.

    The header is `name:type` per column (token, token_seq, float, float_seq). `rating` gives
    `rating` events (else `view`); token_seq genres become tags; other fields are kept as
    attributes (items, users) or context (events).
    """
    files = sorted(path.iterdir()) if path.is_dir() else [path]
    order = {".item": 0, ".user": 1, ".inter": 2}
    chosen = sorted((f for f in files if f.suffix in order), key=lambda f: (order[f.suffix], f.name))
    if not chosen:
        raise FormatError("no RecBole atomic file (.inter, .item, .user) found", source=str(path))
    for file in chosen:
        yield from _read_atomic(file, batch_size)


def _read_atomic(path: Path, batch_size: int) -> Iterator[RawBatch]:
    rejects = Rejects()
    head, fields, numbers = split_lines(path, "\t", 0, rejects, header=True)
    if head is None:
        return
    names, types = _atomic_header(head, path)
    kind: Kind = {".inter": "events", ".item": "items", ".user": "users"}[path.suffix]  # type: ignore[assignment]
    columns = list(zip(*fields, strict=True)) if fields else [() for _ in names]
    data: dict[str, Any] = {}
    extras: dict[str, list[str]] = {}
    for name, kind_of, values in zip(names, types, columns, strict=True):
        target = _RECBOLE_FIELDS.get(name)
        if target is None or (
            kind == "events" and target not in (Columns.User, Columns.Item, Columns.Value, Columns.Timestamp)
        ):
            extras[name] = list(values)
        elif target == Columns.Tags:
            tag_lists = [v.split() for v in values]
            data[Columns.Tags] = [json.dumps(t, ensure_ascii=False) for t in tag_lists]
            data[Columns.Category] = [t[0] if t else "" for t in tag_lists]
        elif kind_of.startswith("float") and target != Columns.Item and target != Columns.User:
            data[target] = numbers_or_text(values)
        else:
            data[target] = pd.Series(values, dtype=object)
    frame = pd.DataFrame(data, index=pd.RangeIndex(len(fields)))
    if extras:
        frame[Columns.Context if kind == "events" else Columns.Attributes] = _extras_json(extras, len(fields))
    rows = np.asarray(numbers, dtype=np.int64)
    if kind == "events":
        frame[Columns.Type] = "rating" if Columns.Value in frame else "view"
        if Columns.User in frame and Columns.Item in frame:
            frame, rows = sort_events(frame.assign(**{Columns.Timestamp: frame.get(Columns.Timestamp, 0.0)}), rows)
    yield from batches(kind, frame, rows, rejects.take(), path.name, batch_size)


def _atomic_header(head: list[str], path: Path) -> tuple[list[str], list[str]]:
    names, types = [], []
    for column in head:
        name, sep, kind_of = column.partition(":")
        if not sep or kind_of not in ("token", "token_seq", "float", "float_seq"):
            raise FormatError(
                "a RecBole header names each column as name:type with type token, token_seq, float or float_seq",
                source=path.name,
                row=1,
                value=column,
            )
        names.append(name)
        types.append(kind_of)
    return names, types


def _extras_json(extras: dict[str, list[str]], n: int) -> list[str | None]:
    out: list[str | None] = []
    keys = list(extras)
    for i in range(n):
        kept = {k: extras[k][i].strip() for k in keys if extras[k][i].strip()}
        out.append(json.dumps(kept, sort_keys=True, ensure_ascii=False) if kept else None)
    return out
