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
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq
from scipy.stats import chi2


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
