"""Exploration policies: exact slot probabilities against brute force, and what is special to each policy.

The shared checks (frequencies of many draws against `slot_probabilities`, logged propensities,
reproducibility, edge cases, property tests) run over every policy in `test_policy_contract.py`.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from scipy import integrate
from scipy.stats import norm

from lmrec.diagnostics import ConfigError, DataError
from lmrec.itemlist import ItemList
from lmrec.pipeline import propensity as maths
from lmrec.pipeline.explore import (
    COLD,
    EXPLORED,
    PROPENSITY,
    BayesianLinearHead,
    create_policy,
    request_rng,
)
from lmrec.testing.policy_contract import assert_frequencies_match, empirical_slot_frequencies, make_candidates

# -- plain, obviously correct references ----------------------------------------------------------


def plackett_luce_by_enumeration(weights: np.ndarray, m: int) -> np.ndarray:
    """Sum the probability of every ordered m-prefix: Π_j w_(j) / Σ_{o not yet drawn} w_o."""
    n = len(weights)
    out = np.zeros((n, m))
    for prefix in itertools.permutations(range(n), m):
        left, prob = list(range(n)), 1.0
        for i in prefix:
            prob *= weights[i] / sum(weights[o] for o in left)
            left.remove(i)
        out[list(prefix), np.arange(m)] += prob
    return out


def exactly(p: list[float], j: int) -> float:
    """P(exactly j of independent events with probabilities p), by listing every subset."""
    total = 0.0
    for chosen in itertools.combinations(range(len(p)), j):
        total += math.prod(p[o] if o in chosen else 1 - p[o] for o in range(len(p)))
    return total


def thompson_by_quad(mean: np.ndarray, std: np.ndarray, m: int) -> np.ndarray:
    """Adaptive quadrature (scipy `quad`) of φ_i(s) · P(exactly j others above s), subsets listed."""
    n = len(mean)
    out = np.zeros((n, m))
    for i in range(n):
        others = [o for o in range(n) if o != i]

        def above(s: float, i: int = i, others: list[int] = others) -> list[float]:
            # a fixed score tied with item i's (fixed) score is ahead when earlier in the list
            return [
                float(norm.sf(s, mean[o], std[o])) if std[o] else float(mean[o] > s or (mean[o] == s and o < i))
                for o in others
            ]

        for j in range(m):
            if std[i] == 0:
                out[i, j] = exactly(above(mean[i]), j)
                continue
            lo, hi = mean[i] - 12 * std[i], mean[i] + 12 * std[i]
            breaks = sorted({float(mean[o]) for o in others if lo < mean[o] < hi})
            value, _ = integrate.quad(
                lambda s, j=j, i=i: norm.pdf(s, mean[i], std[i]) * exactly(above(s), j),
                lo,
                hi,
                points=breaks or None,
                epsabs=1e-13,
                epsrel=1e-12,
                limit=400,
            )
            out[i, j] = value
    return out


def capped_flag_patterns(rates: np.ndarray, cap: int) -> list[tuple[np.ndarray, float]]:
    """Every coin pattern with its probability, turned into flags (at most `cap`, earliest first)."""
    patterns = []
    for coins in itertools.product([False, True], repeat=len(rates)):
        prob = math.prod(r if c else 1 - r for c, r in zip(coins, rates, strict=True))
        if prob > 0:
            patterns.append((maths.capped_flags(np.array([coins]), cap)[0], prob))
    return patterns


# -- softmax (Plackett–Luce) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scores", "temperature", "k"),
    [
        ([0.3, 1.2, -0.5, 0.8, 0.0, 0.4], 1.0, 3),  # n = 6, k = 3: the case
        ([0.3, 1.2, -0.5, 0.8, 0.0, 0.4], 0.05, 3),  # weights spanning e^34: nearly greedy
        ([2.0, 2.0, 2.0, -1.0, 5.0], 0.3, 5),  # every item shown, ties
        ([0.1, 0.2, 0.3, 0.4], 50.0, 2),  # nearly uniform
        ([3.0, -3.0], 0.1, 2),
    ],
)
def test_softmax_matches_enumeration(scores: list[float], temperature: float, k: int) -> None:
    policy = create_policy("softmax", {"temperature": temperature})
    weights = np.exp((np.array(scores) - max(scores)) / temperature)
    expected = plackett_luce_by_enumeration(weights, k)
    np.testing.assert_allclose(policy.slot_probabilities(make_candidates(scores), k), expected, atol=1e-12)


def test_softmax_equal_scores_are_uniform_and_pool_is_respected() -> None:
    uniform = create_policy("softmax").slot_probabilities(make_candidates(np.zeros(7)), 3)
    np.testing.assert_allclose(uniform, 1 / 7, atol=1e-13)
    scores = [0.5, 2.0, 1.0, -1.0, 1.5, 0.0]
    pooled = create_policy("softmax", {"pool": 3, "temperature": 2.0}).slot_probabilities(make_candidates(scores), 2)
    assert not pooled[[0, 3, 5]].any()  # outside the 3 best scores
    weights = np.exp(np.array([2.0, 1.0, 1.5]) / 2.0)
    np.testing.assert_allclose(pooled[[1, 2, 4]], plackett_luce_by_enumeration(weights, 2), atol=1e-12)


@pytest.mark.parametrize(
    ("n", "k", "spread", "std_scale"),
    [
        (200, 10, 1.0, 0.5),  # the serving case
        (300, 30, 3.0, 3.0),  # many overlapping items: the count's bumps are narrow in score or time
    ],
)
def test_softmax_and_thompson_quadrature_has_converged(
    n: int, k: int, spread: float, std_scale: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Halving every panel width changes no slot probability by more than 1e-12."""
    rng = np.random.default_rng(3)
    mean = rng.normal(size=n) * spread
    std = std_scale * rng.uniform(0.05, 1.0, size=n) * np.exp(rng.normal(size=n))
    std[::17] = 0.0
    log_w = mean / spread
    pl, ts = maths.plackett_luce_probabilities(log_w, k), maths.thompson_probabilities(mean, std, k)
    for probs in (pl, ts):
        np.testing.assert_allclose(probs.sum(axis=0), 1.0, atol=1e-12)
        assert probs.sum(axis=1).max() <= 1 + 1e-12
    for name in ("LOG_TIME_STEP", "SIGMA_STEP", "COUNT_STEP"):
        monkeypatch.setattr(maths, name, getattr(maths, name) / 2)
    np.testing.assert_allclose(maths.plackett_luce_probabilities(log_w, k), pl, atol=1e-12)
    np.testing.assert_allclose(maths.thompson_probabilities(mean, std, k), ts, atol=1e-12)


