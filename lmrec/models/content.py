"""Content model: items are their text's embedding, a user is the recency-weighted mean of the
items they touched last, and an item's score is its cosine similarity to the user.

Only `fit` needs the language model: the item vectors are part of the saved state, so a loaded
model scores without loading it.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from lmrec.data.dataset import Dataset, Histories
from lmrec.encoders.cache import embed_texts
from lmrec.encoders.text import EncoderConfig
from lmrec.models.base import ModelConfig, Recommender


class ContentConfig(ModelConfig):
    """Settings of the text content model."""

    encoder: EncoderConfig = EncoderConfig()
    """The language model that embeds `Dataset.item_text()`: model name, device, batch size,
    embedding cache."""

    max_history: int = Field(default=20, ge=1)
    """Only the most recent `max_history` items of a history make up the user vector."""

    decay: float = Field(default=0.5, gt=0.0, le=1.0)
    """Recency weight: the item j steps before the newest one weighs `decay ** j`; 1.0 is a plain
    mean of the last `max_history` items. 0.5 is the weight validation chose most often on the
    text datasets (README: the baselines and cold-start tables)."""


class ContentModel(Recommender[ContentConfig]):
    """Recommends items whose text is most similar to the text of the user's recent items.

    Attributes (after `fit`):
        item_vectors: unit-length text embedding of every item, shape (n_items, D), float32.
    """

    name = "content"
    config_class = ContentConfig

    item_vectors: np.ndarray

    def _fit(self, data: Dataset) -> None:
        vectors = embed_texts(data.item_text(), self.config.encoder)  # (I, D)
        self.item_vectors = np.ascontiguousarray(vectors, dtype=np.float32)

    @property
    def history_window(self) -> int:
        """The user vector reads the newest `max_history` items."""
        return self.config.max_history

    def user_vectors(self, histories: Histories) -> np.ndarray:
        """Recency-weighted mean embedding of each row's last `max_history` items, shape (B, D).

        A row with an empty history gets a zero vector.
        """
        self._check_fitted()
        weights = self._history_weights(histories)  # (B, I) sparse
        totals = np.asarray(weights.sum(axis=1)).ravel()  # (B,)
        summed = np.asarray(weights @ self.item_vectors, dtype=np.float32)  # (B, D)
        return summed / np.maximum(totals, 1e-12)[:, None].astype(np.float32)

    def _history_weights(self, histories: Histories) -> sp.csr_matrix:
        """(B, n_items) matrix of each history entry's recency weight, summed over repeats."""
        indptr = histories.indptr
        positions = np.arange(indptr[0], indptr[-1])  # (nnz,) entries of every row, in order
        rows = np.repeat(np.arange(len(histories)), histories.lengths())  # (nnz,)
        # steps back from the newest entry of the row: 0 for the newest, length - 1 for the oldest
        age = indptr[rows + 1] - 1 - positions  # (nnz,)
        keep = age < self.config.max_history
        weights = np.power(self.config.decay, age[keep]).astype(np.float64)
        items = histories.items[positions[keep]]
        return sp.csr_matrix((weights, (rows[keep], items)), shape=(len(histories), len(self.items)))

    def _score(self, histories: Histories) -> np.ndarray:
        users = self.user_vectors(histories)  # (B, D)
        norms = np.linalg.norm(users, axis=1, keepdims=True)  # (B, 1)
        return (users / np.maximum(norms, 1e-12)) @ self.item_vectors.T  # (B, I)

    def _state(self) -> dict[str, np.ndarray]:
        return {"item_vectors": self.item_vectors}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.item_vectors = np.ascontiguousarray(state["item_vectors"], dtype=np.float32)
