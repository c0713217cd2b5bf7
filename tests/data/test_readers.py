"""Readers: known-answer files for every format, format detection, and the real benchmark folders."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest

from lmrec.data.columns import Columns
from lmrec.data.readers import FORMATS, RawBatch, detect_format, read_source
from lmrec.diagnostics import ConfigError, DataError, FormatError


def _write(path: Path, text: str | bytes, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode(encoding))
    return path


def _read(path: Path, **kwargs: object) -> dict[str, pd.DataFrame]:
    """All batches of a source, concatenated per kind, with reject tables under '<kind>_rejects'."""
    out: dict[str, list[pd.DataFrame]] = {}
    for batch in read_source(path, **kwargs):  # type: ignore[arg-type]
        assert isinstance(batch, RawBatch)
        assert len(batch.row_numbers()) == len(batch.frame)
        out.setdefault(batch.kind, []).append(batch.frame)
        out.setdefault(batch.kind + "_rejects", []).append(batch.read_rejects)
    return {k: pd.concat(v, ignore_index=True) for k, v in out.items()}


U_ITEM = (
    "1|Toy Story (1995)|01-Jan-1995||http://x|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
    "2|Caf\xe9 (1996)|01-Jan-1996||http://y|0|1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
)


def test_movielens_100k_files(tmp_path: Path) -> None:
    folder = tmp_path / "ml"
    _write(folder / "u.data", "2\t1\t4\t100\n1\t2\t5\t50\n1\t10\t3\t50\n1\t9\t3\t50\nbroken line\n")
    _write(folder / "u.item", U_ITEM, encoding="latin-1")
    _write(folder / "u.user", "1|24|M|technician|85711\n2|53|F|other|94043\n")
    assert detect_format(folder) == "movielens"
    assert detect_format(folder / "u.data") == "movielens"
    got = _read(folder / "u.data")
    events = got["events"]
    # sorted by user, then time, then item id as a number (9 before 10)
    assert events[Columns.Item].tolist() == ["2", "9", "10", "1"]
    assert events[Columns.Type].unique().tolist() == ["rating"]
    assert events[Columns.Value].tolist() == [5.0, 3.0, 3.0, 4.0]
    rejects = got["events_rejects"]
    assert rejects["row"].tolist() == [5] and "expected 4 fields" in rejects["reason"].iloc[0]
    items = got["items"].set_index(Columns.Item)
    assert items.loc["1", Columns.Title] == "Toy Story (1995)"
    assert json.loads(items.loc["1", Columns.Tags]) == ["Animation", "Children's", "Comedy"]
    assert items.loc["1", Columns.Category] == "Animation"
    assert items.loc["2", Columns.Title] == "Café (1996)"  # latin-1 decoded
    assert json.loads(got["users"][Columns.Attributes].iloc[0])["occupation"] == "technician"


def test_movielens_1m_and_latest_files(tmp_path: Path) -> None:
    one = tmp_path / "ml-1m"
    _write(one / "ratings.dat", "1::1193::5::978300760\n1::661::3::978302109\n")
    _write(one / "movies.dat", "1193::One Flew (1975)::Drama\n661::James (1996)::Animation|Children's\n", "latin-1")
    _write(one / "users.dat", "1::F::1::10::48067\n")
    got = _read(one)
    assert sorted(got) == ["events", "events_rejects", "items", "items_rejects", "users", "users_rejects"]
    assert got["events"][Columns.Item].tolist() == ["1193", "661"]
    assert json.loads(got["users"][Columns.Attributes].iloc[0]) == {
        "age": "1",
        "gender": "F",
        "occupation": "10",
        "zip_code": "48067",
    }
    latest = tmp_path / "ml-latest"
    _write(latest / "ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,4.5,964981247\n")
    _write(
        latest / "movies.csv",
        'movieId,title,genres\n1,"Toy Story, The (1995)",Adventure|Animation\n3,Heat (1995),(no genres listed)\n',
    )
    assert detect_format(latest / "ratings.csv") == "movielens"
    got = _read(latest / "ratings.csv")
    assert got["events"][Columns.Value].tolist() == [4.5, 4.0]  # earlier timestamp first
    items = got["items"].set_index(Columns.Item)
    assert items.loc["1", Columns.Title] == "Toy Story, The (1995)"
    assert json.loads(items.loc["3", Columns.Tags]) == []


def test_recbole_atomic_files(tmp_path: Path) -> None:
    folder = tmp_path / "rb"
    _write(
        folder / "x.inter",
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t20\t3\t5\n1\t3\t4\t5\n2\t3\tfive\t1\n",
    )
    _write(
        folder / "x.item",
        "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n3\tHeat\t1995\tAction Crime\n",
    )
    _write(folder / "x.user", "user_id:token\tage:token\n1\t24\n")
    assert detect_format(folder) == "recbole"
    got = _read(folder)
    events = got["events"]
    assert events[Columns.Item].tolist() == ["3", "20", "3"]  # tie on time broken by item id
    assert events[Columns.Value].tolist()[:2] == [4.0, 3.0] and events[Columns.Value].iloc[2] == "five"
    item = got["items"].iloc[0]
    assert item[Columns.Title] == "Heat" and json.loads(item[Columns.Tags]) == ["Action", "Crime"]
    assert json.loads(item[Columns.Attributes]) == {"release_year": "1995"}
    _write(tmp_path / "bad.inter", "user_id\titem_id\n1\t2\n")
    with pytest.raises(FormatError, match="name:type"):
        _read(tmp_path / "bad.inter")


def test_amazon_reviews_2014_2018_2023(tmp_path: Path) -> None:
    lines_2014 = [
        {"reviewerID": "A1", "asin": "B1", "overall": 5.0, "unixReviewTime": 1400000000, "summary": "ok"},
        {
            "reviewerID": "A2",
            "asin": "B2",
            "overall": 4.0,
            "unixReviewTime": 1400000001,
            "vote": "3",
            "style": {"Size:": "L"},
            "verified": True,
        },
    ]
    text = (
        "\n".join(json.dumps(r) for r in lines_2014) + "\n{'reviewerID': 'A3', 'asin': 'B3', 'overall': 1.0, "
        "'unixReviewTime': 1}\nnot json\n"
    )
    path = _write(tmp_path / "Beauty_5.json", text)
    assert detect_format(path) == "amazon"
    got = _read(path)
    events = got["events"]
    assert events[Columns.User].tolist() == ["A1", "A2", "A3"]  # the Python-literal line is read too
    assert json.loads(events[Columns.Context].iloc[1]) == {"style": {"Size:": "L"}, "verified": True, "vote": "3"}
    assert got["events_rejects"]["row"].tolist() == [4]
    rec_2023 = {"user_id": "U", "parent_asin": "P", "asin": "C", "rating": 4.0, "timestamp": 1_600_000_000_123}
    path = tmp_path / "All_Beauty.jsonl.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(json.dumps(rec_2023) + "\n")
    events = _read(path)["events"]
    assert events[Columns.Item].iloc[0] == "P"
    assert events[Columns.Timestamp].iloc[0] == pytest.approx(1_600_000_000.123)  # milliseconds -> seconds
    assert json.loads(events[Columns.Context].iloc[0]) == {"asin": "C"}


def test_amazon_metadata_2014_and_2023(tmp_path: Path) -> None:
    meta_2014 = (
        "{'asin': 'B1', 'title': 'Soap', 'categories': [['Beauty', 'Bath'], ['Gifts']], 'brand': 'Acme', "
        "'price': 3.5, 'salesRank': {'Beauty': 10}}\n"
    )
    meta_2023 = {
        "parent_asin": "P",
        "title": "Cream",
        "main_category": "All Beauty",
        "categories": ["Skin"],
        "price": None,
        "description": ["Soft.", "Nice."],
        "details": {"Brand": "Nivea"},
    }
    path = _write(tmp_path / "meta" / "meta_Beauty.json", meta_2014 + json.dumps(meta_2023) + "\n")
    items = _read(path)["items"].set_index(Columns.Item)
    assert items.loc["B1", Columns.Category] == "Beauty > Bath"
    assert json.loads(items.loc["B1", Columns.Tags]) == ["Beauty", "Bath", "Gifts"]
    assert items.loc["B1", Columns.Brand] == "Acme" and items.loc["B1", Columns.Price] == 3.5
    assert items.loc["P", Columns.Description] == "Soft. Nice."
    assert items.loc["P", Columns.Brand] == "Nivea" and items.loc["P", Columns.Category] == "All Beauty"
    path = _write(tmp_path / "meta2.json", json.dumps({"asin": "X", "title": "t", "price": "$1.00 - $2.00"}) + "\n")
    item = _read(path)["items"].iloc[0]
    assert pd.isna(item[Columns.Price]) and json.loads(item[Columns.Attributes]) == {"price_text": "$1.00 - $2.00"}


def test_sequence_file_with_unknown_item(tmp_path: Path) -> None:
    path = _write(tmp_path / "seq.txt", "1\t10 11 ? 12\n2 13\n\n3\n")
    assert detect_format(path) == "sequence"
    got = _read(path)
    events = got["events"]
    assert events[Columns.Item].tolist() == ["10", "11", "12", "13"]
    assert events[Columns.Timestamp].tolist() == [0.0, 1.0, 3.0, 0.0]  # '?' keeps its position
    assert events[Columns.Type].unique().tolist() == ["view"]
    rejects = got["events_rejects"]
    assert rejects["row"].tolist() == [1, 4]
    assert "unknown item" in rejects["reason"].iloc[0] and rejects["value"].iloc[0] == "?"
    assert "at least one item" in rejects["reason"].iloc[1]


def test_sequence_folder_merges_item_files(tmp_path: Path) -> None:
    folder = tmp_path / "beauty"
    _write(folder / "sequences.txt", "1 1 2\n2 2\n")
    _write(folder / "item_attributes.json", json.dumps({"1": [4, 7], "2": [5]}))
    _write(folder / "item_asin.tsv", "s3rec_item_id\tasin\n1\tB00A\n2\tB00B\n")
    assert detect_format(folder) == "sequence-folder"
    items = _read(folder)["items"].set_index(Columns.Item)
    assert json.loads(items.loc["1", Columns.Tags]) == ["attribute 4", "attribute 7"]
    assert json.loads(items.loc["2", Columns.Attributes]) == {"asin": "B00B"}


def test_llmrank_folder_recovers_sequences_and_checks_valid(tmp_path: Path) -> None:
    folder = tmp_path / "games"
    header = "user_id:token\titem_id_list:token_seq\titem_id:token\n"
    _write(folder / "items.tsv", "item_id:token\ttitle:token_seq\n0\tZelda\n")
    _write(folder / "test.tsv", header + "0\t0 1 2\t3\n1\t4\t5\n")
    _write(folder / "valid.tsv", header + "0\t0 1\t2\n1\t6\t4\n")
    assert detect_format(folder) == "llmrank-folder"
    got = _read(folder)
    events = got["events"]
    assert events[Columns.Item].tolist() == ["0", "1", "2", "3", "4", "5"]
    assert events[Columns.Timestamp].tolist() == [0.0, 1.0, 2.0, 3.0, 0.0, 1.0]
    assert got["items"][Columns.Title].tolist() == ["Zelda"]
    _write(folder / "valid.tsv", header + "0\t0 1\t9\n")
    with pytest.raises(FormatError, match="disagrees"):
        _read(folder)


def test_csv_with_mapping_and_extras(tmp_path: Path) -> None:
    path = _write(tmp_path / "log.csv", "who,what,when,device\nu1,i1,2024-01-01T00:00:00Z,ios\nu2,i2,5\nu3,i3,7,\n")
    got = _read(path, mapping={"who": Columns.User, "what": Columns.Item, "when": Columns.Timestamp})
    events = got["events"]
    assert events[Columns.User].tolist() == ["u1", "u3"]
    assert json.loads(events[Columns.Context].iloc[0]) == {"device": "ios"}
    assert events[Columns.Context].iloc[1] is None
    assert got["events_rejects"]["row"].tolist() == [3]
    with pytest.raises(DataError, match="does not have"):
        _read(path, mapping={"nope": Columns.User})
    with pytest.raises(DataError, match="unknown lmrec field"):
        _read(path, mapping={"who": "person"})


def test_csv_aliases_and_value_means_rating(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.tsv", "userId\tmovieId\trating\n1\t2\t3.5\n")
    events = _read(path)["events"]
    assert list(events.columns) == [Columns.User, Columns.Item, Columns.Value, Columns.Type]
    assert events[Columns.Type].iloc[0] == "rating"
    items = _read(_write(tmp_path / "items.csv", "item_id,title,price\nA,Lamp,9.5\n"))["items"]
    assert items[Columns.Title].tolist() == ["Lamp"]


def test_parquet_and_jsonl(tmp_path: Path) -> None:
    frame = pd.DataFrame({"u": ["a", "b"], "i": ["x", "y"], "ts": [1.0, 2.0], "extra": [1, None]})
    path = tmp_path / "e.parquet"
    frame.to_parquet(path)
    assert detect_format(path) == "parquet"
    events = _read(path, mapping={"u": Columns.User, "i": Columns.Item, "ts": Columns.Timestamp})["events"]
    assert events[Columns.Item].tolist() == ["x", "y"]
    assert json.loads(events[Columns.Context].iloc[0]) == {"extra": 1.0}
    path = _write(tmp_path / "e.jsonl", '{"user_id": "a", "item_id": "b", "type": "click"}\n[1]\n{"user_id": "c"\n')
    assert detect_format(path) == "jsonl"
    got = _read(path)
    assert got["events"][Columns.Type].tolist() == ["click"]
    assert got["events_rejects"]["row"].tolist() == [2, 3]


def test_detect_format_errors(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="no such file"):
        detect_format(tmp_path / "missing.csv")
    odd = _write(tmp_path / "notes.md", "# hello, world\n")
    with pytest.raises(FormatError) as error:
        detect_format(odd)
    for name in FORMATS:
        assert name in str(error.value)
    with pytest.raises(FormatError, match="cannot detect"):
        detect_format(tmp_path)  # an empty folder
    with pytest.raises(ConfigError, match="unknown format"):
        list(read_source(odd, format="excel"))
    with pytest.raises(ConfigError, match="column mapping"):
        list(read_source(odd, format="sequence", mapping={"a": Columns.User}))
    assert detect_format(_write(tmp_path / "x.dat", "7 1 2 3\n")) == "sequence"


@pytest.mark.data
def test_real_ml100k_and_games(shared_data: Path) -> None:
    got = _read(shared_data / "ml-100k")
    assert (len(got["events"]), len(got["items"]), len(got["users"])) == (100_000, 1682, 943)
    assert got["events_rejects"].empty
    events = _read(shared_data / "amazon-games")["events"]
    assert len(events) == 440_264  # the data README's count of recoverable interactions
    assert events[Columns.User].nunique() == 50_546


@pytest.mark.data
@pytest.mark.slow
def test_real_ml1m(shared_data: Path) -> None:
    got = _read(shared_data / "ml-1m")
    assert len(got["events"]) == 999_611 - 5_528 and len(got["events_rejects"]) == 5_528
    assert (len(got["items"]), len(got["users"])) == (3416, 6040)
