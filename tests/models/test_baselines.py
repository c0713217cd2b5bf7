"""What is special about each baseline, checked against plain reference computations.

The shared contract (config, fit, save/load, batching, the two-tastes known answer) is in
`test_contract.py`; here each model's own arithmetic is checked on small known-answer data.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lmrec.data.columns import Columns
from lmrec.data.dataset import Dataset, Histories
from lmrec.data.schema import validate_events
from lmrec.diagnostics import ConfigError
from lmrec.models import create_model, load_model
from lmrec.models.ease import EASE
from lmrec.models.knn import ItemKNN
from lmrec.models.mf import ALS, BPR
from lmrec.models.popularity import Popularity
from lmrec.testing.fixtures import two_tastes


def _random_dataset(n_users: int = 30, n_items: int = 12, density: float = 0.3, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    pairs = [(u, i) for u in range(n_users) for i in range(n_items) if rng.random() < density]
    events = pd.DataFrame(
        {
            Columns.User: [f"u{u}" for u, _ in pairs],
            Columns.Item: [f"i{i:02d}" for _, i in pairs],
            Columns.Timestamp: np.arange(len(pairs)) + 1_000,
        }
    )
    return Dataset.from_frames(validate_events(events).valid)


def _dense(data: Dataset) -> np.ndarray:
    return np.asarray(data.matrix(binary=True).todense(), dtype=np.float64)


def test_ease_weights_solve_the_constrained_ridge_regression_column_by_column() -> None:
    """Column j of B minimises ||X_j - X w||^2 + l2 ||w||^2 with w_j = 0: a plain ridge solve
    without item j, independent of the closed form the model uses."""
    data = _random_dataset()
    l2 = 3.0
    model = EASE({"l2": l2}).fit(data)
    x = _dense(data)
    for j in range(data.n_items):
        others = [i for i in range(data.n_items) if i != j]
        a = x[:, others]
        w = np.linalg.solve(a.T @ a + l2 * np.eye(len(others)), a.T @ x[:, j])
        np.testing.assert_allclose(model.weights[others, j], w, rtol=1e-4, atol=1e-5)
        assert model.weights[j, j] == 0.0


def test_ease_refuses_catalogues_beyond_max_items() -> None:
    with pytest.raises(ConfigError, match="max_items"):
        EASE({"max_items": 5}).fit(_random_dataset())


@pytest.mark.parametrize("similarity", ["cosine", "jaccard", "asymmetric"])
def test_itemknn_similarities_match_a_plain_loop(similarity: str) -> None:
    data = _random_dataset(seed=1)
    x = _dense(data).astype(bool)
    shrink, alpha = 1.5, 0.3
    model = ItemKNN({"neighbors": 1_000, "similarity": similarity, "shrink": shrink, "alpha": alpha}).fit(data)
    weights = model.weights.toarray()
    for i in range(data.n_items):
        for j in range(data.n_items):
            co = float(np.sum(x[:, i] & x[:, j]))
            n_i, n_j = float(x[:, i].sum()), float(x[:, j].sum())
            if similarity == "cosine":
                expected = co / (np.sqrt(n_i * n_j) + shrink)
            elif similarity == "jaccard":
                expected = co / (n_i + n_j - co + shrink)
            else:
                expected = co / (n_i**alpha * n_j ** (1 - alpha) + shrink)
            assert weights[i, j] == pytest.approx(0.0 if i == j else expected, rel=1e-5, abs=1e-7)


def test_itemknn_keeps_only_the_nearest_neighbours_of_each_target() -> None:
    data = _random_dataset(n_items=20, density=0.4, seed=2)
    full = ItemKNN({"neighbors": 1_000}).fit(data).weights.toarray()
    kept = ItemKNN({"neighbors": 3}).fit(data).weights.toarray()
    for j in range(data.n_items):
        nonzero = np.flatnonzero(kept[:, j])
        assert len(nonzero) <= 3
        np.testing.assert_allclose(kept[nonzero, j], full[nonzero, j], rtol=1e-6)
        if len(nonzero):
            assert kept[nonzero, j].min() >= np.sort(full[:, j])[-3] - 1e-6
    history = Histories.from_lists([[0, 4, 9]])
    np.testing.assert_allclose(
        ItemKNN({"neighbors": 3}).fit(data).score_histories(history)[0], kept[[0, 4, 9]].sum(axis=0), rtol=1e-5
    )


def test_als_fold_in_is_the_exact_least_squares_step_of_implicit() -> None:
    from implicit.cpu.als import AlternatingLeastSquares

    data = two_tastes()
    model = ALS({"factors": 6, "iterations": 10, "regularization": 0.5, "alpha": 4.0}).fit(data)
    sessions = Histories.from_lists([[0, 1, 2], [12, 15], [3]])
    reference = AlternatingLeastSquares(factors=6, regularization=0.5, alpha=4.0)
    reference.item_factors = model.item_factors.copy()
    reference.user_factors = model.user_factors.copy()
    expected = reference.recalculate_user(np.arange(3), sessions.to_csr(data.n_items))
    np.testing.assert_allclose(model._fold_in(sessions), expected, rtol=1e-3, atol=1e-4)


def test_known_user_with_new_events_is_folded_in_not_looked_up() -> None:
    data = two_tastes()
    model = ALS({"factors": 8, "regularization": 5.0}).fit(data)
    user = int(data.users.index(["shoe-0"])[0])
    stored = model.score_histories(model.user_histories(["shoe-0"]))[0]
    np.testing.assert_allclose(stored, model.user_factors[user] @ model.item_factors.T, rtol=1e-6)
    moved = np.concatenate([model.history.row(user), data.items.index(["kitchen-0", "kitchen-1", "kitchen-2"])])
    rescored = model.score_histories(Histories.from_lists([moved], np.array([user])))[0]
    assert not np.allclose(rescored, stored)


def test_bpr_fold_in_ranks_the_session_taste_first_and_is_seeded() -> None:
    data = two_tastes()
    model = BPR({"factors": 8, "iterations": 200}).fit(data)
    session = Histories.from_lists([data.items.index(["kitchen-1", "kitchen-4", "kitchen-7"])])
    factors = model._fold_in(session)
    assert factors[0, -1] == 1.0  # the bias coordinate
    np.testing.assert_array_equal(factors, model._fold_in(session))
    scores = model.score_histories(session)[0]
    kitchen = np.array([i.startswith("kitchen") for i in data.items.ids])
    assert scores[kitchen].mean() > scores[~kitchen].mean()


def test_popularity_counts_and_trending_half_life() -> None:
    events = pd.DataFrame(
        {
            Columns.User: ["a", "b", "c", "a", "b"],
            Columns.Item: ["old", "old", "old", "new", "new"],
            Columns.Timestamp: [0, 0, 0, 86_400 * 10, 86_400 * 10],
            Columns.Type: ["view", "view", "view", "purchase", "view"],
        }
    )
    data = Dataset.from_frames(validate_events(events).valid)
    plain = Popularity().fit(data)
    assert plain.recommend(k=2, exclude_seen=False).ids.tolist() == ["old", "new"]
    trending = Popularity({"half_life_days": 5.0}).fit(data)
    # old: 3 events aged 10 days, each weighs 0.25; new: 2 fresh events weigh 1 each
    np.testing.assert_allclose(trending.item_scores[data.items.index(["old", "new"])], [0.75, 2.0])
    assert create_model("popularity", {"weighted": True}).fit(data).recommend(k=1).ids.tolist() == ["new"]


def test_a_save_cut_off_between_its_renames_is_refused_on_load(tmp_path: Path) -> None:
    """The state of one save beside the config of another (a save cut off after renaming its state)
    is refused with a message, rather than loaded as a model that neither save wrote."""
    data = two_tastes()
    first = EASE({"l2": 10.0}).fit(data).save(tmp_path / "model")
    second = EASE({"l2": 500.0}).fit(data).save(tmp_path / "other")
    shutil.copy(second / "state.npz", first / "state.npz")
    with pytest.raises(ConfigError, match=r"state\.npz is not the state config\.json was saved with"):
        load_model(first)
    assert sorted(p.name for p in first.iterdir()) == ["config.json", "state.npz"]  # no staged file left


def test_a_model_saved_before_a_setting_was_added_still_loads(tmp_path: Path) -> None:
    """An artifact written before a setting existed (here EASE's `l2`, taken out of its config.json
    and its version, as an older lmrec would have written them) loads with the setting's default,
    rather than being refused as a save that was cut off."""
    model = EASE().fit(two_tastes())
    folder = model.save(tmp_path / "model")
    meta = json.loads((folder / "config.json").read_text())
    del meta["config"]["l2"]
    meta["version"] = model._version_of(model._arrays(), meta["config"])
    (folder / "config.json").write_text(json.dumps(meta))
    loaded = load_model(folder)
    assert loaded.config.l2 == EASE().config.l2
    histories = Histories.from_lists([[0, 1], [12]])
    np.testing.assert_array_equal(loaded.score_histories(histories), model.score_histories(histories))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("remove", r"is not a whole saved model: state\.npz is missing"),
        ("garbage", r"state\.npz is not an npz archive: the file is damaged"),
        ("truncate", r"state\.npz is not an npz archive: the file is damaged"),
    ],
)
def test_a_damaged_state_file_is_named_not_unpickled(tmp_path: Path, damage: str, message: str) -> None:
    folder = EASE().fit(two_tastes()).save(tmp_path / "model")
    state = folder / "state.npz"
    if damage == "remove":
        state.unlink()
    elif damage == "garbage":
        state.write_bytes(b"\x80\x04not a zip")  # pickle's opening bytes: numpy would offer to unpickle it
    else:
        state.write_bytes(state.read_bytes()[: state.stat().st_size // 2])
    with pytest.raises(ConfigError, match=message):
        load_model(folder)
