"""Bulk import: nothing lost, nothing stored twice, no half batch, and garbage never crashes a reader."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from lmrec.data.columns import Columns
from lmrec.data.dataset import Dataset
from lmrec.data.ingest import ImportSummary, import_path, load_dataset
from lmrec.data.store import Store
from lmrec.diagnostics import DataError, FormatError, StoreError

CSV = (
    "user,item,rating,timestamp,device\n"
    "u1,i1,4,100,ios\n"  # line 2: valid
    "u1,i2,abc,101,web\n"  # line 3: bad value
    "u2,i1,5,102\n"  # line 4: wrong field count
    ",i3,3,103,ios\n"  # line 5: missing user
    "u2,i3,3,99999999999999,ios\n"  # line 6: timestamp far beyond 2200
    "u3,i1,2,104,\n"  # line 7: valid, empty extra
    "u1,i1,4,100,ios\n"  # line 8: duplicate of line 2
)


def _assert_same_dataset(a: Dataset, b: Dataset) -> None:
    assert a.users == b.users and a.items == b.items
    pd.testing.assert_frame_equal(a.interactions, b.interactions)
    pd.testing.assert_frame_equal(a.item_table, b.item_table)
    pd.testing.assert_frame_equal(a.user_table, b.user_table)


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def test_every_row_is_stored_or_reported(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(CSV)
    store = Store.open(tmp_path / "s.db")
    rejects = tmp_path / "rejects.jsonl"
    summary = import_path(store, path, rejects_path=rejects)
    assert (summary.read, summary.stored, summary.duplicates, summary.rejected) == (7, 2, 1, 4)
    assert summary.is_balanced() and summary.format == "csv"
    records = [json.loads(line, parse_constant=_not_json) for line in rejects.read_text().splitlines()]
    assert [(r["row"], r["field"]) for r in records] == [
        (3, Columns.Value),
        (4, ""),
        (5, Columns.User),
        (6, Columns.Timestamp),
    ]
    assert records[0]["value"] == "abc" and "finite number" in records[0]["reason"]
    assert records[2]["source"] == "events.csv" and records[2]["kind"] == "events"
    assert records[2]["value"] is None  # the missing user: null, not NaN, which strict JSON readers refuse
    assert summary.rejects_path == rejects and len(summary.sample_rejects) == 4
    events = store.events_frame()
    assert events[Columns.User].tolist() == ["u1", "u3"]
    assert events[Columns.Type].unique().tolist() == ["rating"]
    assert json.loads(events[Columns.Context].iloc[0]) == {"device": "ios"}


def test_importing_twice_stores_nothing_twice(tmp_path: Path) -> None:
    path = tmp_path / "seq.txt"
    path.write_text("1 a b a\n2 b\n")
    store = Store.open(tmp_path / "s.db")
    first = import_path(store, path)
    second = import_path(store, path)
    assert (first.stored, first.duplicates) == (4, 0)  # "a" twice for user 1: different positions
    assert (second.stored, second.duplicates, second.read) == (0, 4, 4)
    assert store.counts()["events"] == 4
    assert first.rejects_path is None  # nothing rejected, no file written


def test_load_dataset_equals_store_dataset(tmp_path: Path) -> None:
    folder = tmp_path / "ml"
    folder.mkdir()
    (folder / "u.data").write_text("2\t1\t4\t100\n1\t2\t5\t50\n1\t10\t3\t50\n1\t2\t5\t50\n1\t3\tx\t1\n")
    (folder / "u.user").write_text("9|24|M|technician|85711\n1|53|F|other|94043\n")
    dataset, summary = load_dataset(folder)
    store = Store.open(tmp_path / "s.db")
    imported = import_path(store, folder, rejects_path=tmp_path / "r.jsonl")
    _assert_same_dataset(dataset, store.dataset())
    assert summary.per_kind == imported.per_kind
    assert summary.per_kind["events"] == {"read": 5, "stored": 3, "duplicates": 1, "rejected": 1}
    assert summary.rejects_path is None and summary.sample_rejects[0]["row"] == 5


@pytest.mark.data
def test_load_dataset_equals_store_dataset_on_ml100k(shared_data: Path, tmp_path: Path) -> None:
    dataset, summary = load_dataset(shared_data / "ml-100k")
    store = Store.open(tmp_path / "s.db")
    import_path(store, shared_data / "ml-100k")
    _assert_same_dataset(dataset, store.dataset())
    assert summary.per_kind["events"] == {"read": 100_000, "stored": 100_000, "duplicates": 0, "rejected": 0}
    # ties in timestamps are broken by item id (as a number), as the reference protocol does
    first_user = dataset.interactions[dataset.interactions[Columns.UserIdx] == 0]
    stamps = first_user[Columns.Timestamp].to_numpy()
    items = dataset.items.id(first_user[Columns.ItemIdx].to_numpy()).astype(int)
    ties = stamps[1:] == stamps[:-1]
    assert (items[1:][ties] > items[:-1][ties]).all()


def test_a_failing_batch_leaves_nothing_behind(tmp_path: Path) -> None:
    path = tmp_path / "seq.txt"
    path.write_text("1 a b c\n2 d boom e\n3 f\n")
    store = Store.open(tmp_path / "s.db")
    with store.engine.begin() as conn:  # the database itself fails in the middle of the second batch
        conn.exec_driver_sql(
            "CREATE TRIGGER fail_on_boom BEFORE INSERT ON events WHEN NEW.item_id = 'boom' "
            "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
        )
    with pytest.raises(StoreError, match="none of it was stored"):
        import_path(store, path, batch_size=3)
    assert store.events_frame()[Columns.Item].tolist() == ["a", "b", "c"]  # batch 1 only; d never landed


def test_default_rejects_file_beside_a_writable_input(tmp_path: Path) -> None:
    path = tmp_path / "seq.txt"
    path.write_text("1 a ?\n")
    summary = import_path(Store.open(tmp_path / "s.db"), path)
    assert summary.rejects_path == tmp_path / "seq.txt.rejects.jsonl"
    assert json.loads(summary.rejects_path.read_text())["value"] == "?"


def test_invariant_breach_is_caught() -> None:
    summary = ImportSummary(source="x")
    with pytest.raises(AssertionError, match="accounting"):
        summary.add("events", read=3, stored=1, duplicates=1, rejected=0)


# -- property tests: garbage in, never a crash, never a lost row ------------------------------

_TOKEN = st.one_of(
    st.text(min_size=0, max_size=12),
    st.sampled_from(["", "?", "NaN", "inf", "-1", "1e400", "9" * 40, "null", "{", "[1]", "\x00", "é", "\u2028"]),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
_BAD_BYTES = st.sampled_from([b"\xff\xfe", b"\xc3\x28", b"\x80", b"\xed\xa0\x80"])


@st.composite
def _lines(draw: st.DrawFn, sep: str) -> tuple[bytes, list[tuple[str, str]]]:
    """Garbage lines mixed with valid `user sep item` rows; returns the bytes and the valid pairs."""
    lines: list[bytes] = []
    valid: list[tuple[str, str]] = []
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["valid", "tokens", "bytes", "empty"]))
        if kind == "valid":
            user, item = f"u{draw(st.integers(0, 5))}", f"i{draw(st.integers(0, 9))}"
            valid.append((user, item))
            lines.append(f"{user}{sep}{item}".encode())
        elif kind == "tokens":
            tokens = draw(st.lists(_TOKEN, max_size=6))
            if sep == ",":  # an unbalanced quote rightly joins the following lines into one CSV field
                tokens = [t.replace('"', "") for t in tokens]
            lines.append(sep.join(tokens).encode("utf-8", "surrogatepass"))
        elif kind == "bytes":
            noise = draw(st.binary(max_size=10)) + draw(_BAD_BYTES)
            lines.append(noise.replace(b'"', b"") if sep == "," else noise)
        else:
            lines.append(b"")
    return b"\n".join(lines), valid


def _check_import(path: Path, format: str, valid: list[tuple[str, str]], **kwargs: object) -> None:
    try:
        dataset, summary = load_dataset(path, format=format, **kwargs)  # type: ignore[arg-type]
    except (DataError, FormatError) as error:
        assert str(error)  # a clear message, never a raw exception
        return
    assert summary.is_balanced()
    users = dataset.users.id(dataset.interactions[Columns.UserIdx].to_numpy())
    items = dataset.items.id(dataset.interactions[Columns.ItemIdx].to_numpy())
    stored = set(zip(users.tolist(), items.tolist(), strict=True))
    assert set(valid) <= stored, "a valid row was lost"


@given(_lines(" "))
def test_sequence_reader_never_crashes_or_loses_rows(content: tuple[bytes, list[tuple[str, str]]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "seq.txt"
        path.write_bytes(content[0])
        _check_import(path, "sequence", content[1])


@given(_lines(","))
def test_csv_reader_never_crashes_or_loses_rows(content: tuple[bytes, list[tuple[str, str]]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "e.csv"
        path.write_bytes(b"user,item\n" + content[0])
        _check_import(path, "csv", content[1])


@given(_lines("\t"))
def test_movielens_and_recbole_readers_never_crash(content: tuple[bytes, list[tuple[str, str]]]) -> None:
    body, valid = content
    with tempfile.TemporaryDirectory() as tmp:
        lines = [line + b"\t3\t100" if line.count(b"\t") == 1 else line for line in body.split(b"\n")]
        (Path(tmp) / "u.data").write_bytes(b"\n".join(lines))
        _check_import(Path(tmp) / "u.data", "movielens", valid)
        inter = Path(tmp) / "x.inter"
        inter.write_bytes(b"user_id:token\titem_id:token\trating:float\ttimestamp:float\n" + b"\n".join(lines))
        _check_import(inter, "recbole", valid)


_JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**20), 10**20) | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=6,
)


@st.composite
def _json_lines(draw: st.DrawFn, user: str, item: str, extra: dict[str, object]) -> tuple[bytes, list[tuple[str, str]]]:
    lines: list[bytes] = []
    valid: list[tuple[str, str]] = []
    for _ in range(draw(st.integers(0, 10))):
        kind = draw(st.sampled_from(["valid", "object", "value", "bytes"]))
        if kind == "valid":
            pair = (f"u{draw(st.integers(0, 5))}", f"i{draw(st.integers(0, 9))}")
            valid.append(pair)
            lines.append(json.dumps({user: pair[0], item: pair[1], **extra}).encode())
        elif kind == "object":
            keys = st.sampled_from([user, item, *extra, "unknown", "context", "type"])
            record = draw(st.dictionaries(keys, _JSON_VALUE, max_size=5))
            lines.append(json.dumps(record, allow_nan=True).encode())
        elif kind == "value":
            lines.append(json.dumps(draw(_JSON_VALUE), allow_nan=True).encode())
        else:
            lines.append(draw(st.binary(max_size=10)) + draw(_BAD_BYTES))
    return b"\n".join(lines), valid


@given(_json_lines("user_id", "item_id", {}))
def test_jsonl_reader_never_crashes_or_loses_rows(content: tuple[bytes, list[tuple[str, str]]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "e.jsonl"
        path.write_bytes(content[0])
        _check_import(path, "jsonl", content[1])


@given(_json_lines("reviewerID", "asin", {"overall": 4.0, "unixReviewTime": 1_400_000_000}))
def test_amazon_reader_never_crashes_or_loses_rows(content: tuple[bytes, list[tuple[str, str]]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "reviews.json"
        path.write_bytes(content[0])
        _check_import(path, "amazon", content[1])


@settings(max_examples=15)
@given(_lines(" "))
def test_store_import_keeps_the_invariant(content: tuple[bytes, list[tuple[str, str]]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "seq.txt"
        path.write_bytes(content[0])
        store = Store.open(Path(tmp) / "s.db")
        summary = import_path(store, path, format="sequence", batch_size=4, rejects_path=Path(tmp) / "r.jsonl")
        assert summary.is_balanced()
        assert store.counts()["events"] == summary.stored
        lines = (Path(tmp) / "r.jsonl").read_text().splitlines()
        assert len(lines) == summary.rejected
        store.close()


@pytest.mark.parametrize(
    ("content", "name", "error", "fragment"),
    [
        (b"", "empty.txt", FormatError, "cannot detect the format"),
        (b"a;b;c\n", "x.weird", FormatError, "cannot detect the format"),
        (b"\xff\xfe,x\n1,2\n", "bad.csv", FormatError, "header is not valid UTF-8"),
        (b"foo,bar\n1,2\n", "cols.csv", DataError, "cannot tell what the rows are"),
        (b"user_id\titem_id\n1\t2\n", "x.inter", FormatError, "name:type"),
        (b"PAR1garbage", "x.parquet", FormatError, "not a readable Parquet file"),
    ],
)
def test_bad_inputs_raise_clear_errors(
    tmp_path: Path, content: bytes, name: str, error: type[Exception], fragment: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(error, match=fragment):
        load_dataset(path)


def test_empty_files_import_nothing(tmp_path: Path) -> None:
    for name in ("e.csv", "e.jsonl", "u.data", "x.inter"):
        path = tmp_path / name
        path.write_bytes(b"")
        dataset, summary = load_dataset(path)
        assert (summary.read, dataset.n_interactions) == (0, 0), name


def test_store_error_names_the_batch(tmp_path: Path) -> None:
    path = tmp_path / "seq.txt"
    path.write_text("1 a\n")
    store = Store.open(tmp_path / "s.db")
    with store.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE events"))
    with pytest.raises(StoreError, match="batch of 1 events"):
        import_path(store, path)
