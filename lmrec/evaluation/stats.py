"""Bootstrap intervals over users and a paired test for two models on the same users."""

from __future__ import annotations

import numpy as np

#: Bootstrap replicates drawn at once; bounds the (replicates, users) weight matrix.
_CHUNK = 64


def bootstrap_intervals(
    values: np.ndarray, *, n_bootstrap: int = 1000, seed: int = 0, level: float = 0.95
) -> np.ndarray:
    """Percentile bootstrap intervals of the column means of `values`, resampling rows (users).

    Args:
        values: (n_users, n_metrics); NaN entries are left out of a mean (its denominator too).
        n_bootstrap: number of resamples.
        seed: seed of the resampling.
        level: coverage of the interval.

    Returns:
        (n_metrics, 2) array of (low, high); NaN where a column has no finite value.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    means = resampled_means(values, n_bootstrap, seed)
    return _percentiles(means, level)


def resampled_means(values: np.ndarray, n_bootstrap: int, seed: int) -> np.ndarray:
    """(n_bootstrap, n_metrics) column means over resamples of the rows with replacement."""
    n_rows, n_cols = values.shape
    present = ~np.isnan(values)
    filled = np.where(present, values, 0.0)
    rng = np.random.default_rng(seed)
    means = np.empty((n_bootstrap, n_cols))
    for start in range(0, n_bootstrap, _CHUNK):
        reps = min(_CHUNK, n_bootstrap - start)
        draws = rng.integers(0, n_rows, size=(reps, n_rows))
        # weights[r, u] = how often user u was drawn in replicate r
        flat = draws + (np.arange(reps) * n_rows)[:, None]
        weights = np.bincount(flat.ravel(), minlength=reps * n_rows).reshape(reps, n_rows).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            means[start : start + reps] = (weights @ filled) / (weights @ present)
    return means


def _percentiles(samples: np.ndarray, level: float) -> np.ndarray:
    tail = (1.0 - level) / 2.0 * 100.0
    out = np.full((samples.shape[1], 2), np.nan)
    for column in range(samples.shape[1]):
        finite = samples[:, column][np.isfinite(samples[:, column])]
        if len(finite):
            out[column] = np.percentile(finite, [tail, 100.0 - tail])
    return out


def paired_difference(
    a: np.ndarray, b: np.ndarray, *, n_bootstrap: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, tuple[float, float], float]:
    """Mean of `a - b` over paired users, its bootstrap interval and a two-sided p-value.

    The p-value is from a sign-flip permutation test: under the null hypothesis that the two
    models are exchangeable for each user, every per-user difference is as likely to have
    either sign, so p = (1 + #{|mean(s * d)| >= |mean(d)|}) / (1 + n_bootstrap) over random signs s.
    Pairs with a NaN on either side are left out.
    """
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    diff = diff[~np.isnan(diff)]
    if len(diff) == 0:
        return float("nan"), (float("nan"), float("nan")), float("nan")
    observed = float(diff.mean())
    low, high = bootstrap_intervals(diff, n_bootstrap=n_bootstrap, seed=seed, level=level)[0]
    return observed, (float(low), float(high)), sign_flip_p_value(diff, n_permutations=n_bootstrap, seed=seed)


def sign_flip_p_value(diff: np.ndarray, *, n_permutations: int = 1000, seed: int = 0) -> float:
    """Two-sided p-value of mean(diff) != 0 by random sign flips (see `paired_difference`)."""
    diff = np.asarray(diff, dtype=np.float64)
    if n_permutations <= 0 or len(diff) == 0:
        return float("nan")
    observed = abs(diff.mean())
    # a tolerance so that a flip reproducing the same mean up to rounding counts as "as extreme"
    threshold = observed - 1e-12 * max(1.0, observed)
    rng = np.random.default_rng(seed + 1)  # not the bootstrap's stream
    extreme = 0
    for start in range(0, n_permutations, _CHUNK):
        reps = min(_CHUNK, n_permutations - start)
        signs = rng.integers(0, 2, size=(reps, len(diff))) * 2.0 - 1.0
        extreme += int((np.abs(signs @ diff) / len(diff) >= threshold).sum())
    return (1 + extreme) / (1 + n_permutations)
