"""Item-kNN: an item's score is the summed similarity of the user's items among its nearest neighbours.

Similarities come from co-occurrence in users' histories. For every target item j only its
`neighbors` most similar items are kept, so the weights are a sparse matrix W with W[i, j] the
similarity of history item i to target j, and a user's scores are their binary history row times W.
"""

from __future__ import annotations

import logging
import time
from typing import Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from lmrec.data.dataset import Dataset, Histories
from lmrec.models.base import ModelConfig, Recommender, linear_occlusion

log = logging.getLogger(__name__)

#: Target items whose similarity columns are computed densely at once while fitting.
_BLOCK = 1024


class ItemKNNConfig(ModelConfig):
    """Settings of item-kNN."""

    neighbors: int = Field(default=100, ge=1)
    """Most similar items kept for each target item."""

    similarity: Literal["cosine", "asymmetric", "jaccard"] = "cosine"
    """`cosine`: co-occurrences / sqrt(n_i n_j); `asymmetric`: co-occurrences / (n_i^alpha
    n_j^(1-alpha)); `jaccard`: co-occurrences / (n_i + n_j - co-occurrences); n_i counts the users
    of item i."""

    alpha: float = Field(default=0.5, ge=0.0, le=1.0)
    """Exponent of the asymmetric cosine (0.5 is plain cosine)."""

    shrink: float = Field(default=0.0, ge=0.0)
    """Added to the denominator, damping similarities backed by few co-occurrences."""

    normalize_scores: bool = False
    """Divide each target column by its summed kept similarity, so items with many strong
    neighbours do not win on volume alone."""


class ItemKNN(Recommender[ItemKNNConfig]):
    """Neighbourhood model over item co-occurrence.

    Attributes (after `fit`):
        weights: W, sparse (n_items, n_items) CSR float32; column j holds the kept neighbours of j.
    """

    name = "itemknn"
    config_class = ItemKNNConfig

    weights: sp.csr_matrix

    def _fit(self, data: Dataset) -> None:
        started = time.perf_counter()
        matrix = data.matrix(binary=True).astype(np.float32).tocsc()  # (U, I)
        counts = np.asarray(matrix.sum(axis=0)).ravel()  # (I,) users per item
        n_items = data.n_items
        k = min(self.config.neighbors, max(n_items - 1, 1))
        rows: list[np.ndarray] = []
        cols: list[np.ndarray] = []
        values: list[np.ndarray] = []
        transposed = matrix.T.tocsr()  # (I, U)
        for start in range(0, n_items, _BLOCK):
            targets = np.arange(start, min(start + _BLOCK, n_items))  # (T,)
            co = np.asarray((transposed @ matrix[:, targets]).todense(), dtype=np.float32)  # (I, T)
            sims = self._similarity(co, counts, counts[targets])  # (I, T)
            sims[targets, np.arange(len(targets))] = 0.0  # an item is not its own neighbour
            top = np.argpartition(-sims, k - 1, axis=0)[:k] if k < n_items else np.indices(sims.shape)[0]
            kept = np.take_along_axis(sims, top, axis=0)  # (k, T)
            positive = kept > 0
            rows.append(top[positive])
            cols.append(np.broadcast_to(targets, kept.shape)[positive])
            values.append(kept[positive])
        weights = sp.csr_matrix(
            (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape=(n_items, n_items)
        )
        if self.config.normalize_scores:
            totals = np.asarray(weights.sum(axis=0)).ravel()
            weights = sp.csr_matrix(weights @ sp.diags(1.0 / np.maximum(totals, 1e-12)))
        self.weights = weights.astype(np.float32)
        log.info("item-kNN: %d items, %d weights in %.1fs", n_items, weights.nnz, time.perf_counter() - started)

    def _similarity(self, co: np.ndarray, counts: np.ndarray, target_counts: np.ndarray) -> np.ndarray:
        """Similarities from co-occurrence counts `co` (I, T) and per-item user counts."""
        n_i = counts[:, None].astype(np.float32)  # (I, 1) history item
        n_j = target_counts[None, :].astype(np.float32)  # (1, T) target item
        if self.config.similarity == "jaccard":
            denominator = n_i + n_j - co
        elif self.config.similarity == "asymmetric":
            denominator = np.power(n_i, self.config.alpha) * np.power(n_j, 1.0 - self.config.alpha)
        else:
            denominator = np.sqrt(n_i * n_j)
        denominator = denominator + np.float32(self.config.shrink)
        return np.divide(co, denominator, out=np.zeros_like(co), where=denominator > 0)

    def _score(self, histories: Histories) -> np.ndarray:
        rows = histories.to_csr(len(self.items))  # (B, I) binary
        return np.asarray((rows @ self.weights).todense(), dtype=np.float32)  # (B, I)

    def _explain(self, history: np.ndarray, targets: np.ndarray, method: str) -> np.ndarray:
        return linear_occlusion(self.weights, history, targets)  # exact: W[j, i] per history item j

    def _state(self) -> dict[str, np.ndarray]:
        return {
            "indptr": self.weights.indptr,
            "indices": self.weights.indices,
            "data": self.weights.data,
        }

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        n_items = len(self.items)
        self.weights = sp.csr_matrix((state["data"], state["indices"], state["indptr"]), shape=(n_items, n_items))
