"""Empirical-likelihood intervals: the dual against a direct optimisation, the interval's ends, its
skew, and the side constraint of a known weight mean."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.stats import chi2

from lmrec.simulation.likelihood import (
    constrained_likelihood_interval,
    constrained_log_likelihood_ratio,
    heavy_units,
    likelihood_interval,
    log_likelihood_ratio,
)


def _by_optimisation(
    numerator: np.ndarray, denominator: np.ndarray, value: float, excess: np.ndarray | None = None
) -> float:
    """Reference: -2 log R(value), maximising sum_k log(K p_k) over the simplex directly (with
    sum_k p_k excess_k = 0 too when given)."""
    k = len(numerator)
    constraints = [
        {"type": "eq", "fun": lambda p: p.sum() - 1.0},
        {"type": "eq", "fun": lambda p: p @ (numerator - value * denominator)},
    ]
    if excess is not None:
        constraints.append({"type": "eq", "fun": lambda p: p @ excess})
    best = minimize(
        lambda p: -np.log(k * p).sum(),
        np.full(k, 1.0 / k),
        constraints=constraints,
        bounds=[(1e-9, 1.0)] * k,
        method="SLSQP",
        options={"ftol": 1e-14, "maxiter": 500},
    )
    return float(2.0 * best.fun)


@pytest.mark.parametrize("ratio", [False, True])
def test_the_dual_equals_the_direct_optimisation(ratio: bool) -> None:
    rng = np.random.default_rng(0)
    numerator = rng.exponential(size=8) ** 2
    denominator = rng.uniform(0.5, 2.0, size=8) if ratio else np.ones(8)
    centre = numerator.sum() / denominator.sum()
    assert log_likelihood_ratio(numerator, denominator, centre) == pytest.approx(0.0, abs=1e-9)
    for value in (centre * 0.7, centre * 0.9, centre * 1.2, centre * 1.5):
        expected = _by_optimisation(numerator, denominator, value)
        assert log_likelihood_ratio(numerator, denominator, value) == pytest.approx(expected, rel=1e-5, abs=1e-8)
    ratios = numerator / denominator
    assert math.isinf(log_likelihood_ratio(numerator, denominator, ratios.max()))  # no weighting reaches it
    assert math.isinf(log_likelihood_ratio(numerator, denominator, ratios.min() - 1.0))


def test_the_interval_ends_where_the_statistic_reaches_the_quantile_and_leans_toward_large_values() -> None:
    rng = np.random.default_rng(1)
    numerator = np.where(rng.random(400) < 0.05, rng.exponential(20.0, 400), rng.exponential(0.5, 400))
    denominator = np.ones(400)
    low, high = likelihood_interval(numerator, denominator, 0.95)
    centre = numerator.mean()
    assert low < centre < high
    for end in (low, high):
        assert log_likelihood_ratio(numerator, denominator, end) == pytest.approx(chi2.ppf(0.95, 1), rel=1e-6)
    assert high - centre > centre - low  # the rare large values stretch the upper side
    narrower = likelihood_interval(numerator, denominator, 0.8)
    assert low < narrower[0] < narrower[1] < high


def test_too_little_to_go_on_gives_nan_bounds() -> None:
    for numerator, denominator in (([1.0], [1.0]), ([0.0, 0.0], [0.0, 0.0])):
        bounds = likelihood_interval(np.array(numerator), np.array(denominator), 0.95)
        assert all(math.isnan(b) for b in bounds)


def _weighted_log(seed: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Importance weights of mean 1 with a rare large value, and rewards that grow with them."""
    rng = np.random.default_rng(seed)
    weight = np.where(rng.random(size) < 0.05, 10.0, 10.0 / 19.0)  # E[w] = 0.05 * 10 + 0.95 * 10 / 19 = 1
    reward = (rng.random(size) < np.where(weight > 1, 0.6, 0.2)).astype(float)
    return weight, reward


def test_the_constrained_dual_equals_the_direct_optimisation() -> None:
    weight, reward = _weighted_log(0, 12)
    numerator, denominator, excess = weight * reward, np.ones(12), weight - 1.0
    for value in (0.25, 0.35, 0.5):
        expected = _by_optimisation(numerator, denominator, value, excess)
        assert constrained_log_likelihood_ratio(numerator, denominator, excess, value) == pytest.approx(
            expected, rel=1e-5, abs=1e-8
        )


def test_with_nothing_to_constrain_the_interval_is_the_plain_one() -> None:
    weight, reward = _weighted_log(1, 300)
    numerator, denominator = weight * reward, weight
    plain = likelihood_interval(numerator, denominator, 0.95)
    assert constrained_likelihood_interval(numerator, denominator, np.zeros(300), 0.95) == pytest.approx(plain)


def test_the_constrained_interval_ends_a_quantile_above_its_minimum() -> None:
    weight, reward = _weighted_log(2, 400)
    numerator, denominator, excess = weight * reward, np.ones(400), weight - 1.0
    low, high = constrained_likelihood_interval(numerator, denominator, excess, 0.95)
    grid = np.linspace(low, high, 201)
    least = min(constrained_log_likelihood_ratio(numerator, denominator, excess, v) for v in grid)
    for end in (low, high):
        statistic = constrained_log_likelihood_ratio(numerator, denominator, excess, end)
        assert statistic - least == pytest.approx(chi2.ppf(0.95, 1), rel=1e-4)


def test_a_log_short_of_large_weights_is_corrected_toward_them() -> None:
    """A log whose weights average below their known mean has missed some large ones; the side
    constraint gives the large-weight units more mass, so the interval moves toward their rewards
    (here, higher), and it covers the true value where the plain one does not."""
    rng = np.random.default_rng(4)
    weight = np.where(np.arange(400) < 4, 10.0, 10.0 / 19.0)  # 1% large weights, where 5% are expected
    reward = (rng.random(400) < np.where(weight > 1, 0.6, 0.2)).astype(float)
    truth = 0.05 * 10.0 * 0.6 + 0.95 * (10.0 / 19.0) * 0.2  # E[w r] = 0.4
    numerator, denominator = weight * reward, np.ones(400)
    plain = likelihood_interval(numerator, denominator, 0.95)
    held = constrained_likelihood_interval(numerator, denominator, weight - 1.0, 0.95)
    assert held[0] > plain[0] and held[1] > plain[1]
    assert plain[1] < truth < held[1] and held[0] < truth


@pytest.mark.parametrize(
    ("excess", "expected"),
    [
        ([9.0, -0.5, 9.0, -0.5, 9.0, -0.5], 2),  # three equal large ones: two reach half
        ([9.0, -0.5, -0.5], 1),
        ([5.0, 1.0, 1.0, 1.0, 1.0, 1.0, -10.0], 1),  # the largest alone carries half
        ([2.0, 2.0, 2.0, 2.0, -8.0], 2),
        ([-1.0, -1.0], 0),  # nothing above the mean
    ],
)
def test_heavy_units_count_the_fewest_carrying_half_the_excess(excess: list[float], expected: int) -> None:
    assert heavy_units(np.array(excess)) == expected
