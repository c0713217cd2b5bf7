"""Matrix factorisation baselines through the `implicit` library: ALS and BPR.

`implicit` learns a user factor for every training user and an item factor for every item; a
user's scores are their factor dotted with every item factor. A history that is not the user's
training history (an anonymous session, a known user with new events) gets a factor folded in
against the fixed item factors: the exact ALS least-squares step for ALS, and stochastic gradient
steps on the BPR loss for BPR. Training always uses `implicit`'s CPU code, so results do not
depend on whether CUDA is installed.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import scipy.sparse as sp
from pydantic import Field
from threadpoolctl import threadpool_limits

from lmrec.data.dataset import Dataset, Histories
from lmrec.models.base import ModelConfig, Recommender

log = logging.getLogger(__name__)


class ALSConfig(ModelConfig):
    """Settings of implicit-feedback ALS (Hu, Koren and Volinsky 2008)."""

    factors: int = Field(default=64, ge=1)
    """Dimension of the user and item factors."""

    regularization: float = Field(default=1.0, ge=0.0)
    """L2 penalty on the factors."""

    alpha: float = Field(default=5.0, gt=0.0)
    """Confidence scale: an observed pair weighs alpha times its value in the squared loss, an
    unobserved pair weighs 1."""

    iterations: int = Field(default=15, ge=1)
    """Alternating passes over users and items."""

    weighted: bool = False
    """Use summed event-type weights (a purchase counts more than a view) instead of 1 per pair."""

    seed: int = 0
    """Seed of the factor initialisation."""

    num_threads: int = Field(default=0, ge=0)
    """Threads for training (0: every core); ALS solves each user independently, so the result
    does not depend on it."""


class BPRConfig(ModelConfig):
    """Settings of Bayesian Personalised Ranking (Rendle et al. 2009)."""

    factors: int = Field(default=64, ge=1)
    """Dimension of the user and item factors (implicit adds one more for an item bias)."""

    learning_rate: float = Field(default=0.01, gt=0.0)
    """SGD step size."""

    regularization: float = Field(default=0.01, ge=0.0)
    """L2 penalty on the factors."""

    iterations: int = Field(default=100, ge=1)
    """Epochs over the training interactions."""

    seed: int = 0
    """Seed of the initialisation and of the negative samples."""

    num_threads: int = Field(default=1, ge=0)
    """Training threads; with more than one the updates race (Hogwild), which is faster but no
    longer gives the same factors for the same seed."""

    fold_in_steps: int = Field(default=200, ge=1)
    """SGD steps per user when folding in a history not seen in training."""


class _FactorModel(Recommender[Any]):
    """Shared scoring, fold-in dispatch and state of the two factor models.

    Attributes (after `fit`):
        user_factors: shape (n_users, F), float32; row u is the factor of training user u.
        item_factors: shape (n_items, F), float32.
    """

    user_factors: np.ndarray
    item_factors: np.ndarray

    def _interaction_matrix(self, data: Dataset) -> sp.csr_matrix:
        weighted = bool(getattr(self.config, "weighted", False))
        return data.matrix(binary=not weighted).astype(np.float32).tocsr()

    def _train(self, data: Dataset, trainer: type[Any], settings: dict[str, Any]) -> None:
        """Fit an `implicit` CPU model with `settings` and keep its factors."""
        started = time.perf_counter()
        with threadpool_limits(1, "blas"):  # implicit parallelises over users itself
            model = trainer(
                **settings,
                iterations=self.config.iterations,
                random_state=self.config.seed,
                num_threads=self.config.num_threads,
            )
            model.fit(self._interaction_matrix(data), show_progress=False)
        self.user_factors = np.asarray(model.user_factors, dtype=np.float32)
        self.item_factors = np.asarray(model.item_factors, dtype=np.float32)
        seconds = time.perf_counter() - started
        log.info("%s: %d users x %d items in %.1fs", self.name, data.n_users, data.n_items, seconds)

    def _score(self, histories: Histories) -> np.ndarray:
        factors = np.zeros((len(histories), self.item_factors.shape[1]), dtype=np.float32)  # (B, F)
        stored = self._is_training_history(histories)  # (B,)
        factors[stored] = self.user_factors[histories.users[stored]]
        fold = ~stored & (histories.lengths() > 0)
        if fold.any():
            factors[fold] = self._fold_in(histories.take(np.flatnonzero(fold)))
        return factors @ self.item_factors.T  # (B, I); an empty, unknown history scores 0 everywhere

    def _is_training_history(self, histories: Histories) -> np.ndarray:
        """True where the row is a known user whose history is exactly their training history."""
        known = (histories.users >= 0) & (histories.users < len(self.user_factors))
        same = np.zeros(len(histories), dtype=bool)
        lengths = histories.lengths()
        for b in np.flatnonzero(known).tolist():
            user = int(histories.users[b])
            stored = self.history.row(user)
            same[b] = lengths[b] == len(stored) and np.array_equal(histories.row(b), stored)
        return same

    def _fold_in(self, histories: Histories) -> np.ndarray:
        """Factors for histories not seen in training, shape (B, F)."""
        raise NotImplementedError

    def _state(self) -> dict[str, np.ndarray]:
        return {"user_factors": self.user_factors, "item_factors": self.item_factors}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.user_factors = state["user_factors"].astype(np.float32)
        self.item_factors = state["item_factors"].astype(np.float32)


class ALS(_FactorModel):
    """Weighted matrix factorisation of implicit feedback by alternating least squares."""

    name = "als"
    config_class = ALSConfig
    config: ALSConfig

    def _fit(self, data: Dataset) -> None:
        from implicit.cpu.als import AlternatingLeastSquares

        cfg = self.config
        settings = {"factors": cfg.factors, "regularization": cfg.regularization, "alpha": cfg.alpha}
        self._train(data, AlternatingLeastSquares, settings)

    def _fold_in(self, histories: Histories) -> np.ndarray:
        """The exact ALS user step: (Y^T C_u Y + lambda I)^-1 Y^T C_u p_u against fixed items."""
        confidence = histories.to_csr(len(self.items)) * self.config.alpha  # (B, I)
        items = self.item_factors.astype(np.float64)  # (I, F)
        gram = items.T @ items + self.config.regularization * np.eye(items.shape[1])  # (F, F)
        out = np.empty((len(histories), items.shape[1]), dtype=np.float32)
        for b in range(len(histories)):
            start, stop = confidence.indptr[b], confidence.indptr[b + 1]
            rows = items[confidence.indices[start:stop]]  # (h, F)
            weights = confidence.data[start:stop].astype(np.float64)  # (h,)
            system = gram + (rows * (weights - 1.0)[:, None]).T @ rows
            out[b] = np.linalg.solve(system, rows.T @ weights)
        return out


class BPR(_FactorModel):
    """Matrix factorisation trained on the pairwise ranking loss, with an item bias."""

    name = "bpr"
    config_class = BPRConfig
    config: BPRConfig

    def _fit(self, data: Dataset) -> None:
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        cfg = self.config
        settings = {"factors": cfg.factors, "learning_rate": cfg.learning_rate, "regularization": cfg.regularization}
        # the last factor column is the item bias; the user side holds a constant 1 there
        self._train(data, BayesianPersonalizedRanking, settings)

    def _fold_in(self, histories: Histories) -> np.ndarray:
        """SGD on the BPR loss for each row's factor, item factors fixed, all rows in parallel.

        Each step draws one positive from the row's history and one item outside it, and moves
        the factor along the gradient of log sigmoid(score(pos) - score(neg)) minus the L2 penalty.
        The bias coordinate stays 1. Every row uses the same draws (seeded by the config): step s
        takes the positive at the same relative place in each history and the same negative item. So
        a history gets the same factor in any batch, and histories that differ by one item share
        their random numbers, which keeps most of the draws' noise out of explanations by occlusion.
        """
        n_items, n_factors = self.item_factors.shape
        rng = np.random.default_rng(self.config.seed)
        picks = rng.random(self.config.fold_in_steps)  # (S,) relative place of each step's positive
        negatives = rng.integers(0, n_items, size=self.config.fold_in_steps)  # (S,)
        lengths = histories.lengths()  # (B,)
        valid = histories.to_csr(n_items)[:, negatives].toarray() == 0  # (B, S): skip a negative in the history
        factors = np.zeros((len(histories), n_factors), dtype=np.float64)  # (B, F)
        factors[:, -1] = 1.0
        items = self.item_factors.astype(np.float64)
        lr, reg = self.config.learning_rate, self.config.regularization
        for step, (pick, neg) in enumerate(zip(picks, negatives, strict=True)):
            pos = histories.items[histories.indptr[:-1] + (pick * lengths).astype(np.int64)]  # (B,)
            diff = items[pos] - items[neg]  # (B, F)
            margin = np.einsum("bf,bf->b", factors, diff)
            weight = 1.0 / (1.0 + np.exp(margin)) * valid[:, step]  # sigmoid(-margin)
            factors += lr * (weight[:, None] * diff - reg * factors)
            factors[:, -1] = 1.0
        return factors.astype(np.float32)
