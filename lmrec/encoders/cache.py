"""`EmbeddingCache`: text embeddings kept on disk by (text hash, model version).

Re-embedding an unchanged catalogue costs a lookup, not a forward pass. The cache is one SQLite
file (`embeddings.sqlite`) in a folder: one row per (model version, SHA-256 of the text) holding
the float32 vector as a BLOB and a CRC-32 of key and vector. SQLite transactions make it safe for
several processes to read and write at once (WAL mode, writers wait up to `timeout` seconds).
This module talks SQL itself, unlike the rest of lmrec, because it is a local, disposable cache
that must work without (and beside) the data store, which may be PostgreSQL.

Damage is detected, never trusted: a file SQLite cannot read is logged and rebuilt empty, and a
row whose checksum does not match is logged and re-embedded. Any other failure to read or write
(a locked or read-only folder) is logged and the texts are simply embedded without the cache.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TypeVar

import numpy as np

from lmrec.encoders.text import Encoder, EncoderConfig, TextEncoder

log = logging.getLogger(__name__)

CACHE_FORMAT = "1"
FILE_NAME = "embeddings.sqlite"
#: Keys per SELECT, below SQLite's smallest limit on bound parameters (999).
_CHUNK = 500
_CORRUPTION_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # a rowid table plus an index, not WITHOUT ROWID: rows of 1.5 KB read 4x faster this way
    "CREATE TABLE IF NOT EXISTS embeddings ("
    " version TEXT NOT NULL, text_hash BLOB NOT NULL, dim INTEGER NOT NULL,"
    " vector BLOB NOT NULL, checksum INTEGER NOT NULL)",
    "CREATE UNIQUE INDEX IF NOT EXISTS embeddings_key ON embeddings (version, text_hash)",
)

T = TypeVar("T")


class CorruptCacheError(sqlite3.DatabaseError):
    """The cache file is a database, but not one this module wrote (or of another format)."""


def default_cache_dir() -> Path:
    """`$LMREC_CACHE_DIR/embeddings`, else `$XDG_CACHE_HOME/lmrec/embeddings`, else
    `~/.cache/lmrec/embeddings`."""
    root = os.environ.get("LMREC_CACHE_DIR")
    if root:
        return Path(root).expanduser() / "embeddings"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "lmrec" / "embeddings"


def text_hash(text: str) -> bytes:
    """SHA-256 of a text's UTF-8 bytes: the cache key (with the model version)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class EmbeddingCache:
    """Embeddings on disk keyed by (model version, text hash); see the module docstring.

    Args:
        folder: where `embeddings.sqlite` lives (created on first write); None for
            `default_cache_dir()`.
        timeout: seconds a reader or writer waits for another process's lock.
    """

    def __init__(self, folder: str | Path | None = None, *, timeout: float = 60.0) -> None:
        self.folder = Path(folder).expanduser() if folder is not None else default_cache_dir()
        self.path = self.folder / FILE_NAME
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"EmbeddingCache({str(self.folder)!r})"

    # -- the one call most users need ---------------------------------------------------------

    def encode(self, encoder: Encoder, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of `texts`, shape (n, D) float32, calling `encoder` only for texts it lacks.

        Each distinct missing text is encoded once, in one call, and then stored.
        """
        texts = [str(t) for t in texts]
        if not texts:
            return encoder.encode([])
        version = encoder.version
        unique = list(dict.fromkeys(texts))
        try:
            cached = self.lookup(version, unique)
        except (sqlite3.Error, OSError) as exc:
            log.warning("embedding cache %s cannot be read (%s); embedding without it", self.path, exc)
            cached = [None] * len(unique)
        vectors = {t: v for t, v in zip(unique, cached, strict=True) if v is not None}
        missing = [t for t in unique if t not in vectors]
        log.info("embedding %d texts with %s: %d cached, %d to encode", len(texts), version, len(vectors), len(missing))
        if missing:
            fresh = np.asarray(encoder.encode(missing), dtype=np.float32)  # (m, D)
            vectors.update(zip(missing, fresh, strict=True))
            try:
                self.store(version, missing, fresh)
            except (sqlite3.Error, OSError) as exc:
                log.warning("embedding cache %s cannot be written (%s); vectors not kept", self.path, exc)
        return np.stack([vectors[t] for t in texts]).astype(np.float32, copy=False)  # (n, D)

    # -- reading and writing ------------------------------------------------------------------

    def lookup(self, version: str, texts: Sequence[str]) -> list[np.ndarray | None]:
        """The cached vector of each text under `version`, or None where there is none."""
        keys = [text_hash(t) for t in texts]
        if not self.path.exists():
            return [None] * len(keys)
        rows = self._run(lambda conn: _select(conn, version, keys))
        out: list[np.ndarray | None] = []
        damaged = 0
        for key in keys:
            row = rows.get(key)
            vector = None if row is None else _decode(key, *row)
            damaged += row is not None and vector is None
            out.append(vector)
        if damaged:
            log.warning("embedding cache %s: %d damaged vectors ignored; they will be re-embedded", self.path, damaged)
        return out

    def store(self, version: str, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Keep `vectors` (n, D) as the embeddings of `texts` under `version`, in one transaction."""
        vectors = np.ascontiguousarray(vectors, dtype="<f4")  # (n, D)
        if vectors.ndim != 2 or len(vectors) != len(texts):
            raise ValueError(f"expected {len(texts)} vectors as a 2-D array, got shape {vectors.shape}")
        rows = []
        for text, vector in zip(texts, vectors, strict=True):
            key, blob = text_hash(text), vector.tobytes()
            rows.append((version, key, vector.shape[0], blob, zlib.crc32(key + blob)))
        self.folder.mkdir(parents=True, exist_ok=True)

        def write(conn: sqlite3.Connection) -> None:
            with _transaction(conn):
                conn.executemany(
                    "INSERT OR REPLACE INTO embeddings (version, text_hash, dim, vector, checksum)"
                    " VALUES (?, ?, ?, ?, ?)",
                    rows,
                )

        self._run(write)

    def count(self, version: str | None = None) -> int:
        """Number of cached vectors (of one version, or all)."""
        if not self.path.exists():
            return 0
        if version is None:
            return int(self._run(lambda c: c.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]))
        sql = "SELECT COUNT(*) FROM embeddings WHERE version = ?"
        return int(self._run(lambda c: c.execute(sql, (version,)).fetchone()[0]))

    def versions(self) -> dict[str, int]:
        """Every model version in the cache with its number of vectors."""
        if not self.path.exists():
            return {}
        sql = "SELECT version, COUNT(*) FROM embeddings GROUP BY version ORDER BY version"
        return dict(self._run(lambda c: c.execute(sql).fetchall()))

    def drop(self, version: str) -> int:
        """Delete every vector of one model version; returns how many were deleted."""
        if not self.path.exists():
            return 0

        def delete(conn: sqlite3.Connection) -> int:
            with _transaction(conn):
                return conn.execute("DELETE FROM embeddings WHERE version = ?", (version,)).rowcount

        return int(self._run(delete))

    # -- connections and recovery -------------------------------------------------------------

    def _run(self, action: Callable[[sqlite3.Connection], T]) -> T:
        """Run `action` on a fresh connection; a damaged file is rebuilt once and `action` retried."""
        try:
            with self._connect() as conn:
                return action(conn)
        except sqlite3.DatabaseError as exc:
            if not _is_corruption(exc):
                raise
            self._rebuild(exc)
        with self._connect() as conn:
            return action(conn)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            _ensure_schema(conn)
            yield conn

    def _rebuild(self, exc: BaseException) -> None:
        log.warning("embedding cache %s is damaged (%s); rebuilding it empty", self.path, exc)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)


