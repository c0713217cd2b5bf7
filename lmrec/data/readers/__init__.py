"""Readers for the formats people have, each yielding `RawBatch`es of unvalidated rows.

Formats (`FORMATS`):
- `csv`: any delimited text file with a header (`,` for .csv, tab for .tsv, else sniffed).
- `parquet`: any Parquet file.
- `jsonl`: one JSON object per line.
- `movielens`: GroupLens MovieLens files (`u.data`, `ratings.dat`, `ratings.csv` + item and user
  files beside them) or their folder.
- `recbole`: RecBole atomic files (`.inter`, `.item`, `.user`) or their folder.
- `amazon`: Amazon reviews or product metadata JSON lines (2014, 2018, 2023), or a folder of them.
- `sequence`: `user item item ...` lines in time order.
- `sequence-folder`: `sequences.txt` with optional `items.tsv`, `item_attributes.json`,
  `item_asin.tsv`, `users.dat` (the ML-1M and Amazon-Beauty benchmark layouts).
- `llmrank-folder`: `items.tsv` + `test.tsv` + `valid.tsv` (the Amazon-Games benchmark layout).

For csv, parquet and jsonl a mapping renames the file's columns to `Columns` names
(`{"userId": "user_id"}`); without one, well-known names (`userId`, `movieId`, `rating`, ...) are
understood. Rows with both a user and an item are events, with only an item items, with only a
user users. Columns with no lmrec field are kept in `context` (events) or `attributes`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from lmrec.data.readers._common import RawBatch, base_name, peek_text
from lmrec.data.readers.amazon import is_amazon_file, read_amazon
from lmrec.data.readers.movielens import (
    ITEM_FILES,
    RATING_FILES,
    RECBOLE_SUFFIXES,
    USER_FILES,
    read_movielens,
    read_recbole,
)
from lmrec.data.readers.sequences import read_llmrank_folder, read_sequence_folder, read_sequences
from lmrec.data.readers.tabular import read_csv, read_jsonl, read_parquet
from lmrec.diagnostics import ConfigError, DataError, FormatError

__all__ = ["FORMATS", "RawBatch", "detect_format", "read_source"]

FORMATS: tuple[str, ...] = (
    "csv",
    "parquet",
    "jsonl",
    "movielens",
    "recbole",
    "amazon",
    "sequence",
    "sequence-folder",
    "llmrank-folder",
)

#: Formats that take a column mapping; the others know their columns.
MAPPED_FORMATS = ("csv", "parquet", "jsonl")

_SEQUENCE_LINE = re.compile(r"^[^\s,;|]+[ \t]+[^\s,;|]+( [^\s,;|]+)*\s*$")


def detect_format(path: str | Path) -> str:
    """The format of a file or folder, one of `FORMATS`.

    Raises:
        FormatError: the path does not exist or matches no format; the message lists the formats.
    """
    path = Path(path)
    if not path.exists():
        raise FormatError("no such file or folder", source=str(path))
    found = _detect_folder(path) if path.is_dir() else _detect_file(path)
    if found is None:
        raise FormatError(
            f"cannot detect the format; give one of {list(FORMATS)} (CLI: --format)",
            source=str(path),
        )
    return found


def _detect_folder(path: Path) -> str | None:
    names = {base_name(p) for p in path.iterdir() if p.is_file()}
    if "sequences.txt" in names:
        return "sequence-folder"
    if {"test.tsv", "valid.tsv"} <= names:
        return "llmrank-folder"
    if names & set(RATING_FILES):
        return "movielens"
    if any(Path(n).suffix in RECBOLE_SUFFIXES for n in names):
        return "recbole"
    if any(n.endswith((".json", ".jsonl")) and is_amazon_file(p) for n, p in _files(path)):
        return "amazon"
    return None


def _files(path: Path) -> list[tuple[str, Path]]:
    return [(base_name(p), p) for p in sorted(path.iterdir()) if p.is_file()]


def _detect_file(path: Path) -> str | None:
    name = base_name(path)
    suffix = Path(name).suffix
    if name in (*RATING_FILES, *ITEM_FILES, *USER_FILES) and _is_movielens(path, name):
        return "movielens"  # before RecBole: `u.item` and `u.user` end like RecBole files
    if suffix in RECBOLE_SUFFIXES:
        return "recbole"
    if suffix == ".parquet" or (not path.name.endswith(".gz") and _is_parquet(path)):
        return "parquet"
    if suffix in (".json", ".jsonl", ".ndjson"):
        return "amazon" if is_amazon_file(path) else "jsonl"
    if suffix in (".csv", ".tsv"):
        return "csv"
    head = peek_text(path)
    first = next((line for line in head.splitlines() if line.strip()), "")
    if not first:
        return None
    if first.lstrip().startswith("{"):
        return "amazon" if is_amazon_file(path) else "jsonl"
    if _SEQUENCE_LINE.match(first):
        return "sequence"
    return None


def _is_movielens(path: Path, name: str) -> bool:
    if not name.endswith(".csv"):
        return True
    header = peek_text(path, 256).splitlines()[:1]
    return bool(header) and header[0].strip().startswith(("userId,movieId", "movieId,title"))


def _is_parquet(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == b"PAR1"


_READERS: dict[str, Callable[..., Iterator[RawBatch]]] = {
    "csv": read_csv,
    "parquet": read_parquet,
    "jsonl": read_jsonl,
    "movielens": read_movielens,
    "recbole": read_recbole,
    "amazon": read_amazon,
    "sequence": read_sequences,
    "sequence-folder": read_sequence_folder,
    "llmrank-folder": read_llmrank_folder,
}


def read_source(
    path: str | Path,
    *,
    format: str | None = None,
    mapping: Mapping[str, str] | None = None,
    batch_size: int = 50_000,
) -> Iterator[RawBatch]:
    """Read a file or folder as batches of at most `batch_size` rows (items and users first).

    Args:
        path: the file or folder.
        format: one of `FORMATS`; detected when None.
        mapping: the file's column name -> lmrec field name (`Columns`), for csv, parquet, jsonl.
        batch_size: rows per batch; each batch is stored in one transaction.

    Raises:
        FormatError: unknown or undetectable format, or a file that does not fit its format.
        DataError: a mapping that names missing columns or unknown fields.
        ConfigError: a bad `format` name or `batch_size`.
    """
    path = Path(path)
    if batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
    if format is None:
        format = detect_format(path)
    if format not in _READERS:
        raise ConfigError(f"unknown format {format!r}; expected one of {list(FORMATS)}")
    if not path.exists():
        raise FormatError("no such file or folder", source=str(path))
    if mapping and format not in MAPPED_FORMATS:
        raise ConfigError(f"a column mapping applies to {list(MAPPED_FORMATS)} files, not to {format!r}")
    reader = _READERS[format]
    try:
        if format in MAPPED_FORMATS:
            if path.is_dir():
                raise FormatError(f"{format} reads one file, not a folder", source=str(path))
            yield from reader(path, mapping=mapping, batch_size=batch_size)
        else:
            yield from reader(path, batch_size=batch_size)
    except (DataError, ConfigError):
        raise
    except (OSError, UnicodeDecodeError, ValueError, KeyError, IndexError) as exc:
        raise FormatError(f"cannot read as {format}: {type(exc).__name__}: {exc}", source=str(path)) from exc
