"""A declared `Pipeline` served request by request in a small shop world, beside the batched agent."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from lmrec.diagnostics import ConfigError
from lmrec.models import create_model
from lmrec.pipeline.pipeline import Pipeline
from lmrec.simulation.agents import Agent
from lmrec.simulation.pipeline_loop import pipeline_name, simulate_pipeline, world_pipeline
from lmrec.simulation.replay import logged_versions, replay
from lmrec.simulation.report import policy_metrics, simulation_report
from lmrec.simulation.simulator import _USERS, SimulationResult, _stream, simulate
from lmrec.simulation.worlds import ShopWorld
from lmrec.testing.fixtures import two_tastes

#: 600 requests of 5 items in steps of 100; the world releases its new products during them.
SIM: dict[str, Any] = {"rounds": 600, "batch": 100, "k": 5, "seed": 0, "log": True}
#: The pipeline that should choose what the batched agent's greedy chooses: the model's top-n,
#: relevance order, greedy, and availability left to the world (the shop's stock flag would differ).
GREEDY = {
    "retrievers": [{"kind": "model", "n": 200}],
    "reranker": {"name": "relevance"},
    "policy": {"name": "greedy"},
    "rules": {"exclude_unavailable": False},
}


@pytest.fixture(scope="module")
def world() -> ShopWorld:
    return ShopWorld.build({"horizon": 600, "seed": 0, "shop": {"n_users": 120, "n_items": 80, "seed": 0}})


@pytest.fixture(scope="module")
def agent(world: ShopWorld) -> Agent:
    return Agent({"item_vectors": "interactions", "seed": 0}).fit(world)


def arrivals(world: ShopWorld) -> np.ndarray:
    """The user of every round: both loops draw them from the same stream of the simulation seed."""
    batch = SIM["batch"]
    steps = range(0, SIM["rounds"], batch)
    return np.concatenate([world.draw_users(s, batch, _stream(SIM["seed"], _USERS, s // batch)) for s in steps])


def lists(result: SimulationResult) -> dict[int, list[int]]:
    """Each round's shown items in slot order, from the impression log."""
    assert result.log is not None
    out: dict[int, list[int]] = {}
    for round_, slot, item in zip(result.log.round, result.log.position, result.log.item, strict=True):
        out.setdefault(int(round_), []).append(int(item))
        assert len(out[int(round_)]) == int(slot) + 1  # rows come in slot order
    return out


def test_exploring_pipeline_is_reproducible_and_reports_the_batched_metrics(world: ShopWorld, agent: Agent) -> None:
    config = {
        "retrievers": [{"kind": "model", "n": 50}, {"kind": "fresh", "n": 10}],
        "pool": 10,
        "policy": {"name": "thompson"},
    }
    sim = {**SIM, "rounds": 300}  # exact Thompson propensities cost milliseconds per request
    fresh = world_pipeline(world, config, vectors=agent.vectors)
    first = simulate_pipeline(world, fresh, sim)
    again = simulate_pipeline(world, world_pipeline(world, config, vectors=agent.vectors), sim)
    assert first.policy == pipeline_name(fresh.config) == "pipeline-thompson"
    assert fresh.head is not None and fresh.head.n_observations == first.shown.sum()  # taught every request
    for field in ("clicks", "expected", "shown", "explored", "impressions", "reach_round"):
        np.testing.assert_array_equal(getattr(first, field), getattr(again, field))
    assert first.log is not None and again.log is not None
    np.testing.assert_array_equal(first.log.propensity, again.log.propensity)
    other = simulate_pipeline(world, world_pipeline(world, config, vectors=agent.vectors), {**sim, "seed": 1})
    assert not np.array_equal(first.clicks, other.clicks)

    metrics = policy_metrics(first)
    assert metrics["cumulative_reward"] == int(first.clicks.sum()) > 0
    assert metrics["regret"] == pytest.approx(float((first.oracle - first.expected).sum()))
    assert metrics["ctr"] == pytest.approx(first.clicks.sum() / first.shown.sum())
    assert 0 < metrics["explored_share"] < 1  # thompson explores, and logs propensities below 1
    assert (first.log.propensity > 0).all() and (first.log.propensity < 1).any()
    greedy = simulate(world, agent, "greedy", None, sim)
    assert set(metrics) == set(policy_metrics(greedy))  # the same JSON shape as a batched policy's
    report = simulation_report({"greedy": greedy, first.policy: first}, world={}, settings={}, policy_configs={})
    assert "clicks_lift" in report["vs_greedy"]["pipeline-thompson"]