# -- Thompson sampling ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mean", "std", "k"),
    [
        ([0.2, 0.5, -0.1, 0.4], [0.3, 0.5, 0.4, 0.2], 3),
        ([0.0, 1.0, 0.5, 0.6, -0.4], [1.0, 0.2, 0.0, 0.5, 0.8], 3),  # one fixed score
        ([0.5, 0.5, 0.2, 0.5], [0.0, 0.0, 0.6, 0.3], 4),  # fixed scores tied: list order
        ([0.1, -0.2, 0.3], [0.05, 2.0, 0.4], 2),  # very different spreads
    ],
)
def test_thompson_matches_adaptive_quadrature(mean: list[float], std: list[float], k: int) -> None:
    mu, sd = np.array(mean), np.array(std)
    probs = create_policy("thompson").slot_probabilities(make_candidates(mu, sd), k)
    np.testing.assert_allclose(probs, thompson_by_quad(mu, sd, k), atol=1e-9)


def test_thompson_matches_a_large_monte_carlo() -> None:
    mu, sd = np.array([0.3, 0.1, 0.25, -0.2, 0.0, 0.3]), np.array([0.2, 0.6, 0.0, 0.9, 0.3, 0.1])
    probs = create_policy("thompson").slot_probabilities(make_candidates(mu, sd), 4)
    draws = 400_000
    samples = mu + sd * np.random.default_rng(0).standard_normal((draws, len(mu)))
    order = np.argsort(-samples, axis=1, kind="stable")[:, :4]
    freq = empirical_slot_frequencies(order, len(mu))
    np.testing.assert_array_less(np.abs(freq - probs), 5 * np.sqrt(probs * (1 - probs) / draws) + 1e-12)


