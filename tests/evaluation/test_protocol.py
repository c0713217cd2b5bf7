"""The protocol runner on known-answer data, its invariants, and popularity on real ml-100k."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lmrec.data.columns import Columns
from lmrec.data.dataset import Dataset, Histories
from lmrec.data.schema import validate_events
from lmrec.data.splits import Split, leave_last_out
from lmrec.diagnostics import ConfigError, DataError, NotFittedError
from lmrec.evaluation.protocol import EvaluationConfig, compare, evaluate
from lmrec.models.base import ModelConfig, Recommender
from lmrec.models.popularity import Popularity


class FixedConfig(ModelConfig):
    """No settings."""


class Fixed(Recommender[FixedConfig]):
    """Scores item i as `table[user, i]`: a model whose ranking the test dictates."""

    name = "fixed"
    config_class = FixedConfig
    table: np.ndarray

    def _fit(self, data: Dataset) -> None:
        self.table = np.zeros((data.n_users, data.n_items), dtype=np.float32)

    def _score(self, histories: Histories) -> np.ndarray:
        return self.table[histories.users]

    def _state(self) -> dict[str, np.ndarray]:
        return {"table": self.table}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.table = state["table"]


def toy_split() -> Split:
    """Users 0..3 over items 0..5; each user's last item is the target."""
    rows = [(0, 0), (0, 1), (0, 2), (1, 3), (1, 4), (2, 0), (2, 5), (3, 1), (3, 2)]
    frame = pd.DataFrame(rows, columns=[Columns.User, Columns.Item]).astype(str)
    frame[Columns.Timestamp] = np.arange(len(rows), dtype=float)
    items = pd.DataFrame({Columns.Item: [str(i) for i in range(6)], Columns.Category: list("aabbcc")})
    return leave_last_out(Dataset.from_frames(frame, items))


def fixed_model(split: Split) -> Fixed:
    model = Fixed().fit(split.train)
    ranking = [5, 4, 3, 2, 1, 0]  # item 5 best ... item 0 worst, same for everyone
    model.table[:] = np.array(ranking, dtype=np.float32)[[int(i) for i in split.train.items.ids]]
    return model


def test_known_answer() -> None:
    split = toy_split()
    model = fixed_model(split)
    result = evaluate(model, split, EvaluationConfig(ks=(1, 3), n_bootstrap=200))
    # global order by score: items 0,1,2,3,4,5 (ids); targets: u0 -> 2, u1 -> 4, u2 -> 5, u3 -> 2
    # after excluding each user's history: u0 ranks 2 first (0,1 seen) -> rank 1;
    # u1 (seen 3): 0,1,2,4 -> rank 4; u2 (seen 0): 1,2,3,4,5 -> rank 5; u3 (seen 1): 0,2 -> rank 2
    ranks = np.array([1, 4, 5, 2])
    per_user = result.per_user.sort_values(Columns.UserIdx)
    assert per_user["MRR"].tolist() == pytest.approx((1 / ranks).tolist())
    assert result.metrics["HR@1"] == 0.25 and result.metrics["HR@3"] == 0.5
    assert result.metrics["NDCG@3"] == pytest.approx((1 + 1 / np.log2(3)) / 4)
    assert result.metrics["MRR"] == pytest.approx(np.mean(1 / ranks))
    assert result.n_users == 4 and result.split == "leave-last-out" and result.model == "fixed"
    # top-1 lists: u0 -> 2, u1 -> 0, u2 -> 1, u3 -> 0 ; three distinct items of six
    assert result.metrics["Coverage@1"] == pytest.approx(3 / 6)
    assert set(result.intervals) == set(result.per_user.columns) - {Columns.UserIdx, "n_targets"}
    low, high = result.intervals["MRR"]
    assert low <= result.metrics["MRR"] <= high


def test_include_seen_changes_ranks() -> None:
    split = toy_split()
    result = evaluate(fixed_model(split), split, EvaluationConfig(ks=(1,), exclude_seen=False, n_bootstrap=0))
    # without exclusion the ranks are the global positions: 3, 5, 6, 3
    assert sorted(result.per_user["MRR"].tolist()) == pytest.approx(sorted([1 / 3, 1 / 5, 1 / 6, 1 / 3]))
    assert result.intervals == {}


def test_batch_size_does_not_change_results() -> None:
    split = toy_split()
    model = fixed_model(split)
    rng = np.random.default_rng(0)
    model.table[:] = rng.integers(0, 3, size=model.table.shape)
    base = evaluate(model, split, EvaluationConfig(batch_size=512, n_bootstrap=50))
    for size in (1, 3):
        other = evaluate(model, split, EvaluationConfig(batch_size=size, n_bootstrap=50))
        pd.testing.assert_frame_equal(base.per_user, other.per_user)
        assert base.metrics == other.metrics and base.intervals == other.intervals


