"""Re-rankers: the shared contract, fast paths against plain references, known answers, bad inputs."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import pytest

from lmrec.diagnostics import ConfigError, DataError
from lmrec.itemlist import ItemList
from lmrec.pipeline.catalogue import ItemFacts, Rules, apply_rules
from lmrec.pipeline.rerank import (
    GAIN,
    LIFT,
    DPPConfig,
    ObjectiveWeights,
    create_reranker,
    objective_terms,
)
from lmrec.testing.reranker_contract import ALL_WEIGHTS, RerankerContract, make_candidates, make_facts

# -- the contract over every re-ranker ------------------------------------------------------------


class TestRelevance(RerankerContract):
    reranker_name = "relevance"


class TestMMR(RerankerContract):
    reranker_name = "mmr"
    config: ClassVar[dict[str, Any]] = {"weights": {"diversity": 0.3}}


class TestMMRByRankUniform(RerankerContract):
    reranker_name = "mmr"
    config: ClassVar[dict[str, Any]] = {"relevance_scale": "rank", "fairness_target": "uniform"}


class TestDPP(RerankerContract):
    reranker_name = "dpp"
    config: ClassVar[dict[str, Any]] = {"weights": {"diversity": 0.5}, "fairness_target": {"g0": 2.0, "g2": 1.0}}


# -- plain, obviously correct references ----------------------------------------------------------


def plain_terms(
    scores: list[float], index: list[int], facts: ItemFacts, target: str = "catalogue"
) -> tuple[list[int], dict[str, list[float]], list[int], dict[int, float]]:
    """Candidate order (score descending, ties by position), per-candidate terms, groups and targets, by loops."""
    order = sorted((i for i in range(len(scores)) if not math.isnan(scores[i])), key=lambda i: -scores[i])
    if not order:
        return [], {}, [], {}
    s = [scores[i] for i in order]
    rel = [(x - min(s)) / (max(s) - min(s)) if max(s) > min(s) else 1.0 for x in s]
    total = max(sum(facts.popularity), 1.0)
    pops = [facts.popularity[index[i]] if index[i] >= 0 else 0.0 for i in order]
    surprise = [-math.log(max(p, 1.0) / total) for p in pops]
    low, high = min(surprise), max(surprise)
    nov = [(x - low) / (high - low) if high > low else 0.0 for x in surprise]
    values = [facts.value[index[i]] if index[i] >= 0 else 0.0 for i in order]
    top = max(abs(v) for v in values)
    val = [v / top if top > 0 else 0.0 for v in values]
    groups = [int(facts.group[index[i]]) if index[i] >= 0 else -1 for i in order]
    present = sorted({g for g in groups if g >= 0})
    raw = {g: 1.0 if target == "uniform" else float(np.sum(facts.group == g)) for g in present}
    shares = {g: raw[g] / sum(raw.values()) for g in present}
    return order, {"relevance": rel, "novelty": nov, "value": val}, groups, shares


def fair(groups: list[int], shares: dict[int, float], picked: list[int], i: int) -> float:
    if groups[i] < 0:
        return 0.0
    count = sum(1 for j in picked if groups[j] == groups[i])
    return min(max(shares[groups[i]] * (len(picked) + 1) - count, 0.0), 1.0)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = math.sqrt(float(np.dot(a, a))), math.sqrt(float(np.dot(b, b)))
    return float(np.dot(a, b)) / (na * nb) if na > 0 and nb > 0 else 0.0


def mmr_reference(scores: list[float], index: list[int], facts: ItemFacts, w: ObjectiveWeights, k: int) -> list[int]:
    """MMR by two plain loops: every step scores every remaining candidate from scratch."""
    order, terms, groups, shares = plain_terms(scores, index, facts)
    assert facts.vectors is not None
    vec = [
        facts.vectors[index[i]].astype(np.float64) if index[i] >= 0 else np.zeros(facts.vectors.shape[1]) for i in order
    ]
    picked: list[int] = []
    for _ in range(min(k, len(order))):
        best, best_value = -1, -math.inf
        for i in range(len(order)):
            if i in picked:
                continue
            redundancy = max((cosine(vec[i], vec[j]) for j in picked), default=0.0)
            value = (
                w.relevance * terms["relevance"][i]
                + w.novelty * terms["novelty"][i]
                + w.value * terms["value"][i]
                - w.diversity * redundancy
                + w.fairness * fair(groups, shares, picked, i)
            )
            if value > best_value:
                best, best_value = i, value
        picked.append(best)
    return [order[i] for i in picked]


def dpp_reference(
    scores: list[float], index: list[int], facts: ItemFacts, w: ObjectiveWeights, k: int, epsilon: float
) -> list[int]:
    """Greedy MAP of the DPP with kernel L = diag(q) S diag(q), q = exp(quality / (2 w_div)), by log-det:
    each step adds argmax_i w_div · log det L_{Y+i} + w_fair · fair_i."""
    order, terms, groups, shares = plain_terms(scores, index, facts)
    assert facts.vectors is not None and w.diversity > 0
    n = len(order)
    if n == 0:
        return []
    vectors = np.array([facts.vectors[index[i]] if index[i] >= 0 else np.zeros(facts.vectors.shape[1]) for i in order])
    similarity = vectors.astype(np.float64) @ vectors.T.astype(np.float64)
    np.fill_diagonal(similarity, 1.0 + epsilon)
    quality = [
        w.relevance * terms["relevance"][i] + w.novelty * terms["novelty"][i] + w.value * terms["value"][i]
        for i in range(n)
    ]
    q = np.exp(np.array(quality) / (2 * w.diversity))
    kernel = q[:, None] * similarity * q[None, :]
    picked: list[int] = []
    for _ in range(min(k, n)):
        best, best_value = -1, -math.inf
        for i in range(n):
            if i in picked:
                continue
            rows = [*picked, i]
            sign, logdet = np.linalg.slogdet(kernel[np.ix_(rows, rows)])
            assert sign > 0
            value = w.diversity * logdet + w.fairness * fair(groups, shares, picked, i)
            if value > best_value:
                best, best_value = i, value
        picked.append(best)
    return [order[i] for i in picked]


def random_case(seed: int, n_items: int = 15) -> tuple[list[float], list[int], ItemFacts]:
    rng = np.random.default_rng(seed)
    facts = make_facts(n_items, seed=seed, dim=4, n_groups=3)
    n = int(rng.integers(1, n_items + 1))
    index = rng.permutation(n_items)[:n].tolist()
    index = [i if rng.random() > 0.1 else -1 for i in index]
    scores = rng.normal(size=n).tolist()
    scores = [s if rng.random() > 0.1 else math.nan for s in scores]
    return scores, index, facts


def random_weights(rng: np.random.Generator, diversity: bool = True) -> ObjectiveWeights:
    w = {
        name: float(rng.choice([0.0, rng.uniform(0.1, 2.0)])) for name in ("relevance", "novelty", "value", "fairness")
    }
    return ObjectiveWeights(**w, diversity=float(rng.uniform(0.2, 1.5)) if diversity else 0.0)


@pytest.mark.parametrize("seed", range(60))
def test_mmr_equals_the_plain_reference(seed: int) -> None:
    scores, index, facts = random_case(seed)
    weights = random_weights(np.random.default_rng(seed + 1000))
    k = int(np.random.default_rng(seed).integers(0, 12))
    classic = create_reranker("mmr", {"redundancy": "max", "position_discount": False})
    out = classic.rerank(make_candidates(scores, index), k, facts, weights=weights)
    assert [int(i[1:]) for i in out.ids] == mmr_reference(scores, index, facts, weights, k)


@pytest.mark.parametrize("seed", range(60))
def test_dpp_fast_greedy_equals_the_log_det_reference(seed: int) -> None:
    scores, index, facts = random_case(seed)
    weights = random_weights(np.random.default_rng(seed + 2000))
    k = int(np.random.default_rng(seed).integers(0, 12))
    epsilon = [1e-3, 1e-2, 0.3][seed % 3]
    dpp = create_reranker("dpp", DPPConfig(epsilon=epsilon))
    out = dpp.rerank(make_candidates(scores, index), k, facts, weights=weights)
    assert [int(i[1:]) for i in out.ids] == dpp_reference(scores, index, facts, weights, k, epsilon)


def test_dpp_gains_are_log_det_increments() -> None:
    """gain_t = quality_i + w_div · (log det S_{Y_t} - log det S_{Y_t-1}) with no fairness weight."""
    facts = make_facts(10, seed=4, dim=5)
    candidates = make_candidates(np.linspace(1, 0, 10))
    w = ObjectiveWeights(diversity=0.7, novelty=0.4)
    out = create_reranker("dpp", {"epsilon": 0.01}).rerank(candidates, 6, facts, weights=w)
    terms = objective_terms(candidates.scores, candidates.index, facts, w)
    assert terms.vectors is not None
    similarity = terms.vectors @ terms.vectors.T
    np.fill_diagonal(similarity, 1.01)  # S_ii = 1 + ε exactly, whatever the float32 norms
    rows = [int(i[1:]) for i in out.ids]
    previous = 0.0
    for t, i in enumerate(rows):
        logdet = np.linalg.slogdet(similarity[np.ix_(rows[: t + 1], rows[: t + 1])])[1]
        np.testing.assert_allclose(out.column(GAIN)[t], terms.quality()[i] + 0.7 * (logdet - previous), atol=1e-9)
        previous = logdet


# -- known answers --------------------------------------------------------------------------------


def near_duplicates() -> tuple[ItemList, ItemFacts]:
    """A and A' point the same way; B and C elsewhere. Scores A 1.0, A' 0.95, B 0.5, C 0.4."""
    vectors = np.array([[1.0, 0.0, 0.0], [0.999, 0.04, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    facts = ItemFacts(np.ones(4), np.zeros(4), np.zeros(4, np.int64), ("all",), np.ones(4, bool), vectors)
    return make_candidates([1.0, 0.95, 0.5, 0.4]), facts


@pytest.mark.parametrize("name", ["mmr", "dpp"])
def test_high_diversity_never_shows_two_near_duplicates_on_top(name: str) -> None:
    candidates, facts = near_duplicates()
    plain = create_reranker(name).rerank(candidates, 2, facts, weights={"diversity": 0.0})
    assert plain.ids.tolist() == ["c0", "c1"]
    out = create_reranker(name, {"weights": {"diversity": 2.0}}).rerank(candidates, 4, facts)
    assert not {"c0", "c1"} <= set(out.ids[:2].tolist())
    assert out.ids[0] == "c0" and out.column(LIFT)[0] == "relevance"
    assert out.column(LIFT)[1] == "diversity"


@pytest.mark.parametrize("name", ["mmr", "dpp"])
def test_a_protected_head_keeps_the_top_places_and_is_diversified_against(name: str) -> None:
    candidates, facts = near_duplicates()
    # with the top two protected, A and A' lead although they are near duplicates ...
    out = create_reranker(name, {"head": 2, "weights": {"diversity": 2.0}}).rerank(candidates, 4, facts)
    assert out.ids[:2].tolist() == ["c0", "c1"]
    assert out.column(LIFT)[:2].tolist() == ["relevance", "relevance"]
    # ... and the rest is chosen against them: the same picks as an unprotected run after A, A'
    assert sorted(out.ids[2:].tolist()) == ["c2", "c3"]
    whole = create_reranker(name, {"head": 4, "weights": {"diversity": 2.0}}).rerank(candidates, 4, facts)
    assert whole.ids.tolist() == ["c0", "c1", "c2", "c3"]  # a head as long as the list is pure relevance
    # diversity still acts after a one-item head: A' is pushed below B
    one = create_reranker(name, {"head": 1, "weights": {"diversity": 2.0}}).rerank(candidates, 3, facts)
    assert one.ids.tolist()[:2] == ["c0", "c2"]


def test_summed_redundancy_counts_every_pick_not_only_the_closest() -> None:
    """After A and B, C is close to A only (cos 0.9, 0 to B), D half-close to both (cos 0.6 each):
    max-MMR takes D (0.6 < 0.9), sum-MMR takes C (0.9 < 1.2), which adds more to ILD."""
    vectors = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.9, 0.0, 0.19**0.5], [0.6, 0.6, 0.28**0.5]])
    facts = ItemFacts(np.ones(4), np.zeros(4), np.zeros(4, np.int64), ("all",), np.ones(4, bool), vectors)
    candidates = make_candidates([1.0, 0.9, 0.5, 0.5])
    config = {"head": 2, "weights": {"diversity": 1.0}}
    by_max = create_reranker("mmr", {**config, "redundancy": "max"}).rerank(candidates, 3, facts)
    by_sum = create_reranker("mmr", {**config, "redundancy": "sum"}).rerank(candidates, 3, facts)
    assert by_max.ids.tolist() == ["c0", "c1", "c3"]
    assert by_sum.ids.tolist() == ["c0", "c1", "c2"]
    np.testing.assert_allclose(by_sum.column(GAIN)[2], 0.0 - 1.0 * 0.9, atol=1e-9)  # rel of C is 0 (min-max)


@pytest.mark.parametrize("seed", range(20))
def test_summed_redundancy_equals_the_plain_reference(seed: int) -> None:
    """argmax_i rel_i - w · Σ_{j in Y} cos(i, j), one place at a time, with and without the discount."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 12))
    facts = make_facts(n, seed=seed, dim=4)
    scores = rng.normal(size=n)
    w, discount = float(rng.uniform(0.2, 2.0)), bool(seed % 2)
    config = {"redundancy": "sum", "position_discount": discount, "weights": {"diversity": w}}
    out = create_reranker("mmr", config).rerank(make_candidates(scores), n, facts)
    relevance = (scores - scores.min()) / (scores.max() - scores.min())
    unit = facts.vectors.astype(np.float64)
    picked: list[int] = []
    for t in range(n):
        scale = 1.0 / math.log2(t + 2) if discount else 1.0
        values = [
            -math.inf if i in picked else scale * relevance[i] - (w * np.sum(unit[picked] @ unit[i]) if picked else 0)
            for i in range(n)
        ]
        picked.append(int(np.argmax(values)))
    assert [int(i[1:]) for i in out.ids] == picked


