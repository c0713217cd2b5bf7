"""Train/test splits of a `Dataset` for offline evaluation.

Every split returns a `Split`: a training `Dataset` (derived with `Dataset.with_interactions`, so
it shares the vocabularies and the item table with the input and positions mean the same thing),
a test table of target items, and the input history of each test user. Models are fitted on
`train`, asked to score `histories`, and judged on how highly they rank `test`'s targets.

Conventions shared by every split:
- `test` has columns `Columns.UserIdx` and `Columns.ItemIdx`, one row per (user, target item),
  sorted by user position and then by time; a target is never repeated for one user.
- `histories` has one row per distinct test user, in ascending user position (the same order as
  `test`), and holds the items the model may look at for that user, oldest first.
- Splits that take targets from a later part of a user's timeline (time, cold-item, cold-user)
  drop targets the user already has in their input history: with seen items excluded from the
  ranking (the default protocol) such a target could never be hit. Leave-last-out keeps the last
  item whatever it is, as the published protocol does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lmrec.data.columns import Columns
from lmrec.data.dataset import Dataset, Histories
from lmrec.diagnostics import ConfigError, DataError

TEST_COLUMNS = (Columns.UserIdx, Columns.ItemIdx)


@dataclass(frozen=True)
class Split:
    """One train/test split.

    Attributes:
        name: the split's name, e.g. `leave-last-out`.
        train: interactions the model may learn from (same vocabularies as the source data).
        test: target rows, columns `Columns.UserIdx`, `Columns.ItemIdx`, sorted by user then time.
        histories: input history of each distinct test user, ascending user position.
    """

    name: str
    train: Dataset
    test: pd.DataFrame
    histories: Histories

    @property
    def n_test_users(self) -> int:
        """Number of distinct test users."""
        return len(self.histories)

    def __repr__(self) -> str:
        return f"Split({self.name!r}, train={self.train!r}, {len(self.test)} targets, {self.n_test_users} test users)"


def leave_last_out(data: Dataset, *, min_interactions: int = 2) -> Split:
    """Each user's last interaction (by time, then arrival order) is their test target.

    Users with fewer than `min_interactions` interactions are not tested; all their
    interactions stay in train. A test user's input history is their train history.
    """
    if min_interactions < 1:
        raise ConfigError(f"min_interactions must be at least 1, got {min_interactions}")
    frame = data.interactions
    users = frame[Columns.UserIdx].to_numpy(dtype=np.int64)
    counts = np.bincount(users, minlength=data.n_users)
    ends = np.cumsum(counts)  # rows are sorted by user, so a user's last row is at ends[u] - 1
    tested = np.flatnonzero(counts >= min_interactions)
    last_rows = ends[tested] - 1
    is_test = np.zeros(len(frame), dtype=bool)
    is_test[last_rows] = True
    train = data.with_interactions(frame.loc[~is_test])
    test = _test_frame(users[last_rows], frame[Columns.ItemIdx].to_numpy(dtype=np.int64)[last_rows])
    return Split("leave-last-out", train, test, train.histories(tested.astype(np.int64)))


def validation_split(split: Split) -> Split:
    """Leave-last-out applied to `split.train`: the target is each user's second-to-last item.

    Used to tune hyperparameters without touching the test targets.
    """
    inner = leave_last_out(split.train)
    return Split(f"{split.name}-validation", inner.train, inner.test, inner.histories)


def time_cut(data: Dataset, at: float | None = None, *, test_share: float = 0.2) -> Split:
    """A global time cut: interactions after `at` are test, those at or before it train.

    Args:
        at: the cut (same unit as the timestamps); by default the timestamp below which
            `1 - test_share` of the interactions lie.
        test_share: share of interactions after the cut when `at` is None.

    Test users are users with at least one interaction on each side of the cut; their input
    history is their pre-cut interactions and their targets the distinct post-cut items not in
    that history. Users with only post-cut interactions are cold users (see `cold_users`).
    """
    stamps = data.interactions[Columns.Timestamp].to_numpy(dtype=np.float64)
    cut = _cut_time(stamps, at, test_share)
    before = stamps <= cut
    train = data.with_interactions(data.interactions.loc[before])
    after = data.interactions.loc[~before]
    if after.empty:
        raise DataError(f"no interaction is later than the cut {cut:g}; choose an earlier time", field="at", value=at)
    return _later_targets("time", train, after)


def cold_items(data: Dataset, at: float | None = None, *, test_share: float = 0.2) -> Split:
    """Items first seen after the cut are cold: test only on interactions with them.

    Args:
        at: the cut; by default the time after which `test_share` of the items that have any
            interaction are first seen.
        test_share: share of the interacted items that are cold when `at` is None.

    Train holds every interaction at or before the cut (none of them with a cold item, by
    definition). Cold items stay in the vocabulary and item table, so text-based models can
    still score them, but have no train interactions. Test users are users with pre-cut
    interactions; their history is those interactions and their targets the cold items they
    interacted with after the cut. Post-cut interactions with warm items are used for neither.
    """
    frame = data.interactions
    stamps = frame[Columns.Timestamp].to_numpy(dtype=np.float64)
    items = frame[Columns.ItemIdx].to_numpy(dtype=np.int64)
    first_seen = np.full(data.n_items, np.inf)
    np.minimum.at(first_seen, items, stamps)
    cut = _cut_time(first_seen[np.isfinite(first_seen)], at, test_share)
    train = data.with_interactions(frame.loc[stamps <= cut])
    is_cold = first_seen > cut  # items never interacted with are not cold targets: they have no rows
    later = frame.loc[(stamps > cut) & is_cold[items]]
    if later.empty:
        raise DataError(f"no item is first seen after the cut {cut:g}; choose an earlier time", field="at", value=at)
    return _later_targets("cold-item", train, later)


def cold_users(data: Dataset, *, share: float = 0.1, seed: int = 0, history: int = 5) -> Split:
    """A seeded random share of users is held out of train entirely.

    Only users with more than `history` interactions can be held out (they need at least one
    target); `share` is the share of those users, at least one when `share` > 0. A held-out
    user's query is their first `history` interactions as input history and the distinct later
    items not in that history as targets; this mimics a new user scored after a short session
    by a model that never trained on them.
    """
    if not 0.0 < share < 1.0:
        raise ConfigError(f"share must be between 0 and 1 (exclusive), got {share}")
    if history < 0:
        raise ConfigError(f"history must be at least 0, got {history}")
    frame = data.interactions
    users = frame[Columns.UserIdx].to_numpy(dtype=np.int64)
    counts = np.bincount(users, minlength=data.n_users)
    eligible = np.flatnonzero(counts > history)
    if len(eligible) == 0:
        raise DataError(f"no user has more than {history} interactions to hold out", field="history", value=history)
    n_held = max(1, round(share * len(eligible)))
    rng = np.random.default_rng(seed)
    held = np.sort(rng.choice(eligible, size=n_held, replace=False))
    is_held = np.zeros(data.n_users, dtype=bool)
    is_held[held] = True
    train = data.with_interactions(frame.loc[~is_held[users]])

    starts = np.concatenate([[0], np.cumsum(counts)])[:-1]
    rank_in_user = np.arange(len(frame)) - starts[users]  # 0 for each user's oldest interaction
    held_rows = is_held[users]
    query = held_rows & (rank_in_user < history)
    target = held_rows & (rank_in_user >= history)
    items = frame[Columns.ItemIdx].to_numpy(dtype=np.int64)
    histories = _histories_of(held, users[query], items[query])
    targets = _drop_known(users[target], items[target], histories)
    kept = np.unique(targets[0])
    return Split("cold-user", train, _test_frame(*targets), _histories_subset(histories, held, kept))


def held_out_items(data: Dataset, *, share: float = 0.1, seed: int = 0) -> Split:
    """A seeded random share of the items is removed with every interaction they have.

    Test users are users whose last interaction is with a held-out item; that item is their
    target and their input history is everything before it that does not involve a held-out
    item. The model never sees a held-out item in training, so it can only rank one by what the
    item says about itself (its text or attributes): the cold-start question.
    """
    if not 0.0 < share < 1.0:
        raise ConfigError(f"share must be between 0 and 1 (exclusive), got {share}")
    frame = data.interactions
    items = frame[Columns.ItemIdx].to_numpy(dtype=np.int64)
    users = frame[Columns.UserIdx].to_numpy(dtype=np.int64)
    seen = np.unique(items)
    n_held = max(1, round(share * len(seen)))
    rng = np.random.default_rng(seed)
    is_held = np.zeros(data.n_items, dtype=bool)
    is_held[rng.choice(seen, size=n_held, replace=False)] = True
    train = data.with_interactions(frame.loc[~is_held[items]])

    counts = np.bincount(users, minlength=data.n_users)
    last_rows = np.cumsum(counts)[counts > 0] - 1  # rows are sorted by user, then time
    target_rows = last_rows[is_held[items[last_rows]]]
    tested = users[target_rows]
    if len(tested) == 0:
        raise DataError("no user's last item is among the held-out items", field="share", value=share)
    histories = train.histories(tested)
    keep = histories.lengths() > 0  # a user needs some history to be asked about
    if not keep.any():
        raise DataError("every user whose last item is held out has no other history", field="share", value=share)
    kept = np.flatnonzero(keep)
    test = _test_frame(tested[kept], items[target_rows][kept])
    return Split("held-out-items", train, test, histories.take(kept))


#: Every split by the name the CLI and reports use.
SPLITS: dict[str, Callable[..., Split]] = {
    "leave-last-out": leave_last_out,
    "time": time_cut,
    "cold-item": cold_items,
    "cold-user": cold_users,
    "held-out-items": held_out_items,
}


# ---------------------------------------------------------------------------------------------
# helpers


def _cut_time(stamps: np.ndarray, at: float | None, test_share: float) -> float:
    """The given cut, or the timestamp with `test_share` of `stamps` strictly later (at most)."""
    if at is not None:
        return float(at)
    if not 0.0 < test_share < 1.0:
        raise ConfigError(f"test_share must be between 0 and 1 (exclusive), got {test_share}")
    if len(stamps) == 0:
        raise DataError("cannot cut an empty dataset in time")
    ordered = np.sort(stamps)
    n_test = max(1, round(test_share * len(ordered)))
    cut = float(ordered[len(ordered) - n_test - 1]) if n_test < len(ordered) else float(ordered[0])
    return cut


def _later_targets(name: str, train: Dataset, later: pd.DataFrame) -> Split:
    """Targets from `later` for users with a train history, minus items already in it."""
    train_counts = np.bincount(train.interactions[Columns.UserIdx].to_numpy(), minlength=train.n_users)
    users = later[Columns.UserIdx].to_numpy(dtype=np.int64)
    items = later[Columns.ItemIdx].to_numpy(dtype=np.int64)
    warm = train_counts[users] > 0
    candidates = np.unique(users[warm])
    histories = train.histories(candidates)
    targets = _drop_known(users[warm], items[warm], histories)
    if len(targets[0]) == 0:
        raise DataError(f"the {name} split has no test target: no user has new items on both sides of the cut")
    kept = np.unique(targets[0])
    return Split(name, train, _test_frame(*targets), _histories_subset(histories, candidates, kept))


def _drop_known(users: np.ndarray, items: np.ndarray, histories: Histories) -> tuple[np.ndarray, np.ndarray]:
    """(user, item) pairs in time order without repeats and without items of the user's history."""
    known = pd.MultiIndex.from_arrays([np.repeat(histories.users, histories.lengths()), histories.items])
    pairs = pd.MultiIndex.from_arrays([users, items])
    keep = ~pairs.isin(known) & ~pairs.duplicated(keep="first")
    return users[keep], items[keep]


def _histories_of(users: np.ndarray, row_users: np.ndarray, row_items: np.ndarray) -> Histories:
    """Histories of `users` (sorted) from time-ordered (user, item) rows."""
    counts = np.bincount(np.searchsorted(users, row_users), minlength=len(users))
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return Histories(users.astype(np.int64), indptr, row_items.astype(np.int64))


def _histories_subset(histories: Histories, users: np.ndarray, kept: np.ndarray) -> Histories:
    """The rows of `histories` (whose users are `users`, sorted) for the users in `kept`."""
    rows = np.searchsorted(users, kept)
    return histories.take(rows)


def _test_frame(users: np.ndarray, items: np.ndarray) -> pd.DataFrame:
    """The test table, sorted by user (stable, so each user's targets stay in time order)."""
    order = np.argsort(users, kind="stable")
    return pd.DataFrame(
        {Columns.UserIdx: users[order].astype(np.int64), Columns.ItemIdx: items[order].astype(np.int64)}
    )
