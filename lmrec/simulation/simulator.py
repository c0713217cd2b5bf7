"""The simulation loop: serve users of a world with a recommender and a policy, feed clicks back.

Terms:

- A **round** is one request: one arriving user is shown one list of up to k items. One round is
  one *impression* (of a list); each item in the list gets one *item impression*. `rounds` is the
  horizon, and rounds number the rows of the impression log (`ImpressionLog.round`).
- A **step** serves `batch` rounds at once: the world's clock (releases, drift) reads the step's
  first round, the agent scores the step's users with what it knew at the step's start, the policy
  draws each list, clicks are drawn, and the agent learns from the whole step once.

Clicks use the position-based model: the item at slot j is clicked when U < examination(j) ·
attraction, with U uniform. Users, U and the fresh-pool draws come from streams of the simulation
seed keyed by the step alone, so every policy meets the same users with the same uniforms (common
random numbers: differences between policies are not noise of the draws). The policy draws the
lists of a step, in request order, from `policy.rng(step)`, the generator of (policy seed, step
index), so a logged list can be reproduced by replaying its step (one generator per step rather
than per request: creating a generator costs ~50 µs, as much as the draw itself).

Three reference policies sit beside the exploration policies of `lmrec.pipeline.explore`: `oracle`
shows each user their true best list (regret 0 by definition), `random` shows k available, unseen
items uniformly at random, and `new_oracle` is greedy had it known every released new item's true
attraction: the agent's k best known items by posterior mean and the available new items by their
true attraction, merged by value (the agent learns from the known items' slots as under greedy).
What it gains over greedy is about the most that exploring new items could earn this agent: an
exploring policy can at best learn what `new_oracle` is told, and pays for the learning.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from lmrec.configs import validated_config
from lmrec.diagnostics import ConfigError
from lmrec.itemlist import ItemList
from lmrec.pipeline.explore import COLD, POLICIES, UNCERTAINTY, Policy, create_policy
from lmrec.simulation.agents import Agent, CandidateBatch, check_shown
from lmrec.simulation.logs import ImpressionLog
from lmrec.simulation.worlds import World

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

#: Reference policies (module docstring): the true best list, uniform random lists, greedy told the
#: new items' true attraction. Only the last needs an agent.
REFERENCE_POLICIES = ("oracle", "random", "new_oracle")
#: Every exploration policy of the pipeline, in the order reports list them (`--policy all`).
BUILT_IN_POLICIES = ("greedy", "epsilon", "softmax", "thompson", "ucb", "cold_budget")
#: Settings of the exploring policies, as tuned for the synthetic shop's world, the embedded default
#: (`python benchmarks/bench_balance.py --tune --datasets shop`, on its tuning seeds 100 and 101, never
#: on the seeds its results report). The benchmark tunes each data world on its own; its choices are
#: in benchmarks/results/balance_tuning.json. The cold budget gives the bottom two slots of the list
#: (8 and 9 of the tuned 10; -2 and -1 keep them the bottom two at any `k`) to the cold items with the
#: highest score + 0.3·std for the user.
DEFAULT_POLICY_CONFIGS: dict[str, dict[str, Any]] = {
    "greedy": {},
    "epsilon": {"epsilon": 0.02},
    "softmax": {"temperature": 0.003},
    "thompson": {"scale": 0.2},
    "ucb": {"beta": 0.15},
    "cold_budget": {"budget": 2, "slots": [-2, -1], "rate": 1.0, "pick": "ucb", "pick_beta": 0.3},
}
#: Stream keys of the simulation seed.
_USERS, _CLICKS, _FRESH, _RANDOM = 1, 2, 3, 4


class SimulationConfig(BaseModel):
    """Settings of one simulation run."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    rounds: int = Field(default=100_000, ge=1)
    """Requests served; one request (one shown list) is one impression."""

    batch: int = Field(default=500, ge=1)
    """Requests per step: the agent learns, and the world's clock moves, once per step."""

    k: int = Field(default=10, ge=1, le=1_000)
    """Items shown per request."""

    windows: int = Field(default=10, ge=1)
    """Equal windows of the horizon over which click rates are reported (10: 10% windows)."""

    reach: int = Field(default=100, ge=1)
    """Item impressions a new item must reach; the rounds it takes are reported."""

    seed: int = Field(default=0, ge=0)
    """Seed of users, clicks, fresh-pool draws and (unless a policy config sets one) policy draws."""

    log: bool = False
    """Keep the impression log with exact propensities (costly for softmax and thompson)."""


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """What one policy did over the horizon; `lmrec.simulation.report` turns it into metrics.

    Arrays (R = rounds, I = items):
        clicks: (R,) clicks of each round's list.
        expected: (R,) true expected clicks of each round's list, Σ_j examination(j) · attraction.
        oracle: (R,) expected clicks of the true best list at that round.
        shown: (R,) items shown in each round.
        explored: (R,) exploration picks in each round's list.
        diversity: (R,) intra-list diversity, mean (1 - cos) over pairs of the world's item vectors
            (NaN for lists of fewer than 2 items).
        impressions: (I,) item impressions over the horizon.
        reach_round: (I,) round at which the item's impressions reached `config.reach` (-1: never).
        first_round: (I,) round at which the item was first shown (-1: never).
        available_from: (I,) first round at which the item could be shown (first step at or after
            its release); R when that is after the horizon.
        release_round: (I,) the world's release round of each item (0: available from the start).
        log: with `config.log`, every shown item with its exact propensity, over the world's items.
        requests: with `config.log`, a declared pipeline's run as a pipeline log
            (`lmrec.simulation.replay`): each request's query and shown items with external ids,
            on which a candidate pipeline can be replayed.
    """

    policy: str
    config: SimulationConfig
    clicks: np.ndarray
    expected: np.ndarray
    oracle: np.ndarray
    shown: np.ndarray
    explored: np.ndarray
    diversity: np.ndarray
    impressions: np.ndarray
    reach_round: np.ndarray
    first_round: np.ndarray
    available_from: np.ndarray
    release_round: np.ndarray
    seconds: float
    log: ImpressionLog | None = None
    requests: pd.DataFrame | None = None