def test_pipeline_never_shows_unreleased_or_seen_items_and_its_fresh_pool_finds_new_ones(world: ShopWorld) -> None:
    config = {**GREEDY, "retrievers": [{"kind": "model", "n": 20}, {"kind": "fresh", "n": 20}]}
    config["policy"] = {"name": "epsilon", "config": {"epsilon": 0.5}}
    result = simulate_pipeline(world, world_pipeline(world, config), SIM)
    assert result.log is not None
    step_start = result.log.round // SIM["batch"] * SIM["batch"]  # the world's clock of each request
    assert (world.release_round[result.log.item] <= step_start).all()
    assert (world.release_round > 0).sum() > 0 and (world.release_round < SIM["rounds"]).any()
    new_shown = result.log.item[world.release_round[result.log.item] > 0]
    assert len(new_shown) > 0  # released products reach the lists through the fresh retriever
    users = arrivals(world)
    seen = world.history.matrix(binary=True)[world.user_rows].tocsr()
    for round_ in range(SIM["rounds"]):
        shown = result.log.item[result.log.round == round_]
        assert not set(shown.tolist()) & set(seen[users[round_]].indices.tolist())


def test_greedy_pipeline_shows_the_batched_greedy_lists(world: ShopWorld, agent: Agent) -> None:
    """Over the same EASE, both rank a user's unseen items by its score, and a user with no history
    (177 of the 600 requests here) by the model's popularity fallback, so their lists agree."""
    batched = simulate(world, agent, "greedy", None, SIM)
    piped = simulate_pipeline(world, world_pipeline(world, GREEDY, ranker_config={"l2": 200.0}), SIM)
    np.testing.assert_array_equal(piped.oracle, batched.oracle)  # same users, same clock, same truth
    ours, theirs = lists(piped), lists(batched)
    lengths = world.history.histories(world.user_rows).lengths()[arrivals(world)]
    assert (lengths == 0).sum() > SIM["rounds"] // 10
    agree = np.mean([ours[r] == theirs[r] for r in range(SIM["rounds"])])
    assert agree >= 0.95, agree  # all of them here; the margin leaves the batched head room to reorder near-ties
    assert piped.expected.sum() == pytest.approx(batched.expected.sum(), rel=0.05)


def test_a_pipeline_log_replays_to_its_own_propensities(world: ShopWorld) -> None:
    """The run's pipeline log keeps each request's query (its history and the not-yet-released items
    it excluded), so a fresh pipeline of the same config replays it to exactly the logged propensities."""
    config = {**GREEDY, "retrievers": [{"kind": "model", "n": 20}, {"kind": "fresh", "n": 10}], "pool": 12}
    config["policy"] = {"name": "softmax", "config": {"temperature": 0.05}}
    served = world_pipeline(world, config)
    result = simulate_pipeline(world, served, {**SIM, "rounds": 200})
    assert result.requests is not None and len(result.requests) == 200 * SIM["k"]
    assert result.requests["query"].str.contains('"exclude"').all()  # products not yet released
    replayer = world_pipeline(world, config)
    assert logged_versions(result.requests) == [served.version] == [replayer.version]  # same config and model
    assert world_pipeline(world, {**config, "pool": 11}).version != served.version
    impressions, target = replay(replayer, result.requests)
    np.testing.assert_allclose(target.logged(impressions), impressions.propensity, rtol=1e-12)
    assert result.log is not None
    np.testing.assert_array_equal(impressions.item, result.log.item)


def test_a_pipeline_on_another_catalogue_is_refused(world: ShopWorld) -> None:
    data = two_tastes()
    elsewhere = Pipeline(GREEDY, create_model("popularity").fit(data), data)
    with pytest.raises(ConfigError, match="is not the world"):
        simulate_pipeline(world, elsewhere, SIM)
