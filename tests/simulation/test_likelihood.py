"""Empirical-likelihood intervals: the dual against a direct optimisation, the interval's ends, its skew."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.stats import chi2

from lmrec.simulation.likelihood import likelihood_interval, log_likelihood_ratio


def _by_optimisation(numerator: np.ndarray, denominator: np.ndarray, value: float) -> float:
    """Reference: -2 log R(value), maximising sum_k log(K p_k) over the simplex directly."""
    k = len(numerator)
    constraints = [
        {"type": "eq", "fun": lambda p: p.sum() - 1.0},
        {"type": "eq", "fun": lambda p: p @ (numerator - value * denominator)},
    ]
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
