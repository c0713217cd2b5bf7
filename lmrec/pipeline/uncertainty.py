"""`BayesianLinearHead`: a posterior mean and standard deviation of each item's expected reward.

It gives the ranker's scores the `uncertainty` that Thompson sampling and UCB read, learning online
from feedback on item feature vectors (for example language-model embeddings).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field
from scipy.linalg import cho_factor, cho_solve

from lmrec.configs import validated_config
from lmrec.diagnostics import DataError


class BayesianLinearConfig(BaseModel):
    """Settings of the Bayesian linear head."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    dimension: int = Field(ge=1)
    """Length d of each item's feature vector (384 for all-MiniLM-L6-v2 embeddings)."""

    prior_precision: float = Field(default=1.0, gt=0.0)
    """λ: the weights' prior is N(0, I / λ); larger values shrink harder and start less uncertain."""

    noise_variance: float = Field(default=1.0, gt=0.0)
    """σ²: variance of one observed reward around its expected value."""


class BayesianLinearHead:
    """Bayesian linear regression of rewards on item features: a posterior mean and std per item.

    Model r = θᵀx + ε with θ ~ N(0, I/λ) and ε ~ N(0, σ²). After rows (X, r) the posterior is

        A = λ I + XᵀX / σ²,   b = Xᵀ r / σ²,   θ ~ N(A⁻¹ b, A⁻¹),
        mean(x) = xᵀ A⁻¹ b,   std(x) = sqrt(xᵀ A⁻¹ x)   (of the expected reward θᵀx, noise excluded),

    which is what Thompson sampling and UCB read as `score` and `uncertainty`. `update` keeps A and b
    exactly and moves A⁻¹ by the Woodbury identity (Sherman–Morrison for a single row), O(n d²) for n
    rows; after d rows of such updates, or for a batch of d rows or more, A⁻¹ is recomputed from A by
    Cholesky so rounding never accumulates. Constructed without work: the prior is set on first use.
    """

    def __init__(self, config: BayesianLinearConfig | dict[str, Any]) -> None:
        self.config: BayesianLinearConfig = validated_config(BayesianLinearConfig, config, "bayesian linear head")
        self.n_observations = 0

    def _state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if not hasattr(self, "_precision"):
            d, lam = self.config.dimension, self.config.prior_precision
            self._precision = lam * np.eye(d)  # (d, d): A
            self._target = np.zeros(d)  # (d,): b
            self._covariance = np.eye(d) / lam  # (d, d): A⁻¹
            self._weights = np.zeros(d)  # (d,): A⁻¹ b
            self._since_refresh = 0
        return self._precision, self._target, self._covariance, self._weights

    @property
    def weights(self) -> np.ndarray:
        """Posterior mean of θ, shape (d,)."""
        return self._state()[3].copy()

    @property
    def covariance(self) -> np.ndarray:
        """Posterior covariance of θ, A⁻¹, shape (d, d)."""
        return self._state()[2].copy()

    def update(self, features: npt.ArrayLike, rewards: npt.ArrayLike) -> BayesianLinearHead:
        """Add observed rows: features (n, d) and their rewards (n,); returns self."""
        x = self._features(features)
        r = np.asarray(rewards, dtype=np.float64)
        if r.shape != (len(x),):
            raise DataError(f"must have shape ({len(x)},) to match the features", field="rewards", value=r.shape)
        bad = np.flatnonzero(~np.isfinite(r))
        if len(bad):
            raise DataError("must be finite", field="rewards", row=int(bad[0]), value=float(r[bad[0]]))
        if len(x) == 0:
            return self
        precision, target, cov, _ = self._state()
        noise = self.config.noise_variance
        precision += x.T @ x / noise
        target += x.T @ r / noise
        self._since_refresh += len(x)
        if self._since_refresh >= self.config.dimension:
            factor = cho_factor(precision)
            self._covariance = cho_solve(factor, np.eye(self.config.dimension))
            self._weights = cho_solve(factor, target)
            self._since_refresh = 0
        else:
            u = x @ cov  # (n, d)
            inner = noise * np.eye(len(x)) + u @ x.T  # (n, n): σ² I + X A⁻¹ Xᵀ
            cov = cov - u.T @ cho_solve(cho_factor(inner), u)
            self._covariance = (cov + cov.T) / 2
            self._weights = self._covariance @ target
        self.n_observations += len(x)
        return self

    def predict(self, features: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and std of each row's expected reward, each shape (n,)."""
        x = self._features(features)
        _, _, cov, weights = self._state()
        variance = np.einsum("nd,nd->n", x @ cov, x)
        return x @ weights, np.sqrt(np.maximum(variance, 0.0))

    def _features(self, features: npt.ArrayLike) -> np.ndarray:
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.config.dimension:
            raise DataError(f"must have shape (n, {self.config.dimension})", field="features", value=x.shape)
        bad = np.flatnonzero(~np.isfinite(x).all(axis=1))
        if len(bad):
            raise DataError("must be finite", field="features", row=int(bad[0]))
        return x