@pytest.mark.parametrize("name", ["mmr", "dpp"])
def test_position_discount_spends_the_lower_places_on_diversity(name: str) -> None:
    """Without the discount A' (relevance 0.92, a near duplicate of A) takes place 2; weighed by
    1 / log2(3) there, its relevance no longer pays for its redundancy and B (0.17, new) takes it."""
    candidates, facts = near_duplicates()
    weights = {"diversity": 0.5} if name == "mmr" else {"diversity": 0.1}
    plain = create_reranker(name, {"weights": weights, "position_discount": False}).rerank(candidates, 2, facts)
    discounted = create_reranker(name, {"weights": weights, "position_discount": True}).rerank(candidates, 2, facts)
    assert plain.ids.tolist() == ["c0", "c1"]
    assert discounted.ids.tolist() == ["c0", "c2"]
    assert discounted.column(LIFT).tolist() == ["relevance", "diversity"]


@pytest.mark.parametrize("name", ["mmr", "dpp"])
def test_uniform_fairness_over_two_groups_gives_two_of_each(name: str) -> None:
    group = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    facts = ItemFacts(np.ones(8), np.zeros(8), group, ("a", "b"), np.ones(8, bool))
    candidates = make_candidates([1.0, 0.9, 0.8, 0.7, 0.3, 0.2, 0.1, 0.0])
    out = create_reranker(name, {"fairness_target": "uniform", "weights": {"fairness": 5.0}}).rerank(
        candidates, 4, facts
    )
    assert sorted(group[out.index].tolist()) == [0, 0, 1, 1]
    assert out.ids.tolist() == ["c0", "c4", "c1", "c5"]
    assert out.column(LIFT).tolist() == ["relevance", "fairness", "relevance", "fairness"]
    by_name = create_reranker(name, {"fairness_target": {"b": 1.0}, "weights": {"fairness": 5.0}})
    assert by_name.rerank(candidates, 4, facts).ids.tolist() == ["c4", "c5", "c6", "c7"]