def policy_names(names: list[str] | tuple[str, ...]) -> list[str]:
    """Expand `all` into every built-in policy and check every name (order kept, repeats dropped)."""
    out: list[str] = []
    for name in names:
        expanded = BUILT_IN_POLICIES if name == "all" else (name,)
        for one in expanded:
            if one not in POLICIES and one not in REFERENCE_POLICIES:
                known = ", ".join([*sorted(POLICIES), *REFERENCE_POLICIES, "all"])
                raise ConfigError(f"unknown policy {one!r}; choose from {known}")
            if one not in out:
                out.append(one)
    if not out:
        raise ConfigError("name at least one policy")
    return out


def simulation_config(config: SimulationConfig | dict[str, Any] | None) -> SimulationConfig:
    """Validate a simulation config, naming the bad field."""
    return validated_config(SimulationConfig, config, "simulation")


def compare_policies(
    world: World,
    agent: Agent,
    policies: Mapping[str, Mapping[str, Any] | None],
    config: SimulationConfig | dict[str, Any] | None = None,
) -> dict[str, SimulationResult]:
    """Run every policy (name -> config, None for the defaults) on the same world, agent and seed."""
    return {name: simulate(world, agent, name, cfg, config) for name, cfg in policies.items()}


def simulate(
    world: World,
    agent: Agent | None,
    policy: str,
    policy_config: Mapping[str, Any] | None = None,
    config: SimulationConfig | dict[str, Any] | None = None,
) -> SimulationResult:
    """Serve `config.rounds` requests of `world` with `agent` and `policy`; see the module docstring.

    Args:
        agent: a fitted agent (reset here with `start`); None only for the reference policies.
        policy: a name of `lmrec.pipeline.explore.POLICIES`, or `oracle` / `random`.
        policy_config: the policy's settings; None takes `DEFAULT_POLICY_CONFIGS`. Its seed defaults
            to the simulation seed.
    """
    cfg = simulation_config(config)
    name = policy_names([policy])[0]
    chooser = _policy(name, policy_config, cfg.seed)
    if chooser is not None or name == "new_oracle":
        if agent is None:
            raise ConfigError(f"the {name} policy needs a fitted agent")
        agent.start()
    loop = _Loop(world, agent, name, chooser, cfg)
    started = time.perf_counter()
    with _single_threaded_blas():
        for start in range(0, cfg.rounds, cfg.batch):
            loop.step(start, min(cfg.batch, cfg.rounds - start))
    seconds = time.perf_counter() - started
    log.info("%s: %d rounds in %.1fs", name, cfg.rounds, seconds)
    return loop.result(seconds)


