"""The store on SQLite and PostgreSQL: schema, upserts, idempotent events, snapshots, transactions."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from lmrec.data import tables
from lmrec.data.columns import Columns
from lmrec.data.schema import DEFAULT_EVENT_TYPES, validate_events, validate_items, validate_users
from lmrec.data.store import Store
from lmrec.diagnostics import StoreError


@pytest.fixture(scope="module")
def postgres_database(postgres_url: str) -> Iterator[str]:
    """A fresh, uniquely named database for this module (tests run in parallel), dropped after."""
    admin_url = sa.engine.make_url(postgres_url).set(database="postgres")
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"lmrec_test_store_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A freshly migrated, empty store on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("postgres_database")
        engine = sa.create_engine(url)
        with engine.begin() as conn:  # every test starts from an empty schema
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()
    opened = Store.open(url)
    yield opened
    opened.close()


def _events(rows: list[tuple[str, str, str, float | None, float]], **extra: list[object]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=[Columns.User, Columns.Item, Columns.Type, Columns.Value, Columns.Timestamp])
    for name, values in extra.items():
        frame[name] = values
    checked = validate_events(frame, DEFAULT_EVENT_TYPES)
    assert checked.rejects.empty, checked.rejects
    return checked.valid


def _items(rows: list[dict[str, object]]) -> pd.DataFrame:
    checked = validate_items(pd.DataFrame(rows))
    assert checked.rejects.empty, checked.rejects
    return checked.valid


def test_migrations_produce_exactly_the_tables_module(store: Store) -> None:
    with store.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), tables.metadata)
    assert diffs == []
    assert store.schema_version() == Store.latest_schema_version()


def test_migrate_twice_is_harmless(store: Store) -> None:
    store.migrate()
    assert store.event_types() == DEFAULT_EVENT_TYPES


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "wal.db")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    store.close()


def test_a_store_opened_only_to_read_must_exist(tmp_path: Path) -> None:
    """create=False: a missing SQLite file (a mistyped path) is an error, and nothing is made."""
    for url in (tmp_path / "sub" / "typo.db", f"sqlite:///{tmp_path / 'typo.db'}"):
        with pytest.raises(StoreError, match=r"no store at .*typo\.db: run `lmrec import` first"):
            Store.open(url, create=False)
    assert list(tmp_path.iterdir()) == []
    Store.open(tmp_path / "real.db").close()  # created by default
    assert Store.open(tmp_path / "real.db", create=False).counts()["events"] == 0


def test_items_and_users_are_upserted(store: Store) -> None:
    assert store.upsert_items(_items([{"item_id": "a", "title": "Lamp", "price": 10}, {"item_id": "b"}])) == 2
    assert store.upsert_items(_items([{"item_id": "a", "title": "Desk lamp", "tags": "x|y"}])) == 1
    items = store.items_frame()
    assert items[Columns.Item].tolist() == ["a", "b"]
    assert items[Columns.Title].tolist() == ["Desk lamp", ""]
    assert np.isnan(items[Columns.Price].iloc[0])  # replaced as a whole row, not merged
    assert items[Columns.Tags].iloc[0] == '["x", "y"]'
    assert items[Columns.Available].tolist() == [True, True]
    users = validate_users(pd.DataFrame({"user_id": ["u1", "u1"], "attributes": ['{"a": 1}', '{"a": 2}']})).valid
    assert store.upsert_users(users) == 1  # last row wins for a repeated id
    assert store.users_frame()[Columns.Attributes].tolist() == ['{"a": 2}']
    assert store.counts() == {"items": 2, "users": 1, "events": 0}


def test_events_are_idempotent(store: Store) -> None:
    batch = _events(
        [("u1", "i1", "view", None, 1.0), ("u1", "i2", "rating", 4.0, 2.0), ("u1", "i1", "view", None, 1.0)]
    )
    first = store.add_events(batch)
    assert (first.stored, first.duplicates) == (2, 1)  # the third row repeats the first: same content id
    again = store.add_events(batch)
    assert (again.stored, again.duplicates) == (0, 3)
    given = _events([("u2", "i1", "click", None, 3.0)], event_id=["client-1"])
    assert store.add_events(given).stored == 1
    assert store.add_events(given).duplicates == 1
    events = store.events_frame()
    assert events[Columns.Event].tolist()[-1] == "client-1"
    assert events[Columns.Value].tolist()[:2] == pytest.approx([np.nan, 4.0], nan_ok=True)
    assert store.counts()["events"] == 3


def test_event_types_can_be_registered(store: Store) -> None:
    store.register_event_type("share", 4.0)
    assert store.event_types()["share"] == 4.0
    store.register_event_type("share", 2.5)
    types = store.event_types()
    assert types["share"] == 2.5 and types["purchase"] == DEFAULT_EVENT_TYPES["purchase"]
    frame = pd.DataFrame({Columns.User: ["u"], Columns.Item: ["i"], Columns.Type: ["share"]})
    assert validate_events(frame, types).rejects.empty
    assert len(validate_events(frame, DEFAULT_EVENT_TYPES).rejects) == 1


def test_dataset_is_a_snapshot_of_the_store(store: Store) -> None:
    store.upsert_items(_items([{"item_id": "z", "title": "Zed"}, {"item_id": "a", "title": "Aye"}]))
    store.add_events(
        _events([("u2", "a", "purchase", None, 5.0), ("u1", "z", "view", None, 9.0), ("u1", "new", "view", None, 3.0)])
    )
    dataset = store.dataset()
    assert dataset.items.to_list() == ["a", "z", "new"]  # catalogue (sorted by id) first, then event-only items
    assert dataset.users.to_list() == ["u2", "u1"]
    assert dataset.histories().row(1).tolist() == [2, 1]  # u1: "new" at t=3 before "z" at t=9
    assert dataset.item_table[Columns.Title].tolist() == ["Aye", "Zed", ""]
    assert dataset.interactions[Columns.Weight].tolist() == [5.0, 1.0, 1.0]
    store.add_events(_events([("u3", "a", "view", None, 1.0)]))
    assert dataset.n_users == 2 and store.dataset().n_users == 3  # the snapshot did not move


def test_writer_lands_all_or_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError, match="boom"), store.writer() as writer:
        writer.upsert_items(_items([{"item_id": "a"}]))
        writer.add_events(_events([("u", "a", "view", None, 1.0)]))
        raise RuntimeError("boom")
    assert store.counts() == {"items": 0, "users": 0, "events": 0}
    with store.writer() as writer:
        writer.upsert_items(_items([{"item_id": "a"}]))
        result = writer.add_events(_events([("u", "a", "view", None, 1.0)]))
    assert result.stored == 1 and store.counts() == {"items": 1, "users": 0, "events": 1}


def test_large_batches_cross_chunk_boundaries(store: Store) -> None:
    n = 4_500  # more than two insert chunks
    rows = [(f"u{i % 37}", f"i{i}", "view", None, float(i)) for i in range(n)]
    result = store.add_events(_events(rows))
    assert (result.stored, result.duplicates) == (n, 0)
    assert store.upsert_items(_items([{"item_id": f"i{i}"} for i in range(n)])) == n
    assert store.counts() == {"items": n, "users": 0, "events": n}
    assert store.events_frame()[Columns.Item].tolist() == [r[1] for r in rows]