def test_thompson_known_cases() -> None:
    thompson = create_policy("thompson")
    same = thompson.slot_probabilities(make_candidates(np.full(5, 0.7), np.full(5, 0.4)), 5)
    np.testing.assert_allclose(same, 0.2, atol=1e-12)  # exchangeable items: uniform slots
    fixed = thompson.slot_probabilities(make_candidates([0.1, 0.9, 0.5, 0.9], np.zeros(4)), 3)
    np.testing.assert_array_equal(fixed, np.eye(4)[[1, 3, 2]].T)  # greedy, ties by position
    scaled = create_policy("thompson", {"scale": 0.0}).slot_probabilities(make_candidates([0.2, 0.4], [1.0, 1.0]), 2)
    np.testing.assert_array_equal(scaled, [[0, 1], [1, 0]])
    pair = thompson.slot_probabilities(make_candidates([0.0, 0.3], [0.4, 0.3]), 1)
    np.testing.assert_allclose(pair[1, 0], norm.cdf(0.3 / 0.5), atol=1e-13)  # P(X1 > X0), X1 - X0 ~ N(0.3, 0.5²)


# -- epsilon-greedy and the cold budget -------------------------------------------------------------


def test_epsilon_matches_the_binomial_closed_form() -> None:
    eps, scores = 0.3, [0.9, 0.1, 0.5, 0.7, 0.3, -0.2, 0.0, 0.6]
    probs = create_policy("epsilon", {"epsilon": eps}).slot_probabilities(make_candidates(scores), 3)
    greedy, rest = [0, 3, 7], [1, 2, 4, 5, 6]
    for s, item in enumerate(greedy):
        for j in range(3):
            expected = (1 - eps) * math.comb(j, s) * (1 - eps) ** s * eps ** (j - s) if j >= s else 0.0
            assert probs[item, j] == pytest.approx(expected, abs=1e-15)
    np.testing.assert_allclose(probs[rest], eps / len(rest), atol=1e-15)


def test_epsilon_with_few_items_outside_the_top_matches_brute_force() -> None:
    """Only r = 2 candidates outside the top 4: a slot after the 2nd exploration slot stays greedy."""
    eps, scores = 0.6, [0.5, 0.4, 0.3, 0.2, 0.1, 0.0]
    probs = create_policy("epsilon", {"epsilon": eps}).slot_probabilities(make_candidates(scores), 4)
    expected = np.zeros((6, 4))
    for flags, prob in capped_flag_patterns(np.full(4, eps), cap=2):
        explore = np.flatnonzero(flags)
        greedy_slots = np.flatnonzero(~flags)
        expected[np.arange(len(greedy_slots)), greedy_slots] += prob
        for pick in itertools.permutations([4, 5], len(explore)):  # uniform ordered draws from the rest
            expected[list(pick), explore] += prob / math.perm(2, len(explore))
    np.testing.assert_allclose(probs, expected, atol=1e-15)


def test_epsilon_explores_only_outside_the_greedy_top() -> None:
    policy = create_policy("epsilon", {"epsilon": 0.5})
    candidates = make_candidates([0.9, 0.1, 0.5, 0.7, 0.3])
    for seed in range(30):
        shown = policy.select(candidates, 2, np.random.default_rng(seed))
        in_top = np.isin(shown.ids, ["c0", "c3"])
        np.testing.assert_array_equal(shown.column(EXPLORED), ~in_top)
        assert shown.ids[in_top].tolist() == ["c0", "c3"][: in_top.sum()]  # greedy order; the last pushed out


def test_cold_budget_matches_brute_force() -> None:
    """Enumerate reserved-slot coins x every inner Plackett–Luce list x every cold draw."""
    scores = [0.8, 0.1, 0.5, 0.3, 0.9, 0.2, 0.6]
    cold = np.array([False, True, False, False, True, False, True])
    config = {"inner": "softmax", "inner_config": {"temperature": 0.7}, "budget": 2, "slots": [0, 2, 3], "rate": 0.4}
    m, warm, frozen = 4, np.flatnonzero(~cold), np.flatnonzero(cold)
    probs = create_policy("cold_budget", config).slot_probabilities(make_candidates(scores, cold=cold), m)
    weights = np.exp(np.array(scores)[warm] / 0.7)
    expected = np.zeros((7, m))
    for flags, p_flags in capped_flag_patterns(np.array([0.4, 0, 0.4, 0.4]), cap=2):
        free = np.flatnonzero(~flags)
        inner = plackett_luce_by_enumeration(weights, len(free))  # only the first len(free) inner slots are used
        expected[warm[:, None], free[None, :]] += p_flags * inner
        expected[frozen[:, None], np.flatnonzero(flags)[None, :]] += p_flags / len(frozen)
    np.testing.assert_allclose(probs, expected, atol=1e-12)


