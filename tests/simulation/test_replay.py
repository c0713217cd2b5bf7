"""Estimating a pipeline from another pipeline's log, checked against a shop world's known truth."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from lmrec.diagnostics import DataError
from lmrec.models import create_model
from lmrec.pipeline.pipeline import Pipeline, Query
from lmrec.simulation.ope import DR, IPS, SNIPS, Estimator, SlotTarget, estimate_all
from lmrec.simulation.replay import (
    PIPELINE_LOG_COLUMNS,
    blind_mass,
    expected_weights,
    logged_versions,
    pipeline_log,
    replay,
)
from lmrec.simulation.worlds import ShopWorld

K, REQUESTS = 4, 3000
BASE: dict[str, Any] = {
    "retrievers": [{"kind": "model", "n": 40}],
    "reranker": {"name": "relevance"},
    "pool": 12,
    "rules": {"exclude_unavailable": False},
    "explain": "none",
}
LOGGING = {**BASE, "policy": {"name": "softmax", "config": {"temperature": 0.05}}}
TARGETS = {
    "greedy": {**BASE, "policy": {"name": "greedy"}},
    "epsilon": {**BASE, "policy": {"name": "epsilon", "config": {"epsilon": 0.3}}},
    "softmax-cold": {**BASE, "policy": {"name": "softmax", "config": {"temperature": 0.02}}},
    "smaller-pool": {**BASE, "pool": 6, "policy": {"name": "softmax", "config": {"temperature": 0.05}}},
    "uniform": {**BASE, "policy": {"name": "softmax", "config": {"temperature": 1e6}}},
}


@pytest.fixture(scope="module")
def world() -> ShopWorld:
    return ShopWorld.build({"horizon": 1, "seed": 1, "shop": {"n_users": 150, "n_items": 90, "seed": 1}})


@pytest.fixture(scope="module")
def model(world: ShopWorld) -> Any:
    return create_model("ease", {"l2": 10.0}).fit(world.history)


@pytest.fixture(scope="module")
def logged(world: ShopWorld, model: Any) -> tuple[pd.DataFrame, np.ndarray]:
    """The logging pipeline's REQUESTS requests, with clicks drawn from the world's truth, and each
    request's attraction row. Every 5th request filters out a few items, and every 7th is an anonymous
    session of the user's last three items; the log keeps both, so a replay serves the same request."""
    pipeline = Pipeline(LOGGING, model, world.history)
    rng = np.random.default_rng(5)
    users = rng.integers(0, world.n_users, REQUESTS)
    truth = world.attraction_rows(users, 0)  # (R, I)
    exam = world.examination_probability(np.arange(K))
    data = world.history
    ids = data.users.ids[world.user_rows[users]]
    queries, shown, rewards = [], [], []
    for t, user_id in enumerate(ids):
        query = Query(user_id=str(user_id), k=K, request_id=f"r{t}")
        if t % 5 == 0:  # without the two items the user would see first
            top = tuple(pipeline.slot_distribution(query)[0].ids[:2].tolist())
            query = Query(user_id=str(user_id), k=K, request_id=f"r{t}", filters={"exclude": top})
        if t % 7 == 0:
            recent = tuple(data.items.id(data.histories(world.user_rows[users[t : t + 1]]).row(0)[-3:]).tolist())
            query = Query(history=recent, k=K, request_id=f"r{t}")
        listed = pipeline.recommend(query)
        queries.append(query)
        shown.append(listed)
        rewards.append((rng.random(len(listed)) < exam[: len(listed)] * truth[t, listed.index]).astype(float))
    return pipeline_log(queries, shown, rewards), truth


def true_value(world: ShopWorld, target: Any, impressions: Any, truth: np.ndarray) -> float:
    """The target's exact expected reward per logged slot: sum over its pool of P(item at slot) x
    examination(slot) x the user's attraction to the item (rounds are in log order: code t is request t)."""
    attraction = np.take_along_axis(truth[impressions.round], np.maximum(target.items, 0), axis=1)  # (n, c)
    exam = world.examination_probability(impressions.position)  # (n,)
    return float(((target.probability * attraction).sum(axis=1) * exam).mean())


def test_replaying_the_logging_pipeline_gives_its_logged_propensities(
    world: ShopWorld, model: Any, logged: tuple[pd.DataFrame, np.ndarray]
) -> None:
    log, _ = logged
    assert list(log.columns) == [*PIPELINE_LOG_COLUMNS, "query"] and len(log) == REQUESTS * K
    assert logged_versions(log) == []  # written without the serving pipeline's version
    assert log["user"].isna().sum() == K * len(range(0, REQUESTS, 7))  # the anonymous sessions
    impressions, target = replay(Pipeline(LOGGING, model, world.history), log)
    np.testing.assert_allclose(target.logged(impressions), impressions.propensity, rtol=1e-12)
    ips = IPS({"n_bootstrap": 0}).estimate(impressions, target)
    assert ips.value == pytest.approx(log["reward"].mean(), rel=1e-12)  # every weight is 1


