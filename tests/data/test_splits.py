"""Splits: known answers on a small table, invariants on random data, and bad-input errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lmrec.data.columns import Columns
from lmrec.data.dataset import Dataset
from lmrec.data.splits import (
    SPLITS,
    Split,
    cold_items,
    cold_users,
    held_out_items,
    leave_last_out,
    time_cut,
    validation_split,
)
from lmrec.diagnostics import ConfigError, DataError

# user, item, timestamp: u1 has a timestamp tie (a then b at t=3, b is last by arrival),
# u2 has one interaction only, u3 repeats item a after the cut, u4 appears only after t=10.
ROWS = [
    ("u1", "a", 1),
    ("u1", "c", 2),
    ("u1", "a", 3),
    ("u1", "b", 3),
    ("u2", "c", 5),
    ("u3", "a", 4),
    ("u3", "b", 6),
    ("u3", "d", 12),
    ("u3", "a", 13),
    ("u3", "e", 14),
    ("u4", "d", 11),
    ("u4", "e", 15),
]


def toy() -> Dataset:
    frame = pd.DataFrame(ROWS, columns=[Columns.User, Columns.Item, Columns.Timestamp])
    items = pd.DataFrame({Columns.Item: ["a", "b", "c", "d", "e", "f"], Columns.Title: list("ABCDEF")})
    return Dataset.from_frames(frame.assign(**{Columns.Timestamp: frame[Columns.Timestamp].astype(float)}), items)


def pairs(split: Split, data: Dataset) -> list[tuple[str, str]]:
    users = data.users.id(split.test[Columns.UserIdx].to_numpy())
    items = data.items.id(split.test[Columns.ItemIdx].to_numpy())
    return list(zip(users.tolist(), items.tolist(), strict=True))


def history_ids(split: Split, data: Dataset) -> dict[str, list[str]]:
    h = split.histories
    return {str(data.users.id(int(u))): data.items.id(h.row(b)).tolist() for b, u in enumerate(h.users)}


def check_shape(split: Split, data: Dataset) -> None:
    """What every split promises: shared vocabularies, test columns, history rows per test user."""
    assert split.train.items is data.items and split.train.users is data.users
    assert split.train.item_table is data.item_table
    assert list(split.test.columns) == [Columns.UserIdx, Columns.ItemIdx]
    assert split.test[Columns.UserIdx].is_monotonic_increasing
    assert not split.test.duplicated().any()
    assert np.array_equal(split.histories.users, np.unique(split.test[Columns.UserIdx]))


def test_leave_last_out_known_answer() -> None:
    data = toy()
    split = leave_last_out(data)
    check_shape(split, data)
    assert split.name == "leave-last-out"
    assert pairs(split, data) == [("u1", "b"), ("u3", "e"), ("u4", "e")]
    assert history_ids(split, data) == {"u1": ["a", "c", "a"], "u3": ["a", "b", "d", "a"], "u4": ["d"]}
    # u2 has one interaction: not tested, kept in train
    assert split.train.n_interactions == len(ROWS) - 3
    u2 = data.users.index("u2")[0]
    assert split.train.histories(np.array([u2])).row(0).tolist() == [data.items.index("c")[0]]


def test_leave_last_out_min_interactions() -> None:
    data = toy()
    split = leave_last_out(data, min_interactions=3)
    assert pairs(split, data) == [("u1", "b"), ("u3", "e")]
    split = leave_last_out(data, min_interactions=1)
    assert ("u2", "c") in pairs(split, data)
    assert history_ids(split, data)["u2"] == []


def test_validation_split_is_second_to_last() -> None:
    data = toy()
    valid = validation_split(leave_last_out(data))
    check_shape(valid, data)
    assert valid.name == "leave-last-out-validation"
    assert pairs(valid, data) == [("u1", "a"), ("u3", "a")]
    assert valid.train.n_interactions == len(ROWS) - 5


def test_time_cut_known_answer() -> None:
    data = toy()
    split = time_cut(data, at=10)
    check_shape(split, data)
    # u3's post-cut "a" repeats its history and is dropped; u4 has no pre-cut history
    assert pairs(split, data) == [("u3", "d"), ("u3", "e")]
    assert history_ids(split, data) == {"u3": ["a", "b"]}
    assert (split.train.interactions[Columns.Timestamp] <= 10).all()
    assert split.train.n_interactions == 7


def test_time_cut_default_share() -> None:
    data = toy()
    split = time_cut(data, test_share=0.25)  # 3 of 12 interactions are later than t=12
    assert split.train.n_interactions == 9
    assert pairs(split, data) == [("u3", "e"), ("u4", "e")]


def test_cold_items_known_answer() -> None:
    data = toy()
    split = cold_items(data, at=10)
    check_shape(split, data)
    # d and e are first seen after t=10: no train interaction, still in the catalogue
    counts = split.train.item_counts()
    assert counts[data.items.index(["d", "e"])].tolist() == [0, 0]
    assert split.train.n_items == 6 and split.train.item_table[Columns.Title].tolist() == list("ABCDEF")
    assert pairs(split, data) == [("u3", "d"), ("u3", "e")]


def test_cold_users_known_answer_and_seed() -> None:
    data = toy()
    split = cold_users(data, share=0.5, seed=3, history=2)
    check_shape(split, data)
    assert split.name == "cold-user"
    held = set(history_ids(split, data))
    assert len(held) == 1 and held <= {"u1", "u3"}  # only users with > 2 interactions are eligible
    train_users = set(data.users.id(split.train.interactions[Columns.UserIdx].unique()).tolist())
    assert not held & train_users
    if held == {"u3"}:
        assert history_ids(split, data) == {"u3": ["a", "b"]}
        assert pairs(split, data) == [("u3", "d"), ("u3", "e")]
    else:
        assert history_ids(split, data) == {"u1": ["a", "c"]}
        assert pairs(split, data) == [("u1", "b")]
    again = cold_users(data, share=0.5, seed=3, history=2)
    assert again.test.equals(split.test)


def test_cold_users_seed_changes_the_draw() -> None:
    frame = pd.DataFrame(
        {Columns.User: np.repeat(np.arange(200), 8), Columns.Item: np.tile(np.arange(8), 200), Columns.Timestamp: 0.0}
    )
    data = Dataset.from_frames(frame)
    draws = {tuple(cold_users(data, share=0.1, seed=s).histories.users) for s in range(3)}
    assert len(draws) == 3
    split = cold_users(data, share=0.1, seed=0)
    assert split.n_test_users == 20
    assert (split.histories.lengths() == 5).all()
    assert split.test.groupby(Columns.UserIdx).size().eq(3).all()


@pytest.mark.parametrize(
    ("call", "error", "fragment"),
    [
        (lambda d: leave_last_out(d, min_interactions=0), ConfigError, "min_interactions"),
        (lambda d: time_cut(d, test_share=1.5), ConfigError, "test_share"),
        (lambda d: time_cut(d, at=100), DataError, "no interaction is later"),
        (lambda d: cold_items(d, at=100), DataError, "no item is first seen"),
        (lambda d: cold_users(d, share=0.0), ConfigError, "share"),
        (lambda d: cold_users(d, history=50), DataError, "more than 50"),
    ],
)
def test_bad_arguments(call, error, fragment) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=fragment):
        call(toy())


def test_registry_names() -> None:
    assert set(SPLITS) == {"leave-last-out", "time", "cold-item", "cold-user", "held-out-items"}
    data = toy()
    for name, make in SPLITS.items():
        kwargs = {"share": 0.5, "history": 2} if name == "cold-user" else {}
        assert make(data, **kwargs).name == name


def random_frame(rows: list[tuple[int, int, int]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=[Columns.User, Columns.Item, Columns.Timestamp])
    return frame.astype({Columns.Timestamp: float})


events = st.lists(st.tuples(st.integers(0, 7), st.integers(0, 9), st.integers(0, 5)), min_size=1, max_size=60)


@given(events)
def test_leave_last_out_partitions_interactions(rows: list[tuple[int, int, int]]) -> None:
    frame = pd.DataFrame(rows, columns=[Columns.User, Columns.Item, Columns.Timestamp]).astype(
        {Columns.Timestamp: float}
    )
    data = Dataset.from_frames(frame)
    split = leave_last_out(data)
    inter = data.interactions
    # train + test == all interactions, and each test row is its user's last one
    last = inter.groupby(Columns.UserIdx).tail(1)
    counts = inter.groupby(Columns.UserIdx).size()
    expected = last[last[Columns.UserIdx].map(counts) >= 2][[Columns.UserIdx, Columns.ItemIdx]]
    assert split.test.reset_index(drop=True).equals(expected.reset_index(drop=True).astype(np.int64))
    assert split.train.n_interactions + len(split.test) == data.n_interactions
    for b, user in enumerate(split.histories.users):
        mine = inter[inter[Columns.UserIdx] == user][Columns.ItemIdx].to_numpy()
        assert split.histories.row(b).tolist() == mine[:-1].tolist()


@given(events, st.integers(0, 5))
def test_time_cut_targets_are_later_and_new(rows: list[tuple[int, int, int]], at: int) -> None:
    frame = pd.DataFrame(rows, columns=[Columns.User, Columns.Item, Columns.Timestamp]).astype(
        {Columns.Timestamp: float}
    )
    data = Dataset.from_frames(frame)
    try:
        split = time_cut(data, at=at)
    except DataError:
        return  # nothing after the cut, or no user on both sides
    inter = data.interactions
    for b, user in enumerate(split.histories.users):
        mine = inter[inter[Columns.UserIdx] == user]
        before = mine[mine[Columns.Timestamp] <= at][Columns.ItemIdx].tolist()
        after = mine[mine[Columns.Timestamp] > at][Columns.ItemIdx].tolist()
        targets = split.test[split.test[Columns.UserIdx] == user][Columns.ItemIdx].tolist()
        assert split.histories.row(b).tolist() == before
        assert targets == list(dict.fromkeys(i for i in after if i not in before))


def test_ties_broken_by_item_id_reorder_only_equal_timestamps() -> None:
    """u1 touched a then b at t=3 in arrival order; by item id b and a swap only if b < a."""
    frame = pd.DataFrame(
        [("u1", "10", 1.0), ("u1", "9", 3.0), ("u1", "2", 3.0), ("u1", "30", 4.0), ("u2", "9", 1.0)],
        columns=[Columns.User, Columns.Item, Columns.Timestamp],
    )
    data = Dataset.from_frames(frame)
    assert data.items.id(data.histories().row(0)).tolist() == ["10", "9", "2", "30"]
    tied = data.with_ties_broken_by_item_id()
    assert tied.items.id(tied.histories().row(0)).tolist() == ["10", "2", "9", "30"]  # 2 < 9 as integers
    assert pairs(leave_last_out(tied), tied) == [("u1", "30")]
    words = Dataset.from_frames(frame.assign(**{Columns.Item: ["k", "z", "b", "q", "z"]}))
    assert words.items.id(words.with_ties_broken_by_item_id().histories().row(0)).tolist() == ["k", "b", "z", "q"]


def test_held_out_items_known_answer() -> None:
    """With seed 0 and share 0.4 two of the five seen items are held out; whatever they are, the
    split must remove every interaction with them and test exactly the users whose last item is one."""
    data = toy()
    split = held_out_items(data, share=0.4, seed=0)
    held = set(range(data.n_items)) - set(split.train.interactions[Columns.ItemIdx])
    held_ids = {str(i) for i in data.items.id(np.array(sorted(held)))} - {"f"}  # f was never seen
    assert len(held_ids) == 2
    last = {u: rows[-1] for u, rows in _timelines().items()}
    expected = sorted((u, i) for u, i in last.items() if i in held_ids and _rest(u, held_ids))
    assert expected and sorted(pairs(split, data)) == expected
    for user, items in history_ids(split, data).items():
        assert not set(items) & held_ids
        assert items == [i for i in _timelines()[user][:-1] if i not in held_ids]
    check_shape(split, data)
    assert SPLITS["held-out-items"] is held_out_items


def _timelines() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for user, item, _ in ROWS:
        out.setdefault(user, []).append(item)
    return out


def _rest(user: str, held: set[str]) -> bool:
    return any(i not in held for i in _timelines()[user][:-1])


@pytest.mark.parametrize("seed", range(6))
def test_held_out_items_seeds_vary_and_never_leak(seed: int) -> None:
    data = toy()
    try:
        split = held_out_items(data, share=0.4, seed=seed)
    except DataError:
        return  # some draws hold out no user's last item on this tiny table
    targets = set(split.test[Columns.ItemIdx])
    assert not targets & set(split.train.interactions[Columns.ItemIdx])
