"""The FAISS vector index: exact top-k equals brute force, HNSW recalls almost all of it, models plug in."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lmrec.diagnostics import ConfigError, DataError
from lmrec.models.sequential import SASRec
from lmrec.pipeline.index import VectorIndex
from lmrec.testing.fixtures import two_tastes


def _brute_force(items: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Plain reference: sort every item's inner product, best first, ties by position."""
    scores = queries @ items.T
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def test_flat_index_top_k_equals_brute_force() -> None:
    rng = np.random.default_rng(0)
    items = rng.normal(size=(5_000, 32)).astype(np.float32)
    queries = rng.normal(size=(20, 32)).astype(np.float32)
    scores, positions = VectorIndex().build(items).search(queries, 10)
    np.testing.assert_array_equal(positions, _brute_force(items, queries, 10))
    np.testing.assert_allclose(scores, np.take_along_axis(queries @ items.T, positions, axis=1), rtol=1e-5)


def test_hnsw_index_recalls_almost_every_exact_neighbour() -> None:
    rng = np.random.default_rng(1)
    items = rng.normal(size=(5_000, 32)).astype(np.float32)
    queries = rng.normal(size=(50, 32)).astype(np.float32)
    _, found = VectorIndex({"kind": "hnsw"}).build(items).search(queries, 10)
    exact = _brute_force(items, queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, exact, strict=True)])
    assert recall >= 0.95


def test_asking_for_more_than_the_catalogue_pads_and_save_load_round_trips(tmp_path: Path) -> None:
    items = np.eye(3, dtype=np.float32)
    index = VectorIndex().build(items)
    scores, positions = index.search(np.array([[0.0, 2.0, 1.0]]), 5)
    assert positions.tolist() == [[1, 2, 0, -1, -1]] and np.isneginf(scores[0, 3:]).all()
    loaded = VectorIndex.load(index.save(tmp_path / "items.faiss"))
    assert loaded.search(np.array([[0.0, 2.0, 1.0]]), 2)[1].tolist() == [[1, 2]]


def test_sasrec_item_vectors_give_the_models_own_ranking() -> None:
    data = two_tastes()
    model = SASRec({"dim": 16, "epochs": 10, "eval_every": 5, "max_len": 10}).fit(data)
    histories = data.histories()
    histories = histories.take(np.flatnonzero(histories.lengths() > 0))  # empty rows use the fallback instead
    scores, positions = VectorIndex().build(model.item_vectors()).search(model.user_vectors(histories), 5)
    model_scores = model.score_histories(histories)
    expected = -np.sort(-model_scores, axis=1)[:, :5]
    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-5)  # the same top-5, up to ties
    np.testing.assert_allclose(np.take_along_axis(model_scores, positions, axis=1), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    ("call", "error", "fragment"),
    [
        (lambda: VectorIndex().build(np.zeros((0, 4))), DataError, "non-empty"),
        (lambda: VectorIndex().build(np.array([[1.0, np.nan]])), DataError, "not finite"),
        (lambda: VectorIndex().search(np.zeros((1, 4)), 3), ConfigError, "build"),
        (lambda: VectorIndex().build(np.eye(4)).search(np.zeros((1, 3)), 2), DataError, "3 dimensions"),
        (lambda: VectorIndex({"kind": "ivf"}), ValueError, "kind"),
    ],
)
def test_bad_inputs_name_the_problem(call, error, fragment) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=fragment):
        call()