def test_cold_budget_ucb_pick_matches_brute_force() -> None:
    """The r-th budget slot takes the r-th cold item by score + beta · std; overflow slots included."""
    scores = [0.8, 0.1, 0.5, 0.3, 0.9, 0.2, 0.6]
    std = [0.1, 0.5, 0.2, 0.1, 0.0, 0.3, 0.05]
    cold = np.array([False, True, False, False, True, True, True])
    config = {
        "inner": "softmax",
        "inner_config": {"temperature": 0.7},
        "budget": 2,
        "slots": [0, 2, 3],
        "rate": 0.4,
        "pick": "ucb",
        "pick_beta": 1.0,
    }
    m, warm = 5, np.flatnonzero(~cold)  # 3 warm items for 5 slots: unflagged slots overflow to the pool
    probs = create_policy("cold_budget", config).slot_probabilities(make_candidates(scores, std, cold), m)
    pick_order = [4, 6, 1, 5]  # cold items by score + std: c4 0.9, c6 0.65, c1 0.6, c5 0.5
    weights = np.exp(np.array(scores)[warm] / 0.7)
    expected = np.zeros((7, m))
    for flags, p_flags in capped_flag_patterns(np.array([0.4, 0, 0.4, 0.4, 0]), cap=2):
        free = np.flatnonzero(~flags)
        main_slots = free[: len(warm)]
        pool_slots = np.sort(np.concatenate([np.flatnonzero(flags), free[len(warm) :]]))
        inner = plackett_luce_by_enumeration(weights, len(main_slots))
        expected[warm[:, None], main_slots[None, :]] += p_flags * inner
        for r, slot in enumerate(pool_slots):
            expected[pick_order[r], slot] += p_flags
    np.testing.assert_allclose(probs, expected, atol=1e-12)
    np.testing.assert_allclose(probs.sum(axis=0), 1.0, atol=1e-12)


def test_cold_budget_ucb_pick_aims_at_the_best_cold_items() -> None:
    candidates = make_candidates(
        [0.9, 0.1, 0.8, 0.3, 0.7], [0.0, 0.0, 0.0, 0.5, 0.0], cold=[False, True, False, True, True]
    )
    by_score = create_policy("cold_budget", {"rate": 1.0, "slots": [2], "pick": "ucb"})
    by_ucb = create_policy("cold_budget", {"rate": 1.0, "slots": [2], "pick": "ucb", "pick_beta": 1.0})
    for seed in range(5):
        assert by_score.select(candidates, 3, np.random.default_rng(seed)).ids.tolist() == ["c0", "c2", "c4"]
        assert by_ucb.select(candidates, 3, np.random.default_rng(seed)).ids.tolist() == ["c0", "c2", "c3"]