@pytest.mark.parametrize("name", list(TARGETS))
def test_estimates_of_other_pipelines_find_their_true_value(
    name: str, world: ShopWorld, model: Any, logged: tuple[pd.DataFrame, np.ndarray]
) -> None:
    log, truth = logged
    impressions, target = replay(Pipeline(TARGETS[name], model, world.history), log)
    value = true_value(world, target, impressions, truth)
    estimators: list[Estimator[Any]] = [IPS({"n_bootstrap": 0}), SNIPS({"n_bootstrap": 0}), DR({"n_bootstrap": 0})]
    for estimate in estimate_all(impressions, target, estimators=estimators).values():
        assert abs(estimate.value - value) < 4 * estimate.std_error, (estimate.estimator, estimate.value, value)


def test_estimates_tell_a_worse_pipeline_from_the_logging_one(
    world: ShopWorld, model: Any, logged: tuple[pd.DataFrame, np.ndarray]
) -> None:
    """Uniform over the pool earns about a quarter less than the logging softmax here (0.041 against
    0.056 per slot), and SNIPS says so by more than its noise: the checks above are not passed by
    estimating every target at the logging pipeline's own value."""
    log, truth = logged
    impressions, target = replay(Pipeline(TARGETS["uniform"], model, world.history), log)
    assert true_value(world, target, impressions, truth) < 0.85 * log["reward"].mean()
    estimate = SNIPS({"n_bootstrap": 0}).estimate(impressions, target)
    assert estimate.value + 2 * estimate.std_error < log["reward"].mean()


def test_blind_mass_and_expected_weights_known_answer() -> None:
    """Row 0: item 1 has logging probability 0 and item 2 is not in the logging pool, so 0.3 + 0.2 of
    the target is blind and its expected weight is 0.5; row 1 is covered (expected weight 1). Mean
    blind share over rows: 0.25."""
    target = SlotTarget(np.array([[0, 1, 2], [3, 4, -1]]), np.array([[0.5, 0.3, 0.2], [0.4, 0.6, 0.0]]))
    logging = SlotTarget(np.array([[0, 1, -1], [4, 3, 5]]), np.array([[1.0, 0.0, 0.0], [0.5, 0.25, 0.25]]))
    assert blind_mass(target, logging) == pytest.approx(0.25)
    assert expected_weights(target, logging) == pytest.approx([0.5, 1.0])
    assert expected_weights(target, logging, chunk=1) == pytest.approx([0.5, 1.0])
    assert blind_mass(logging, logging) == 0.0


def test_a_pipeline_beyond_the_logs_reach_is_blind_there(
    world: ShopWorld, model: Any, logged: tuple[pd.DataFrame, np.ndarray]
) -> None:
    log, _ = logged
    _, logging = replay(Pipeline(LOGGING, model, world.history), log)
    _, inside = replay(Pipeline(TARGETS["smaller-pool"], model, world.history), log)
    _, outside = replay(Pipeline({**TARGETS["uniform"], "pool": 24}, model, world.history), log)
    assert blind_mass(inside, logging) == 0.0  # the top 6 of the logging pool of 12
    assert blind_mass(outside, logging) == pytest.approx(0.5)  # uniform over 24: the 12 beyond the pool


def test_bad_logs_name_the_culprit(world: ShopWorld, model: Any, logged: tuple[pd.DataFrame, np.ndarray]) -> None:
    log, _ = logged
    pipeline = Pipeline(TARGETS["greedy"], model, world.history)
    with pytest.raises(DataError, match=r"row 8, field 'query': must be a JSON object"):
        replay(pipeline, log.assign(query=log["query"].where(log.index != 8, "{not json")))
    with pytest.raises(DataError, match=r"field 'query': may hold only"):
        replay(pipeline, log.assign(query='{"k": 3}'))
    with pytest.raises(DataError, match=r"row 0, field 'query': must be a JSON object \(got '\[1\]'\)"):
        replay(pipeline, log.assign(query="[1]"))
    with pytest.raises(DataError, match=r"row 4, field 'query': must be a JSON object as text, or empty"):
        replay(pipeline, log.assign(query=[{"filters": {}} if i == 4 else None for i in range(len(log))]))
    with pytest.raises(DataError, match=r"row 5, field 'item': is not in the target's catalogue \(got 'nope'\)"):
        replay(pipeline, log.assign(item=log["item"].where(log.index != 5, "nope")))
    with pytest.raises(DataError, match="missing column"):
        replay(pipeline, log.drop(columns="propensity"))
    with pytest.raises(DataError, match=r"row 1, field 'user': request 'r0' has rows of more than one user"):
        replay(pipeline, log.assign(user=log["user"].where(log.index != 1, "someone else")))
    with pytest.raises(DataError, match=r"row 2, field 'position': request 'r0' logs this slot twice \(got 0\)"):
        replay(pipeline, log.assign(position=log["position"].where(log.index != 2, 0)))
    narrow = Pipeline({**TARGETS["greedy"], "pool": 2, "retrievers": [{"kind": "model", "n": 2}]}, model, world.history)
    with pytest.raises(DataError, match=r"field 'round': the target fills 2 slots of this request, the log shows 4"):
        replay(narrow, log)
