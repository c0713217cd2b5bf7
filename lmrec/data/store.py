"""The store: items, users and events in SQLite (default) or PostgreSQL, through SQLAlchemy.

This is the only module that builds SQL. Writes take frames that already passed
`lmrec.data.schema` validation; every write call is one transaction, and `Store.writer()` groups
several writes into one transaction when a whole batch must land together or not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.dialects import postgresql, sqlite

from lmrec.data import tables
from lmrec.data.columns import EVENT_COLUMNS, ITEM_COLUMNS, USER_COLUMNS, Columns
from lmrec.data.schema import DEFAULT_EVENT_TYPES
from lmrec.diagnostics import StoreError

if TYPE_CHECKING:
    from lmrec.data.dataset import Dataset

log = logging.getLogger(__name__)

#: Rows per INSERT statement; SQLite allows 32,766 bound parameters per statement.
_CHUNK_ROWS = 2_000


@dataclass(frozen=True)
class EventWriteResult:
    """How many events a write stored and how many it skipped as already known."""

    stored: int
    duplicates: int


class Store:
    """A handle on one lmrec database.

    Args:
        engine: an SQLAlchemy engine; use `Store.open(url)` to build one with the right settings.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str | Path = "sqlite:///lmrec.db", *, migrate: bool = True, create: bool = True) -> Store:
        """Open (and by default create or upgrade) the database at `url`.

        A plain path is taken as an SQLite file. SQLite runs in WAL mode so readers never block
        the writer. With `create=False` a missing SQLite file is a StoreError instead of a new empty
        store (for commands that only read, where a missing file is most often a mistyped path).
        """
        url = _normalise_url(url, create=create)
        try:
            engine = sa.create_engine(url, future=True)
        except (sa.exc.ArgumentError, ImportError) as exc:
            raise StoreError(f"cannot open store {url!r}: {exc}") from exc
        if engine.dialect.name == "sqlite":
            sa.event.listen(engine, "connect", _sqlite_pragmas)
        elif engine.dialect.name != "postgresql":
            raise StoreError(f"unsupported database {engine.dialect.name!r}; use SQLite or PostgreSQL")
        store = cls(engine)
        if migrate:
            store.migrate()
        return store

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return str(self.engine.dialect.name)

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()

    # -- schema -------------------------------------------------------------------------------

    def migrate(self, revision: str = "head") -> None:
        """Bring the schema to `revision` (the newest by default) and seed the event types."""
        try:
            with self.engine.begin() as conn:
                cfg = _alembic_config()
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
                if revision == "head":
                    self._seed_event_types(conn)
        except sa.exc.OperationalError as exc:
            raise StoreError(f"cannot migrate store at {self.engine.url!r}: {exc.orig}") from exc

    def schema_version(self) -> str | None:
        """The applied migration revision, or None for an empty database."""
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    @staticmethod
    def latest_schema_version() -> str | None:
        """The newest migration revision shipped with this version of lmrec."""
        return ScriptDirectory.from_config(_alembic_config()).get_current_head()

    def _seed_event_types(self, conn: sa.Connection) -> None:
        known = {row.name for row in conn.execute(sa.select(tables.event_types.c.name))}
        missing = [{"name": n, "weight": w} for n, w in DEFAULT_EVENT_TYPES.items() if n not in known]
        if missing:
            conn.execute(sa.insert(tables.event_types), missing)

    # -- writes -------------------------------------------------------------------------------

    @contextmanager
    def writer(self) -> Iterator[StoreWriter]:
        """One transaction for several writes: all of them land, or none does."""
        with self.engine.begin() as conn:
            yield StoreWriter(conn)

    def add_events(self, frame: pd.DataFrame) -> EventWriteResult:
        """Store validated events; events whose `event_id` is already stored are skipped."""
        with self.writer() as w:
            return w.add_events(frame)

    def upsert_items(self, frame: pd.DataFrame) -> int:
        """Insert or replace validated items; returns the number of rows written."""
        with self.writer() as w:
            return w.upsert_items(frame)

    def upsert_users(self, frame: pd.DataFrame) -> int:
        """Insert or replace validated users; returns the number of rows written."""
        with self.writer() as w:
            return w.upsert_users(frame)

    def register_event_type(self, name: str, weight: float) -> None:
        """Add (or re-weight) an event type so events of that type are accepted."""
        with self.writer() as w:
            w.register_event_type(name, weight)

    # -- reads --------------------------------------------------------------------------------

    def event_types(self) -> dict[str, float]:
        """Every accepted event type and its implicit-feedback weight."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(tables.event_types.c.name, tables.event_types.c.weight))
            return {row.name: float(row.weight) for row in rows}

    def events_frame(self) -> pd.DataFrame:
        """All events in the order they were stored."""
        query = sa.select(*[tables.events.c[c] for c in EVENT_COLUMNS]).order_by(tables.events.c.seq)
        frame = self._read(query, EVENT_COLUMNS)
        frame[Columns.Value] = frame[Columns.Value].astype(float)
        frame[Columns.Timestamp] = frame[Columns.Timestamp].astype(float)
        return frame

    def items_frame(self) -> pd.DataFrame:
        """The catalogue, sorted by item id."""
        query = sa.select(*[tables.items.c[c] for c in ITEM_COLUMNS]).order_by(self._bytewise(tables.items.c.item_id))
        frame = self._read(query, ITEM_COLUMNS)
        frame[Columns.Price] = frame[Columns.Price].astype(float)
        frame[Columns.CreatedAt] = frame[Columns.CreatedAt].astype(float)
        frame[Columns.Available] = frame[Columns.Available].astype(bool)
        return frame

    def users_frame(self) -> pd.DataFrame:
        """Every user profile, sorted by user id."""
        query = sa.select(*[tables.users.c[c] for c in USER_COLUMNS]).order_by(self._bytewise(tables.users.c.user_id))
        frame = self._read(query, USER_COLUMNS)
        frame[Columns.CreatedAt] = frame[Columns.CreatedAt].astype(float)
        return frame

    def dataset(self) -> Dataset:
        """An immutable snapshot of the whole store, ready for training and evaluation."""
        from lmrec.data.dataset import Dataset

        return Dataset.from_frames(self.events_frame(), self.items_frame(), self.users_frame(), self.event_types())

    def counts(self) -> dict[str, int]:
        """Row counts of the main tables."""
        with self.engine.connect() as conn:
            return {
                name: int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
                for name, table in (("items", tables.items), ("users", tables.users), ("events", tables.events))
            }

    def _bytewise(self, column: sa.Column[Any]) -> sa.ColumnElement[Any]:
        # PostgreSQL sorts text by the server's locale; byte order (SQLite's default) keeps the
        # vocabulary, and so every model position, identical on both databases.
        return column.collate("C") if self.dialect == "postgresql" else column

    def _read(self, query: sa.Select[Any], columns: tuple[str, ...]) -> pd.DataFrame:
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return pd.DataFrame.from_records(rows, columns=list(columns))


def as_stored(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """`frame` with the values and dtypes it would have after a write and a read back.

    Lets an in-memory path (`lmrec.data.ingest.load_dataset`) give exactly what the store gives.
    """
    rows = list(zip(*(_plain(frame[c]) for c in columns), strict=True))
    return pd.DataFrame.from_records(rows, columns=list(columns))


class StoreWriter:
    """Writes bound to one open transaction; obtained from `Store.writer()`."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self._insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert

    def add_events(self, frame: pd.DataFrame) -> EventWriteResult:
        """Store validated events; those whose `event_id` is already known (in the store or
        earlier in `frame`) are counted as duplicates."""
        if frame.empty:
            return EventWriteResult(0, 0)
        unique = frame.drop_duplicates(Columns.Event, keep="first")
        in_batch_duplicates = len(frame) - len(unique)
        if self.conn.dialect.name == "sqlite":
            stored = self._insert_events_sqlite(unique)
        else:
            stored = self._insert_events_postgresql(unique)
        return EventWriteResult(stored, in_batch_duplicates + len(unique) - stored)

    def _insert_events_sqlite(self, frame: pd.DataFrame) -> int:
        # The bulk-import hot path: sqlite3's executemany over tuples is several times faster
        # than SQLAlchemy's dict-per-row path, and its rowcount counts only inserted rows.
        columns = ", ".join(EVENT_COLUMNS)
        marks = ", ".join("?" for _ in EVENT_COLUMNS)
        sql = f"INSERT INTO events ({columns}) VALUES ({marks}) ON CONFLICT (event_id) DO NOTHING"
        rows = list(zip(*(_plain(frame[c]) for c in EVENT_COLUMNS), strict=True))
        return int(self.conn.exec_driver_sql(sql, rows).rowcount)

    def _insert_events_postgresql(self, frame: pd.DataFrame) -> int:
        # COPY into a transaction-local staging table, then one INSERT ... SELECT: an order of
        # magnitude faster than row-wise INSERTs, and the single statement's rowcount is exact.
        columns = ", ".join(EVENT_COLUMNS)
        self.conn.exec_driver_sql(
            "CREATE TEMP TABLE IF NOT EXISTS lmrec_events_in ("
            "ord bigint, event_id text, user_id text, item_id text, type text, value double precision, "
            "timestamp double precision, context text) ON COMMIT DROP"
        )
        self.conn.exec_driver_sql("TRUNCATE lmrec_events_in")
        driver = self.conn.connection.driver_connection
        assert driver is not None
        values = [_plain(frame[c]) for c in EVENT_COLUMNS]
        with driver.cursor() as cursor, cursor.copy(f"COPY lmrec_events_in (ord, {columns}) FROM STDIN") as copy:
            for ord_, row in enumerate(zip(*values, strict=True)):
                copy.write_row((ord_, *row))
        result = self.conn.exec_driver_sql(
            f"INSERT INTO events ({columns}) SELECT {columns} FROM lmrec_events_in ORDER BY ord "
            "ON CONFLICT (event_id) DO NOTHING"
        )
        return int(result.rowcount)

    def upsert_items(self, frame: pd.DataFrame) -> int:
        """Insert or replace validated items (last row wins for a repeated id)."""
        return self._upsert(tables.items, frame.drop_duplicates(Columns.Item, keep="last"), ITEM_COLUMNS)

    def upsert_users(self, frame: pd.DataFrame) -> int:
        """Insert or replace validated users (last row wins for a repeated id)."""
        return self._upsert(tables.users, frame.drop_duplicates(Columns.User, keep="last"), USER_COLUMNS)

    def register_event_type(self, name: str, weight: float) -> None:
        """Add or re-weight an event type."""
        table = tables.event_types
        stmt = self._insert(table).values(name=name, weight=float(weight))
        self.conn.execute(
            stmt.on_conflict_do_update(index_elements=[table.c.name], set_={"weight": stmt.excluded.weight})
        )

    def _upsert(self, table: sa.Table, frame: pd.DataFrame, columns: tuple[str, ...]) -> int:
        if frame.empty:
            return 0
        key = next(iter(table.primary_key.columns)).name
        stmt = self._insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c[key]],
            set_={c: stmt.excluded[c] for c in columns if c != key},
        )
        for chunk in _records(frame, columns):
            self.conn.execute(stmt, chunk)
        return len(frame)


