"""The maths of exploration, kept apart from the policies: exact slot probabilities, the sampler
steps they describe, and the Bayesian linear head that gives scores an uncertainty.

Notation: n candidates, m slots shown (m <= n), and P[i, j] = P(candidate i is shown at slot j), an
(n, m) matrix whose columns sum to 1 and rows to at most 1. Each sampler in `lmrec.pipeline.explore`
is paired with a function here; where a policy drops candidates that it shows with a probability
below ~1e-20 (the *support* functions), the sampler and the probabilities use the same support.

Plackett–Luce and Thompson sampling have no product formula for P[i, j]. Both are races: item i
finishes at a random time (an exponential clock, or minus its sampled score) and slot j goes to the
item that finishes (j+1)-th. So

    P[i, j] = ∫ f_i(x) · P(exactly j of the other items finish before x) dx,

where f_i is the density of item i's finishing time and the inner probability is a Poisson-binomial
over the other items, computed by a dynamic programme truncated at m (prefix and suffix
distributions, so leaving item i out needs no division). The 1-D integral uses composite
Gauss–Legendre panels sized to the features of the integrand, which is smooth (analytic) on each
panel: no wider than each item's own scale, and no wider than a few standard deviations of the
count of finished items. It stops where m + 1 items have finished but with probability ~1e-18
(a Chernoff bound), and the result matches brute-force enumeration to ~1e-12.

The Bayesian linear head lives here, beside the maths it feeds, rather than in a module of its own.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache, partial

import numpy as np
from scipy.special import ndtr

#: Gauss–Legendre nodes per panel.
ORDER = 16
#: Panel width in log-time for the Plackett–Luce race (each clock's CDF has width ~1 there).
LOG_TIME_STEP = 2.0
#: Panel width in standard deviations for Thompson sampling.
SIGMA_STEP = 4.0
#: A clock of rate w that has not rung by TAIL / w: probability e^-50 ≈ 2e-22.
TAIL = 50.0
#: A Gaussian sample outside mean ± WINDOW · std: probability 2·Φ(-10) ≈ 1.5e-23.
WINDOW = 10.0
#: Candidates whose probability of being shown at all is below this are left out of the support.
NEGLIGIBLE = 1e-20
#: Log-weights below the best one are clipped here so every clock rings in finite time.
MIN_LOG_WEIGHT = -600.0
#: Panels are split until the mean number of finished items moves by at most this many of its standard
#: deviations (or units, when the std is below 1) across each; see `refine_panels`.
COUNT_STEP = 4.0
#: -log of the probability (1e-18) that fewer than m + 1 items have finished where the integrals stop.
CERTAIN = 41.5
#: Memory for the prefix and suffix distributions at once; more points are done in blocks.
CHUNK_BYTES = 1 << 24


@lru_cache(maxsize=8)
def _legendre(order: int) -> tuple[np.ndarray, np.ndarray]:
    nodes, weights = np.polynomial.legendre.leggauss(order)
    return nodes, weights


def panel_quadrature(edges: np.ndarray, order: int = ORDER) -> tuple[np.ndarray, np.ndarray]:
    """Composite Gauss–Legendre nodes and weights over the panels [edges[p], edges[p + 1]].

    Returns nodes and weights, each shape ((len(edges) - 1) * order,).
    """
    x, w = _legendre(order)
    lo, hi = edges[:-1, None], edges[1:, None]  # (P, 1)
    half = (hi - lo) / 2
    nodes = (lo + hi) / 2 + half * x  # (P, order)
    return nodes.ravel(), (half * w).ravel()


def refine_panels(edges: np.ndarray, moments: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Split panels until the count of finished items moves by at most ~COUNT_STEP standard deviations
    across each: |Δ mean| <= COUNT_STEP · sqrt(max(1, variance)), from its mean and variance at the edges.

    The Poisson-binomial P(count = j) is a bump about sqrt(variance) wide in the mean count (and at
    least ~1 wide), however many items overlap; a few rounds, since a split panel may still hold most
    of the change.
    """
    for _ in range(4):
        mean, var = moments(edges)
        scale = np.sqrt(np.maximum(1.0, np.minimum(var[:-1], var[1:])))
        pieces = np.ceil(np.abs(np.diff(mean)) / (COUNT_STEP * scale)).astype(np.int64)  # (P,)
        if np.all(pieces <= 1):
            break
        pieces = np.maximum(pieces, 1)
        first = np.repeat(np.cumsum(pieces) - pieces, pieces)  # (P',): index of each piece's first sibling
        step = np.repeat(np.diff(edges) / pieces, pieces)
        edges = np.append(np.repeat(edges[:-1], pieces) + (np.arange(pieces.sum()) - first) * step, edges[-1])
    return edges


