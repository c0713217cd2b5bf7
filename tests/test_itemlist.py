"""`ItemList`: immutable, shape-checked, and its top-k equals a plain sort."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lmrec.data.vocabulary import Vocabulary
from lmrec.itemlist import ItemList, top_k_positions

VOCAB = Vocabulary([f"i{n}" for n in range(6)])


def test_lists_are_read_only_and_columns_must_fit() -> None:
    items = ItemList.from_index(VOCAB, np.array([2, 0]), np.array([0.5, 0.1]), source=np.array(["model", "text"]))
    with pytest.raises(ValueError):
        items.scores[0] = 1.0
    with pytest.raises(ValueError, match="column 'bad' has 3 values for 2 items"):
        items.with_column("bad", [1, 2, 3])
    assert items.ids.tolist() == ["i2", "i0"] and items.column("source").tolist() == ["model", "text"]
    with pytest.raises(KeyError, match="has no column 'reason'"):
        items.column("reason")
    unknown = ItemList.from_ids(VOCAB, ["i1", "zz"])
    assert unknown.index.tolist() == [1, -1] and np.isnan(unknown.scores).all()


def test_ranked_take_and_frame() -> None:
    items = ItemList.from_index(VOCAB, np.array([0, 1, 2, 3]), np.array([0.2, np.nan, 0.9, 0.2]))
    assert items.ranked().ids.tolist() == ["i2", "i0", "i3", "i1"]  # NaN last, ties in list order
    assert items.ranked(2).ids.tolist() == ["i2", "i0"]
    frame = items.take([2, 0]).to_frame()
    assert frame["item_id"].tolist() == ["i2", "i0"] and frame["score"].tolist() == [0.9, 0.2]


@given(
    st.lists(st.one_of(st.floats(-5, 5), st.just(float("nan"))), min_size=0, max_size=30),
    st.integers(0, 40),
    st.sets(st.integers(0, 29), max_size=10),
)
def test_top_k_positions_equals_a_plain_sort(values: list[float], k: int, exclude: set[int]) -> None:
    scores = np.array(values, dtype=np.float64)
    excluded = np.array(sorted(i for i in exclude if i < len(scores)), dtype=np.int64)
    got = top_k_positions(scores, k, exclude=excluded)
    allowed = [i for i in range(len(scores)) if i not in set(excluded.tolist()) and not np.isnan(scores[i])]
    expected = sorted(allowed, key=lambda i: (-scores[i], i))[:k]
    assert got.tolist() == expected