def _policy(name: str, config: Mapping[str, Any] | None, seed: int) -> Policy[Any] | None:
    if name in REFERENCE_POLICIES:
        return None
    settings = dict(DEFAULT_POLICY_CONFIGS.get(name, {}) if config is None else config)
    settings.setdefault("seed", seed)
    return create_policy(name, settings)


def _single_threaded_blas() -> AbstractContextManager[Any]:
    """One BLAS thread while the loop runs: its matrices are small, and on a busy machine extra BLAS
    threads cost more than they save. `threadpoolctl` comes with `implicit`; without it, no limit."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - installed with implicit
        return nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _stream(seed: int, key: int, step: int) -> np.random.Generator:
    return np.random.default_rng([seed, key, step])


class _Loop:
    """The state of one run: counters and per-round records, advanced one step at a time."""

    def __init__(self, world: World, agent: Agent | None, name: str, policy: Policy[Any] | None, cfg: SimulationConfig):
        self.world, self.agent, self.name, self.policy, self.cfg = world, agent, name, policy, cfg
        r, n = cfg.rounds, world.n_items
        self.clicks = np.zeros(r, dtype=np.int64)
        self.expected = np.zeros(r)
        self.oracle = np.zeros(r)
        self.shown = np.zeros(r, dtype=np.int64)
        self.explored = np.zeros(r, dtype=np.int64)
        self.diversity = np.full(r, np.nan)
        self.impressions = np.zeros(n, dtype=np.int64)
        self.reach_round = np.full(n, -1, dtype=np.int64)
        self.first_round = np.full(n, -1, dtype=np.int64)
        steps = -(-world.release_round // cfg.batch) * cfg.batch  # first step start at or after release
        self.available_from = np.minimum(steps, r).astype(np.int64)
        self.exam = world.examination_probability(np.arange(cfg.k))  # (k,)
        self.records: list[tuple[np.ndarray, ...]] = []
        self._seen = world.history.matrix(binary=True)[world.user_rows].tocsr() if name == "random" else None

    def step(self, start: int, size: int) -> None:
        world, cfg = self.world, self.cfg
        users = world.draw_users(start, size, _stream(cfg.seed, _USERS, start // cfg.batch))
        rows = world.attraction_rows(users, start)  # (b, I)
        best = world.oracle_lists(users, start, cfg.k, rows)  # (b, k')
        self.oracle[start : start + size] = _expected(rows, best, self.exam)
        if self.name == "oracle":
            shown, explored, propensity = best, np.zeros(best.shape, bool), np.ones(best.shape)
            batch = None
        elif self.name == "random":
            shown, propensity = self._random(users, start)
            explored, batch = np.ones(shown.shape, bool), None
        elif self.name == "new_oracle":
            assert self.agent is not None
            batch = self.agent.candidates(users, world.available(start), _stream(cfg.seed, _FRESH, start // cfg.batch))
            shown, positions = self._told_new(batch, rows, start)
            explored, propensity = np.zeros(shown.shape, bool), np.ones(shown.shape)
        else:
            assert self.agent is not None and self.policy is not None
            batch = self.agent.candidates(users, world.available(start), _stream(cfg.seed, _FRESH, start // cfg.batch))
            positions, explored, propensity = self._choose(batch, start)
            shown = np.where(positions >= 0, np.take_along_axis(batch.items, np.maximum(positions, 0), axis=1), -1)
        uniform = _stream(cfg.seed, _CLICKS, start // cfg.batch).random((size, cfg.k))[:, : shown.shape[1]]
        exam = self.exam[: shown.shape[1]]
        p = np.where(shown >= 0, np.take_along_axis(rows, np.maximum(shown, 0), axis=1), 0.0) * exam  # (b, m)
        clicks = (uniform < p).astype(np.float64)
        if batch is not None and self.agent is not None:
            self.agent.update(batch, positions, clicks, exam)
        self._record(start, shown, clicks, p, explored, propensity)

    def _choose(self, batch: CandidateBatch, start: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each request's list from its candidates: positions (b, k) into them, explored, propensity."""
        policy, k = self.policy, self.cfg.k
        assert policy is not None
        b = len(batch.items)
        positions = np.full((b, k), -1, dtype=np.int64)
        explored = np.zeros((b, k), dtype=bool)
        propensity = np.ones((b, k))
        rng = policy.rng(start // self.cfg.batch)
        for row in range(b):
            items = batch.items[row]
            candidates = ItemList(
                items, items, batch.scores[row], {UNCERTAINTY: batch.uncertainty[row], COLD: batch.cold[row]}
            )
            drawn, flags = policy.sample(candidates, k, rng, 1)
            m = drawn.shape[1]
            positions[row, :m], explored[row, :m] = drawn[0], flags[0]
            if self.cfg.log and m:
                propensity[row, :m] = policy.slot_probabilities(candidates, k)[drawn[0], np.arange(m)]
        check_shown(positions, batch)
        return positions, explored, propensity

    def _told_new(self, batch: CandidateBatch, rows: np.ndarray, start: int) -> tuple[np.ndarray, np.ndarray]:
        """`new_oracle`'s lists: the known candidates by posterior mean and every available new item
        the user has not seen by its true attraction (`rows`, (b, I)), the k best by value. Returns the
        shown items (b, k) and their positions in the candidates (b, k), -1 where a new item is shown,
        so the agent learns from the known items' slots alone."""
        assert self.agent is not None
        known = self.agent.known
        new = np.flatnonzero(self.world.available(start) & ~known)  # (P,)
        keep = (batch.items >= 0) & known[np.maximum(batch.items, 0)]  # (b, C)
        truth = rows[:, new]  # (b, P); 0 for seen items
        values = np.concatenate([np.where(keep, batch.scores, -np.inf), np.where(truth > 0, truth, -np.inf)], axis=1)
        items = np.concatenate([batch.items, np.broadcast_to(new, truth.shape)], axis=1)  # (b, C + P)
        order = np.argsort(-values, axis=1, kind="stable")[:, : self.cfg.k]
        picked = np.isfinite(np.take_along_axis(values, order, axis=1))
        shown = np.where(picked, np.take_along_axis(items, order, axis=1), -1)
        positions = np.where(picked & (order < batch.items.shape[1]), order, -1)
        return shown, positions

    def _random(self, users: np.ndarray, start: int) -> tuple[np.ndarray, np.ndarray]:
        """k available, unseen items per user uniformly without replacement, and their propensity 1/n."""
        assert self._seen is not None
        rng = _stream(self.cfg.seed, _RANDOM, start // self.cfg.batch)
        available = self.world.available(start)
        shown = np.full((len(users), self.cfg.k), -1, dtype=np.int64)
        propensity = np.ones((len(users), self.cfg.k))
        for row, user in enumerate(users):
            allowed = available.copy()
            allowed[self._seen.indices[self._seen.indptr[user] : self._seen.indptr[user + 1]]] = False
            pool = np.flatnonzero(allowed)
            m = min(self.cfg.k, len(pool))
            shown[row, :m] = rng.choice(pool, size=m, replace=False)
            propensity[row, :m] = 1.0 / max(len(pool), 1)
        return shown, propensity

    def _record(
        self, start: int, shown: np.ndarray, clicks: np.ndarray, p: np.ndarray, explored: np.ndarray, prop: np.ndarray
    ) -> None:
        size = len(shown)
        window = slice(start, start + size)
        valid = shown >= 0
        self.clicks[window] = clicks.sum(axis=1).astype(np.int64)
        self.expected[window] = p.sum(axis=1)
        self.shown[window] = valid.sum(axis=1)
        self.explored[window] = (explored & valid).sum(axis=1)
        self.diversity[window] = _diversity(self.world.item_vectors, shown)
        self._count(start, shown)
        if self.cfg.log:
            rows, slots = np.nonzero(valid)
            self.records.append((start + rows, slots, shown[rows, slots], clicks[rows, slots], prop[rows, slots]))

    def _count(self, start: int, shown: np.ndarray) -> None:
        """Add item impressions, noting the exact round at which an item reaches `reach`."""
        flat = shown.ravel()
        slot_round = start + np.repeat(np.arange(len(shown)), shown.shape[1])
        keep = flat >= 0
        flat, slot_round = flat[keep], slot_round[keep]
        before = self.impressions.copy()
        self.impressions += np.bincount(flat, minlength=len(self.impressions))
        items, first = np.unique(flat, return_index=True)  # flat is in round order
        fresh = before[items] == 0
        self.first_round[items[fresh]] = slot_round[first[fresh]]
        crossing = (before < self.cfg.reach) & (self.impressions >= self.cfg.reach)
        if crossing.any():
            order = np.argsort(flat, kind="stable")  # rows of each item, in round order
            items = flat[order]
            first = np.searchsorted(items, items)  # start of each item's group
            rank = before[items] + np.arange(len(items)) - first + 1  # impressions after this row
            hit = (rank == self.cfg.reach) & crossing[items]
            self.reach_round[items[hit]] = slot_round[order][hit]

    def result(self, seconds: float) -> SimulationResult:
        impression_log = None
        if self.cfg.log:
            parts = [np.concatenate(p) if self.records else np.empty(0) for p in zip(*self.records, strict=True)]
            parts = parts or [np.empty(0)] * 5
            impression_log = ImpressionLog(
                round=parts[0],
                position=parts[1],
                item=parts[2],
                reward=parts[3],
                propensity=parts[4],
                n_items=self.world.n_items,
                n_positions=self.cfg.k,
            )
        return SimulationResult(
            policy=self.name,
            config=self.cfg,
            clicks=self.clicks,
            expected=self.expected,
            oracle=self.oracle,
            shown=self.shown,
            explored=self.explored,
            diversity=self.diversity,
            impressions=self.impressions,
            reach_round=self.reach_round,
            first_round=self.first_round,
            available_from=self.available_from,
            release_round=np.asarray(self.world.release_round),
            seconds=seconds,
            log=impression_log,
        )


def _expected(rows: np.ndarray, items: np.ndarray, exam: np.ndarray) -> np.ndarray:
    """Σ_j exam(j) · attraction of each row's list, shape (b,); item -1 adds nothing."""
    p = np.where(items >= 0, np.take_along_axis(rows, np.maximum(items, 0), axis=1), 0.0)
    return np.asarray((p * exam[: items.shape[1]]).sum(axis=1), dtype=np.float64)


def _diversity(vectors: np.ndarray, shown: np.ndarray) -> np.ndarray:
    """Mean 1 - cos over the pairs of each list, shape (b,); NaN for fewer than 2 items."""
    valid = shown >= 0
    v = vectors[np.maximum(shown, 0)] * valid[..., None]  # (b, k, r)
    gram = np.einsum("bkr,bjr->bkj", v, v)  # (b, k, k)
    n = valid.sum(axis=1)
    pairs = n * (n - 1)  # ordered pairs
    total = pairs - (gram.sum(axis=(1, 2)) - np.einsum("bkk->b", gram))  # Σ_{j≠l} (1 - cos) for unit vectors
    return np.where(pairs > 0, total / np.maximum(pairs, 1), np.nan)