@lru_cache(maxsize=256)
def certain_count(m: int) -> float:
    """A mean u* such that a Poisson-binomial count N with mean u >= u* has P(N <= m) < e^-CERTAIN.

    Chernoff: P(N <= m) <= e^{-u} (e u / m)^m for u > m, i.e. log P <= -(u - m - m log(u / m)).
    """
    if m == 0:
        return CERTAIN
    lo, hi = float(m), m + CERTAIN + 10 * math.sqrt(CERTAIN * m) + 10
    for _ in range(60):  # bisection on the increasing u - m - m log(u / m)
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if mid - m - m * math.log(mid / m) < CERTAIN else (lo, mid)
    return hi


def _first_reaching(
    moments: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], lo: float, hi: float, target: float
) -> float:
    """A point near the first x in [lo, hi] where the increasing mean count reaches `target`, never
    before it (hi when it never does)."""
    for _ in range(2):
        grid = np.linspace(lo, hi, 65)
        reached = np.flatnonzero(moments(grid)[0] >= target)
        if not len(reached):
            return hi
        if reached[0] == 0:
            return lo
        lo, hi = grid[reached[0] - 1], grid[reached[0]]
    return hi


# -- slots flagged one at a time, at most `cap` of them (epsilon-greedy, cold budget) ---------------


def capped_flags(coins: np.ndarray, cap: int) -> np.ndarray:
    """Flag slot j when its coin is heads and fewer than `cap` earlier slots are flagged.

    coins: (size, m) bool. Returns flags (size, m) bool; the sampler twin of `capped_flag_probabilities`.
    """
    return coins & (np.cumsum(coins, axis=1) <= cap)


def capped_flag_probabilities(rates: np.ndarray, cap: int) -> tuple[np.ndarray, np.ndarray]:
    """Marginals of `capped_flags` when the coin of slot j shows heads with probability rates[j].

    Returns:
        flagged: P(slot j is flagged), shape (m,).
        kept: kept[e, j] = P(slot j is not flagged and exactly e earlier slots are), shape (m, m).
    """
    flagged, kept = capped_flag_joint(rates, cap)
    return flagged.sum(axis=0), kept


def capped_flag_joint(rates: np.ndarray, cap: int) -> tuple[np.ndarray, np.ndarray]:
    """Each slot's flag jointly with the number of flagged slots before it, for `capped_flags`.

    With f_j(e) = P(e of the slots before j are flagged) and o(e) = [e < cap]:
        f_{j+1}(e + 1) += f_j(e) · rates[j] · o(e),    f_{j+1}(e) += f_j(e) · (1 - rates[j] · o(e)).

    Returns:
        flagged: flagged[e, j] = P(slot j is flagged and exactly e earlier slots are), shape (m, m).
        kept: kept[e, j] = P(slot j is not flagged and exactly e earlier slots are), shape (m, m).
    """
    m = len(rates)
    open_ = np.arange(m + 1) < cap  # (m+1,)
    f = np.zeros(m + 1)
    f[0] = 1.0
    flagged = np.zeros((m, m))
    kept = np.zeros((m, m))
    for j in range(m):
        go = f * np.where(open_, rates[j], 0.0)  # (m+1,)
        stay = f - go
        flagged[:, j] = go[:m]
        kept[:, j] = stay[:m]
        f = stay
        f[1:] += go[:-1]
    return flagged, kept