@pytest.mark.parametrize("name", ["mmr", "dpp"])
def test_value_weight_promotes_the_expensive_item(name: str) -> None:
    value = np.array([10.0, 12.0, 900.0, 11.0])
    facts = ItemFacts(np.ones(4), value, np.zeros(4, np.int64), ("all",), np.ones(4, bool))
    candidates = make_candidates([1.0, 0.9, 0.6, 0.5])
    plain = create_reranker(name, {"weights": {}})
    assert plain.rerank(candidates, 2, facts).ids.tolist() == ["c0", "c1"]
    out = plain.rerank(candidates, 2, facts, weights={"value": 1.0})
    assert out.ids.tolist() == ["c2", "c0"]
    assert out.column(LIFT).tolist() == ["value", "relevance"]


@pytest.mark.parametrize("name", ["mmr", "dpp"])
def test_novelty_weight_promotes_the_long_tail(name: str) -> None:
    popularity = np.array([5000.0, 4000.0, 3.0, 2500.0])
    facts = ItemFacts(popularity, np.zeros(4), np.zeros(4, np.int64), ("all",), np.ones(4, bool))
    candidates = make_candidates([1.0, 0.9, 0.7, 0.6, 0.5], [0, 1, 2, 3, -1])
    out = create_reranker(name).rerank(candidates, 3, facts, weights={"novelty": 2.0, "diversity": 0.0})
    # the tail item, then the unknown one (popularity 0, the most novel) come first, lifted by novelty
    assert out.ids.tolist() == ["c2", "c4", "c0"]
    assert out.column(LIFT)[:2].tolist() == ["novelty", "novelty"]


