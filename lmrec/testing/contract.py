"""The contract every `Recommender` keeps, as a pytest class to subclass once per model.

    class TestMyModel(ModelContract):
        model_name = "mymodel"
        config = {"factors": 8}

Every check runs on `lmrec.testing.fixtures.two_tastes`, a dataset with a known answer. A model
that cannot tell the two tastes apart (popularity) sets `learns_tastes = False`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from lmrec.data.columns import Columns
from lmrec.data.dataset import Dataset, Histories
from lmrec.data.schema import validate_events
from lmrec.diagnostics import ConfigError, DataError, NotFittedError
from lmrec.models import create_model, load_model, model_class
from lmrec.models.base import Recommender
from lmrec.testing.fixtures import taste_of, two_tastes


class ModelContract:
    """Shared checks; subclasses set `model_name` and, for speed, a small `config`."""

    model_name: ClassVar[str]
    config: ClassVar[dict[str, Any]] = {}
    learns_tastes: ClassVar[bool] = True
    deterministic: ClassVar[bool] = True

    @pytest.fixture(scope="class")
    @classmethod
    def data(cls) -> Dataset:
        return two_tastes()

    @pytest.fixture(scope="class")
    @classmethod
    def fitted(cls, data: Dataset) -> Recommender[Any]:
        return create_model(cls.model_name, cls.config).fit(data)

    def test_config_round_trips_and_rejects_unknown_fields(self) -> None:
        model = create_model(self.model_name, self.config)
        dumped = model.config.model_dump(mode="json")
        assert create_model(self.model_name, json.loads(json.dumps(dumped))).config == model.config
        with pytest.raises(ConfigError, match="not_a_setting"):
            create_model(self.model_name, {**self.config, "not_a_setting": 1})

    def test_scoring_before_fit_is_an_error(self) -> None:
        model = create_model(self.model_name, self.config)
        with pytest.raises(NotFittedError):
            model.score_histories(Histories.from_lists([[0]]))
        with pytest.raises(NotFittedError):
            model.save("never-written")
        with pytest.raises(NotFittedError):
            model.version()

    def test_a_dataset_without_items_is_refused_by_name(self) -> None:
        empty = Dataset.from_frames(validate_events(pd.DataFrame({Columns.User: [], Columns.Item: []})).valid)
        with pytest.raises(DataError, match="field 'items': the dataset has no items"):
            create_model(self.model_name, self.config).fit(empty)

    def test_scores_cover_the_catalogue(self, fitted: Recommender[Any], data: Dataset) -> None:
        histories = data.histories()
        scores = fitted.score_histories(histories)
        assert scores.shape == (data.n_users, data.n_items) and scores.dtype == np.float32
        has_history = histories.lengths() > 0
        assert np.isfinite(scores[has_history]).all()
        assert fitted.score_histories(Histories.from_lists([])).shape == (0, data.n_items)

    def test_batch_scores_equal_one_by_one(self, fitted: Recommender[Any], data: Dataset) -> None:
        histories = data.histories()
        batch = fitted.score_histories(histories)
        for b in range(0, len(histories), 7):
            single = fitted.score_histories(histories.take(np.array([b])))[0]
            np.testing.assert_allclose(single, batch[b], rtol=1e-5, atol=1e-6)

    def test_sessions_score_the_same_in_any_batch(self, fitted: Recommender[Any]) -> None:
        sessions = [[0, 3, 5], [12, 14], [1, 2, 3, 4], [15]]  # item positions of anonymous sessions
        batch = fitted.score_histories(Histories.from_lists(sessions))
        for b, session in enumerate(sessions):
            single = fitted.score_histories(Histories.from_lists([session]))[0]
            np.testing.assert_allclose(single, batch[b], rtol=1e-5, atol=1e-6)

    def test_explanations_are_the_score_drops_of_removing_each_item(self, fitted: Recommender[Any]) -> None:
        """The reference: score the history without each of its items, one at a time."""
        history = np.array([0, 11, 3, 12, 5, 3])  # shoes and kitchenware mixed, item 3 twice
        items = np.array([7, 16, 1])
        weights = fitted.explain(history, items, "occlusion")
        recent = history[-weights.shape[1] :]
        assert weights.shape == (3, min(len(history), fitted.history_window or len(history)))
        full = fitted.score_histories(Histories.from_lists([recent]))[0, items]
        for j in range(len(recent)):
            without = fitted.score_histories(Histories.from_lists([np.delete(recent, j)]))[0, items]
            np.testing.assert_allclose(weights[:, j], full - without, rtol=1e-4, atol=1e-5)
        assert fitted.explain(np.array([], dtype=np.int64), items).shape == (3, 0)
        if self.learns_tastes:  # one item: its whole score, not the drop to the empty-history fallback
            one = fitted.explain(history[:1], items, "occlusion")[:, 0]
            np.testing.assert_allclose(
                one, fitted.score_histories(Histories.from_lists([history[:1]]))[0, items], rtol=1e-5
            )
        with pytest.raises(ConfigError, match="not 'magic'"):
            fitted.explain(history, items, "magic")

    def test_recommend_names_the_history_items_behind_each_item(self, fitted: Recommender[Any]) -> None:
        shown = fitted.recommend("shoe-1", k=3, explain=2)
        history = set(fitted.user_histories(["shoe-1"]).row(0).tolist())
        expected = fitted.drivers(fitted.user_histories(["shoe-1"]).row(0), shown.index, n=2)
        for pairs, reference in zip(shown.column(Columns.Because), expected, strict=True):
            assert [(fitted.items.index([i])[0], w) for i, w in pairs] == reference
            assert {int(fitted.items.index([i])[0]) for i, _ in pairs} <= history
        assert Columns.Because not in fitted.recommend("shoe-1", k=3).columns

    def test_a_recommendation_is_explained_by_history_of_its_own_taste(self, fitted: Recommender[Any]) -> None:
        if not self.learns_tastes:
            pytest.skip(f"{self.model_name} gives everyone the same list by design")
        history = np.array([0, 2, 4, 11, 13, 15])  # three shoes, then three kitchen items
        for item in (7, 17):  # a shoe, a kitchen item; neither in the history
            (pairs,) = fitted.drivers(history, np.array([item]), n=2)
            assert pairs and item // 10 == pairs[0][0] // 10, f"item {item}: {pairs}"
            assert all(w > 0 for _, w in pairs) and [w for _, w in pairs] == sorted((w for _, w in pairs), reverse=True)

    def test_recommends_the_users_own_taste(self, fitted: Recommender[Any], data: Dataset) -> None:
        if not self.learns_tastes:
            pytest.skip(f"{self.model_name} gives everyone the same list by design")
        for user in ("shoe-0", "shoe-3", "cook-1", "cook-7"):
            seen = {data.items.ids[i] for i in data.histories(data.users.index([user])).row(0)}
            unseen_same_taste = 10 - len(seen)
            top = fitted.recommend(user, k=unseen_same_taste)
            assert not seen & set(top.ids), f"{user} was recommended items they already touched"
            tastes = {taste_of(i) for i in top.ids}
            assert tastes == {taste_of(user)}, f"{user} got {list(top.ids)}"

    def test_recommend_handles_sessions_unknown_users_and_k(self, fitted: Recommender[Any], data: Dataset) -> None:
        session = fitted.recommend(history=["kitchen-0", "kitchen-1", "no-such-item"], k=3)
        assert len(session) == 3 and {"kitchen-0", "kitchen-1"}.isdisjoint(session.ids)
        if self.learns_tastes:
            assert {taste_of(i) for i in session.ids} == {"kitchen"}
        assert len(fitted.recommend("cook-0", k=0)) == 0
        with pytest.raises(ConfigError, match=r"k must be 0 or more \(got -1\)"):
            fitted.recommend("cook-0", k=-1)
        with pytest.raises(ConfigError, match=r"explain must be 0 or more \(got -2\)"):
            fitted.recommend("cook-0", explain=-2)
        everything = fitted.recommend("cook-0", k=1_000, exclude_seen=False)
        assert len(everything) <= data.n_items and len(set(everything.ids)) == len(everything)
        assert np.all(np.diff(everything.scores) <= 0)
        popular = fitted.recommend("cook-0", k=3, exclude_seen=False) if not self.learns_tastes else None
        for user in ("somebody-never-seen", "newcomer"):  # no history: the popularity fallback
            top = fitted.recommend(user, k=3)
            if popular is not None:  # the model's own list, the same for everyone
                assert top.ids.tolist() == popular.ids.tolist()
            else:  # the most interacted items first, scored by their smoothed log share
                counts = np.sort(data.item_counts())[::-1].astype(np.float64)
                share = np.log((counts + 1) / (counts.sum() + len(counts)))
                np.testing.assert_allclose(top.scores, share[:3], rtol=1e-6)
                assert top.ids[0] == data.items.id(int(np.argmax(data.item_counts())))

    def test_same_config_same_scores(self, fitted: Recommender[Any], data: Dataset) -> None:
        if not self.deterministic:
            pytest.skip(f"{self.model_name} is not deterministic in this configuration")
        again = create_model(self.model_name, self.config).fit(data)
        histories = data.histories()
        np.testing.assert_allclose(
            again.score_histories(histories), fitted.score_histories(histories), rtol=1e-5, atol=1e-6
        )

    def test_refit_replaces_what_was_learned(self, data: Dataset) -> None:
        model = create_model(self.model_name, self.config).fit(data)
        first = model.version()
        half = data.with_interactions(data.interactions.iloc[: len(data.interactions) // 2])
        model.fit(half)
        assert model.version() != first  # what it learned from is part of its version
        fresh = create_model(self.model_name, self.config).fit(half)
        histories = half.histories()
        np.testing.assert_allclose(
            model.score_histories(histories), fresh.score_histories(histories), rtol=1e-4, atol=1e-5
        )

    def test_save_load_round_trip_without_pickle(self, fitted: Recommender[Any], data: Dataset, tmp_path: Path) -> None:
        folder = fitted.save(tmp_path / "model")
        assert sorted(p.name for p in folder.iterdir()) == ["config.json", "state.npz"]
        with np.load(folder / "state.npz", allow_pickle=False) as npz:
            assert all(npz[key].dtype != object for key in npz.files)
        loaded = load_model(folder)
        assert type(loaded) is type(fitted) and loaded.config == fitted.config
        assert loaded.version() == fitted.version()
        histories = data.histories()
        np.testing.assert_array_equal(loaded.score_histories(histories), fitted.score_histories(histories))
        session = Histories.from_lists([[0, 3], [12]])
        np.testing.assert_allclose(loaded.score_histories(session), fitted.score_histories(session), rtol=1e-6)
        assert loaded.recommend("cook-2", k=4).ids.tolist() == fitted.recommend("cook-2", k=4).ids.tolist()
        other = "popularity" if self.model_name != "popularity" else "ease"
        with pytest.raises(ConfigError, match="holds a"):
            model_class(other).load(folder)
        meta = json.loads((folder / "config.json").read_text())  # as if the state of another save were there
        (folder / "config.json").write_text(json.dumps({**meta, "version": "0" * 16}))
        with pytest.raises(ConfigError, match=r"state\.npz is not the state config\.json was saved with"):
            load_model(folder)