def test_list_metrics_and_ild_sources() -> None:
    split = toy_split()
    model = fixed_model(split)
    by_category = evaluate(model, split, EvaluationConfig(ks=(2,), n_bootstrap=0))
    assert "ILD@2" in by_category.metrics  # the toy item table has categories
    vectors = np.eye(6)
    by_vectors = evaluate(model, split, EvaluationConfig(ks=(2,), n_bootstrap=0), item_vectors=vectors)
    assert by_vectors.metrics["ILD@2"] == 1.0  # orthogonal vectors
    no_text = leave_last_out(split.train.with_interactions(split.train.interactions))
    bare = Dataset(
        no_text.train.users,
        no_text.train.items,
        no_text.train.interactions,
        no_text.train.item_table.assign(**{Columns.Category: ""}),
        no_text.train.user_table,
        no_text.train.event_types,
    )
    bare_split = Split("bare", bare, no_text.test, no_text.histories)
    result = evaluate(Popularity().fit(bare), bare_split, EvaluationConfig(ks=(2,), n_bootstrap=0))
    assert "ILD@2" not in result.metrics
    assert {"Novelty@2", "MeanPop@2", "Gini@2", "Coverage@2"} <= set(result.metrics)


def test_compare_and_json() -> None:
    split = toy_split()
    model = fixed_model(split)
    a = evaluate(model, split, EvaluationConfig(ks=(3,), n_bootstrap=100), name="a")
    b = evaluate(Popularity().fit(split.train), split, EvaluationConfig(ks=(3,), n_bootstrap=100), name="b")
    same = compare(a, a, "MRR", n_bootstrap=100)
    assert same.diff == 0.0 and same.p_value == 1.0
    c = compare(a, b, "MRR", n_bootstrap=100)
    assert c.mean_a == pytest.approx(a.metrics["MRR"]) and c.mean_b == pytest.approx(b.metrics["MRR"])
    assert c.diff == pytest.approx(c.mean_a - c.mean_b) and c.n_users == 4
    json.dumps([a.to_dict(), c.to_dict()], allow_nan=False)
    with pytest.raises(ConfigError, match="no per-user metric"):
        compare(a, b, "Coverage@3")
    fewer = evaluate(model, Split(split.name, split.train, split.test.iloc[:2], split.histories), name="c")
    with pytest.raises(DataError, match="same test users"):
        compare(a, fewer, "MRR")


def test_model_must_match_the_split() -> None:
    split = toy_split()
    with pytest.raises(NotFittedError):
        evaluate(Fixed(), split)
    other = Dataset.from_frames(pd.DataFrame({Columns.User: ["x"], Columns.Item: ["y"]}))
    with pytest.raises(ConfigError, match=r"fit it on split\.train"):
        evaluate(Popularity().fit(other), split)
    with pytest.raises(ValueError, match="ks"):
        EvaluationConfig(ks=(0,))


def read_ml100k(folder: Path) -> Dataset:
    raw = pd.read_csv(folder / "ml-100k" / "ml-100k.inter", sep="\t")
    raw.columns = [Columns.User, Columns.Item, Columns.Value, Columns.Timestamp]
    raw[Columns.Type] = "rating"
    # the reference breaks timestamp ties by numeric item id
    raw = raw.sort_values([Columns.User, Columns.Timestamp, Columns.Item], kind="stable")
    checked = validate_events(raw)
    assert checked.rejects.empty
    return Dataset.from_frames(checked.valid)


@pytest.mark.data
def test_popularity_on_ml100k_matches_reference(shared_data: Path) -> None:
    """Reference (shared/data README): popularity NDCG@10 0.0257, seen items excluded. It counts
    ties in the target's favour; our default (ties against the model) is a little lower."""
    split = leave_last_out(read_ml100k(shared_data))
    assert split.n_test_users == 943
    model = Popularity().fit(split.train)
    result = evaluate(model, split, EvaluationConfig(n_bootstrap=200))
    assert result.metrics["NDCG@10"] == pytest.approx(0.0257, abs=0.001)
    low, high = result.intervals["NDCG@10"]
    assert low < 0.0257 < high
    optimistic = evaluate(model, split, EvaluationConfig(ties="optimistic", n_bootstrap=0))
    assert round(optimistic.metrics["NDCG@10"], 4) == 0.0257
    assert result.seconds < 5
