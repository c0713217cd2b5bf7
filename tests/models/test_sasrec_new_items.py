"""SASRec's placing of new items (items with no training interactions): the spread of their text
term and the offset that gives them a share of the lists, each against a plain reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lmrec.data.dataset import Dataset, Histories
from lmrec.diagnostics import ConfigError
from lmrec.evaluation.metrics import mask_scores
from lmrec.models import load_model
from lmrec.models.sequential import SASRec
from lmrec.models.sequential.new_items import CALIBRATION_K
from lmrec.testing.fixtures import two_tastes, two_tastes_with_new_items

FUSED = {
    "dim": 16,
    "epochs": 10,
    "eval_every": 5,
    "max_len": 10,
    "learning_rate": 0.005,
    "item_parts": ["id", "text"],
    "output_parts": ["text"],
    "text_similarity": True,
}
NEW_TITLES = {
    "shoe-new-0": "trail running shoes for runners",
    "shoe-new-1": "leather walking boots",
    "shoe-new-2": "white court sneakers",
    "kitchen-new-0": "stainless steel saucepan",
    "kitchen-new-1": "bamboo cutting board",
    "kitchen-new-2": "cast iron grill pan",
}


def _with_new_items() -> Dataset:
    """two_tastes plus three shoes and three kitchen items that nobody has touched yet."""
    return two_tastes_with_new_items(NEW_TITLES)


def _training_histories(model: SASRec) -> Histories:
    return model.user_histories(model.users.to_list())


def test_the_new_items_are_those_without_training_interactions() -> None:
    data = _with_new_items()
    model = SASRec({**FUSED, "new_item_spread": 2.0}).fit(data)
    assert sorted(model.items.id(np.flatnonzero(model.new_items))) == sorted(NEW_TITLES)


def test_the_spread_scales_each_users_new_item_text_term_about_its_mean() -> None:
    """Reference: the trained score u · v, plus (spread - 1) times each new item's text term
    u_t · v_t minus its mean over the new items, plus the offset; known items are unchanged."""
    data = _with_new_items()
    spread, dim = 2.5, FUSED["dim"]
    model = SASRec({**FUSED, "new_item_spread": spread, "new_item_share": 0.2}).fit(data)
    histories = _training_histories(model)
    users = model.user_vectors(histories)  # (B, D + Dt + 1)
    trained_items = model.output_table()[1:].numpy()  # (I, D + Dt), as trained
    trained_users = users[:, :-1]  # (B, D + Dt)
    expected = trained_users @ trained_items.T  # (B, I)
    new = model.new_items
    text = trained_users[:, dim:] @ trained_items[new, dim:].T  # (B, N): γ times the text cosine
    expected[:, new] += (spread - 1.0) * (text - text.mean(axis=1, keepdims=True)) + model.new_item_offset
    scores = model.score_histories(histories)
    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-4)
    # still one dot product, so a vector index over item_vectors ranks as score does
    np.testing.assert_allclose(scores, users @ model.item_vectors().T, rtol=1e-5, atol=1e-5)
    assert model.new_item_offset != 0.0


@pytest.mark.parametrize("share", [0.1, 0.3])
def test_the_offset_gives_new_items_that_share_of_the_training_users_lists(share: float) -> None:
    data = _with_new_items()
    model = SASRec({**FUSED, "new_item_share": share}).fit(data)
    histories = _training_histories(model)
    scores = mask_scores(model.score_histories(histories), histories)
    top = np.argsort(-scores, axis=1, kind="stable")[:, :CALIBRATION_K]
    filled = model.new_items[top].mean()
    one_slot = 1.0 / (CALIBRATION_K * len(histories))
    assert abs(filled - share) <= 2 * one_slot  # bisection stops at the slot where the share is crossed


def test_without_new_items_the_scores_are_as_trained() -> None:
    data = two_tastes()
    placed = SASRec({**FUSED, "new_item_spread": 2.0, "new_item_share": 0.2}).fit(data)
    plain = SASRec(FUSED).fit(data)
    assert not placed.new_items.any() and placed.new_item_offset == 0.0
    histories = _training_histories(plain)
    # Two trainings agree to float32 rounding, not bit for bit: under load the CPU kernels may sum in
    # another order. Placing would move a score by the offset or the spread text term, far more.
    np.testing.assert_allclose(placed.item_vectors(), plain.item_vectors(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        placed.score_histories(histories), plain.score_histories(histories), rtol=1e-5, atol=1e-5
    )


def test_a_loaded_model_places_new_items_as_the_saved_one(tmp_path: Path) -> None:
    data = _with_new_items()
    model = SASRec({**FUSED, "new_item_spread": 2.0, "new_item_share": 0.2}).fit(data)
    model.save(tmp_path / "sasrec")
    loaded = load_model(tmp_path / "sasrec")
    assert loaded.new_item_offset == model.new_item_offset
    np.testing.assert_array_equal(loaded.new_items, model.new_items)
    histories = _training_histories(model)
    np.testing.assert_allclose(loaded.score_histories(histories), model.score_histories(histories), rtol=1e-6)


def test_the_spread_needs_the_text_similarity_term() -> None:
    with pytest.raises(ConfigError, match="new_item_spread"):
        SASRec({**FUSED, "text_similarity": False, "new_item_spread": 2.0})
