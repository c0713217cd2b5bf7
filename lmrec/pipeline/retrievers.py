"""Candidate retrievers: each finds items for a request and tags them with where they came from.

- `model`: the model's top-n over the whole catalogue (for dot-product models this is what a
  vector index would return).
- `text`: items whose text embedding is closest to the mean of the user's recent items'.
- `trending`: the most interacted-with items, recent interactions weighted up (half-life).
- `fresh`: the newest items (by `created_at`) that have at most a few interactions, so something
  launched this morning can be considered at all.

`merge` unions the lists, keeping each item once with every source that found it.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from lmrec.data.columns import Columns
from lmrec.data.dataset import Dataset
from lmrec.itemlist import ItemList, top_k_positions


class RetrieverConfig(BaseModel):
    """One candidate source of a pipeline."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    kind: Literal["model", "text", "trending", "fresh"]
    """Which source: the model's top-n, text similarity to recent items, trending, or new items."""

    n: int = Field(default=100, ge=1)
    """Most candidates this source adds."""

    recent: int = Field(default=5, ge=1)
    """`text`: how many of the newest history items make up the query vector."""

    half_life_days: float = Field(default=7.0, gt=0.0)
    """`trending`: an interaction loses half its weight every this many days (from the newest event)."""

    max_interactions: int = Field(default=5, ge=0)
    """`fresh`: items with more interactions than this are no longer fresh."""


class CatalogueSignals:
    """What the non-model retrievers read, computed once per pipeline from the training data.

    Attributes:
        vectors: unit item text vectors (I, D), or None when there is no text.
        trending: half-life weighted interaction counts per half-life, keyed by half-life.
        counts: interactions per item (I,).
        newest_first: item positions ordered by `created_at`, newest first (undated items last).
    """

    def __init__(self, data: Dataset, vectors: np.ndarray | None) -> None:
        self.data = data
        self.vectors = vectors
        self.counts = data.item_counts()
        created = data.item_table[Columns.CreatedAt].to_numpy(dtype=np.float64)
        self.newest_first = np.argsort(-np.nan_to_num(created, nan=-np.inf), kind="stable")
        self._trending: dict[float, np.ndarray] = {}

    def trending(self, half_life_days: float) -> np.ndarray:
        """Interactions per item weighted by 0.5 ** (age / half-life), shape (I,)."""
        if half_life_days not in self._trending:
            frame = self.data.interactions
            stamps = frame[Columns.Timestamp].to_numpy(dtype=np.float64)
            age_days = (stamps.max(initial=0.0) - stamps) / 86_400.0
            weights = np.power(0.5, age_days / half_life_days)
            items = frame[Columns.ItemIdx].to_numpy()
            self._trending[half_life_days] = np.bincount(items, weights=weights, minlength=self.data.n_items)
        return self._trending[half_life_days]


def retrieve(
    config: RetrieverConfig,
    model_scores: np.ndarray,
    history: np.ndarray,
    signals: CatalogueSignals,
    exclude: np.ndarray | None = None,
) -> np.ndarray:
    """Item positions found by one source, best first, never an item of `exclude` (default: `history`).

    Excluded items never take a place among a source's n, so a request's exclusions (items not yet
    released, say) do not crowd out the items it may be shown.
    """
    exclude = history if exclude is None else exclude
    if config.kind == "model":
        return top_k_positions(model_scores, config.n, exclude=exclude)
    if config.kind == "text":
        if signals.vectors is None or len(history) == 0:
            return np.empty(0, dtype=np.int64)
        query = signals.vectors[history[-config.recent :]].mean(axis=0)  # (D,)
        return top_k_positions(signals.vectors @ query, config.n, exclude=exclude)
    if config.kind == "trending":
        return top_k_positions(signals.trending(config.half_life_days), config.n, exclude=exclude)
    fresh = signals.newest_first[signals.counts[signals.newest_first] <= config.max_interactions]
    return fresh[~np.isin(fresh, exclude)][: config.n]


def merge(found: list[tuple[str, np.ndarray]], data: Dataset) -> ItemList:
    """One list of every item found, in order of first appearance, with a `source` column such as
    `model+text` naming every source that found it."""
    sources: dict[int, list[str]] = {}
    for name, positions in found:
        for p in positions.tolist():
            sources.setdefault(int(p), []).append(name)
    index = np.fromiter(sources, dtype=np.int64, count=len(sources))
    labels = np.array(["+".join(dict.fromkeys(s)) for s in sources.values()], dtype=object)
    return ItemList.from_index(data.items, index, **{Columns.Source: labels})
