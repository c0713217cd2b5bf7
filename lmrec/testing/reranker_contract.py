"""The contract every re-ranker keeps, as a pytest class to subclass once per re-ranker.

    class TestMMR(RerankerContract):
        reranker_name = "mmr"
        config = {"weights": {"diversity": 0.5}}

Checks: the config round-trips through JSON and rejects unknown fields; the output is a subset of
the scored input with no duplicates, min(k, n) long, in a deterministic order, with the input's
scores and columns kept and a `lift` naming a known objective; k = 0, empty and all-NaN inputs;
with every weight 0 but relevance (or every weight 0) the order is the plain sort by score; bad
input is rejected with an error naming the culprit; and all of it again on random lists and random
weights (Hypothesis).
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
from lmrec.pipeline.catalogue import ItemFacts
from lmrec.pipeline.rerank import GAIN, LIFT, OBJECTIVES, Reranker, create_reranker

#: Every weight at once, so each objective's code runs in the shared checks.
ALL_WEIGHTS = {"relevance": 1.0, "diversity": 0.4, "novelty": 0.3, "value": 0.3, "fairness": 0.5}


def make_candidates(scores: Any, index: Any = None, **columns: Any) -> ItemList:
    """A candidate list with ids `c0`, `c1`, ..., vocabulary positions 0.. (or `index`), and columns."""
    scores = np.asarray(scores, dtype=np.float64)
    n = len(scores)
    positions = np.arange(n) if index is None else np.asarray(index, dtype=np.int64)
    ids = np.array([f"c{i}" for i in range(n)], dtype=object)
    return ItemList(ids, positions, scores, {name: np.asarray(v) for name, v in columns.items()})


def make_facts(n_items: int, seed: int = 0, dim: int = 6, n_groups: int = 3) -> ItemFacts:
    """A random catalogue of `n_items`: vectors, skewed popularity, values, groups, all available."""
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n_items, dim))
    popularity = np.floor(rng.pareto(1.2, size=n_items) * 10)
    names = tuple(f"g{g}" for g in range(n_groups))
    group = rng.integers(0, n_groups, size=n_items)
    value = rng.gamma(2.0, 20.0, size=n_items)
    return ItemFacts(popularity, value, group, names, np.ones(n_items, dtype=bool), vectors)


def assert_list_keeps_contract(candidates: ItemList, k: int, out: ItemList) -> None:
    """The invariants of one `rerank` result against its input."""
    scored = {str(i): s for i, s in zip(candidates.ids, candidates.scores, strict=True) if not math.isnan(s)}
    m = min(k, len(scored))
    assert len(out) == m, f"{len(out)} items for min(k={k}, n={len(scored)})"
    ids = [str(i) for i in out.ids]
    assert len(set(ids)) == len(ids), "an item is shown twice"
    assert set(ids) <= set(scored), "an item not among the scored candidates is shown"
    np.testing.assert_array_equal(out.scores, [scored[i] for i in ids])  # original scores kept
    rows = {str(i): r for r, i in enumerate(candidates.ids)}
    np.testing.assert_array_equal(out.index, candidates.index[[rows[i] for i in ids]])
    assert set(candidates.columns) | {LIFT, GAIN} == set(out.columns)
    for name, values in candidates.columns.items():
        np.testing.assert_array_equal(out.column(name), values[[rows[i] for i in ids]])
    assert all(lift in OBJECTIVES for lift in out.column(LIFT))
    assert out.column(GAIN).dtype == np.float64 and np.all(np.isfinite(out.column(GAIN)))


@st.composite
def candidate_lists(draw: st.DrawFn, n_items: int = 12) -> tuple[ItemList, int]:
    """Random small candidate lists over a catalogue of `n_items` (NaN scores, ties, unknown items) and a k."""
    n = draw(st.integers(0, n_items))
    positions = draw(st.permutations(range(n_items)))[:n]
    positions = [p if draw(st.integers(0, 9)) else -1 for p in positions]  # a few items outside the vocabulary
    score = st.one_of(st.floats(-5, 5, allow_subnormal=False), st.sampled_from([0.0, 1.0, math.nan]))
    scores = draw(st.lists(score, min_size=n, max_size=n))
    return make_candidates(scores, positions), draw(st.integers(0, n_items + 2))


def weight_sets() -> st.SearchStrategy[dict[str, float]]:
    """Random objective weights, zeros included."""
    weight = st.one_of(st.just(0.0), st.floats(0.0, 3.0, allow_subnormal=False))
    return st.fixed_dictionaries({name: weight for name in OBJECTIVES})


class RerankerContract:
    """Shared checks; subclasses set `reranker_name` and a `config`."""

    reranker_name: ClassVar[str]
    config: ClassVar[dict[str, Any]] = {}

    @pytest.fixture(scope="class")
    @classmethod
    def reranker(cls) -> Reranker[Any]:
        return create_reranker(cls.reranker_name, cls.config)

    @pytest.fixture(scope="class")
    @classmethod
    def facts(cls) -> ItemFacts:
        return make_facts(12, seed=1)

    @pytest.fixture(scope="class")
    @classmethod
    def candidates(cls) -> ItemList:
        """Nine candidates (one tie, one NaN score, one outside the vocabulary) with a `source` column."""
        scores = [1.2, 0.4, np.nan, 0.9, 0.4, -0.3, 0.1, 0.8, 0.05]
        index = [3, 0, 5, 7, 1, 11, -1, 2, 9]
        source = np.array(["ease", "text", "ease", "fresh", "ease", "text", "fresh", "ease", "text"], dtype=object)
        return make_candidates(scores, index, source=source)

    def test_config_round_trips_and_rejects_unknown_fields(self, reranker: Reranker[Any]) -> None:
        dumped = json.loads(json.dumps(reranker.config.model_dump(mode="json")))
        assert create_reranker(self.reranker_name, dumped).config == reranker.config
        with pytest.raises(ConfigError, match="not_a_setting"):
            create_reranker(self.reranker_name, {**self.config, "not_a_setting": 1})
        with pytest.raises(ConfigError, match="unknown re-ranker"):
            create_reranker("not-a-reranker")

    def test_rerank_keeps_the_contract(self, reranker: Reranker[Any], candidates: ItemList, facts: ItemFacts) -> None:
        for k in (0, 1, 3, 8, 50):
            for weights in (None, ALL_WEIGHTS):
                out = reranker.rerank(candidates, k, facts, weights=weights)
                assert_list_keeps_contract(candidates, k, out)

    def test_is_deterministic(self, reranker: Reranker[Any], candidates: ItemList, facts: ItemFacts) -> None:
        first = reranker.rerank(candidates, 6, facts, weights=ALL_WEIGHTS)
        again = create_reranker(self.reranker_name, self.config).rerank(candidates, 6, facts, weights=ALL_WEIGHTS)
        assert first.ids.tolist() == again.ids.tolist()
        assert first.column(LIFT).tolist() == again.column(LIFT).tolist()
        np.testing.assert_array_equal(first.column(GAIN), again.column(GAIN))

    def test_empty_lists_and_nan_scores(self, reranker: Reranker[Any], facts: ItemFacts) -> None:
        empty = make_candidates([])
        out = reranker.rerank(empty, 5, facts, weights=ALL_WEIGHTS)
        assert len(out) == 0 and {LIFT, GAIN} <= set(out.columns)
        unscored = make_candidates([np.nan, np.nan])
        assert len(reranker.rerank(unscored, 3, facts, weights=ALL_WEIGHTS)) == 0
        some = make_candidates([np.nan, 0.5, np.nan, 0.2])
        assert set(reranker.rerank(some, 3, facts, weights=ALL_WEIGHTS).ids) == {"c1", "c3"}
        assert len(reranker.rerank(some, 0, facts, weights=ALL_WEIGHTS)) == 0

    def test_relevance_alone_is_the_plain_sort(self, reranker: Reranker[Any], candidates: ItemList) -> None:
        plain = candidates.ranked(6)
        plain = plain.take(np.flatnonzero(~np.isnan(plain.scores)))
        zeros = dict.fromkeys(OBJECTIVES, 0.0)
        for weights in (zeros, {**zeros, "relevance": 2.5}):
            out = reranker.rerank(candidates, 6, None, weights=weights)
            assert out.ids.tolist() == plain.ids.tolist()
            assert set(out.column(LIFT)) == {"relevance"}

    def test_rejects_bad_input(self, reranker: Reranker[Any], candidates: ItemList, facts: ItemFacts) -> None:
        with pytest.raises(DataError, match="'k'"):
            reranker.rerank(candidates, -1, facts)
        with pytest.raises(DataError, match="row 0, field 'score'"):
            reranker.rerank(make_candidates([np.inf, 0.2]), 2, facts)
        with pytest.raises(DataError, match="more than once"):
            reranker.rerank(ItemList(np.array(["a", "a"], dtype=object), np.arange(2), np.ones(2)), 1, facts)
        with pytest.raises(DataError, match="row 1, field 'index'"):
            reranker.rerank(make_candidates([0.3, 0.2], [0, 12]), 2, facts)
        with pytest.raises(ConfigError, match="weights config: nolvety"):
            reranker.rerank(candidates, 2, facts, weights={"nolvety": 1.0})
        with pytest.raises(ConfigError, match="weights config: value"):
            reranker.rerank(candidates, 2, facts, weights={"value": -1.0})
        with pytest.raises(TypeError, match="ItemList"):
            reranker.rerank([0.1, 0.2], 2, facts)  # type: ignore[arg-type]

    def test_random_lists_keep_the_contract(self, facts: ItemFacts) -> None:
        reranker = create_reranker(self.reranker_name, self.config)

        # Defined per call: one @given method shared by several subclasses upsets Hypothesis.
        @given(candidate_lists(facts.n_items), weight_sets())
        def check(case: tuple[ItemList, int], weights: dict[str, float]) -> None:
            candidates, k = case
            out = reranker.rerank(candidates, k, facts, weights=weights)
            assert_list_keeps_contract(candidates, k, out)
            again = reranker.rerank(candidates, k, facts, weights=weights)
            assert out.ids.tolist() == again.ids.tolist()

        check()
