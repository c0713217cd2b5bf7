"""The default reward model of the doubly robust estimators: the mean reward of each (item,
position) pair of an impression log, smoothed toward the log's mean by empirical Bayes."""

from __future__ import annotations

import math
from typing import Any, Self

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from lmrec.configs import validated_config
from lmrec.diagnostics import DataError, NotFittedError
from lmrec.simulation.logs import ImpressionLog


class RewardModelConfig(BaseModel):
    """Settings of `ItemPositionMean`, the default reward model of the doubly robust estimators."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    smoothing: float | None = Field(default=None, ge=0.0)
    """Pseudo-rows at the global mean reward added to every (item, position) pair (s in the
    formula); None chooses s from the log itself by empirical Bayes (see `ItemPositionMean`)."""

    n_folds: int = Field(default=3, ge=1)
    """Cross-fitting folds over rounds: a row is predicted by a table fitted without its fold, so
    its own reward never enters its prediction (as in OBP); 1 fits and predicts on all rows."""

    seed: int = 0
    """Seed of the assignment of rounds to folds."""


class ItemPositionMean:
    """Reward model q(a, p): the mean reward of each (item, position) pair, smoothed to the global mean.

        q(a, p) = (sum of rewards of (a, p) + s * mu) / (rows of (a, p) + s)

    with mu the log's mean reward: a pair with no rows gets mu, a pair with many rows its own
    mean. With `smoothing` None, s = sigma^2 / tau^2 is set by the method of moments (the
    James-Stein / empirical Bayes shrinkage of a normal means model): sigma^2 is the pooled
    variance of rewards within pairs and

        tau^2 = max(0, (sum_j n_j (m_j - mu)^2 - (J - 1) sigma^2) / (N - sum_j n_j^2 / N))

    the variance of the true pair means, over the J pairs with rows (n_j rows, mean m_j, N in
    all). Pairs that differ no more than noise would make them (tau^2 = 0) all get mu. The model
    ignores the context: right for context-free worlds, a baseline elsewhere. `fit_predict`
    can cross-fit (`n_folds` > 1) so that no row's own reward enters its prediction.

    Attributes:
        table: (n_positions, n_items) q(a, p), after `fit`.
        smoothing: the s used by `fit` (infinite when every pair got mu).
    """

    config: RewardModelConfig
    table: np.ndarray
    smoothing: float

    def __init__(self, config: RewardModelConfig | dict[str, Any] | None = None) -> None:
        self.config = validated_config(RewardModelConfig, config, "reward model", exact=True)
        self.is_fitted = False

    def fit(self, impressions: ImpressionLog) -> Self:
        """Learn the table from every row of `impressions`; returns self."""
        self.table, self.smoothing = self._table(impressions, np.ones(len(impressions), dtype=bool))
        self.is_fitted = True
        return self

    def predict(self, impressions: ImpressionLog) -> np.ndarray:
        """q(a, p_i) for every row i and item a, shape (n_rows, n_items)."""
        if not self.is_fitted:
            raise NotFittedError("ItemPositionMean.predict called before fit")
        if self.table.shape != (impressions.n_positions, impressions.n_items):
            raise DataError(
                f"the model was fitted on {self.table.shape[0]} positions x {self.table.shape[1]} items",
                field="n_items",
                value=(impressions.n_positions, impressions.n_items),
            )
        return self.table[impressions.position]

    def fit_predict(self, impressions: ImpressionLog) -> np.ndarray:
        """Fit and predict on the same log, shape (n_rows, n_items), cross-fitted over rounds when
        `n_folds` > 1; afterwards the model holds the table fitted on every row."""
        tables, fold = self.cross_fitted(impressions)
        return tables[fold, impressions.position]

    def cross_fitted(self, impressions: ImpressionLog) -> tuple[np.ndarray, np.ndarray]:
        """Fit on the log and return the tables each row is predicted by, without the whole (n_rows,
        n_items) prediction: row i's q(a, p_i) is `tables[fold[i], p_i, a]`.

        Returns:
            tables: (n_folds, n_positions, n_items), each fitted without its fold's rounds (one table
                fitted on every row when `n_folds` is 1).
            fold: (n,) the table of each row.
        """
        self.fit(impressions)
        if self.config.n_folds == 1:
            return self.table[None], np.zeros(len(impressions), dtype=np.int64)
        fold = impressions.round_folds(self.config.n_folds, self.config.seed)  # (n,)
        tables = np.stack([self._table(impressions, fold != k)[0] for k in range(self.config.n_folds)])
        return tables, fold

    def _table(self, impressions: ImpressionLog, rows: np.ndarray) -> tuple[np.ndarray, float]:
        """The (n_positions, n_items) table fitted on the rows selected by the mask, and its s."""
        shape = (impressions.n_positions, impressions.n_items)
        size = shape[0] * shape[1]
        pair = impressions.position[rows] * impressions.n_items + impressions.item[rows]
        reward = impressions.reward[rows]
        mu = float(reward.mean()) if len(reward) else 0.0
        shown = np.bincount(pair, minlength=size).astype(np.float64)  # (P * K,)
        total = np.bincount(pair, weights=reward, minlength=size)  # (P * K,)
        squares = np.bincount(pair, weights=reward * reward, minlength=size)  # (P * K,)
        s = self.config.smoothing
        if s is None:
            s = _moment_smoothing(shown, total, squares)
        if math.isinf(s):
            return np.full(shape, mu), s
        with np.errstate(invalid="ignore", divide="ignore"):
            table = np.where(shown + s > 0, (total + s * mu) / (shown + s), mu)
        return table.reshape(shape), s


def _moment_smoothing(shown: np.ndarray, total: np.ndarray, squares: np.ndarray) -> float:
    """s = sigma^2 / tau^2 by the method of moments (formulas in `ItemPositionMean`); inf when tau^2 = 0."""
    seen = shown > 0
    n, sums = shown[seen], total[seen]  # (J,)
    n_all, n_pairs = float(n.sum()), len(n)
    spread = n_all - float((n * n).sum()) / n_all if n_all > 0 else 0.0
    if n_pairs < 2 or spread <= 0 or n_all <= n_pairs:  # no between- or within-pair variance to measure
        return math.inf
    mu = float(sums.sum()) / n_all
    means = sums / n
    sigma2 = float(squares[seen].sum() - (n * means * means).sum()) / (n_all - n_pairs)  # pooled within pairs
    between = float((n * (means - mu) ** 2).sum())
    tau2 = (between - (n_pairs - 1) * sigma2) / spread
    if tau2 <= 0:
        return math.inf
    return max(sigma2, 0.0) / tau2
