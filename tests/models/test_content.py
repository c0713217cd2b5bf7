"""What is special about the content model: real text similarity, the recency recipe, the
fallback, scoring from saved vectors alone, and a clear win over random on MovieLens-100K.

The shared contract checks (config round-trip, fit twice, save/load, batch = one by one) run
from `lmrec.testing.contract` over every model, this one included.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lmrec.data.columns import Columns
from lmrec.data.dataset import Dataset, Histories
from lmrec.data.schema import validate_events, validate_items
from lmrec.encoders.cache import EmbeddingCache
from lmrec.encoders.text import TextEncoder
from lmrec.models import create_model
from lmrec.models.content import ContentConfig, ContentModel

SHOES = ["red running shoes", "blue trail running sneakers", "lightweight marathon racing shoes", "kids sneakers"]
KITCHEN = ["stainless steel frying pan", "non-stick cooking pot", "cast iron skillet", "chef's kitchen knife"]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("embeddings"))


@pytest.fixture(scope="module")
def shop(cache_dir: str) -> Dataset:
    """Eight products: s0..s3 are shoes, k0..k3 kitchenware; `runner` viewed s0, `cook` k0 then k1
    and s2 twice, `newcomer` is in the user table with no events."""
    items = pd.DataFrame(
        {
            Columns.Item: [f"s{i}" for i in range(4)] + [f"k{i}" for i in range(4)],
            Columns.Title: SHOES + KITCHEN,
        }
    )
    events = pd.DataFrame(
        {
            Columns.User: ["runner", "cook", "cook", "cook", "cook"],
            Columns.Item: ["s0", "k0", "k1", "s2", "s2"],
            Columns.Timestamp: [1, 1, 2, 3, 4],
        }
    )
    users = pd.DataFrame({Columns.User: ["newcomer"]})
    return Dataset.from_frames(validate_events(events).valid, validate_items(items).valid, users)


def _model(cache_dir: str, **settings: object) -> ContentModel:
    return ContentModel({"encoder": {"cache_dir": cache_dir}, **settings})


def test_registered_under_content() -> None:
    assert isinstance(create_model("content"), ContentModel)
    assert ContentConfig().fallback == "popularity"


def test_shoe_viewer_gets_shoes_before_pans(shop: Dataset, cache_dir: str) -> None:
    model = _model(cache_dir).fit(shop)
    top = model.recommend("runner", k=3)
    assert set(top.ids) == {"s1", "s2", "s3"}
    ranked = model.recommend(history=["k2"], k=7)
    assert set(ranked.ids[:3]) == {"k0", "k1", "k3"}
    assert set(ranked.ids[3:]) == {"s0", "s1", "s2", "s3"}


def test_item_vectors_are_the_encoder_vectors_of_item_text(shop: Dataset, cache_dir: str) -> None:
    model = _model(cache_dir).fit(shop)
    assert model.item_vectors.shape == (8, 384) and model.item_vectors.dtype == np.float32
    np.testing.assert_allclose(model.item_vectors, TextEncoder().encode(shop.item_text()), atol=1e-5)
    assert EmbeddingCache(cache_dir).count(TextEncoder().version) >= 8


def _reference_user_vector(vectors: np.ndarray, history: list[int], max_history: int, decay: float) -> np.ndarray:
    """Plain loop: weighted mean of the last `max_history` items, newest weight 1."""
    recent = history[-max_history:]
    weights = [decay ** (len(recent) - 1 - j) for j in range(len(recent))]
    total = sum(w * vectors[i] for w, i in zip(weights, recent, strict=True))
    return np.asarray(total / sum(weights))


@pytest.mark.parametrize(("max_history", "decay"), [(20, 0.9), (2, 0.5), (1, 1.0), (3, 1.0)])
def test_user_vector_matches_a_plain_reference(shop: Dataset, cache_dir: str, max_history: int, decay: float) -> None:
    model = _model(cache_dir, max_history=max_history, decay=decay).fit(shop)
    rows: list[list[int]] = [[0, 4, 5, 2, 2], [7], [3, 1, 6, 6, 0, 5], []]
    users = model.user_vectors(Histories.from_lists(rows))
    for row, got in zip(rows[:-1], users[:-1], strict=True):
        expected = _reference_user_vector(model.item_vectors, row, max_history, decay)
        np.testing.assert_allclose(got, expected, atol=1e-5)
    np.testing.assert_array_equal(users[-1], 0.0)
    scores = model.score_histories(Histories.from_lists(rows[:-1]))
    unit = users[:-1] / np.linalg.norm(users[:-1], axis=1, keepdims=True)
    np.testing.assert_allclose(scores, unit @ model.item_vectors.T, atol=1e-5)


def test_recent_items_outweigh_old_ones(shop: Dataset, cache_dir: str) -> None:
    """The cook moved from pans to shoes: with strong decay the shoes lead, with none the kitchen does."""
    recent = _model(cache_dir, decay=0.2).fit(shop).recommend("cook", k=1)
    assert recent.ids[0].startswith("s")
    only_last = _model(cache_dir, max_history=1).fit(shop).recommend(history=["s0", "k0"], k=1)
    assert only_last.ids[0].startswith("k")


def test_empty_history_falls_back_to_popularity_or_nan(shop: Dataset, cache_dir: str) -> None:
    model = _model(cache_dir).fit(shop)
    no_items: list[list[int]] = [[]]
    empty = Histories.from_lists(no_items, np.array([-1]))
    counts = shop.item_counts().astype(np.float64)  # the log of each item's add-one smoothed share
    np.testing.assert_allclose(
        model.score_histories(empty)[0], np.log((counts + 1) / (counts.sum() + len(counts))), rtol=1e-6
    )
    assert model.recommend("newcomer", k=2).ids.tolist() == ["s2", "s0"]
    assert model.recommend("somebody-unknown", k=1).ids.tolist() == ["s2"]
    nan_model = _model(cache_dir, fallback="nan").fit(shop)
    assert np.isnan(nan_model.score_histories(empty)).all()
    assert len(nan_model.recommend("newcomer", k=3)) == 0


def test_loaded_model_scores_without_the_language_model(shop: Dataset, cache_dir: str, tmp_path: Path) -> None:
    model = _model(cache_dir).fit(shop)
    model.save(tmp_path / "content")
    expected = model.score_histories(Histories.from_lists([[0], [5, 6]]))
    np.save(tmp_path / "expected.npy", expected)
    script = (
        "import sys, numpy as np\n"
        "from lmrec.data.dataset import Histories\n"
        "from lmrec.models import load_model\n"
        f"model = load_model({str(tmp_path / 'content')!r})\n"
        "scores = model.score_histories(Histories.from_lists([[0], [5, 6]]))\n"
        f"np.testing.assert_array_equal(scores, np.load({str(tmp_path / 'expected.npy')!r}))\n"
        "assert 'torch' not in sys.modules and 'sentence_transformers' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


# -- MovieLens-100K ---------------------------------------------------------------------------


def _read_atomic(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    frame.columns = [c.split(":")[0] for c in frame.columns]
    return frame


def _ml100k(folder: Path) -> Dataset:
    """Titles and genres as text; events in time order, ties broken by item id."""
    raw_items = _read_atomic(folder / "ml-100k.item")
    items = pd.DataFrame(
        {
            Columns.Item: raw_items["item_id"],
            Columns.Title: raw_items["movie_title"],
            Columns.Category: raw_items["class"].str.split().str.join(", "),
        }
    )
    inter = _read_atomic(folder / "ml-100k.inter")
    inter = inter.assign(ts=inter["timestamp"].astype(float), iid=inter["item_id"].astype(int))
    inter = inter.sort_values(["user_id", "ts", "iid"], kind="stable")
    events = pd.DataFrame(
        {
            Columns.User: inter["user_id"],
            Columns.Item: inter["item_id"],
            Columns.Type: "rating",
            Columns.Value: inter["rating"].astype(float),
            Columns.Timestamp: inter["ts"],
        }
    )
    valid_events, valid_items = validate_events(events), validate_items(items)
    assert valid_events.rejects.empty and valid_items.rejects.empty
    return Dataset.from_frames(valid_events.valid, valid_items.valid)


def _leave_last_out_ndcg(scores: np.ndarray, inputs: Histories, targets: np.ndarray, k: int = 10) -> np.ndarray:
    """Per-user NDCG@k of one target each; seen items excluded, ties counted against the target."""
    scores = scores.astype(np.float64)
    for b in range(len(inputs)):
        scores[b, inputs.row(b)] = -np.inf
    target_scores = scores[np.arange(len(targets)), targets]
    rank = (scores >= target_scores[:, None]).sum(axis=1)  # 1 = best
    return np.where(rank <= k, 1.0 / np.log2(rank + 1), 0.0)


@pytest.mark.data
def test_beats_random_on_movielens_titles(shared_data: Path, cache_dir: str) -> None:
    data = _ml100k(shared_data / "ml-100k")
    assert (data.n_users, data.n_items, data.n_interactions) == (943, 1682, 100_000)
    frame = data.interactions
    last = np.r_[np.flatnonzero(np.diff(frame[Columns.UserIdx].to_numpy())), len(frame) - 1]
    train = data.with_interactions(frame.drop(frame.index[last]))
    users, targets = frame[Columns.UserIdx].to_numpy()[last], frame[Columns.ItemIdx].to_numpy()[last]
    inputs = train.histories(users)

    model = _model(cache_dir).fit(train)
    ndcg = _leave_last_out_ndcg(model.score_histories(inputs), inputs, targets).mean()
    # a random ranking puts the target at each of the n_candidates places with equal chance
    n_candidates = data.n_items - np.array([len(np.unique(inputs.row(b))) for b in range(len(inputs))])
    random_ndcg = (np.sum(1.0 / np.log2(np.arange(2, 12))) / n_candidates).mean()
    assert random_ndcg == pytest.approx(0.0033, abs=0.0005)
    assert ndcg > 3 * random_ndcg, (ndcg, random_ndcg)