def compaction(kept: np.ndarray, n_main: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Where a main list lands when its items fill the unflagged slots in order.

    Args:
        kept: from `capped_flag_probabilities`, shape (m, m).
        n_main: length of the main list (default m).

    Returns:
        landing: landing[s, j] = P(the s-th item of the main list is at slot j) = kept[j - s, j],
            shape (n_main, m).
        overflow: P(slot j is unflagged but the main list has run out), shape (m,).
    """
    m = kept.shape[1]
    n_main = m if n_main is None else n_main
    pushed = np.arange(m)[None, :] - np.arange(m)[:, None]  # (m, m): [s, j] -> j - s flagged slots before j
    landing = np.where(pushed >= 0, kept[np.clip(pushed, 0, m - 1), np.arange(m)[None, :]], 0.0)
    return landing[:n_main], landing[n_main:].sum(axis=0)


def pool_rank_probabilities(rates: np.ndarray, cap: int, n_main: int) -> np.ndarray:
    """P[r, j] = P(slot j takes the pool's r-th pick), shape (m, m), for the slots `assemble_slots` fills.

    Slot j draws from the pool when it is flagged, or unflagged once the main list (n_main items)
    has run out; with e flagged slots before j, the pool picks before it are e flagged ones plus
    max(0, j - e - n_main) overflow ones. Summed over r this is flagged + overflow of `compaction`;
    with an ordered pool (the r-th pick is a fixed item) row r is that item's slot distribution.
    """
    flagged, kept = capped_flag_joint(rates, cap)  # (m, m) each: [e, j]
    m = len(rates)
    e, j = np.arange(m)[:, None], np.arange(m)[None, :]
    from_pool = flagged + np.where(j - e >= n_main, kept, 0.0)  # (m, m)
    rank = e + np.maximum(0, j - e - n_main)  # (m, m): pool picks before slot j
    live = from_pool > 0  # then e <= j, so rank <= j < m
    out = np.zeros((m, m))
    np.add.at(out, (rank[live], np.broadcast_to(j, (m, m))[live]), from_pool[live])
    return out


def ordered_draws(rng: np.random.Generator, n: int, m: int, size: int) -> np.ndarray:
    """`size` uniform ordered draws of min(m, n) of range(n) without replacement, shape (size, min(m, n))."""
    keys = rng.random((size, n))
    if m < n:
        part = np.argpartition(keys, m - 1, axis=1)[:, :m]
        return np.take_along_axis(part, np.argsort(np.take_along_axis(keys, part, axis=1), axis=1), axis=1)
    return np.argsort(keys, axis=1)


def assemble_slots(
    flags: np.ndarray,
    main: np.ndarray,
    main_explored: np.ndarray,
    pool: np.ndarray,
    rng: np.random.Generator,
    ordered: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Fill m slots per draw: flagged slots take uniform draws without replacement from `pool` in slot
    order (or, when `ordered`, the pool's items in the order given); the other slots take the `main`
    list in order, and once it runs out they also draw from the pool.

    flags: (size, m) bool; main: (size, m_main) positions; pool: (r,) positions. Returns positions
    (size, m) and explored (size, m): flagged picks are exploration, overflow picks are not.
    """
    size, m = flags.shape
    rank = np.cumsum(~flags, axis=1) - 1  # (size, m): rank of an unflagged slot in the main list
    from_pool = flags | (rank >= main.shape[1])
    rows = np.arange(size)[:, None]
    positions = np.zeros((size, m), dtype=np.int64)
    explored = flags.copy()
    if main.shape[1]:
        safe = np.clip(rank, 0, main.shape[1] - 1)
        positions = main[rows, safe]
        explored |= ~from_pool & main_explored[rows, safe]
    if from_pool.any():
        first = np.tile(np.arange(min(m, len(pool))), (size, 1))  # the pool's own order
        draws = pool[first if ordered else ordered_draws(rng, len(pool), m, size)]  # (size, min(m, r))
        pick = np.clip(np.cumsum(from_pool, axis=1) - 1, 0, draws.shape[1] - 1)
        positions = np.where(from_pool, draws[rows, pick], positions)
    return positions, explored


# -- Poisson-binomial over "the other items", at many points at once ------------------------------


def prefix_suffix(p: np.ndarray, q: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Truncated Poisson-binomial distributions of every prefix and suffix of the items.

    Args:
        p: P(item l is counted) at each of X points, shape (n, X).
        q: 1 - p, passed separately so tiny complements keep their precision, shape (n, X).
        m: counts 0..m-1 are kept; a count that reaches m never comes back below it.

    Returns:
        pre: pre[l, c, x] = P(exactly c of items 0..l-1 are counted at point x), shape (n+1, m, X).
        suf: suf[l, c, x] = P(exactly c of items l..n-1 are counted at point x), shape (n+1, m, X).
    """
    n, n_points = p.shape
    # buf[l, 0] is the prefix of length l and buf[l, 1] the suffix of length l: one loop grows both,
    # three array operations per item (at a few hundred points the loop's overhead is what costs).
    buf = np.empty((n + 1, 2, m, n_points))  # (n+1, 2, m, X)
    buf[0] = 0.0
    buf[0, :, 0] = 1.0
    both_p = np.stack([p, p[::-1]], axis=1)[:, :, None, :]  # (n, 2, 1, X)
    both_q = np.stack([q, q[::-1]], axis=1)[:, :, None, :]
    shifted = np.empty((2, m - 1, n_points))
    for step in range(n):
        np.multiply(buf[step], both_q[step], out=buf[step + 1])
        np.multiply(buf[step, :, :-1], both_p[step], out=shifted)
        buf[step + 1, :, 1:] += shifted
    return buf[:, 0], buf[::-1, 1]


def leave_one_out(pre: np.ndarray, suf: np.ndarray, g: np.ndarray) -> np.ndarray:
    """R[i, j] = Σ_x g[i, x] · P(exactly j of the items other than i are counted at x), for j < m.

    The distribution over the others is the convolution of the prefix before i and the suffix after
    it. pre, suf: from `prefix_suffix`, shape (n+1, m, X); g: (n, X). Returns shape (n, m).
    """
    n, m = g.shape[0], pre.shape[1]
    left = g[:, None, :] * pre[:n]  # (n, m, X)
    pair = left @ suf[1:].transpose(0, 2, 1)  # (n, m, m): pair[i, a, b] = Σ_x g · P(a before i) · P(b after i)
    out = np.zeros((n, m))
    for a in range(m):
        out[:, a:] += pair[:, a, : m - a]
    return out


def race_integral(p: np.ndarray, q: np.ndarray, g: np.ndarray, m: int) -> np.ndarray:
    """`leave_one_out(*prefix_suffix(p, q, m), g)`, over blocks of points so memory stays ~16 MB.

    p, q, g: shape (n, X). Returns shape (n, m).
    """
    n, n_points = p.shape
    out = np.zeros((n, m))
    width = max(16, CHUNK_BYTES // (16 * (n + 1) * m))
    for lo in range(0, n_points, width):
        block = slice(lo, lo + width)
        out += leave_one_out(*prefix_suffix(p[:, block], q[:, block], m), g[:, block])
    return out


def poisson_binomial(p: np.ndarray, q: np.ndarray, m: int) -> np.ndarray:
    """P(exactly c of all n items are counted) at each point, for c < m: shape (m, X)."""
    out = np.zeros((m, p.shape[1]))
    out[0] = 1.0
    for item in range(p.shape[0]):
        out[1:] = out[1:] * q[item] + out[:-1] * p[item]
        out[0] *= q[item]
    return out


def with_last_slot(integrals: np.ndarray, m: int) -> np.ndarray:
    """Append the last slot's column when every item is shown (m = n): 1 minus the row sums."""
    if integrals.shape[1] == m:
        return integrals
    last = np.clip(1.0 - integrals.sum(axis=1), 0.0, 1.0)
    return np.column_stack([integrals, last])


# -- Plackett–Luce (softmax sampling without replacement) -----------------------------------------


def _race_horizon(weights: np.ndarray, m_int: int) -> float:
    """A time by which at least m_int + 1 clocks have rung but with probability below ~1e-18: the
    (m_int+1)-th smallest of 50 / w, or sooner where the expected number rung reaches `certain_count`."""
    t_hi = float(np.partition(TAIL / weights, m_int)[m_int])
    t_0 = 1.0 / float(weights.sum())
    if t_hi <= t_0:
        return t_hi
    rung = partial(_expected_rung, weights)
    return min(t_hi, math.exp(_first_reaching(rung, math.log(t_0), math.log(t_hi), certain_count(m_int))))


def _expected_rung(weights: np.ndarray, log_t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of the number of clocks rung by each time t = e^x, each shape (len(x),)."""
    rung = -np.expm1(-weights[:, None] * np.exp(log_t)[None, :])  # (n, len(x))
    return rung.sum(axis=0), (rung * (1 - rung)).sum(axis=0)


def plackett_luce_support(log_weights: np.ndarray, m: int) -> np.ndarray:
    """Items a Plackett–Luce draw of m slots can show with probability above ~1e-20, shape (n,) bool.

    An item whose clock rings before the horizon t_hi with probability w · t_hi < 1e-20 is never
    among the first m (unless fewer than m items ring by t_hi, probability ~(m+1)·e^-50).
    """
    n = len(log_weights)
    if m == 0 or n <= 1:
        return np.ones(n, dtype=bool)
    weights = np.exp(np.maximum(log_weights - log_weights.max(), MIN_LOG_WEIGHT))
    t_hi = _race_horizon(weights, min(m, n - 1))
    return weights * t_hi >= NEGLIGIBLE


def plackett_luce_probabilities(log_weights: np.ndarray, m: int) -> np.ndarray:
    """Slot probabilities of Plackett–Luce sampling of m slots without replacement, shape (n, m).

    Slot 1 goes to item i with probability w_i / Σ w, slot 2 to one of the rest likewise, and so on.
    Equivalently item i's clock rings at T_i ~ Exp(w_i) and items are shown in ringing order, so

        P[i, j] = ∫_0^∞ w_i e^{-w_i t} · P(exactly j of the others ring before t) dt,
        with P(l rings before t) = 1 - e^{-w_l t}.

    The integral runs over one linear panel [0, 1/Σw] and then panels of width 2 in log t, split where
    many clocks ring close together (`refine_panels`), up to the horizon where m + 1 clocks have rung
    but with probability ~1e-18. The cost is O(n · m · X) for X = 16 · panels nodes; the number of
    panels grows with the spread of the log-weights and, slowly, with m.
    """
    n = len(log_weights)
    out = np.zeros((n, m))
    if m == 0 or n == 0:
        return out
    support = np.flatnonzero(plackett_luce_support(log_weights, m))
    weights = np.exp(np.maximum(log_weights[support] - log_weights[support].max(), MIN_LOG_WEIGHT))
    out[support] = _plackett_luce_on_support(weights, m)
    return out


def _plackett_luce_on_support(weights: np.ndarray, m: int) -> np.ndarray:
    n = len(weights)
    m_int = min(m, n - 1)  # slots by integral; the last one by complement when every item is shown
    if m_int == 0:
        return np.ones((1, 1))
    total = float(weights.sum())
    t_0, t_hi = 1.0 / total, _race_horizon(weights, m_int)
    lin_t, lin_c = panel_quadrature(np.array([0.0, t_0]))
    n_log = max(1, math.ceil(math.log(t_hi / t_0) / LOG_TIME_STEP))
    edges = np.linspace(math.log(t_0), math.log(t_hi), n_log + 1)
    log_x, log_c = panel_quadrature(refine_panels(edges, partial(_expected_rung, weights)))
    t = np.concatenate([lin_t, np.exp(log_x)])  # (X,)
    c = np.concatenate([lin_c, log_c * np.exp(log_x)])  # dt = t d(log t)
    rate_t = weights[:, None] * t[None, :]  # (n, X)
    q = np.exp(-rate_t)
    p = -np.expm1(-rate_t)
    g = weights[:, None] * q * c[None, :]  # density of item i's clock times the quadrature weight
    return with_last_slot(race_integral(p, q, g, m_int), m)


# -- Thompson sampling (Gaussian scores, top-m of the samples) ------------------------------------


def thompson_support(mean: np.ndarray, std: np.ndarray, m: int) -> np.ndarray:
    """Items whose sample can reach the top m with probability above ~1e-23, shape (n,) bool.

    s_lo is the (m+1)-th largest of mean - 10·std: m + 1 samples lie above it but with probability
    ~(m+1)·Φ(-10); an item with mean + 10·std < s_lo lies below it but with probability Φ(-10).
    """
    n = len(mean)
    if m == 0 or n <= 1:
        return np.ones(n, dtype=bool)
    return mean + WINDOW * std >= _thompson_range(mean, std, min(m, n - 1))[0]


def _thompson_range(mean: np.ndarray, std: np.ndarray, m_int: int) -> tuple[float, float]:
    """[s_lo, s_hi]: above s_hi no sample lies, and below s_lo lie fewer than m_int + 1 samples, but
    with probability ~1e-18. s_lo is the (m_int+1)-th largest mean - 10·std, or higher where the
    expected number of samples above reaches `certain_count`."""
    lower = mean - WINDOW * std
    s_lo = float(np.partition(lower, len(lower) - 1 - m_int)[len(lower) - 1 - m_int])
    s_hi = float(np.max(mean + WINDOW * std))
    if s_hi <= s_lo:
        return s_lo, s_hi
    above = partial(_expected_above_negated, mean, std)
    return max(s_lo, -_first_reaching(above, -s_hi, -s_lo, certain_count(m_int))), s_hi


def _expected_above(mean: np.ndarray, std: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of the number of samples above each s, each shape (len(s),)."""
    fixed = std == 0
    above = ndtr((mean[~fixed, None] - s[None, :]) / std[~fixed, None])  # (n_live, len(s))
    return above.sum(axis=0) + (mean[fixed, None] > s[None, :]).sum(axis=0), (above * (1 - above)).sum(axis=0)


def _expected_above_negated(mean: np.ndarray, std: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _expected_above(mean, std, -x)  # increasing in x = -s


def thompson_probabilities(mean: np.ndarray, std: np.ndarray, m: int) -> np.ndarray:
    """Slot probabilities of showing the top m of independent samples X_i ~ N(mean_i, std_i²).

    Item i is at slot j when exactly j others sample above it:

        P[i, j] = ∫ φ_i(s) · P(exactly j others have X_l > s) ds,   P(X_l > s) = Φ((mean_l - s) / std_l).

    An item with std 0 always samples its mean: its row is the Poisson-binomial at s = mean_i, and
    items tied at the same mean with std 0 rank by list position (as the sampler's stable sort does).
    Their means are panel edges, so each panel integrates a smooth function; panels are at most 4
    standard deviations of every item whose ±10·std window covers them, and split further where many
    samples are likely to lie close together (`refine_panels`).

    Returns shape (n, m).
    """
    n = len(mean)
    out = np.zeros((n, m))
    if m == 0 or n == 0:
        return out
    support = np.flatnonzero(thompson_support(mean, std, m))
    out[support] = _thompson_on_support(mean[support], std[support], m)
    return out


def _thompson_on_support(mean: np.ndarray, std: np.ndarray, m: int) -> np.ndarray:
    n = len(mean)
    m_int = min(m, n - 1)
    if m_int == 0:
        return np.ones((1, 1))
    fixed = std == 0
    s_lo, s_hi = _thompson_range(mean, std, m_int)
    points = np.unique(mean[fixed])
    edges = refine_panels(_thompson_edges(mean, std, s_lo, s_hi, points), partial(_expected_above, mean, std))
    nodes, node_w = panel_quadrature(edges) if len(edges) > 1 else (np.empty(0), np.empty(0))
    s = np.concatenate([nodes, points])  # (X,)
    sd = np.where(fixed, 1.0, std)[:, None]
    z = (mean[:, None] - s[None, :]) / sd  # (n, X)
    tail = ndtr(-np.abs(z))  # the smaller of P(X > s) and P(X < s), to full relative precision
    above = mean[:, None] > s[None, :]
    p = np.where(fixed[:, None], above, np.where(z >= 0, 1.0 - tail, tail))
    q = np.where(fixed[:, None], ~above, np.where(z >= 0, tail, 1.0 - tail))
    x = len(nodes)
    density = np.exp(-0.5 * z[:, :x] ** 2) / (math.sqrt(2 * math.pi) * sd)  # (n, X - D): φ_i at the nodes
    g = np.where(fixed[:, None], 0.0, density * node_w[None, :])
    integrals = race_integral(p[:, :x], q[:, :x], g, m_int)
    if not fixed.any():
        return with_last_slot(integrals, m)
    at_points = poisson_binomial(p[:, x:], q[:, x:], m_int)  # (m_int, D)
    for i in np.flatnonzero(fixed):
        ahead = int(np.sum(fixed[:i] & (mean[:i] == mean[i])))  # tied items earlier in the list
        if ahead < m_int:
            integrals[i, ahead:] = at_points[: m_int - ahead, int(np.searchsorted(points, mean[i]))]
    return with_last_slot(integrals, m)


def _thompson_edges(mean: np.ndarray, std: np.ndarray, s_lo: float, s_hi: float, points: np.ndarray) -> np.ndarray:
    """Panel edges over [s_lo, s_hi]: the std-0 means, and panels no wider than SIGMA_STEP · std_l in
    every window mean_l ± 10·std_l (a node density ρ(s) = max 1 / (4·std_l), made into edges by
    inverting its running integral). Empty when nothing is random there."""
    live = std > 0
    if not live.any() or s_hi <= s_lo:
        return np.empty(0)
    lo = np.clip(mean[live] - WINDOW * std[live], s_lo, s_hi)
    hi = np.clip(mean[live] + WINDOW * std[live], s_lo, s_hi)
    breaks = np.unique(np.concatenate([[s_lo, s_hi], lo, hi]))
    mids = (breaks[:-1] + breaks[1:]) / 2  # (B-1,)
    covered = (lo[None, :] <= mids[:, None]) & (mids[:, None] <= hi[None, :])  # (B-1, n_live)
    density = np.max(np.where(covered, 1.0 / (SIGMA_STEP * std[live][None, :]), 0.0), axis=1)
    density = np.maximum(density, 1.0 / (s_hi - s_lo))
    running = np.concatenate([[0.0], np.cumsum(density * np.diff(breaks))])
    n_panels = max(1, math.ceil(running[-1]))
    edges = np.interp(np.linspace(0.0, running[-1], n_panels + 1), running, breaks)
    inside = points[(points > s_lo) & (points < s_hi)]
    return np.unique(np.concatenate([edges, inside, [s_lo, s_hi]]))
