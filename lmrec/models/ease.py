"""EASE: a closed-form linear item-item model (Steck, "Embarrassingly Shallow Autoencoders", 2019).

With X the binary user-item matrix and P = (X^T X + lambda I)^-1, the weights are
B = I - P diag(1 / diag(P)), which has a zero diagonal, so an item never recommends itself. A user's
scores are their history row times B. The inverse is dense: n_items^2 floats of memory (1.2 GB in
float64 at 12,000 items), which bounds the catalogues EASE suits.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from lmrec.data.dataset import Dataset, Histories
from lmrec.diagnostics import ConfigError
from lmrec.models.base import ModelConfig, Recommender, linear_occlusion

log = logging.getLogger(__name__)


def gram_precision(matrix: sp.spmatrix, l2: float) -> np.ndarray:
    """(XᵀX + λI)⁻¹ of a sparse (U, I) matrix X, dense (I, I) float64. Times Σ_u x_u over the users
    of an item outside X, it gives that item's ridge regression on X's items: its EASE column."""
    gram = np.asarray((matrix.T @ matrix).todense(), dtype=np.float64)  # (I, I)
    gram[np.diag_indices(len(gram))] += l2
    return np.linalg.inv(gram)


class EASEConfig(ModelConfig):
    """Settings of EASE."""

    l2: float = Field(default=500.0, gt=0.0)
    """L2 penalty lambda added to the diagonal of the Gram matrix; tune it on validation (larger
    catalogues and sparser data want larger values)."""

    max_items: int = Field(default=40_000, ge=1)
    """Refuse to fit above this many items: the dense inverse needs n_items^2 * 8 bytes."""


class EASE(Recommender[EASEConfig]):
    """Item-item linear model with a closed-form solution; scores are history @ weights.

    Attributes (after `fit`):
        weights: B, shape (n_items, n_items), float32, zero diagonal.
    """

    name = "ease"
    config_class = EASEConfig

    weights: np.ndarray

    def _fit(self, data: Dataset) -> None:
        n_items = data.n_items
        if n_items > self.config.max_items:
            raise ConfigError(
                f"EASE needs a dense {n_items}x{n_items} inverse ({n_items**2 * 8 / 2**30:.1f} GiB); "
                f"max_items is {self.config.max_items}; raise it if the memory is there, or use itemknn or als"
            )
        started = time.perf_counter()
        precision = gram_precision(data.matrix(binary=True), self.config.l2)  # (I, I)
        weights = precision / -np.diag(precision)[None, :]  # B = -P / diag(P), column-wise
        weights[np.diag_indices(n_items)] = 0.0
        self.weights = weights.astype(np.float32)
        log.info("EASE: %d items inverted in %.1fs", n_items, time.perf_counter() - started)

    def _score(self, histories: Histories) -> np.ndarray:
        rows = histories.to_csr(len(self.items))  # (B, I) binary
        return np.asarray(rows @ self.weights, dtype=np.float32)  # (B, I)

    def _explain(self, history: np.ndarray, targets: np.ndarray, method: str) -> np.ndarray:
        return linear_occlusion(self.weights, history, targets)  # exact: B[j, i] per history item j

    def _state(self) -> dict[str, np.ndarray]:
        return {"weights": self.weights}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.weights = np.ascontiguousarray(state["weights"], dtype=np.float32)
