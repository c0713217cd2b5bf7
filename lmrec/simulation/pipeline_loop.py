"""Run a `Pipeline`, the object `lmrec recommend` (and later the service) runs, in a world with a known truth.

The batched loop of `lmrec.simulation.simulator` serves a whole step of requests with the `Agent` at
once, which is what makes 100,000 requests take under a minute. This loop serves one request at a
time through `Pipeline.recommend`, exactly as a deployment would, and teaches the pipeline from each
request's clicks (`Pipeline.feedback`) before the next one. It costs milliseconds per request rather
than microseconds, but what it measures is the deployed recommender itself: its retrievers, rules,
re-ranker, policy and explanations.

Everything else is the batched loop's, so a pipeline's run sits beside the policies' in one report:
the same rounds and steps, the same users and click uniforms (streams of the simulation seed keyed by
the step: common random numbers), the world's clock read at each step's first round (`--batch 1`
moves it every request), the same oracle, metrics and `SimulationResult`. Request t (of the step
starting at round s):

1. the world draws the user (the step's (t - s)-th arrival, as in the batched loop);
2. the query is the user's id and their history in the world (item ids, oldest first), `k` of the
   simulation and request id t, which keys the policy's draws, so a logged propensity can be
   reproduced;
3. the items the world has not released by round s go in the request's `exclude` rule: no retriever
   spends its budget on them and none is ever shown (the catalogue's own `available` flag still
   applies through the pipeline's rules; set `rules.exclude_unavailable = false` to leave
   availability to the world alone);
4. the item at slot j is clicked when U < examination(j) · attraction (the position-based model);
5. `pipeline.feedback(shown items, clicks)`.

The pipeline's model must be fitted on the world's visible history, `world.history`, whose item
positions are the world's items: `world_pipeline` fits one the way `Agent.fit` fits its base ranker.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from lmrec.data.columns import Columns
from lmrec.diagnostics import ConfigError
from lmrec.itemlist import ItemList
from lmrec.pipeline.pipeline import Pipeline, PipelineConfig, Query
from lmrec.simulation.replay import pipeline_log
from lmrec.simulation.simulator import (
    _CLICKS,
    _USERS,
    SimulationConfig,
    SimulationResult,
    _expected,
    _Loop,
    _single_threaded_blas,
    _stream,
    simulation_config,
)
from lmrec.simulation.worlds import World

log = logging.getLogger(__name__)


def pipeline_name(config: PipelineConfig) -> str:
    """The name a pipeline's run goes by in a report: `pipeline-POLICY` (never a batched policy's name)."""
    return f"pipeline-{config.policy.name}"


def world_pipeline(
    world: World,
    config: PipelineConfig | Mapping[str, Any] | None,
    *,
    ranker: str = "ease",
    ranker_config: Mapping[str, Any] | None = None,
    vectors: np.ndarray | None = None,
) -> Pipeline:
    """A fresh pipeline over a `ranker` fitted on the world's visible history.

    Args:
        config: the pipeline's declaration.
        ranker, ranker_config: the model (as `AgentConfig.ranker` and `ranker_config`).
        vectors: unit item vectors (n_items, D) when a stage needs them (`PipelineConfig.needs_item_vectors`).
    """
    from lmrec.models import create_model

    model = create_model(ranker, dict(ranker_config) if ranker_config is not None else None).fit(world.history)
    return Pipeline(config, model, world.history, vectors)


def simulate_pipeline(
    world: World,
    pipeline: Pipeline,
    config: SimulationConfig | dict[str, Any] | None = None,
    *,
    name: str | None = None,
) -> SimulationResult:
    """Serve `config.rounds` requests of `world` one by one through `pipeline` (module docstring).

    The pipeline learns as it goes (its Bayesian head, when its policy has one), so a run from a
    fresh pipeline is reproducible for a seed; a second run of the same object starts from what the
    first one taught it. With `config.log` the result also holds the run's pipeline log (`requests`:
    each request's query, shown items and clicks; see `lmrec.simulation.replay`).

    Args:
        pipeline: a pipeline whose model and data are on the world's items (see `world_pipeline`).
        config: the simulation's settings; `k` overrides the pipeline's own.
        name: the run's name in reports (default `pipeline_name(pipeline.config)`).
    """
    cfg = simulation_config(config)
    if pipeline.data.items != world.history.items:
        raise ConfigError(
            f"the pipeline's catalogue ({pipeline.data.n_items} items) is not the world's "
            f"({world.n_items} items); fit its model on world.history (see world_pipeline)"
        )
    loop = _PipelineLoop(world, pipeline, name or pipeline_name(pipeline.config), cfg)
    started = time.perf_counter()
    with _single_threaded_blas():
        for start in range(0, cfg.rounds, cfg.batch):
            loop.step(start, min(cfg.batch, cfg.rounds - start))
    seconds = time.perf_counter() - started
    log.info("%s: %d rounds in %.1fs, one request at a time", loop.name, cfg.rounds, seconds)
    result = loop.result(seconds)
    if not cfg.log:
        return result
    requests = pipeline_log(loop.queries, loop.lists, loop.rewards, version=pipeline.version)
    return dataclasses.replace(result, requests=requests)


class _PipelineLoop(_Loop):
    """The batched loop's counters and records, with each step served request by request."""

    def __init__(self, world: World, pipeline: Pipeline, name: str, cfg: SimulationConfig) -> None:
        super().__init__(world, None, name, None, cfg)
        self.pipeline = pipeline
        data = world.history
        self.user_ids = data.users.ids[world.user_rows]  # (U,) external id of each world user
        self.histories = data.histories(world.user_rows)  # each world user's history, oldest first
        self.item_ids = data.items.ids  # (I,)
        self.queries: list[Query] = []  # with `log`: each request, its shown list and clicks
        self.lists: list[ItemList] = []
        self.rewards: list[np.ndarray] = []

    def step(self, start: int, size: int) -> None:
        world, cfg, k = self.world, self.cfg, self.cfg.k
        users = world.draw_users(start, size, _stream(cfg.seed, _USERS, start // cfg.batch))
        rows = world.attraction_rows(users, start)  # (b, I)
        self.oracle[start : start + size] = _expected(rows, world.oracle_lists(users, start, k, rows), self.exam)
        hidden = tuple(self.item_ids[~world.available(start)].tolist())  # not released yet, by id
        uniform = _stream(cfg.seed, _CLICKS, start // cfg.batch).random((size, k))  # the batched loop's
        shown = np.full((size, k), -1, dtype=np.int64)
        clicks, p = np.zeros((size, k)), np.zeros((size, k))
        explored, propensity = np.zeros((size, k), dtype=bool), np.ones((size, k))
        for row, user in enumerate(users.tolist()):
            query = Query(
                user_id=str(self.user_ids[user]),
                history=tuple(self.item_ids[self.histories.row(user)].tolist()),
                k=k,
                request_id=str(start + row),
                filters={"exclude": hidden},
            )
            listed = self.pipeline.recommend(query)
            m = len(listed)
            shown[row, :m] = listed.index
            p[row, :m] = rows[row, listed.index] * self.exam[:m]
            clicks[row, :m] = uniform[row, :m] < p[row, :m]
            explored[row, :m] = listed.column(Columns.Explored)
            propensity[row, :m] = listed.column(Columns.Propensity)
            self.pipeline.feedback(listed.index, clicks[row, :m])
            if cfg.log:
                self.queries.append(query)
                self.lists.append(listed)
                self.rewards.append(clicks[row, :m])
        self._record(start, shown, clicks, p, explored, propensity)
