"""Exact values of slate policies and their logs: hand-computed toys, a brute-force reference,
unbiasedness over many logs, contexts read off a world, and a table of bad inputs."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest

from lmrec.diagnostics import DataError
from lmrec.pipeline.explore import UNCERTAINTY, EpsilonGreedy, Greedy, Softmax, Thompson
from lmrec.simulation.ope import IPS, SNIPS
from lmrec.simulation.validation import LoggedSlates, SlateContexts, SlatePolicy, log_slates, slot_values
from lmrec.simulation.worlds import ShopWorld

# -- a 3-item toy -------------------------------------------------------------------------------
# One user, candidates 0, 1, 2 with attraction 0.1, 0.3, 0.2; two slots examined with 1 and 0.5.
# Greedy on scores 1, 3, 2 shows candidate 1 then candidate 2:
#   clicks = 0.3 * 1 + 0.2 * 0.5 = 0.4 per list, 0.2 per slot.
TOY = SlateContexts(
    users=np.array([0]),
    candidates=np.array([[10, 11, 12]]),
    attraction=np.array([[0.1, 0.3, 0.2]]),
    examination=np.array([1.0, 0.5]),
)
TOY_SCORES = np.array([[1.0, 3.0, 2.0]])


def test_greedy_known_answer() -> None:
    table = SlatePolicy("greedy", Greedy(), TOY_SCORES).slot_table(TOY)
    np.testing.assert_array_equal(table[0], [[0, 0], [1, 0], [0, 1]])
    assert slot_values(TOY, table) == pytest.approx([0.2])


def brute_force_plackett_luce(weights: np.ndarray, attraction: np.ndarray, examination: np.ndarray) -> float:
    """Expected clicks of a list by enumerating every ordered slate and its Plackett-Luce probability."""
    total = 0.0
    for slate in itertools.permutations(range(len(weights)), len(examination)):
        left, probability = float(weights.sum()), 1.0
        for item in slate:
            probability *= weights[item] / left
            left -= weights[item]
        total += probability * float(sum(attraction[i] * e for i, e in zip(slate, examination, strict=True)))
    return total


def test_softmax_value_matches_enumerating_every_slate() -> None:
    table = SlatePolicy("softmax", Softmax({"temperature": 0.7}), TOY_SCORES).slot_table(TOY)
    reference = brute_force_plackett_luce(np.exp(TOY_SCORES[0] / 0.7), TOY.attraction[0], TOY.examination)
    assert slot_values(TOY, table)[0] * TOY.k == pytest.approx(reference, rel=1e-9)


def test_epsilon_greedy_known_answer() -> None:
    # epsilon 0.5 over 3 candidates, 2 slots: one candidate (0) outside the top 2, so at most one
    # exploration slot. Slot 0 explores w.p. 0.5 -> candidate 0, else greedy 1. Slot 1: explores w.p.
    # 0.5 when slot 0 did not -> 0.25 candidate 0; greedy item 2 when slot 0 did not explore and slot 1
    # did not (0.25), greedy item 1 pushed down when slot 0 explored (0.5).
    table = SlatePolicy("epsilon", EpsilonGreedy({"epsilon": 0.5}), TOY_SCORES).slot_table(TOY)
    np.testing.assert_allclose(table[0], [[0.5, 0.25], [0.5, 0.5], [0.0, 0.25]])
    clicks = 0.5 * 0.1 + 0.5 * 0.3 + 0.5 * (0.25 * 0.1 + 0.5 * 0.3 + 0.25 * 0.2)
    assert slot_values(TOY, table)[0] == pytest.approx(clicks / 2)


def test_policies_read_extra_columns() -> None:
    # Thompson sampling with no uncertainty samples every score exactly: it is greedy
    still = SlatePolicy("thompson", Thompson(), TOY_SCORES, {UNCERTAINTY: np.zeros((1, 3))})
    np.testing.assert_allclose(still.slot_table(TOY), SlatePolicy("greedy", Greedy(), TOY_SCORES).slot_table(TOY))
    noisy = SlatePolicy("thompson", Thompson(), TOY_SCORES, {UNCERTAINTY: np.ones((1, 3))})
    table = noisy.slot_table(TOY)
    assert 0 < table[0, 0, 0] < table[0, 2, 0] < table[0, 1, 0]  # higher scores lead more often
    np.testing.assert_allclose(table.sum(axis=1), 1.0)
    with pytest.raises(DataError, match=UNCERTAINTY):
        SlatePolicy("thompson", Thompson(), TOY_SCORES, {UNCERTAINTY: np.ones((1, 2))}).slot_table(TOY)


# -- a tiny world of three contexts -------------------------------------------------------------
TINY = SlateContexts(
    users=np.array([0, 1, 2]),
    candidates=np.array([[0, 1, 2, 3], [1, 2, 3, 4], [0, 2, 4, 5]]),
    attraction=np.array([[0.5, 0.2, 0.1, 0.4], [0.05, 0.6, 0.3, 0.1], [0.3, 0.3, 0.2, 0.7]]),
    examination=np.array([1.0, 0.6]),
)
TINY_SCORES = np.array([[2.0, 0.5, 0.0, 1.0], [0.0, 1.0, 0.2, -1.0], [0.1, 0.0, 0.3, 0.2]])
LOGGING = SlatePolicy("softmax", Softmax(), TINY_SCORES)
GREEDY = SlatePolicy("greedy", Greedy(), TINY_SCORES[:, ::-1].copy())  # another scorer
LOGGING_TABLE = LOGGING.slot_table(TINY)


def tiny_log(seed: int, rounds: int = 1_500) -> LoggedSlates:
    return log_slates(TINY, LOGGING, rounds, seed, table=LOGGING_TABLE)


def test_the_log_is_drawn_from_the_exact_slot_probabilities() -> None:
    logged = tiny_log(0, rounds=20_000)
    impressions = logged.impressions
    assert len(impressions) == 40_000 and impressions.n_rounds == 20_000
    assert impressions.n_items == TINY.n_candidates and impressions.n_positions == TINY.k
    np.testing.assert_array_equal(
        impressions.propensity, LOGGING_TABLE[logged.context, impressions.item, impressions.position]
    )
    shown = impressions.item.reshape(-1, TINY.k)
    assert (shown[:, 0] != shown[:, 1]).all()  # a list never repeats a candidate
    for context in range(TINY.n_contexts):
        rows = logged.context == context
        counts = np.zeros((TINY.n_candidates, TINY.k))
        np.add.at(counts, (impressions.item[rows], impressions.position[rows]), 1.0)
        share = counts / counts.sum(axis=0)
        spread = np.sqrt(LOGGING_TABLE[context] * (1 - LOGGING_TABLE[context]) / counts.sum(axis=0))
        assert (np.abs(share - LOGGING_TABLE[context]) <= 5 * spread + 1e-12).all()


def test_on_policy_the_exact_value_is_the_expected_click_rate() -> None:
    values = slot_values(TINY, LOGGING_TABLE)
    logs = [tiny_log(seed) for seed in range(30)]
    for logged in logs[:3]:  # the target equal to the logging policy has every weight 1: IPS is the mean click
        estimate = IPS({"n_bootstrap": 0}).estimate(logged.impressions, logged.target_dist(LOGGING_TABLE))
        assert estimate.value == pytest.approx(logged.impressions.reward.mean())
        assert estimate.effective_sample_size == pytest.approx(len(logged.impressions))
    rates = np.array([logged.impressions.reward.mean() - logged.truth(values) for logged in logs])
    noise = rates.std(ddof=1) / math.sqrt(len(rates))
    assert abs(rates.mean()) < 3 * noise


def test_ips_is_unbiased_and_snips_consistent_for_another_policy() -> None:
    table = GREEDY.slot_table(TINY)
    values = slot_values(TINY, table)
    errors: dict[str, list[float]] = {"ips": [], "snips": []}
    for seed in range(40):
        logged = tiny_log(seed)
        truth = logged.truth(values)
        for estimator in (IPS({"n_bootstrap": 0}), SNIPS({"n_bootstrap": 0})):
            estimate = estimator.estimate(logged.impressions, logged.target_dist(table))
            errors[estimator.name].append(estimate.value - truth)
    for name, found in errors.items():
        error = np.array(found)
        assert abs(error.mean()) < 3 * error.std(ddof=1) / math.sqrt(len(error)), name
        assert np.abs(error).max() < 0.25 * values.mean(), name


def test_target_dist_and_truth_follow_each_rows_context() -> None:
    logged = tiny_log(1, rounds=50)
    table = GREEDY.slot_table(TINY)
    dist = logged.target_dist(table)
    assert dist.shape == (100, TINY.n_candidates)
    np.testing.assert_allclose(dist.sum(axis=1), 1.0)
    np.testing.assert_array_equal(dist[5], table[logged.context[5], :, logged.impressions.position[5]])
    values = slot_values(TINY, table)
    assert logged.truth(values) == pytest.approx(np.mean(values[logged.context[:: TINY.k]]))


def test_same_seed_same_log() -> None:
    a, b = tiny_log(7, rounds=200), tiny_log(7, rounds=200)
    np.testing.assert_array_equal(a.impressions.item, b.impressions.item)
    np.testing.assert_array_equal(a.impressions.reward, b.impressions.reward)
    assert not np.array_equal(a.impressions.item, tiny_log(8, rounds=200).impressions.item)


# -- contexts read off a world ------------------------------------------------------------------


@pytest.fixture(scope="module")
def shop_world() -> ShopWorld:
    return ShopWorld.build({"horizon": 1_000, "drift": 0.0, "shop": {"n_users": 60, "n_items": 50, "seed": 2}})


def test_contexts_from_a_world(shop_world: ShopWorld) -> None:
    scores = np.random.default_rng(0).normal(size=(shop_world.n_users, shop_world.n_items))
    contexts = SlateContexts.from_world(shop_world, scores, 6, 3)
    assert contexts.candidates.shape == (shop_world.n_users, 6) and contexts.k == 3
    seen = shop_world.history.matrix(binary=True)[shop_world.user_rows].toarray() > 0
    rows = np.arange(shop_world.n_users)[:, None]
    assert not seen[rows, contexts.candidates].any()
    assert shop_world.available(0)[contexts.candidates].all()
    assert (np.diff(scores[rows, contexts.candidates], axis=1) <= 0).all()  # best first
    eligible = np.where(seen | ~shop_world.available(0)[None, :], -np.inf, scores)
    np.testing.assert_allclose(scores[rows, contexts.candidates][:, -1], np.sort(eligible, axis=1)[:, -6])
    users = contexts.users[:, None]
    np.testing.assert_allclose(contexts.attraction, shop_world.click_probability(users, contexts.candidates, 0))
    np.testing.assert_allclose(contexts.examination, shop_world.examination_probability(np.arange(3)))
    some = SlateContexts.from_world(shop_world, scores[[3, 5]], 6, 3, users=np.array([3, 5]))
    np.testing.assert_array_equal(some.candidates, contexts.candidates[[3, 5]])


def test_bad_world_inputs_name_the_culprit(shop_world: ShopWorld) -> None:
    scores = np.zeros((shop_world.n_users, shop_world.n_items))
    with pytest.raises(DataError, match="k must be in"):
        SlateContexts.from_world(shop_world, scores, 3, 4)
    with pytest.raises(DataError, match="scores"):
        SlateContexts.from_world(shop_world, scores[:5], 6, 3)
    with pytest.raises(DataError, match="unseen, available, scored items"):
        SlateContexts.from_world(shop_world, scores, shop_world.n_items, 3)


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"users": [0, 1]}, "candidates"),
        ({"attraction": [[0.1, 0.2]]}, "attraction"),
        ({"attraction": [[0.1, 1.5, 0.2]]}, "probability in \\[0, 1\\]"),
        ({"attraction": [[0.1, np.nan, 0.2]]}, "probability in \\[0, 1\\]"),
        ({"examination": [1.0, 0.5, 0.3, 0.2]}, "examination"),
        ({"examination": []}, "examination"),
        ({"examination": [1.0, -0.5]}, "probability in \\[0, 1\\]"),
    ],
)
def test_bad_contexts_name_the_field(fields: dict[str, Any], fragment: str) -> None:
    given = {
        "users": [0],
        "candidates": [[10, 11, 12]],
        "attraction": [[0.1, 0.3, 0.2]],
        "examination": [1.0, 0.5],
        **fields,
    }
    with pytest.raises(DataError, match=fragment):
        SlateContexts(**{name: np.array(values) for name, values in given.items()})


def test_bad_policy_and_log_inputs() -> None:
    with pytest.raises(DataError, match="candidates' shape"):
        SlatePolicy("short", Greedy(), TINY_SCORES[:, :3]).slot_table(TINY)
    with pytest.raises(DataError, match="fills 1 of 2 slots"):
        SlatePolicy("nan", Greedy(), np.where(np.arange(4) > 0, np.nan, TINY_SCORES)).slot_table(TINY)
    with pytest.raises(DataError, match="table"):
        slot_values(TINY, LOGGING_TABLE[:, :, :1])
    with pytest.raises(DataError, match="n_rounds"):
        log_slates(TINY, LOGGING, 0, 0)
