"""A contextual reward model for doubly robust estimation on the Open Bandit Dataset.

Logistic regression of a click on the request (the user's four hashed features one-hot, their
affinity to each of the campaign's items), the item (its id and its four hashed features, one-hot),
the slot (one-hot) and the user's affinity to that item: the kind of model Open Bandit Pipeline fits
for its published DR numbers. The library's `DR` takes any such model as a (rows, items) matrix; this
one lives with the benchmark because on these logs it does not beat a constant (see
`bench_ope_open_bandit.py`).

Every part of the logit is additive, so the prediction for every item of a row is one broadcast sum
of the fitted weights, not a design row per (row, item).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

from lmrec.simulation.logs import ImpressionLog, read_open_bandit


def read_with_user_features(folder: Path, policy: str, campaign: str) -> ImpressionLog:
    """`read_open_bandit`, with the user features one-hot appended to the context after the affinities.

    The context is then (n, n_items + u): the affinity to each item, then the u one-hot columns.
    """
    impressions = read_open_bandit(folder, policy, campaign)  # type: ignore[arg-type]
    frame = pd.read_csv(folder / policy / campaign / f"{campaign}.csv", index_col=0)
    columns = [c for c in frame.columns if c.startswith("user_feature_")]
    users = pd.get_dummies(frame[columns].astype(str)).to_numpy(dtype=np.float64)  # (n, u)
    assert impressions.context is not None  # read_open_bandit always gives the affinities
    return dataclasses.replace(impressions, context=np.hstack([impressions.context, users]))


def item_features(folder: Path, campaign: str) -> np.ndarray:
    """Each item's id and hashed features one-hot, shape (n_items, n_items + f)."""
    frame = pd.read_csv(folder / "random" / campaign / "item_context.csv", index_col=0)
    columns = [c for c in frame.columns if c.startswith("item_feature_")]
    hashed = pd.get_dummies(frame[columns].astype(str)).to_numpy(dtype=np.float64)  # (K, f)
    return np.hstack([np.eye(len(frame)), hashed])


class LogisticReward:
    """The click model above with L2 strength 1/C; `matrix` predicts every item at each row's slot."""

    def __init__(self, items: np.ndarray, c: float) -> None:
        self.items = items  # (K, F) item features
        self.c = c

    def _request(self, log: ImpressionLog) -> tuple[np.ndarray, np.ndarray]:
        """The request features (n, d) and, within them, the affinity to each item (n, K)."""
        assert log.context is not None
        affinity = log.context[:, : log.n_items]  # (n, K)
        return log.context, affinity

    def _design(self, log: ImpressionLog) -> np.ndarray:
        request, affinity = self._request(log)
        own = affinity[np.arange(len(log)), log.item][:, None]  # (n, 1)
        slot = np.eye(log.n_positions)[log.position]  # (n, P)
        return np.hstack([request, self.items[log.item], slot, own])  # (n, d + F + P + 1)

    def fit(self, log: ImpressionLog) -> LogisticRegression:
        """The regression fitted to the log's clicks, one design row per logged row."""
        return LogisticRegression(C=self.c, max_iter=5000).fit(self._design(log), log.reward)

    def matrix(self, fitted: LogisticRegression, log: ImpressionLog) -> np.ndarray:
        """Click probability of every item at each row's slot, shape (n, K)."""
        request, affinity = self._request(log)
        w, bias = fitted.coef_[0], float(fitted.intercept_[0])
        d, f = request.shape[1], self.items.shape[1]
        w_request, w_item, w_slot, w_own = w[:d], w[d : d + f], w[d + f : -1], w[-1]
        row = request @ w_request + w_slot[log.position] + bias  # (n,)
        logit = row[:, None] + (self.items @ w_item)[None, :] + w_own * affinity  # (n, K)
        return 1.0 / (1.0 + np.exp(-logit))

    def cross_fitted(self, log: ImpressionLog, folds: int = 3, seed: int = 0) -> np.ndarray:
        """The (n, K) matrix with each row predicted by a model fitted without its fold's rounds."""
        fold = log.round_folds(folds, seed)
        out = np.empty((len(log), log.n_items))
        for k in range(folds):
            held = fold == k
            out[held] = self.matrix(self.fit(log.take(~held)), log.take(held))
        return out

    def held_out_log_loss(self, log: ImpressionLog, folds: int = 5, seed: int = 1) -> tuple[float, float]:
        """Mean log loss on held-out rounds of this model and of the training folds' click rate."""
        fold = log.round_folds(folds, seed)
        model_loss = constant_loss = 0.0
        for k in range(folds):
            held = fold == k
            train, test = log.take(~held), log.take(held)
            p = self.matrix(self.fit(train), test)[np.arange(len(test)), test.item]
            model_loss += log_loss(test.reward, p, normalize=False, labels=[0, 1])
            constant = np.full(len(test), train.reward.mean())
            constant_loss += log_loss(test.reward, constant, normalize=False, labels=[0, 1])
        return model_loss / len(log), constant_loss / len(log)
