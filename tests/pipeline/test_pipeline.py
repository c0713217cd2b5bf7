"""The whole request path on a small shop with a known answer, declared in one config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lmrec.data.columns import Columns
from lmrec.data.dataset import Dataset
from lmrec.diagnostics import ConfigError
from lmrec.encoders import EncoderConfig, embed_texts
from lmrec.models import create_model
from lmrec.models.base import Recommender
from lmrec.pipeline.pipeline import Pipeline, PipelineConfig, Query
from lmrec.testing.fixtures import SHOES, taste_of, two_tastes


@pytest.fixture(scope="module")
def data() -> Dataset:
    return two_tastes()


@pytest.fixture(scope="module")
def vectors(data: Dataset) -> np.ndarray:
    return embed_texts(data.item_text(), EncoderConfig())


@pytest.fixture(scope="module")
def ease(data: Dataset) -> Recommender:  # type: ignore[type-arg]
    return create_model("ease", {"l2": 10.0}).fit(data)


def test_default_pipeline_runs_every_stage(data: Dataset, vectors: np.ndarray, ease: Recommender) -> None:  # type: ignore[type-arg]
    pipeline = Pipeline(None, ease, data, vectors)
    shown = pipeline.recommend(Query(user_id="shoe-0", k=4, weights={"diversity": 0.0}))
    seen = set(data.items.id(ease.user_histories(["shoe-0"]).row(0)))
    assert len(shown) == 4 and not seen & set(shown.ids)
    assert {taste_of(i) for i in shown.ids} == {"shoe"}  # the four shoes the user has not seen
    for column in (Columns.Source, "lift", Columns.Propensity, Columns.Explored, Columns.Reason):
        assert column in shown.columns
    for reason in shown.column(Columns.Reason):  # "found by model; because of <a shoe the user touched>"
        assert reason.startswith("found by model") and "because of" in reason, reason
        assert reason.split("because of ")[1] in SHOES, reason
    np.testing.assert_array_equal(shown.column(Columns.Propensity), 1.0)  # greedy


def test_filters_weights_and_sessions(data: Dataset, vectors: np.ndarray, ease: Recommender) -> None:  # type: ignore[type-arg]
    pipeline = Pipeline({"pool": 20}, ease, data, vectors)
    kitchen_only = pipeline.recommend(Query(user_id="shoe-0", k=3, filters={"category_prefix": "Kitchen"}))
    assert {taste_of(i) for i in kitchen_only.ids} == {"kitchen"}
    session = pipeline.recommend(Query(history=("kitchen-1", "kitchen-2"), k=3))
    assert {taste_of(i) for i in session.ids} == {"kitchen"} and {"kitchen-1", "kitchen-2"}.isdisjoint(session.ids)
    first = pipeline.recommend(Query(user_id="shoe-0", k=2)).ids.tolist()
    without = pipeline.recommend(Query(user_id="shoe-0", k=2, filters={"exclude": (*first, "no-such-item")}))
    assert len(without) == 2 and set(first).isdisjoint(without.ids)  # ids, as the request names them
    plain = pipeline.recommend(Query(user_id="cook-3", k=8, weights={"diversity": 0.0}))
    diverse = pipeline.recommend(Query(user_id="cook-3", k=8, weights={"diversity": 5.0}))
    assert plain.ids.tolist() != diverse.ids.tolist()
    assert "lifted by diversity" in " ".join(diverse.column(Columns.Reason))


def test_exploring_pipeline_logs_propensities_and_learns(data: Dataset, vectors: np.ndarray, ease: Recommender) -> None:  # type: ignore[type-arg]
    config = {"policy": {"name": "thompson"}, "reranker": {"name": "relevance"}}
    pipeline = Pipeline(config, ease, data, vectors)
    first = pipeline.recommend(Query(user_id="shoe-1", k=5, request_id="r1"))
    again = pipeline.recommend(Query(user_id="shoe-1", k=5, request_id="r1"))
    assert first.ids.tolist() == again.ids.tolist()  # the same request id draws the same list
    propensity = first.column(Columns.Propensity)
    assert ((propensity > 0) & (propensity <= 1)).all()
    assert pipeline.head is not None
    before = pipeline.head.predict(vectors[:3])[1]
    pipeline.feedback(np.array([0, 1, 2] * 5), np.array([1.0, 0.0, 1.0] * 5))
    assert (pipeline.head.predict(vectors[:3])[1] < before).all()


def test_a_request_sets_its_own_exploration(data: Dataset, vectors: np.ndarray, ease: Recommender) -> None:  # type: ignore[type-arg]
    config = {"policy": {"name": "epsilon", "config": {"epsilon": 0.5}}, "reranker": {"name": "relevance"}}
    pipeline = Pipeline(config, ease, data, vectors)
    greedy = Pipeline({"reranker": {"name": "relevance"}}, ease, data, vectors)
    plain = greedy.recommend(Query(user_id="cook-4", k=5))
    lists = [pipeline.recommend(Query(user_id="cook-4", k=5, request_id=str(r))) for r in range(20)]
    assert any(bool(shown.column(Columns.Explored).any()) for shown in lists)  # the configured epsilon 0.5
    for exploration in ({"epsilon": 0.0}, {"name": "greedy"}):  # this request explores nothing
        for r in range(5):
            shown = pipeline.recommend(Query(user_id="cook-4", k=5, request_id=str(r), exploration=exploration))
            assert shown.ids.tolist() == plain.ids.tolist()
            np.testing.assert_array_equal(shown.column(Columns.Propensity), 1.0)
    every = pipeline.recommend(Query(user_id="cook-4", k=5, exploration={"epsilon": 1.0}))
    assert every.column(Columns.Explored).all()  # every slot explores; the configured pipeline is unchanged
    assert pipeline.policy.config.epsilon == 0.5
    with pytest.raises(ConfigError, match="epsilon"):
        pipeline.recommend(Query(user_id="cook-4", exploration={"epsilon": 2.0}))
    with pytest.raises(ConfigError, match="needs the Bayesian head"):
        pipeline.recommend(Query(user_id="cook-4", exploration={"name": "thompson"}))


def test_a_user_without_history_gets_the_popular_items_and_no_history_reasons(
    data: Dataset, vectors: np.ndarray, ease: Recommender
) -> None:  # type: ignore[type-arg]
    shown = Pipeline({"reranker": {"name": "relevance"}}, ease, data, vectors).recommend(Query(user_id="newcomer", k=3))
    assert shown.ids[0] == data.items.id(int(np.argmax(data.item_counts())))  # EASE's popularity fallback
    assert not any("because of" in r for r in shown.column(Columns.Reason))


def test_sequential_model_reasons_name_the_history_item(data: Dataset, vectors: np.ndarray) -> None:
    sasrec = create_model("sasrec", {"dim": 16, "epochs": 10, "max_len": 10, "eval_every": 5}).fit(data)
    shown = Pipeline({"reranker": {"name": "relevance"}}, sasrec, data, vectors).recommend(Query(user_id="cook-0", k=3))
    assert any("because of" in r for r in shown.column(Columns.Reason))


def test_config_from_toml_and_bad_configs(
    tmp_path: Path, data: Dataset, vectors: np.ndarray, ease: Recommender
) -> None:  # type: ignore[type-arg]
    path = tmp_path / "pipeline.toml"
    path.write_text(
        'k = 5\npool = 12\n[[retrievers]]\nkind = "model"\nn = 50\n[[retrievers]]\nkind = "fresh"\nn = 5\n'
        '[reranker]\nname = "dpp"\n[reranker.config.weights]\ndiversity = 0.3\n[policy]\nname = "epsilon"\n'
        "[policy.config]\nepsilon = 0.2\n"
    )
    config = PipelineConfig.from_file(path)
    assert config.k == 5 and [r.kind for r in config.retrievers] == ["model", "fresh"]
    shown = Pipeline(config, ease, data, vectors).recommend(Query(user_id="cook-2"))
    assert len(shown) == 5
    with pytest.raises(ConfigError, match="unknown"):
        Pipeline({"policy": {"name": "psychic"}}, ease, data, vectors)
    with pytest.raises(ConfigError, match="needs item vectors"):
        Pipeline({"policy": {"name": "ucb"}, "reranker": {"name": "relevance"}}, ease, data)
    with pytest.raises(ConfigError, match="pool"):
        Pipeline({"pool": 0}, ease, data, vectors)
    with pytest.raises(ConfigError, match=r"k: a request shows at least 1 item \(got 0\)"):
        Query(user_id="cook-2", k=0)
    with pytest.raises(ConfigError, match="ease explains by occlusion"):
        Pipeline({"explain": "attention"}, ease, data, vectors)
    path.write_text('k = "ten"\n')
    with pytest.raises(ConfigError, match=r"invalid pipeline \(pipeline.toml\) config: k: .*integer \(got 'ten'\)"):
        PipelineConfig.from_file(path)
    path.write_text("k = \n")
    with pytest.raises(ConfigError, match=r"cannot read the pipeline config .*pipeline\.toml: Invalid value"):
        PipelineConfig.from_file(path)
