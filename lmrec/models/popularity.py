"""Popularity: every user gets the items most interacted with, optionally recent ones weighted up."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from lmrec.data.columns import Columns
from lmrec.data.dataset import Dataset, Histories
from lmrec.models.base import ModelConfig, Recommender


class PopularityConfig(ModelConfig):
    """Settings of the popularity baseline."""

    half_life_days: float | None = Field(default=None, gt=0)
    """Weight each interaction by 0.5 ** (age / half-life), age measured from the newest event;
    None counts every interaction equally (plain popularity), a value gives trending."""

    weighted: bool = False
    """Count event-type weights (a purchase counts more than a view) instead of 1 per event."""


class Popularity(Recommender[PopularityConfig]):
    """Scores each item by how often it was interacted with; the same list for everyone."""

    name = "popularity"
    config_class = PopularityConfig

    item_scores: np.ndarray

    def _fit(self, data: Dataset) -> None:
        frame = data.interactions
        weights = frame[Columns.Weight].to_numpy(np.float64) if self.config.weighted else np.ones(len(frame))
        if self.config.half_life_days is not None and len(frame):
            stamps = frame[Columns.Timestamp].to_numpy(np.float64)
            age_days = (stamps.max() - stamps) / 86_400.0
            weights = weights * np.power(0.5, age_days / self.config.half_life_days)
        counts = np.bincount(frame[Columns.ItemIdx].to_numpy(), weights=weights, minlength=data.n_items)
        self.item_scores = counts.astype(np.float32)

    def _score(self, histories: Histories) -> np.ndarray:
        return np.broadcast_to(self.item_scores, (len(histories), len(self.item_scores))).copy()

    def _popular(self) -> np.ndarray:
        return self.item_scores  # an empty history gets the same (possibly trending) list as anyone

    def _explain(self, history: np.ndarray, targets: np.ndarray, method: str) -> np.ndarray:
        return np.zeros((len(targets), len(history)), dtype=np.float32)  # the history moves no score

    def _state(self) -> dict[str, np.ndarray]:
        return {"item_scores": self.item_scores}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.item_scores = state["item_scores"]
