"""`Dataset`: an immutable snapshot of users, items and interactions, indexed by `Vocabulary`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from lmrec.data.columns import ITEM_COLUMNS, USER_COLUMNS, Columns
from lmrec.data.schema import DEFAULT_EVENT_TYPES
from lmrec.data.vocabulary import Vocabulary

#: Columns of `Dataset.interactions`, in order.
INTERACTION_COLUMNS = (Columns.UserIdx, Columns.ItemIdx, Columns.Timestamp, Columns.Type, Columns.Value, Columns.Weight)


@dataclass(frozen=True)
class Histories:
    """A batch of users with their item histories, oldest first, in CSR layout.

    Attributes:
        users: user positions, shape (B,); -1 for an anonymous or unknown user.
        indptr: shape (B + 1,); the history of row b is `items[indptr[b]:indptr[b + 1]]`.
        items: item positions, shape (nnz,), in time order within each row.
    """

    users: np.ndarray
    indptr: np.ndarray
    items: np.ndarray

    @classmethod
    def from_lists(cls, histories: list[np.ndarray] | list[list[int]], users: np.ndarray | None = None) -> Histories:
        """Build from one array of item positions per user."""
        lengths = np.array([len(h) for h in histories], dtype=np.int64)
        indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        items = np.concatenate([np.asarray(h, dtype=np.int64) for h in histories]) if histories else np.empty(0)
        users = np.full(len(histories), -1, dtype=np.int64) if users is None else np.asarray(users, dtype=np.int64)
        return cls(users, indptr, items.astype(np.int64))

    def __len__(self) -> int:
        return len(self.users)

    def row(self, b: int) -> np.ndarray:
        """The history of row b, oldest first."""
        return self.items[self.indptr[b] : self.indptr[b + 1]]

    def lengths(self) -> np.ndarray:
        """History length of every row, shape (B,)."""
        return np.diff(self.indptr)

    def to_csr(self, n_items: int) -> sp.csr_matrix:
        """A (B, n_items) binary matrix of the items each row has interacted with."""
        data = np.ones(len(self.items), dtype=np.float32)
        matrix = sp.csr_matrix((data, self.items, self.indptr), shape=(len(self), n_items))
        matrix.sum_duplicates()
        matrix.data[:] = 1.0
        return matrix

    def take(self, rows: np.ndarray) -> Histories:
        """A sub-batch by row positions."""
        return Histories.from_lists([self.row(int(b)) for b in rows], self.users[np.asarray(rows, dtype=np.int64)])


@dataclass(frozen=True, eq=False)
class Dataset:
    """Users, items and their interactions, each user and item a contiguous integer.

    Build one with `Dataset.from_frames` (or `Store.dataset()`); splits derive new datasets that
    share the same vocabularies and item table, so positions mean the same thing everywhere.

    Attributes:
        users: vocabulary of user ids.
        items: vocabulary of item ids (the whole catalogue, also items with no interactions).
        interactions: one row per event, columns `INTERACTION_COLUMNS`, sorted by user, then
            timestamp, then arrival order.
        item_table: one row per item position with the catalogue fields of `ITEM_COLUMNS`.
        user_table: one row per user position with the fields of `USER_COLUMNS`.
        event_types: weight of each event type, used for `Columns.Weight`.
    """

    users: Vocabulary
    items: Vocabulary
    interactions: pd.DataFrame
    item_table: pd.DataFrame
    user_table: pd.DataFrame
    event_types: Mapping[str, float]

    @classmethod
    def from_frames(
        cls,
        events: pd.DataFrame,
        items: pd.DataFrame | None = None,
        users: pd.DataFrame | None = None,
        event_types: Mapping[str, float] = DEFAULT_EVENT_TYPES,
    ) -> Dataset:
        """Build from validated frames (see `lmrec.data.schema`).

        Vocabularies hold every id of the item and user tables and of the events, in order of
        first appearance (tables first). Interactions are stably sorted by user then time, so
        events with equal timestamps keep the order they were given in.
        """
        items = _empty(ITEM_COLUMNS) if items is None else items
        users = _empty(USER_COLUMNS) if users is None else users
        item_vocab = Vocabulary.from_values(items[Columns.Item], events[Columns.Item])
        user_vocab = Vocabulary.from_values(users[Columns.User], events[Columns.User])

        n = len(events)
        types = events[Columns.Type].astype(str).to_numpy() if Columns.Type in events else np.full(n, "view")
        values = events[Columns.Value].to_numpy(dtype=float) if Columns.Value in events else np.full(n, np.nan)
        stamps = events[Columns.Timestamp].to_numpy(dtype=float) if Columns.Timestamp in events else np.zeros(n)
        weights = pd.Series(types).map(dict(event_types)).fillna(1.0).to_numpy(dtype=np.float32)
        frame = pd.DataFrame(
            {
                Columns.UserIdx: user_vocab.index(events[Columns.User].to_numpy()),
                Columns.ItemIdx: item_vocab.index(events[Columns.Item].to_numpy()),
                Columns.Timestamp: stamps,
                Columns.Type: types,
                Columns.Value: values,
                Columns.Weight: weights,
            }
        )
        order = np.lexsort((np.arange(n), stamps, frame[Columns.UserIdx].to_numpy()))
        frame = frame.iloc[order].reset_index(drop=True)
        return cls(
            users=user_vocab,
            items=item_vocab,
            interactions=frame,
            item_table=_aligned(items, Columns.Item, item_vocab, ITEM_COLUMNS),
            user_table=_aligned(users, Columns.User, user_vocab, USER_COLUMNS),
            event_types=dict(event_types),
        )

    def with_interactions(self, interactions: pd.DataFrame) -> Dataset:
        """The same users, items and tables with another set of interactions (for splits).

        `interactions` must use this dataset's positions; its order is normalised.
        """
        frame = interactions[list(INTERACTION_COLUMNS)]
        order = np.lexsort(
            (np.arange(len(frame)), frame[Columns.Timestamp].to_numpy(), frame[Columns.UserIdx].to_numpy())
        )
        frame = frame.iloc[order].reset_index(drop=True)
        return Dataset(self.users, self.items, frame, self.item_table, self.user_table, self.event_types)

    def with_ties_broken_by_item_id(self) -> Dataset:
        """The same dataset with each user's equal-timestamp events ordered by item id.

        Ids compare as integers when every item id is one (MovieLens), else as strings. This is
        the convention of RecBole and of the reference numbers in the shared data README; by
        default ties keep the order the events were given in.
        """
        frame = self.interactions
        ids = self.items.ids
        numeric = pd.to_numeric(pd.Series(ids), errors="coerce")
        keys = numeric.to_numpy() if numeric.notna().all() else np.argsort(np.argsort(ids.astype(str), kind="stable"))
        item_key = np.asarray(keys)[frame[Columns.ItemIdx].to_numpy()]
        order = np.lexsort((item_key, frame[Columns.Timestamp].to_numpy(), frame[Columns.UserIdx].to_numpy()))
        return self.with_interactions(frame.iloc[order])

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_interactions(self) -> int:
        return len(self.interactions)

    def __repr__(self) -> str:
        return f"Dataset({self.n_users} users, {self.n_items} items, {self.n_interactions} interactions)"

    @cached_property
    def _user_indptr(self) -> np.ndarray:
        counts = np.bincount(self.interactions[Columns.UserIdx].to_numpy(), minlength=self.n_users)
        return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    def histories(self, users: np.ndarray | None = None) -> Histories:
        """Time-ordered item histories of `users` (positions; all users by default).

        A position of -1 gets an empty history.
        """
        items = self.interactions[Columns.ItemIdx].to_numpy(dtype=np.int64)
        indptr = self._user_indptr
        if users is None:
            return Histories(np.arange(self.n_users, dtype=np.int64), indptr, items)
        users = np.asarray(users, dtype=np.int64)
        safe = np.where(users >= 0, users, 0)
        starts = np.where(users >= 0, indptr[safe], 0)
        stops = np.where(users >= 0, indptr[safe + 1], 0)
        lengths = stops - starts
        new_indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        gather = _ranges(starts, stops)
        return Histories(users, new_indptr, items[gather])

    def matrix(self, *, binary: bool = True) -> sp.csr_matrix:
        """The (n_users, n_items) interaction matrix: 1 where a user touched an item, or the summed
        event weights when `binary` is False."""
        frame = self.interactions
        data = np.ones(len(frame), dtype=np.float32) if binary else frame[Columns.Weight].to_numpy(np.float32)
        matrix = sp.csr_matrix(
            (data, (frame[Columns.UserIdx].to_numpy(), frame[Columns.ItemIdx].to_numpy())),
            shape=(self.n_users, self.n_items),
        )
        matrix.sum_duplicates()
        if binary:
            matrix.data[:] = 1.0
        return matrix

    def item_counts(self) -> np.ndarray:
        """Number of interactions of each item, shape (n_items,)."""
        return np.bincount(self.interactions[Columns.ItemIdx].to_numpy(), minlength=self.n_items)

    def item_text(self) -> list[str]:
        """One text per item for a language model: title, category, brand, tags and description.

        Items with no text at all get their id, so every item has something to embed.
        """
        table = self.item_table
        texts = []
        for row in table.itertuples(index=False):
            parts = [getattr(row, Columns.Title)]
            category = getattr(row, Columns.Category)
            if category:
                parts.append(f"Category: {category}.")
            brand = getattr(row, Columns.Brand)
            if brand:
                parts.append(f"Brand: {brand}.")
            tags = json.loads(getattr(row, Columns.Tags) or "[]")
            if tags:
                parts.append("Tags: " + ", ".join(tags) + ".")
            parts.append(getattr(row, Columns.Description))
            text = " ".join(p.strip() for p in parts if p and p.strip())
            texts.append(text or f"item {getattr(row, Columns.Item)}")
        return texts

    def has_item_text(self) -> bool:
        """True when at least one item has a title or description."""
        table = self.item_table
        return bool((table[Columns.Title].str.len() > 0).any() or (table[Columns.Description].str.len() > 0).any())


def _ranges(starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Concatenation of arange(start, stop) for each pair, without a Python loop."""
    lengths = stops - starts
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return (np.arange(total, dtype=np.int64) + offsets).astype(np.int64)


def _empty(columns: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})


_DEFAULTS: dict[str, Any] = {
    Columns.Title: "",
    Columns.Description: "",
    Columns.Category: "",
    Columns.Brand: "",
    Columns.Tags: "[]",
    Columns.Price: np.nan,
    Columns.Attributes: None,
    Columns.CreatedAt: np.nan,
    Columns.Available: True,
}


def _aligned(table: pd.DataFrame, key: str, vocab: Vocabulary, columns: tuple[str, ...]) -> pd.DataFrame:
    """One row per vocabulary position, defaults for ids only seen in events."""
    table = table.drop_duplicates(key, keep="last")
    table = table.set_index(table[key].astype(str))
    out = table.reindex(pd.Index(vocab.ids, dtype=object))
    out[key] = vocab.ids
    for column in columns:
        if column == key:
            continue
        if column not in out:
            out[column] = _DEFAULTS[column]
        else:
            default = _DEFAULTS[column]
            if default is not None:
                out[column] = out[column].where(out[column].notna(), default)
    if Columns.Price in out:
        out[Columns.Price] = out[Columns.Price].astype(float)
    if Columns.Available in out:
        out[Columns.Available] = out[Columns.Available].astype(bool)
    return out[list(columns)].reset_index(drop=True)
