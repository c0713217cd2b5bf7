"""Empirical-likelihood intervals for ratio estimates (Owen 1988; for off-policy evaluation,
Karampatziakis, Langford and Mineiro 2020).

Every estimator of `lmrec.simulation.ope` is a ratio V = sum_k n_k / sum_k d_k over independent
units k (the requests). Its empirical-likelihood interval is {v : -2 log R(v) <= chi2_1(level)},
where R(v) is the largest prod_k (K p_k) over weights p on the K units (p_k >= 0, sum p_k = 1) with
sum_k p_k (n_k - v d_k) = 0. By Lagrange duality p_k = 1 / (K (1 + lam g_k)) with g_k = n_k - v d_k
and lam the root of sum_k g_k / (1 + lam g_k) = 0, so -2 log R(v) = 2 sum_k log(1 + lam g_k).

Unlike a normal or percentile-bootstrap interval it follows the skew of importance-weighted
rewards: where a few requests carry very large weights, the interval stretches toward the values
they pull to, not equally both ways.

What the log alone cannot show is how rare the large weights are: a log that happens to hold few
of them looks tamer than the policy pair is. Where the expected importance weight of every unit is
known (its share of the target that the logging policy can show; 1 per slot where the logging
policy reaches everything the target may show), `constrained_likelihood_interval` also requires
sum_k p_k (w_k - e_k) = 0 of the weighting p, w_k being unit k's importance weights and e_k their
expectation (the side constraint of Karampatziakis et al.). A log whose weights average below their
expectation has missed large ones; the constraint moves mass toward the units with large weights,
and the interval toward the values they pull to. It can only move mass to units the log has: a
log whose large weights sit on a handful of units gets an interval far too narrow around their
rewards (`heavy_units`, `RELIABLE_HEAVY_UNITS`). With two constraints and one value this is the
over-identified case of Qin and Lawless (1994): the interval is {v : W(v) - min_u W(u) <=
chi2_1(level)}, W(v) = -2 log R(v), and its centre is the value that minimises W, not always the
ratio itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.optimize import brentq, minimize_scalar
from scipy.stats import chi2

#: Fewest units carrying half of the weight above its expectation (`heavy_units`) for a held interval
#: to be trusted: in the known worlds of benchmarks/bench_likelihood_small_logs.py, held intervals
#: leaning on fewer cover the truth less often than plain ones, and from there on as often.
RELIABLE_HEAVY_UNITS = 10


def log_likelihood_ratio(numerator: np.ndarray, denominator: np.ndarray, value: float) -> float:
    """-2 log R(value) for the ratio sum numerator / sum denominator, both (K,) per-unit sums; inf
    where no weighting of the units reaches the value (every g_k on one side of 0)."""
    g = numerator - value * denominator  # (K,)
    top, bottom = float(g.max()), float(g.min())
    if top <= 0.0 or bottom >= 0.0:
        return 0.0 if top == bottom == 0.0 else math.inf
    low, high = -1.0 / top, -1.0 / bottom  # where every 1 + lam g_k stays positive
    margin = 1e-12 * (high - low)
    lam = brentq(lambda x: float((g / (1.0 + x * g)).sum()), low + margin, high - margin, xtol=1e-15)
    return float(2.0 * np.log1p(lam * g).sum())


def likelihood_interval(numerator: np.ndarray, denominator: np.ndarray, level: float) -> tuple[float, float]:
    """The empirical-likelihood interval of sum numerator / sum denominator at `level` (module
    docstring), both (K,) per-unit sums with denominators >= 0 (a unit with denominator 0 must have
    numerator 0); NaN bounds with fewer than two units or nothing in the denominator."""
    counted = denominator > 0
    if len(numerator) < 2 or not counted.any():
        return math.nan, math.nan
    centre = float(numerator.sum() / denominator.sum())
    ratios = numerator[counted] / denominator[counted]  # the statistic grows without bound at their extremes
    cut = float(chi2.ppf(level, 1))
    return (
        _crossing(numerator, denominator, centre, float(ratios.min()), cut),
        _crossing(numerator, denominator, centre, float(ratios.max()), cut),
    )


def _crossing(numerator: np.ndarray, denominator: np.ndarray, centre: float, edge: float, cut: float) -> float:
    """Where -2 log R crosses `cut` between the estimate (0 there) and `edge` (inf there); the edge
    itself when too few units leave it below the cut up to there."""
    near = edge - (edge - centre) * 1e-9
    if near == centre:
        return centre

    def excess(v: float) -> float:
        return log_likelihood_ratio(numerator, denominator, v) - cut

    if excess(near) <= 0:
        return edge
    return float(brentq(excess, min(centre, near), max(centre, near), xtol=1e-14))


def constrained_log_likelihood_ratio(
    numerator: np.ndarray, denominator: np.ndarray, weight_excess: np.ndarray, value: float
) -> float:
    """W(value) = -2 log R(value) for the ratio sum numerator / sum denominator with the side
    constraint sum_k p_k weight_excess_k = 0, all three (K,) per-unit sums.

    R is computed through Owen's pseudo-logarithm (log below 1/K replaced by its quadratic
    continuation), which equals the empirical likelihood wherever a weighting meets both
    constraints and stays finite, large, where none does.
    """
    g = np.column_stack([weight_excess, numerator - value * denominator])  # (K, 2)
    return 2.0 * _pseudo_log_dual(g)


def constrained_likelihood_interval(
    numerator: np.ndarray, denominator: np.ndarray, weight_excess: np.ndarray, level: float
) -> tuple[float, float]:
    """The empirical-likelihood interval of sum numerator / sum denominator at `level` with the
    known weight mean as a side constraint (module docstring); `weight_excess` (K,) is each unit's
    importance weights minus their expectation. NaN bounds with fewer than two units or nothing
    in the denominator."""
    counted = denominator > 0
    if len(numerator) < 2 or not counted.any():
        return math.nan, math.nan
    ratios = numerator[counted] / denominator[counted]
    lowest, highest = float(ratios.min()), float(ratios.max())
    if lowest == highest:
        return lowest, highest
    centre = float(numerator.sum() / denominator.sum())

    def statistic(v: float) -> float:
        return constrained_log_likelihood_ratio(numerator, denominator, weight_excess, v)

    best = _quasi_convex_minimum(statistic, lowest, centre, highest)
    cut = float(chi2.ppf(level, 1)) + statistic(best)
    return _constrained_crossing(statistic, best, lowest, cut), _constrained_crossing(statistic, best, highest, cut)


def heavy_units(weight_excess: np.ndarray) -> int:
    """The fewest units that together carry half of the importance weight above its expectation
    (the positive entries of `weight_excess`, (K,) per-unit sums): how many units a held interval
    leans on. The side constraint can only give the large weights' expected share to units that
    have them; with few such units it gives almost all of it to those few, and the interval
    shrinks around their rewards (`RELIABLE_HEAVY_UNITS`)."""
    above = np.sort(weight_excess[weight_excess > 0])[::-1]  # (m,) largest first
    if len(above) == 0:
        return 0
    return int(np.searchsorted(np.cumsum(above), 0.5 * above.sum())) + 1


def _pseudo_log_dual(g: np.ndarray) -> float:
    """max over lam of sum_k log*(1 + lam . g_k) for g (K, m), by damped Newton steps (the function
    is concave); log* is the logarithm continued quadratically below 1/K (Owen 2001, ch. 3.14)."""
    k = len(g)
    floor = 1.0 / k
    scale = np.abs(g).max(axis=0)  # (m,) columns in comparable units, so the steps are well conditioned
    scale[scale == 0] = 1.0
    g = g / scale
    lam = np.zeros(g.shape[1])

    def parts(lam: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        z = 1.0 + g @ lam  # (K,)
        low = z < floor
        safe = np.where(low, 1.0, z)
        value = np.where(low, math.log(floor) - 1.5 + 2.0 * z / floor - 0.5 * (z / floor) ** 2, np.log(safe))
        slope = np.where(low, 2.0 / floor - z / floor**2, 1.0 / safe)  # d log* / dz
        curve = np.where(low, -1.0 / floor**2, -1.0 / safe**2)  # d2 log* / dz2
        return float(value.sum()), g.T @ slope, (g * curve[:, None]).T @ g

    current, gradient, hessian = parts(lam)
    for _ in range(100):
        step = np.linalg.solve(hessian - 1e-12 * np.eye(len(lam)), -gradient)
        gain = float(gradient @ step)  # the Newton decrement: the predicted rise is half of it
        if gain < 1e-13 * max(1.0, abs(current)):
            break
        size = 1.0
        while size > 1e-10:
            trial = lam + size * step
            value, trial_gradient, trial_hessian = parts(trial)
            if value >= current + 1e-4 * size * gain:
                break
            size /= 2.0
        else:
            break
        lam, current, gradient, hessian = trial, value, trial_gradient, trial_hessian
    return current


def _quasi_convex_minimum(statistic: Callable[[float], float], lowest: float, start: float, highest: float) -> float:
    """Where the statistic, quasi-convex in v (its level sets are intervals), is least in [lowest,
    highest]: a bracket grown from `start`, then Brent's method inside it."""
    spread = (highest - lowest) * 1e-3
    left, right = max(lowest, start - spread), min(highest, start + spread)
    at_start = statistic(start)
    while left > lowest and statistic(left) <= at_start:
        left = max(lowest, start - 4.0 * (start - left))
    while right < highest and statistic(right) <= at_start:
        right = min(highest, start + 4.0 * (right - start))
    found = minimize_scalar(
        statistic, bounds=(left, right), method="bounded", options={"xatol": 1e-12 * (right - left)}
    )
    return float(found.x)


def _constrained_crossing(statistic: Callable[[float], float], best: float, edge: float, cut: float) -> float:
    """Where the statistic crosses `cut` between its minimum `best` and `edge`; the edge itself when it
    stays below the cut up to there."""
    near = edge - (edge - best) * 1e-9
    if near == best or statistic(near) <= cut:
        return edge
    return float(brentq(lambda v: statistic(v) - cut, min(best, near), max(best, near), xtol=1e-14))
