"""The contract every exploration `Policy` keeps, as a pytest class to subclass once per policy.

    class TestSoftmax(PolicyContract):
        policy_name = "softmax"
        config = {"temperature": 0.5}

The central check draws many lists for the same candidates and compares the frequency of every
(item, slot) with `slot_probabilities`, within sampling error; the logged propensities must equal
those probabilities exactly. Candidates carry an `uncertainty` and a `cold` column, so every policy
(Thompson, UCB, the cold budget) can run on them.
"""

from __future__ import annotations

import json
import math
from typing import Any, ClassVar

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lmrec.diagnostics import ConfigError, DataError
from lmrec.itemlist import ItemList
from lmrec.pipeline.explore import COLD, EXPLORED, POLICY, PROPENSITY, UNCERTAINTY, Policy, create_policy


def make_candidates(scores: Any, uncertainty: Any = None, cold: Any = None) -> ItemList:
    """A scored candidate list with ids `c0`, `c1`, ... and optional `uncertainty` and `cold` columns."""
    scores = np.asarray(scores, dtype=np.float64)
    n = len(scores)
    columns: dict[str, np.ndarray] = {}
    if uncertainty is not None:
        columns[UNCERTAINTY] = np.asarray(uncertainty, dtype=np.float64)
    if cold is not None:
        columns[COLD] = np.asarray(cold, dtype=bool)
    return ItemList(np.array([f"c{i}" for i in range(n)], dtype=object), np.arange(n), scores, columns)


def empirical_slot_frequencies(positions: np.ndarray, n: int) -> np.ndarray:
    """Frequency of each (candidate, slot) over draws: positions (draws, m) -> shape (n, m)."""
    draws, m = positions.shape
    counts = np.zeros((n, m))
    np.add.at(counts, (positions, np.broadcast_to(np.arange(m), positions.shape)), 1.0)
    return counts / max(draws, 1)


def assert_frequencies_match(freq: np.ndarray, probs: np.ndarray, draws: int) -> None:
    """|freq - p| <= 4 sqrt(p (1 - p) / draws) + 1e-3 for every (candidate, slot)."""
    tolerance = 4 * np.sqrt(probs * (1 - probs) / draws) + 1e-3
    bad = np.argwhere(np.abs(freq - probs) > tolerance)
    assert not len(bad), "; ".join(f"[{i}, {j}] freq {freq[i, j]:.4f} vs p {probs[i, j]:.4f}" for i, j in bad[:5])


def assert_list_keeps_contract(policy: Policy[Any], candidates: ItemList, k: int, shown: ItemList) -> None:
    """The invariants of one `select` result against its input."""
    scored = [str(i) for i, s in zip(candidates.ids, candidates.scores, strict=True) if not math.isnan(s)]
    m = min(k, len(scored))
    assert len(shown) == m
    assert len(set(shown.ids.tolist())) == m, "an item is shown twice"
    assert set(shown.ids.tolist()) <= set(scored), "an item not among the scored candidates is shown"
    for name in (PROPENSITY, EXPLORED, POLICY):
        assert name in shown.columns, f"column {name!r} is missing"
    propensity = shown.column(PROPENSITY)
    assert propensity.dtype == np.float64 and shown.column(EXPLORED).dtype == np.bool_
    assert np.all((propensity > 0) & (propensity <= 1 + 1e-12)), propensity
    assert all(p == policy.name for p in shown.column(POLICY))
    probs = policy.slot_probabilities(candidates, k)
    assert probs.shape == (len(candidates), m)
    assert np.all(probs >= -1e-15) and np.all(probs.sum(axis=1) <= 1 + 1e-9)
    np.testing.assert_allclose(probs.sum(axis=0), 1.0, atol=1e-9)
    rows = [list(candidates.ids).index(i) for i in shown.ids]
    np.testing.assert_array_equal(propensity, probs[rows, np.arange(m)])


@st.composite
def candidate_lists(draw: st.DrawFn) -> tuple[ItemList, int]:
    """Random small candidate lists (NaN scores, ties, zero uncertainties, cold items) and a k."""
    n = draw(st.integers(0, 8))
    score = st.one_of(st.floats(-4, 4, allow_subnormal=False), st.sampled_from([0.0, 1.0, math.nan]))
    scores = draw(st.lists(score, min_size=n, max_size=n))
    std = st.one_of(st.floats(0, 2, allow_subnormal=False), st.just(0.0))
    uncertainty = draw(st.lists(std, min_size=n, max_size=n))
    cold = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    return make_candidates(scores, uncertainty, cold), draw(st.integers(0, 10))