def test_dpp_survives_exact_duplicates() -> None:
    vectors = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    facts = ItemFacts.uniform(3, vectors)
    out = create_reranker("dpp", {"weights": {"diversity": 1.0}}).rerank(make_candidates([1.0, 0.9, 0.1]), 3, facts)
    assert out.ids.tolist() == ["c0", "c2", "c1"]
    assert np.all(np.isfinite(out.column(GAIN)))
    # the duplicate costs w_div · log(d²) with d² = (1 + ε) - 1 / (1 + ε) (its cosine is exactly 1)
    d2 = 1.001 - 1 / 1.001
    np.testing.assert_allclose(out.column(GAIN)[2], 0.8 / 0.9 + np.log(d2), rtol=1e-9)


def test_relevance_scales() -> None:
    scores = np.array([100.0, 1.0, 1.0, 0.0])
    w = ObjectiveWeights()
    np.testing.assert_allclose(objective_terms(scores, np.arange(4), None, w).relevance, [1.0, 0.01, 0.01, 0.0])
    ranked = objective_terms(scores, np.arange(4), None, w, relevance_scale="rank").relevance
    np.testing.assert_allclose(ranked, [1.0, 0.5, 0.5, 0.0])
    np.testing.assert_allclose(objective_terms(np.array([2.0, 2.0]), np.arange(2), None, w).relevance, [1.0, 1.0])


