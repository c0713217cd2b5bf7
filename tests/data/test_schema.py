"""Validation: a table of bad rows with the field and reason expected, content ids, fast paths vs reference."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lmrec.data.columns import Columns
from lmrec.data.schema import (
    DEFAULT_EVENT_TYPES,
    MAX_ID_LENGTH,
    _id_text,
    validate_events,
    validate_items,
    validate_users,
)
from lmrec.diagnostics import DataError


@pytest.mark.parametrize(
    ("row", "field", "fragment"),
    [
        ({Columns.User: None, Columns.Item: "i"}, Columns.User, "an id is required"),
        ({Columns.User: "  ", Columns.Item: "i"}, Columns.User, "an id is required"),
        ({Columns.User: "u", Columns.Item: 1.5}, Columns.Item, "an id is required"),
        ({Columns.User: "u", Columns.Item: "x" * (MAX_ID_LENGTH + 1)}, Columns.Item, "at most 256 characters"),
        ({Columns.User: "u\x00", Columns.Item: "i"}, Columns.User, "control characters"),
        ({Columns.User: "u", Columns.Item: "i\u2028j"}, Columns.Item, "control characters"),
        ({Columns.User: "u", Columns.Item: "i\x1fj"}, Columns.Item, "control characters"),
        ({Columns.User: "u", Columns.Item: "i", Columns.Type: "teleport"}, Columns.Type, "unknown event type"),
        ({Columns.User: "u", Columns.Item: "i", Columns.Value: "abc"}, Columns.Value, "finite number"),
        ({Columns.User: "u", Columns.Item: "i", Columns.Value: 1e10}, Columns.Value, "finite number"),
        ({Columns.User: "u", Columns.Item: "i", Columns.Type: "rating"}, Columns.Value, "needs a numeric value"),
        ({Columns.User: "u", Columns.Item: "i", Columns.Timestamp: -1}, Columns.Timestamp, "between 1970 and 2200"),
        ({Columns.User: "u", Columns.Item: "i", Columns.Timestamp: 1e13}, Columns.Timestamp, "between 1970 and 2200"),
        ({Columns.User: "u", Columns.Item: "i", Columns.Timestamp: "yesterday"}, Columns.Timestamp, "ISO date"),
        ({Columns.User: "u", Columns.Item: "i", Columns.Context: "[1]"}, Columns.Context, "JSON object"),
        ({Columns.User: "u", Columns.Item: "i", Columns.Context: "{bad"}, Columns.Context, "JSON object"),
    ],
)
def test_bad_events_are_rejected_naming_field_and_reason(row: dict[str, Any], field: str, fragment: str) -> None:
    good = {Columns.User: "ok", Columns.Item: "ok"}
    frame = pd.DataFrame([good, row, good])
    checked = validate_events(frame, DEFAULT_EVENT_TYPES, first_row=10)
    assert len(checked.valid) == 2
    reject = checked.rejects.iloc[0]
    assert (reject["row"], reject["field"]) == (11, field)
    assert fragment in reject["reason"]


@pytest.mark.parametrize(
    ("row", "field", "fragment"),
    [
        ({Columns.Item: ""}, Columns.Item, "an id is required"),
        ({Columns.Item: "i", Columns.Title: b"\xff"}, Columns.Title, "UTF-8"),
        ({Columns.Item: "i", Columns.Title: {"a": 1}}, Columns.Title, "must be text"),
        ({Columns.Item: "i", Columns.Description: "x" * 20_001}, Columns.Description, "at most 20000"),
        ({Columns.Item: "i", Columns.Tags: "[1, 2]"}, Columns.Tags, "list of strings"),
        ({Columns.Item: "i", Columns.Price: -1}, Columns.Price, "between 0 and"),
        ({Columns.Item: "i", Columns.Price: "free"}, Columns.Price, "between 0 and"),
        ({Columns.Item: "i", Columns.Available: "maybe"}, Columns.Available, "true or false"),
        ({Columns.Item: "i", Columns.CreatedAt: "soon"}, Columns.CreatedAt, "ISO date"),
    ],
)
def test_bad_items_are_rejected_naming_field_and_reason(row: dict[str, Any], field: str, fragment: str) -> None:
    checked = validate_items(pd.DataFrame([row]))
    assert checked.valid.empty
    assert checked.rejects[["row", "field"]].values.tolist() == [[1, field]]
    assert fragment in checked.rejects["reason"].iloc[0]


def test_unknown_columns_raise_a_data_error() -> None:
    with pytest.raises(DataError, match="unknown column"):
        validate_users(pd.DataFrame({Columns.User: ["u"], "age": [3]}))


def test_normalisation_of_valid_events() -> None:
    frame = pd.DataFrame(
        {
            Columns.User: [" u1 ", 7],
            Columns.Item: ["i1", np.int64(3)],
            Columns.Type: [" Click", None],
            Columns.Timestamp: ["2024-01-01T00:00:00Z", 5],
            Columns.Context: ['{"b": 1, "a": 2}', None],
        }
    )
    valid = validate_events(frame).valid
    assert valid[Columns.User].tolist() == ["u1", "7"]
    assert valid[Columns.Item].tolist() == ["i1", "3"]
    assert valid[Columns.Type].tolist() == ["click", "view"]
    assert valid[Columns.Timestamp].tolist() == [1_704_067_200.0, 5.0]
    assert valid[Columns.Context].tolist() == ['{"a": 2, "b": 1}', None]


def test_content_id_is_a_stable_known_hash() -> None:
    """The id format is part of the store's data: changing it would store re-imports twice."""
    frame = pd.DataFrame(
        {
            Columns.User: ["u"],
            Columns.Item: ["i"],
            Columns.Type: ["rating"],
            Columns.Value: [4.0],
            Columns.Timestamp: [10],
        }
    )
    key = "u\x1fi\x1frating\x1f4.0\x1f10.0"
    expected = "h:" + hashlib.blake2b(key.encode(), digest_size=12).hexdigest()
    assert validate_events(frame).valid[Columns.Event].tolist() == [expected]
    no_value = frame.drop(columns=[Columns.Value]).assign(**{Columns.Type: "view"})
    key = "u\x1fi\x1fview\x1f\x1f10.0"
    assert (
        validate_events(no_value).valid[Columns.Event].iloc[0]
        == "h:" + hashlib.blake2b(key.encode(), digest_size=12).hexdigest()
    )