class PolicyContract:
    """Shared checks; subclasses set `policy_name` and a `config`."""

    policy_name: ClassVar[str]
    config: ClassVar[dict[str, Any]] = {}
    #: Draws in the frequency check.
    draws: ClassVar[int] = 20_000

    @pytest.fixture(scope="class")
    @classmethod
    def policy(cls) -> Policy[Any]:
        return create_policy(cls.policy_name, cls.config)

    @pytest.fixture(scope="class")
    @classmethod
    def candidates(cls) -> ItemList:
        """Seven scored candidates (one tie, one with no uncertainty, two cold) and one NaN score."""
        scores = [1.2, 0.4, np.nan, 0.9, 0.4, -0.3, 0.1, 0.8]
        uncertainty = [0.3, 0.5, 0.2, 0.0, 0.4, 0.6, 0.5, 0.3]
        cold = [False, False, False, False, True, False, True, False]
        return make_candidates(scores, uncertainty, cold)

    def test_config_round_trips_and_rejects_unknown_fields(self, policy: Policy[Any]) -> None:
        dumped = json.loads(json.dumps(policy.config.model_dump(mode="json")))
        assert create_policy(self.policy_name, dumped).config == policy.config
        with pytest.raises(ConfigError, match="not_a_setting"):
            create_policy(self.policy_name, {**self.config, "not_a_setting": 1})
        with pytest.raises(ConfigError, match="seed"):
            create_policy(self.policy_name, {**self.config, "seed": -1})

    def test_select_keeps_the_contract(self, policy: Policy[Any], candidates: ItemList) -> None:
        for k in (0, 1, 3, 7, 50):
            shown = policy.select(candidates, k, np.random.default_rng(k))
            assert_list_keeps_contract(policy, candidates, k, shown)
        assert set(policy.select(candidates, 3, np.random.default_rng(0)).columns) >= {UNCERTAINTY, COLD}

    def test_draw_frequencies_match_slot_probabilities(self, policy: Policy[Any], candidates: ItemList) -> None:
        for k in (3, 7):
            probs = policy.slot_probabilities(candidates, k)
            positions, explored = policy.sample(candidates, k, np.random.default_rng(7), size=self.draws)
            assert positions.shape == explored.shape == (self.draws, probs.shape[1])
            assert_frequencies_match(empirical_slot_frequencies(positions, len(candidates)), probs, self.draws)
            assert not np.any(probs[positions, np.arange(probs.shape[1])] == 0), "a draw the probabilities rule out"

    def test_logged_propensities_over_many_selects(self, policy: Policy[Any], candidates: ItemList) -> None:
        """Successive `select` calls (the serving path) log P[i, j] and show (i, j) about that often."""
        probs, rng, draws = policy.slot_probabilities(candidates, 3), np.random.default_rng(3), 500
        rows = {item: i for i, item in enumerate(candidates.ids)}
        positions = np.empty((draws, probs.shape[1]), dtype=np.int64)
        for d in range(draws):
            shown = policy.select(candidates, 3, rng)
            positions[d] = [rows[item] for item in shown.ids]
            np.testing.assert_array_equal(shown.column(PROPENSITY), probs[positions[d], np.arange(3)])
        assert_frequencies_match(empirical_slot_frequencies(positions, len(candidates)), probs, draws)

    def test_select_is_the_first_draw_and_reproducible(self, policy: Policy[Any], candidates: ItemList) -> None:
        first = policy.select(candidates, 4, np.random.default_rng(11))
        again = policy.select(candidates, 4, np.random.default_rng(11))
        positions, explored = policy.sample(candidates, 4, np.random.default_rng(11), size=1)
        assert first.ids.tolist() == again.ids.tolist() == candidates.ids[positions[0]].tolist()
        np.testing.assert_array_equal(first.column(EXPLORED), explored[0])
        np.testing.assert_array_equal(first.column(PROPENSITY), again.column(PROPENSITY))
        served = policy.select(candidates, 4, policy.rng("request-42"))
        replayed = policy.select(candidates, 4, policy.rng("request-42"))
        assert served.ids.tolist() == replayed.ids.tolist()
        np.testing.assert_array_equal(served.column(PROPENSITY), replayed.column(PROPENSITY))

    def test_empty_lists_and_nan_scores(self, policy: Policy[Any]) -> None:
        empty = make_candidates([], [], [])
        shown = policy.select(empty, 5, np.random.default_rng(0))
        assert len(shown) == 0 and {PROPENSITY, EXPLORED, POLICY} <= set(shown.columns)
        assert policy.slot_probabilities(empty, 5).shape == (0, 0)
        unscored = make_candidates([np.nan, np.nan], [0.1, 0.1], [False, True])
        assert len(policy.select(unscored, 3, np.random.default_rng(0))) == 0
        some = make_candidates([np.nan, 0.5, np.nan, 0.2], [0.1, 0.2, 0.3, 0.0], [False, False, True, False])
        probs = policy.slot_probabilities(some, 3)
        assert probs.shape == (4, 2) and not probs[[0, 2]].any()
        for seed in range(20):
            assert set(policy.select(some, 3, np.random.default_rng(seed)).ids) == {"c1", "c3"}
        assert len(policy.select(some, 0, np.random.default_rng(0))) == 0

    def test_rejects_bad_input(self, policy: Policy[Any], candidates: ItemList) -> None:
        rng = np.random.default_rng(0)
        with pytest.raises(DataError, match="'k'"):
            policy.select(candidates, -1, rng)
        with pytest.raises(DataError, match="row 1, field 'uncertainty'"):
            policy.select(make_candidates([0.1, 0.2], [0.1, -0.5]), 2, rng)
        with pytest.raises(DataError, match="row 0, field 'score'"):
            policy.slot_probabilities(make_candidates([np.inf, 0.2], [0.1, 0.1]), 2)
        with pytest.raises(DataError, match="more than once"):
            policy.select(ItemList(np.array(["a", "a"], dtype=object), np.arange(2), np.ones(2)), 1, rng)
        with pytest.raises(TypeError, match="Generator"):
            policy.select(candidates, 2, 42)  # type: ignore[arg-type]

    def test_random_lists_keep_the_contract(self) -> None:
        policy = create_policy(self.policy_name, self.config)

        # Defined per call: one @given method shared by several subclasses upsets Hypothesis.
        @given(candidate_lists())
        def check(case: tuple[ItemList, int]) -> None:
            candidates, k = case
            assert_list_keeps_contract(policy, candidates, k, policy.select(candidates, k, np.random.default_rng(0)))

        check()
