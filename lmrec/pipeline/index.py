"""`VectorIndex`: top-k items by inner product through FAISS, for models that score by dot products.

A model whose score is `user_vector . item_vector` (SASRec, ALS, BPR, the content model) exports
its item vectors here; retrieval then costs one index search instead of a full score matrix.
`flat` is exact (the same top-k as brute force); `hnsw` is approximate and faster on large
catalogues. The index is saved with FAISS's own binary format, never pickle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from lmrec.diagnostics import ConfigError, DataError


class IndexConfig(BaseModel):
    """Settings of the vector index."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    kind: Literal["flat", "hnsw"] = "flat"
    """`flat`: exact inner-product search; `hnsw`: graph search, approximate, for large catalogues."""

    hnsw_neighbors: int = Field(default=32, ge=4, le=256)
    """Links per node of the HNSW graph (more: better recall, more memory)."""

    hnsw_search_depth: int = Field(default=128, ge=8)
    """Candidates explored per HNSW query (efSearch; more: better recall, slower)."""

    threads: int = Field(default=1, ge=0)
    """FAISS threads (0: FAISS's default, all cores); one request is fastest single-threaded."""


class VectorIndex:
    """Inner-product top-k over item vectors; item positions are the rows of the given matrix."""

    def __init__(self, config: IndexConfig | dict[str, Any] | None = None) -> None:
        self.config = config if isinstance(config, IndexConfig) else IndexConfig.model_validate(config or {})
        self._index: Any = None
        self.dim = 0
        self.size = 0

    def build(self, vectors: np.ndarray) -> VectorIndex:
        """Index `vectors` (n_items, D); returns self."""
        import faiss

        matrix = np.ascontiguousarray(vectors, dtype=np.float32)
        if matrix.ndim != 2 or len(matrix) == 0:
            raise DataError(f"item vectors must be a non-empty (n_items, D) matrix, got shape {matrix.shape}")
        if not np.isfinite(matrix).all():
            row = int(np.flatnonzero(~np.isfinite(matrix).all(axis=1))[0])
            raise DataError("item vector is not finite", field="vectors", row=row)
        self._set_threads()
        self.size, self.dim = matrix.shape
        index: Any
        if self.config.kind == "flat":
            index = faiss.IndexFlatIP(self.dim)
        else:
            index = faiss.IndexHNSWFlat(self.dim, self.config.hnsw_neighbors, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efSearch = self.config.hnsw_search_depth
        index.add(matrix)
        self._index = index
        return self

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k items with the largest inner product for each query row.

        Returns:
            scores (B, k) float32 and item positions (B, k) int64, best first; -1 and -inf where
            fewer than k items exist.
        """
        if self._index is None:
            raise ConfigError("the index is empty: call build() or load() first")
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if q.shape[1] != self.dim:
            raise DataError(f"queries have {q.shape[1]} dimensions, the index {self.dim}", field="queries")
        scores, positions = self._index.search(q, min(k, self.size))
        if k > self.size:
            pad = k - self.size
            scores = np.pad(scores, ((0, 0), (0, pad)), constant_values=-np.inf)
            positions = np.pad(positions, ((0, 0), (0, pad)), constant_values=-1)
        return scores, positions.astype(np.int64)

    def save(self, path: str | Path) -> Path:
        """Write the index in FAISS's binary format."""
        import faiss

        if self._index is None:
            raise ConfigError("the index is empty: nothing to save")
        path = Path(path)
        faiss.write_index(self._index, str(path))
        return path

    @classmethod
    def load(cls, path: str | Path, config: IndexConfig | dict[str, Any] | None = None) -> VectorIndex:
        """Read an index written by `save`."""
        import faiss

        index = cls(config)
        index._set_threads()
        index._index = faiss.read_index(str(path))
        index.size, index.dim = int(index._index.ntotal), int(index._index.d)
        return index

    def _set_threads(self) -> None:
        import faiss

        if self.config.threads:
            faiss.omp_set_num_threads(self.config.threads)