def test_objective_terms_scale_novelty_and_value() -> None:
    facts = ItemFacts(
        np.array([0.0, 9.0, 99.0]), np.array([-5.0, 2.0, 10.0]), np.zeros(3, np.int64), ("all",), np.ones(3, bool)
    )
    terms = objective_terms(np.array([3.0, 2.0, 1.0]), np.arange(3), facts, ObjectiveWeights(novelty=1.0, value=1.0))
    surprise = -np.log(np.array([1.0, 9.0, 99.0]) / 108.0)
    np.testing.assert_allclose(terms.novelty, (surprise - surprise.min()) / np.ptp(surprise))
    np.testing.assert_allclose(terms.value, [-0.5, 0.2, 1.0])


def test_weights_merge_field_by_field() -> None:
    mmr = create_reranker("mmr", {"weights": {"diversity": 0.3, "novelty": 0.1}})
    assert mmr.weights({"novelty": 0.5}) == ObjectiveWeights(diversity=0.3, novelty=0.5)
    assert mmr.weights(ObjectiveWeights(value=2.0)) == ObjectiveWeights(diversity=0.3, novelty=0.1, value=2.0)
    assert mmr.weights(None) == ObjectiveWeights(diversity=0.3, novelty=0.1)
    assert create_reranker("relevance").weights({"diversity": 1.0}) == ObjectiveWeights()
    # the defaults read off benchmarks/bench_rerank.py
    assert create_reranker("mmr").weights({"novelty": 0.2}) == ObjectiveWeights(diversity=0.0425, novelty=0.2)
    assert create_reranker("dpp").weights() == ObjectiveWeights(diversity=0.3)