_IDS = st.one_of(
    st.none(),
    st.text(max_size=6),
    st.sampled_from([" a ", "\t", "x" * 300, "a\x00b", "é", "\u2029", "  ", "\x1fa", "a\u2028b", "\xa0b"]),
)


@given(st.lists(_IDS, min_size=1, max_size=20))
def test_vectorised_text_ids_match_the_reference(ids: list[str | None]) -> None:
    """The Arrow fast path for text ids agrees with the plain per-value rules."""
    frame = pd.DataFrame({Columns.User: pd.Series(ids, dtype=object), Columns.Item: "i"})
    checked = validate_events(frame)
    expected_valid = []
    for value in ids:
        text = _id_text(value)
        if text is None or len(text) > MAX_ID_LENGTH:
            continue
        if any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F or ch in "\u2028\u2029" for ch in text):
            continue
        expected_valid.append(text)
    assert checked.valid[Columns.User].tolist() == expected_valid
    assert len(checked.valid) + len(checked.rejects) == len(ids)


_ANY = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(),
    st.text(max_size=8),
    st.binary(max_size=4),
    st.lists(st.text(max_size=3), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@given(
    st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                c: _ANY
                for c in (
                    Columns.User,
                    Columns.Item,
                    Columns.Type,
                    Columns.Value,
                    Columns.Timestamp,
                    Columns.Context,
                    Columns.Event,
                )
            },
        ),
        min_size=1,
        max_size=8,
    )
)
def test_validate_events_accounts_for_every_row(rows: list[dict[str, Any]]) -> None:
    frame = pd.DataFrame(rows)
    checked = validate_events(frame)
    assert len(checked.valid) + len(checked.rejects) == len(frame)
    assert checked.rejects["row"].is_unique
    assert checked.valid[Columns.Event].map(lambda v: isinstance(v, str) and len(v) > 0).all()


@given(
    st.lists(
        st.fixed_dictionaries(
            {Columns.Item: _ANY},
            optional={
                c: _ANY
                for c in (
                    Columns.Title,
                    Columns.Tags,
                    Columns.Price,
                    Columns.Attributes,
                    Columns.Available,
                    Columns.CreatedAt,
                )
            },
        ),
        min_size=1,
        max_size=8,
    )
)
def test_validate_items_accounts_for_every_row(rows: list[dict[str, Any]]) -> None:
    checked = validate_items(pd.DataFrame(rows))
    assert len(checked.valid) + len(checked.rejects) == len(rows)
