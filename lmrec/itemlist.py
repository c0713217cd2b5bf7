"""`ItemList`: the one list type passed between the stages of a recommendation request."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from lmrec.data.columns import Columns
from lmrec.data.vocabulary import Vocabulary


def frozen_array(values: Any, dtype: Any = None) -> np.ndarray:
    """A read-only copy of `values` as an array."""
    array = np.array(values, dtype=dtype, copy=True)
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class ItemList:
    """An immutable list of items with scores and named extra columns.

    Attributes:
        ids: external item ids, shape (n,).
        index: positions in the item vocabulary, shape (n,); -1 for an item the model does not know.
        scores: one float per item, shape (n,); NaN where there is no score.
        columns: extra per-item columns such as `source`, `propensity` or `reason`, each shape (n,).
    """

    ids: np.ndarray
    index: np.ndarray
    scores: np.ndarray
    columns: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ids = frozen_array(self.ids, object)
        n = len(ids)
        index = frozen_array(self.index, np.int64)
        scores = frozen_array(self.scores, np.float64)
        if index.shape != (n,) or scores.shape != (n,):
            raise ValueError(f"ItemList ids, index and scores must all have shape ({n},)")
        columns = {}
        for name, values in self.columns.items():
            array = frozen_array(values)
            if array.shape[:1] != (n,):
                raise ValueError(f"ItemList column {name!r} has {len(array)} values for {n} items")
            columns[name] = array
        object.__setattr__(self, "ids", ids)
        object.__setattr__(self, "index", index)
        object.__setattr__(self, "scores", scores)
        object.__setattr__(self, "columns", MappingProxyType(columns))

    @classmethod
    def empty(cls) -> ItemList:
        """A list with no items."""
        return cls(np.empty(0, dtype=object), np.empty(0, dtype=np.int64), np.empty(0))

    @classmethod
    def from_index(
        cls, vocab: Vocabulary, index: np.ndarray, scores: np.ndarray | None = None, **columns: np.ndarray
    ) -> ItemList:
        """Items given by vocabulary positions (all valid), with optional scores."""
        index = np.asarray(index, dtype=np.int64)
        values = np.full(len(index), np.nan) if scores is None else np.asarray(scores, dtype=np.float64)
        return cls(vocab.id(index), index, values, columns)

    @classmethod
    def from_ids(cls, vocab: Vocabulary, ids: Any, scores: np.ndarray | None = None, **columns: np.ndarray) -> ItemList:
        """Items given by external ids; unknown ids get index -1."""
        ids = np.asarray(ids, dtype=object).astype(str)
        values = np.full(len(ids), np.nan) if scores is None else np.asarray(scores, dtype=np.float64)
        return cls(ids, vocab.index(ids), values, columns)

    @classmethod
    def top_k(cls, vocab: Vocabulary, scores: np.ndarray, k: int, *, exclude: np.ndarray | None = None) -> ItemList:
        """The k best-scored items of a full score vector over the vocabulary, best first.

        NaN scores and positions in `exclude` never appear; ties are broken by vocabulary
        position so the result is deterministic.
        """
        scores = np.asarray(scores, dtype=np.float64)
        if scores.shape != (len(vocab),):
            raise ValueError(f"scores must have shape ({len(vocab)},), got {scores.shape}")
        positions = top_k_positions(scores, k, exclude=exclude)
        return cls.from_index(vocab, positions, scores[positions])

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        extra = f", columns={list(self.columns)}" if self.columns else ""
        return f"ItemList({len(self)} items{extra})"

    def column(self, name: str) -> np.ndarray:
        """An extra column by name (KeyError names the known columns)."""
        if name not in self.columns:
            raise KeyError(f"ItemList has no column {name!r}; it has {list(self.columns)}")
        return self.columns[name]

    def with_column(self, name: str, values: Any) -> ItemList:
        """A copy with one extra column added or replaced."""
        return ItemList(self.ids, self.index, self.scores, {**self.columns, name: values})

    def with_scores(self, scores: Any) -> ItemList:
        """A copy with new scores, same order."""
        return ItemList(self.ids, self.index, scores, self.columns)

    def take(self, positions: Any) -> ItemList:
        """A sub-list (or re-ordering) by positions in this list."""
        pos = np.asarray(positions, dtype=np.int64)
        return ItemList(self.ids[pos], self.index[pos], self.scores[pos], {n: v[pos] for n, v in self.columns.items()})

    def ranked(self, k: int | None = None) -> ItemList:
        """Sorted by score, best first (NaN last, ties in list order), cut to k."""
        keys = np.where(np.isnan(self.scores), -np.inf, self.scores)
        order = np.argsort(-keys, kind="stable")
        return self.take(order if k is None else order[:k])

    def to_frame(self) -> pd.DataFrame:
        """The list as a DataFrame with `item_id`, `item_idx`, `score` and extra columns."""
        data: dict[str, Any] = {Columns.Item: self.ids, Columns.ItemIdx: self.index, Columns.Score: self.scores}
        data.update(self.columns)
        return pd.DataFrame(data)


def top_k_positions(scores: np.ndarray, k: int, *, exclude: np.ndarray | None = None) -> np.ndarray:
    """Positions of the k largest finite scores of a 1-D array, best first, ties by position."""
    values = np.where(np.isnan(scores), -np.inf, scores).astype(np.float64, copy=True)
    if exclude is not None and len(exclude):
        values[np.asarray(exclude, dtype=np.int64)] = -np.inf
    eligible = int(np.isfinite(values).sum()) if np.isneginf(values).any() else len(values)
    k = max(0, min(k, eligible))
    if k == 0:
        return np.empty(0, dtype=np.int64)
    if k < len(values):
        part = np.argpartition(-values, k - 1)[:k]
        # argpartition may cut a tie at the k-th value arbitrarily; take every tied item, then sort.
        kth = values[part].min()
        part = np.flatnonzero(values >= kth)
    else:
        part = np.arange(len(values))
    order = np.lexsort((part, -values[part]))
    return part[order][:k].astype(np.int64)