def test_cold_budget_reach_spends_slots_only_on_cold_items_that_could_make_the_list() -> None:
    """Warm scores 0.9, 0.7, 0.5: with reach 2 the bar is 0.7, so of the cold items only c3 (0.6 + 0.2)
    may take the budget slot; c1 and c4 fall back to competing with the warm items by score."""
    scores, std = [0.9, 0.65, 0.7, 0.6, 0.2, 0.5], [0.0, 0.0, 0.0, 0.2, 0.3, 0.0]
    candidates = make_candidates(scores, std, cold=[False, True, False, True, True, False])
    config = {"rate": 1.0, "slots": [2], "pick": "ucb", "pick_beta": 1.0, "budget": 1}
    policy = create_policy("cold_budget", {**config, "reach": 2})
    for seed in range(5):
        shown = policy.select(candidates, 4, np.random.default_rng(seed))
        assert shown.ids.tolist() == ["c0", "c2", "c3", "c1"]  # c1 (0.65) makes the list on its score
        np.testing.assert_array_equal(shown.column(EXPLORED), [False, False, True, False])
    ungated = create_policy("cold_budget", config).select(candidates, 4, np.random.default_rng(0))
    assert ungated.ids.tolist() == ["c0", "c2", "c3", "c5"]  # c1 only ever comes through the budget
    nobody = create_policy("cold_budget", {**config, "reach": 1}).slot_probabilities(candidates, 4)
    np.testing.assert_allclose(nobody[[0, 2, 1, 3]], np.eye(4))  # bar 0.9: no cold item passes; greedy by score
    everybody = create_policy("cold_budget", {**config, "reach": 4}).slot_probabilities(candidates, 4)
    np.testing.assert_allclose(everybody, create_policy("cold_budget", config).slot_probabilities(candidates, 4))


def test_cold_budget_uses_its_slots_and_fills_up_with_cold_items() -> None:
    policy = create_policy("cold_budget", {"rate": 1.0, "slots": [1, 3], "budget": 1})
    candidates = make_candidates([0.9, 0.8, 0.7, 0.6, 0.5, 0.4], cold=[False, True, False, True, False, False])
    for seed in range(20):
        shown = policy.select(candidates, 4, np.random.default_rng(seed))
        is_cold = shown.column(COLD)
        np.testing.assert_array_equal(is_cold, [False, True, False, False])  # slot 1, within the budget of 1
        np.testing.assert_array_equal(shown.column(EXPLORED), is_cold)
        assert shown.ids[~is_cold].tolist() == ["c0", "c2", "c4"]  # greedy warm items, the last pushed out
    few_warm = make_candidates([0.9, 0.8, 0.7, 0.6], cold=[True, False, True, True])
    probs = create_policy("cold_budget", {"rate": 0.0}).slot_probabilities(few_warm, 3)
    np.testing.assert_allclose(probs, np.array([[0, 1, 1], [3, 0, 0], [0, 1, 1], [0, 1, 1]]) / 3)
    shown = create_policy("cold_budget", {"rate": 0.0}).select(few_warm, 3, np.random.default_rng(0))
    assert not shown.column(EXPLORED).any()  # fill-up when warm items run out is not exploration
    np.testing.assert_allclose(shown.column(PROPENSITY), [1.0, 1 / 3, 1 / 3])


def test_cold_budget_negative_slots_count_from_the_bottom_of_any_list() -> None:
    """Slots -2 and -1 are the last two of a list of any length: 8 and 9 of 10, 3 and 4 of 5."""
    scores = [0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55, 0.5, 0.45, 0.4, 0.35, 0.3]
    cold = np.arange(len(scores)) % 4 == 1
    candidates = make_candidates(scores, cold=cold)
    config = {"budget": 2, "rate": 0.6, "pick": "ucb"}
    bottom = create_policy("cold_budget", {**config, "slots": [-2, -1]})
    for m, slots in ((10, [8, 9]), (5, [3, 4])):
        fixed = create_policy("cold_budget", {**config, "slots": slots})
        np.testing.assert_allclose(bottom.slot_probabilities(candidates, m), fixed.slot_probabilities(candidates, m))
    assert not bottom.select(candidates, 5, np.random.default_rng(0)).column(COLD)[:3].any()
    above_the_top = create_policy("cold_budget", {**config, "slots": [-6]}).slot_probabilities(candidates, 5)
    assert above_the_top[cold].sum() == 0  # a slot above the top of a 5-item list is never used


def test_frequencies_match_on_a_larger_list() -> None:
    rng = np.random.default_rng(5)
    candidates = make_candidates(rng.normal(size=40), rng.uniform(0, 0.5, size=40), rng.random(40) < 0.2)
    for name, config in [("softmax", {"temperature": 0.3}), ("thompson", {}), ("epsilon", {"epsilon": 0.2})]:
        policy = create_policy(name, config)
        probs = policy.slot_probabilities(candidates, 10)
        positions, _ = policy.sample(candidates, 10, np.random.default_rng(1), size=20_000)
        assert_frequencies_match(empirical_slot_frequencies(positions, 40), probs, 20_000)