def embed_texts(
    texts: Sequence[str], config: EncoderConfig | None = None, *, encoder: Encoder | None = None
) -> np.ndarray:
    """Embed texts with the configured language model, through the cache unless it is switched off.

    Args:
        texts: the texts, any number, duplicates allowed.
        config: model, device, batch size and cache settings (defaults when None).
        encoder: an already built encoder to use instead of `TextEncoder(config)`.

    Returns:
        Unit-length float32 embeddings, shape (len(texts), D).
    """
    config = config or EncoderConfig()
    encoder = encoder or TextEncoder(config)
    if not config.cache:
        return np.asarray(encoder.encode(list(texts)), dtype=np.float32)
    return EmbeddingCache(config.cache_dir).encode(encoder, texts)


def _ensure_schema(conn: sqlite3.Connection) -> None:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if {"meta", "embeddings"} <= tables:
        row = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        if row is None or row[0] != CACHE_FORMAT:
            raise CorruptCacheError(f"not an lmrec embedding cache of format {CACHE_FORMAT} (format {row})")
        return
    if tables - {"meta", "embeddings"}:
        raise CorruptCacheError(f"not an lmrec embedding cache (it has tables {sorted(tables)})")
    with _transaction(conn):
        for statement in _SCHEMA:
            conn.execute(statement)
        conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('format', ?)", (CACHE_FORMAT,))


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any error (the connection is in autocommit mode)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _select(conn: sqlite3.Connection, version: str, keys: list[bytes]) -> dict[bytes, tuple[int, bytes, int]]:
    rows: dict[bytes, tuple[int, bytes, int]] = {}
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        sql = f"SELECT text_hash, dim, vector, checksum FROM embeddings WHERE version = ? AND text_hash IN ({marks})"
        for key, dim, blob, checksum in conn.execute(sql, [version, *chunk]):
            rows[bytes(key)] = (int(dim), bytes(blob), int(checksum))
    return rows


def _decode(key: bytes, dim: int, blob: bytes, checksum: int) -> np.ndarray | None:
    """The stored vector, or None when its length or checksum shows damage."""
    if dim <= 0 or len(blob) != 4 * dim or zlib.crc32(key + blob) != checksum:
        return None
    return np.frombuffer(blob, dtype="<f4").astype(np.float32)  # (D,)


def _is_corruption(exc: sqlite3.DatabaseError) -> bool:
    """True for a damaged or foreign file; False for a lock timeout, a full disk and the like."""
    if isinstance(exc, CorruptCacheError):
        return True
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and (code & 0xFF) in _CORRUPTION_CODES