def test_input_columns_travel_and_rules_come_first() -> None:
    facts = make_facts(6, seed=2)
    facts = ItemFacts(
        facts.popularity, facts.value, facts.group, facts.group_names, np.array([1, 1, 0, 1, 1, 1], bool), facts.vectors
    )
    source = np.array(["ease", "text", "fresh", "ease", "text", "ease"], dtype=object)
    candidates = make_candidates([0.9, 0.8, 0.7, 0.6, 0.5, 0.4], source=source)
    allowed = apply_rules(candidates, Rules(exclude=(1,)), facts)
    out = create_reranker("mmr").rerank(allowed, 3, facts, weights=ALL_WEIGHTS)
    assert not {"c1", "c2"} & set(out.ids.tolist())
    rows = [int(i[1:]) for i in out.ids]
    assert out.column("source").tolist() == source[rows].tolist()


# -- bad inputs -----------------------------------------------------------------------------------

_FACTS = make_facts(6, seed=3)
_NO_VECTORS = ItemFacts(_FACTS.popularity, _FACTS.value, _FACTS.group, _FACTS.group_names, _FACTS.available)
_CANDIDATES = make_candidates([0.5, 0.4, 0.3])

BAD_INPUTS: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    (
        "negative weight",
        lambda: create_reranker("mmr", {"weights": {"diversity": -1}}),
        ConfigError,
        "weights.diversity",
    ),
    ("NaN weight", lambda: create_reranker("mmr", {"weights": {"value": math.nan}}), ConfigError, "weights.value"),
    ("zero epsilon", lambda: create_reranker("dpp", {"epsilon": 0}), ConfigError, "epsilon"),
    ("unknown scale", lambda: create_reranker("mmr", {"relevance_scale": "log"}), ConfigError, "relevance_scale"),
    ("unknown target", lambda: create_reranker("mmr", {"fairness_target": "equal"}), ConfigError, "fairness_target"),
    ("wrong config class", lambda: create_reranker("dpp", create_reranker("mmr").config), ConfigError, "DPPConfig"),
    (
        "weights not a mapping",
        lambda: create_reranker("mmr").rerank(_CANDIDATES, 2, _FACTS, weights=3),  # type: ignore[arg-type]
        ConfigError,
        "int",
    ),
    ("k not whole", lambda: create_reranker("mmr").rerank(_CANDIDATES, 1.5, _FACTS), DataError, "field 'k'"),  # type: ignore[arg-type]
    ("k a bool", lambda: create_reranker("dpp").rerank(_CANDIDATES, True, _FACTS), DataError, "field 'k'"),
    (
        "novelty without facts",
        lambda: create_reranker("mmr", {"weights": {}}).rerank(_CANDIDATES, 2, weights={"novelty": 1}),
        ConfigError,
        "novelty objective needs ItemFacts",
    ),
    (
        "default diversity without vectors",
        lambda: create_reranker("mmr").rerank(_CANDIDATES, 2, _NO_VECTORS),
        DataError,
        "weigh diversity 0",
    ),
    (
        "diversity without vectors",
        lambda: create_reranker("dpp").rerank(_CANDIDATES, 2, _NO_VECTORS, weights={"diversity": 1}),
        DataError,
        "field 'vectors'",
    ),
    (
        "unknown target group",
        lambda: create_reranker("mmr", {"fairness_target": {"zz": 1.0}}).rerank(
            _CANDIDATES, 2, _FACTS, weights={"fairness": 1}
        ),
        ConfigError,
        "unknown group 'zz'",
    ),
    (
        "negative target share",
        lambda: create_reranker("mmr", {"fairness_target": {"g0": -1.0}}),
        ConfigError,
        "fairness_target",
    ),
    (
        "facts of another type",
        lambda: create_reranker("mmr").rerank(_CANDIDATES, 2, {"vectors": None}),  # type: ignore[arg-type]
        TypeError,
        "ItemFacts",
    ),
]


@pytest.mark.parametrize(("case", "call", "error", "fragment"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_inputs_are_rejected_with_the_culprit_named(
    case: str, call: Callable[[], Any], error: type[Exception], fragment: str
) -> None:
    with pytest.raises(error, match=fragment):
        call()