def _records(frame: pd.DataFrame, columns: tuple[str, ...]) -> Iterator[list[dict[str, Any]]]:
    """Rows as plain-Python dicts (NaN -> NULL), a chunk at a time."""
    data = {c: _plain(frame[c]) for c in columns}
    for start in range(0, len(frame), _CHUNK_ROWS):
        stop = min(start + _CHUNK_ROWS, len(frame))
        yield [{c: data[c][i] for c in columns} for i in range(start, stop)]


def _plain(series: pd.Series) -> list[Any]:
    """Plain Python values for the driver, missing values (NaN, NA, None) as None."""
    if pd.api.types.is_float_dtype(series.dtype):
        values = series.to_numpy(dtype=float)
        missing = np.isnan(values)
        if not missing.any():
            return values.tolist()
        boxed = values.astype(object)
        boxed[missing] = None
        return list(boxed.tolist())
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.to_numpy(dtype=bool).tolist()
    objects = series.astype(object)
    missing = objects.isna().to_numpy()
    if not missing.any():
        return objects.tolist()
    return objects.where(~missing, None).tolist()


def _normalise_url(url: str | Path, *, create: bool = True) -> str:
    text = str(url)
    if "://" not in text:
        text = f"sqlite:///{Path(text).expanduser()}"
    elif text.startswith(("postgresql://", "postgres://")):
        # psycopg 3 is the driver we install; SQLAlchemy's default would be psycopg2.
        text = "postgresql+psycopg://" + text.split("://", 1)[1]
    path = _sqlite_file(text)
    if path is not None and not path.exists():
        if not create:
            raise StoreError(f"no store at {path}: run `lmrec import` first, or check the path")
        path.parent.mkdir(parents=True, exist_ok=True)
    return text


def _sqlite_file(url: str) -> Path | None:
    """The file of an SQLite URL; None for another database or an in-memory one."""
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        return None  # Store.open reports the bad URL
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).expanduser()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; safe with WAL
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # 64 MiB page cache: bulk inserts into the event-id index touch pages at random (ids are
    # hashes); with the 2 MiB default, imports spend a third of their time re-reading pages.
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("lmrec.data") / "migrations"))
    return cfg


def parse_json_column(values: pd.Series) -> list[Mapping[str, Any] | None]:
    """Decode a stored JSON column back into dicts (None stays None)."""
    import json

    return [json.loads(v) if isinstance(v, str) and v else None for v in values]