# -- request generators ---------------------------------------------------------------------------


def test_request_rng_is_stable_and_keyed_by_seed_and_request() -> None:
    first = request_rng(7, "req-1").random(4)
    np.testing.assert_array_equal(first, request_rng(7, "req-1").random(4))
    np.testing.assert_array_equal(request_rng(7, 12345).random(4), request_rng(7, "12345").random(4))
    assert not np.array_equal(first, request_rng(7, "req-2").random(4))
    assert not np.array_equal(first, request_rng(8, "req-1").random(4))
    digest = hashlib.blake2b(b"req-1", digest_size=16).digest()
    words = tuple(int(w) for w in np.frombuffer(digest, dtype="<u4"))
    expected = np.random.Generator(np.random.PCG64(np.random.SeedSequence(7, spawn_key=words))).random(4)
    np.testing.assert_array_equal(first, expected)


def test_request_rng_does_not_depend_on_the_python_hash_seed() -> None:
    code = "from lmrec.pipeline.explore import request_rng; print(request_rng(3, 'abc').integers(1 << 62))"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert int(out.stdout) == request_rng(3, "abc").integers(1 << 62)


# -- the Bayesian linear head ---------------------------------------------------------------------


def test_bayesian_linear_head_matches_the_batch_posterior() -> None:
    rng = np.random.default_rng(0)
    d, lam, noise = 6, 2.0, 0.5
    x = rng.normal(size=(90, d))
    r = x @ rng.normal(size=d) + rng.normal(scale=math.sqrt(noise), size=90)
    head = BayesianLinearHead({"dimension": d, "prior_precision": lam, "noise_variance": noise})
    assert not hasattr(head, "_precision")  # constructed without work
    for lo, hi in [(0, 1), (1, 3), (3, 3), (3, 20), (20, 21), (21, 90)]:  # rank-1, small, empty and big batches
        head.update(x[lo:hi], r[lo:hi])
    covariance = np.linalg.inv(lam * np.eye(d) + x.T @ x / noise)
    weights = covariance @ x.T @ r / noise
    probe = rng.normal(size=(15, d))
    mean, std = head.predict(probe)
    np.testing.assert_allclose(mean, probe @ weights, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(std, np.sqrt(np.einsum("nd,de,ne->n", probe, covariance, probe)), rtol=1e-9)
    np.testing.assert_allclose(head.covariance, covariance, rtol=1e-9, atol=1e-14)
    assert head.n_observations == 90


def test_bayesian_linear_head_std_shrinks_for_features_seen_often() -> None:
    head = BayesianLinearHead({"dimension": 3})
    often, rarely = np.array([[1.0, 0.0, 0.0]]), np.array([[0.0, 1.0, 0.0]])
    _, prior = head.predict(np.vstack([often, rarely]))
    np.testing.assert_allclose(prior, [1.0, 1.0])  # |x| / sqrt(λ)
    head.update(rarely, [0.5])
    previous = math.inf
    for _ in range(30):
        head.update(often, [1.0])
        std = head.predict(often)[1][0]
        assert std < previous
        previous = std
    mean, std = head.predict(np.vstack([often, rarely]))
    assert std[0] < 0.2 < std[1] and mean[0] == pytest.approx(30 / 31)  # 30 rewards of 1 against the prior


# -- bad input ------------------------------------------------------------------------------------

_ITEMS = make_candidates([0.3, 0.2, 0.1], [0.1, 0.2, 0.3])
_RNG = np.random.default_rng(0)
_INT_COLD = ItemList(np.array(["a", "b"], dtype=object), np.arange(2), np.ones(2), {COLD: np.array([0, 1])})

BAD_INPUTS: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    ("negative epsilon", lambda: create_policy("epsilon", {"epsilon": -0.1}), ConfigError, "epsilon"),
    ("epsilon above 1", lambda: create_policy("epsilon", {"epsilon": 1.5}), ConfigError, "less than or equal to 1"),
    ("temperature 0", lambda: create_policy("softmax", {"temperature": 0}), ConfigError, "temperature"),
    ("pool 0", lambda: create_policy("softmax", {"pool": 0}), ConfigError, "pool"),
    ("negative scale", lambda: create_policy("thompson", {"scale": -1}), ConfigError, "scale"),
    ("negative beta", lambda: create_policy("ucb", {"beta": -0.5}), ConfigError, "beta"),
    ("rate above 1", lambda: create_policy("cold_budget", {"rate": 2}), ConfigError, "rate"),
    ("repeated slot", lambda: create_policy("cold_budget", {"slots": [1, 1]}), ConfigError, "distinct positions"),
    ("negative budget", lambda: create_policy("cold_budget", {"budget": -1}), ConfigError, "budget"),
    ("nested budget", lambda: create_policy("cold_budget", {"inner": "cold_budget"}), ConfigError, "inner"),
    (
        "bad inner config",
        lambda: create_policy("cold_budget", {"inner": "softmax", "inner_config": {"temperature": 0}}),
        ConfigError,
        "temperature",
    ),
    ("unknown policy", lambda: create_policy("boltzmann"), ConfigError, "unknown policy 'boltzmann'"),
    ("negative seed", lambda: create_policy("greedy", {"seed": -3}), ConfigError, "seed"),
    ("k < 0", lambda: create_policy("greedy").select(_ITEMS, -1, _RNG), DataError, "field 'k'"),
    ("fractional k", lambda: create_policy("greedy").select(_ITEMS, 2.5, _RNG), DataError, "field 'k'"),  # type: ignore[arg-type]
    ("boolean k", lambda: create_policy("greedy").slot_probabilities(_ITEMS, True), DataError, "field 'k'"),
    (
        "negative uncertainty",
        lambda: create_policy("thompson").select(make_candidates([0.1, 0.2], [0.1, -0.5]), 1, _RNG),
        DataError,
        "row 1, field 'uncertainty': must be a finite standard deviation >= 0 (got -0.5)",
    ),
    (
        "NaN uncertainty of a scored item",
        lambda: create_policy("ucb").select(make_candidates([0.1, 0.2], [np.nan, 0.5]), 1, _RNG),
        DataError,
        "row 0, field 'uncertainty'",
    ),
    (
        "thompson without uncertainty",
        lambda: create_policy("thompson").select(make_candidates([0.1, 0.2]), 1, _RNG),
        DataError,
        "needs an 'uncertainty' column",
    ),
    (
        "ucb inside the budget without uncertainty",
        lambda: create_policy("cold_budget", {"inner": "ucb"}).select(make_candidates([0.1]), 1, _RNG),
        DataError,
        "needs an 'uncertainty' column",
    ),
    (
        "infinite score",
        lambda: create_policy("softmax").select(make_candidates([0.1, -np.inf]), 1, _RNG),
        DataError,
        "row 1, field 'score'",
    ),
    ("cold not boolean", lambda: create_policy("greedy").select(_INT_COLD, 1, _RNG), DataError, "boolean"),
    ("rng not a Generator", lambda: create_policy("greedy").select(_ITEMS, 1, 7), TypeError, "Generator"),  # type: ignore[arg-type]
    ("not an ItemList", lambda: create_policy("greedy").select([1, 2], 1, _RNG), TypeError, "ItemList"),  # type: ignore[arg-type]
    ("negative request seed", lambda: request_rng(-1, "r"), ConfigError, "seed"),
    ("float request id", lambda: request_rng(0, 1.5), TypeError, "request_id"),  # type: ignore[arg-type]
    ("head dimension 0", lambda: BayesianLinearHead({"dimension": 0}), ConfigError, "dimension"),
    (
        "head features of the wrong width",
        lambda: BayesianLinearHead({"dimension": 3}).update(np.ones((2, 4)), np.ones(2)),
        DataError,
        "field 'features': must have shape (n, 3)",
    ),
    (
        "head reward NaN",
        lambda: BayesianLinearHead({"dimension": 2}).update(np.ones((3, 2)), [1.0, 0.0, np.nan]),
        DataError,
        "row 2, field 'rewards'",
    ),
]


@pytest.mark.parametrize(("case", "call", "error", "fragment"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_is_rejected_with_a_clear_message(
    case: str, call: Callable[[], Any], error: type[Exception], fragment: str
) -> None:
    with pytest.raises(error) as info:
        call()
    assert fragment in str(info.value), f"{case}: {info.value}"
