"""The recommender under test inside the simulator: a base ranker plus an online Bayesian head.

Every policy is run with the same `Agent`, so policies differ only in how they choose the shown list
from the same scored candidates (a fair side-by-side). The agent:

1. fits a base ranker (EASE by default) on the world's history once and keeps each user's N best
   unseen items by its score, in order: rank_u(i) = 0, 1, ..., N - 1 (N for any other item);
2. reads each item as a vector v_i (language-model embeddings of the item text reduced by PCA, or a
   random projection of the item's history column when there is no text), each user as the unit
   mean p_u of their history's vectors, with sim(u, i) = p_u · v_i, and each user also as u_u, the
   unit user factors of a truncated SVD of the history;
3. estimates the attraction of item i for user u online with `HybridHead`, a Bayesian linear model

       attraction(u, i) = x(u, i) · θ + new_i · w(u) · β_i,
       x(u, i) = [known_i, known_i / (1 + rank_u(i)), new_i, new_i · sim(u, i), new_i · v_i],
       w(u) = [1, u_u],

   where known_i says whether the history has the item and new_i = 1 - known_i. θ is shared: for
   items the history knows it calibrates the base ranker's order into a click rate, for new items it
   learns what their text says; β_i are a new item's own weights: an offset and a taste direction,
   learned from who clicks it (the per-item part of hybrid LinUCB). The base ranker enters through
   one monotone feature, so its learned effect stays monotone and known items keep the base order:
   a flexible curve in the base score (a spline) fitted online bends where greedy's own narrow data
   says little, and greedy then never shows the items that would straighten it; per-item offsets on
   known items likewise soak up that misfit and reorder them. A click at position k is modelled as
   examination(k) · attraction (the agent is told the world's examination curve, as if it had been
   measured by a randomised experiment), so each shown item is one regression row scaled by it;
4. builds the candidates of each request from three retrievers: the user's N best items by base
   score (static), their T best new items already shown by posterior mean (over every such item),
   and F items drawn uniformly from the cold ones (the fresh pool); the M best of the first two by
   posterior mean plus the fresh draws go to the policy, with `score` the posterior mean,
   `uncertainty` its posterior std and `cold` set for new items with fewer than `cold_impressions`
   impressions.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass
from typing import Any, Literal, Self

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy.linalg import cho_factor, cho_solve

from lmrec.configs import validated_config
from lmrec.diagnostics import ConfigError, DataError, NotFittedError
from lmrec.encoders import EncoderConfig
from lmrec.simulation.worlds import World, top_k_rows, unit_rows

log = logging.getLogger(__name__)

#: Features of x(u, i) before the item vector: known, known / (1 + rank), new, new · sim.
PAIR_FEATURES = 4


#: Settings whose change needs a new `fit` (the rest only shape what is learned online).
_FITTED_SETTINGS = frozenset(
    {
        "ranker",
        "ranker_config",
        "item_vectors",
        "dimension",
        "encoder",
        "static_candidates",
        "new_item_similarity",
        "similarity_ridge",
        "user_dimension",
        "seed",
    }
)


class AgentConfig(BaseModel):
    """Settings of the recommender the simulator runs (shared by every policy in a comparison)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    ranker: str = "ease"
    """Base ranker (a registered model name) fitted on the world's history."""

    ranker_config: dict[str, Any] = Field(default_factory=lambda: {"l2": 200.0})
    """Config of the base ranker."""

    item_vectors: Literal["auto", "text", "interactions", "none"] = "auto"
    """Item vectors the head reads: language-model embeddings of the item text, a random projection
    of each item's history column, none, or `auto` (text when the items have any, else interactions)."""

    dimension: int = Field(default=16, ge=1, le=384)
    """Length of the item vectors after PCA (text) or projection (interactions)."""

    encoder: EncoderConfig = Field(default_factory=EncoderConfig)
    """Language model for `text` item vectors."""

    static_candidates: int = Field(default=200, ge=1)
    """N: each user's best items by base score, retrieved once."""

    new_candidates: int = Field(default=50, ge=0)
    """T: each user's best new items (already shown at least once) by posterior mean, retrieved every step."""

    candidates: int = Field(default=40, ge=1)
    """M: the best retrieved items by posterior mean handed to the policy."""

    fresh: int = Field(default=10, ge=0)
    """F: cold items drawn uniformly per request and added to the candidates (the fresh pool)."""

    cold_impressions: int = Field(default=100, ge=1)
    """An item the history does not know is cold until it has had this many impressions."""

    prior_precision: float = Field(default=100.0, gt=0.0)
    """λ: prior N(0, I / λ) of the shared weights θ."""

    noise_variance: float = Field(default=0.05, gt=0.0)
    """σ²: variance of one click around its expected value."""

    new_item_similarity: Literal["profile", "ease"] = "profile"
    """sim(u, i) of a new item: `profile`, p_u · v_i; `ease`, the user's base scores of the known items
    carried onto the language model's vectors by a ridge regression from an item's vector to its
    base-ranker column, s_u T_k (T_kᵀT_k + μI)⁻¹ t_i read as a cosine (needs item text and a ranker
    with `score_histories`)."""

    similarity_ridge: float = Field(default=1.0, gt=0.0)
    """μ of the `ease` similarity."""

    user_dimension: int = Field(default=8, ge=0, le=128)
    """Length of the user factors u_u (a truncated SVD of the history) that new items' own weights read."""

    offset_prior_std: float = Field(default=0.05, gt=0.0)
    """Prior std of a new item's own offset δ_i."""

    personal_prior_std: float = Field(default=0.05, gt=0.0)
    """Prior std of each coefficient of a new item's own weights on the user factors."""

    seed: int = Field(default=0, ge=0)
    """Seed of the random projection of item vectors."""


class HybridHead:
    """Bayesian linear regression with shared weights and per-item weights (hybrid LinUCB).

    Model y = e · (xᵀθ + wᵀβ_i) + ε, where e is a known scale of the row (the examination
    probability), x (d) are features shared by all items and w (q) the features of item i's own
    weights (only items with an arm have them); θ ~ N(0, I/λ), β_i ~ N(0, diag(τ²)), ε ~ N(0, σ²).
    With the statistics (all divided by σ²)

        A = λI + Σ e² x xᵀ,  b = Σ e y x,  C_i = diag(1/τ²) + Σ_i e² w wᵀ,  B_i = Σ_i e² w xᵀ,  c_i = Σ_i e y w,

    the exact joint posterior follows by eliminating the per-item weights (Li et al. 2010, alg. 2):

        K_i = C_i⁻¹ B_i,   Ã = A - Σ_i B_iᵀ K_i,   θ̂ = Ã⁻¹ (b - Σ_i K_iᵀ c_i),   β̂_i = C_i⁻¹ (c_i - B_i θ̂),
        mean(x, w, i) = xᵀθ̂ + wᵀβ̂_i,   var(x, w, i) = (x - K_iᵀ w)ᵀ Ã⁻¹ (x - K_iᵀ w) + wᵀ C_i⁻¹ w.

    Without arms it is exactly `lmrec.pipeline.uncertainty.BayesianLinearHead` on rows e·x.
    `update` only adds statistics, `refresh` solves (O(arms · (q³ + q²d + qd²) + d³)) and `predict`
    reads the last solution, so a simulation step updates once and refreshes once.
    """

    def __init__(
        self, dimension: int, arms: np.ndarray, arm_prior_std: np.ndarray, prior_precision: float, noise: float
    ) -> None:
        d, tau = dimension, np.asarray(arm_prior_std, dtype=np.float64)
        q, n_arms = len(tau), int(np.sum(arms))
        self.noise = noise
        self.arm_of = np.full(len(arms), n_arms, dtype=np.int64)  # (I,): n_arms = no arm (zero weights)
        self.arm_of[np.flatnonzero(arms)] = np.arange(n_arms)
        self._A = prior_precision * np.eye(d)  # (d, d)
        self._b = np.zeros(d)
        self._C = np.tile(np.diag(1.0 / np.maximum(tau, 1e-12) ** 2), (n_arms + 1, 1, 1))  # (n + 1, q, q)
        self._B = np.zeros((n_arms + 1, q, d))
        self._c = np.zeros((n_arms + 1, q))
        self.n_observations = 0
        self.refresh()

    def update(
        self, features: np.ndarray, arm_features: np.ndarray, items: np.ndarray, scale: np.ndarray, rewards: np.ndarray
    ) -> None:
        """Add rows: x (n, d), w (n, q), item positions (n,), scales e (n,) and rewards y (n,)."""
        root = np.sqrt(self.noise)
        e = np.asarray(scale, dtype=np.float64)[:, None]
        y = np.asarray(rewards, dtype=np.float64) / root  # (n,)
        ex = np.asarray(features, dtype=np.float64) * e / root  # (n, d)
        ew = np.asarray(arm_features, dtype=np.float64) * e / root  # (n, q)
        self._A += ex.T @ ex
        self._b += ex.T @ y
        arm = self.arm_of[items]
        mine = arm < len(self._C) - 1
        if mine.any():
            a, ew, ex, y = arm[mine], ew[mine], ex[mine], y[mine]
            _scatter_add(self._C, a, ew[:, :, None] * ew[:, None, :])
            _scatter_add(self._B, a, ew[:, :, None] * ex[:, None, :])
            _scatter_add(self._c, a, ew * y[:, None])
        self.n_observations += len(ex)

    def refresh(self) -> None:
        """Solve for θ̂, Ã⁻¹, β̂_i and the per-item terms of the variance from the statistics so far."""
        n = len(self._C) - 1
        c_inv = np.zeros_like(self._C)
        c_inv[:n] = np.linalg.inv(self._C[:n])  # (n, q, q)
        gain = np.einsum("iqr,ird->iqd", c_inv, self._B)  # (n + 1, q, d): K_i
        schur = self._A - np.einsum("iqd,iqe->de", self._B, gain)  # (d, d): Ã
        factor = cho_factor((schur + schur.T) / 2)
        self.theta = cho_solve(factor, self._b - np.einsum("iqd,iq->d", gain, self._c))  # (d,)
        self.covariance = cho_solve(factor, np.eye(len(self._b)))  # (d, d): Ã⁻¹
        self.beta = np.einsum("iqr,ir->iq", c_inv, self._c - self._B @ self.theta)  # (n + 1, q)
        self._gain, self._c_inv = gain, c_inv

    def mean(self, features: np.ndarray, arm_features: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Posterior mean of rows x (..., d), w (..., q) of items (...), shape (...)."""
        own = np.einsum("...q,...q->...", np.asarray(arm_features, np.float64), self.beta[self.arm_of[items]])
        return np.asarray(features, dtype=np.float64) @ self.theta + own

    def predict(
        self, features: np.ndarray, arm_features: np.ndarray, items: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and std of the attraction of rows x (n, d), w (n, q) of items (n,)."""
        x, w = np.asarray(features, dtype=np.float64), np.asarray(arm_features, dtype=np.float64)
        arm = self.arm_of[items]
        mine = np.flatnonzero(arm < len(self._C) - 1)  # rows of items with their own weights
        centred = x.copy()  # (n, d): x - K_i^T w
        centred[mine] -= np.einsum("nqd,nq->nd", self._gain[arm[mine]], w[mine])
        var = np.einsum("nd,nd->n", centred @ self.covariance, centred)
        var[mine] += np.einsum("nq,nqr,nr->n", w[mine], self._c_inv[arm[mine]], w[mine])
        mean = x @ self.theta
        mean[mine] += np.einsum("nq,nq->n", w[mine], self.beta[arm[mine]])
        return mean, np.sqrt(np.maximum(var, 0.0))


@dataclass(frozen=True)
class CandidateBatch:
    """The candidates of one step's requests, padded with item -1 (score NaN) to a common width C.

    Attributes:
        items: (B, C) item positions, -1 for padding.
        scores: (B, C) posterior mean attraction, NaN for padding.
        uncertainty: (B, C) posterior std, 0 for padding.
        cold: (B, C) bool, whether each item is cold.
        features: (B, C, d) the head's shared features x of each candidate.
        arm_features: (B, q) the features w every new item's own weights read for each user.
    """

    items: np.ndarray
    scores: np.ndarray
    uncertainty: np.ndarray
    cold: np.ndarray
    features: np.ndarray
    arm_features: np.ndarray


class Agent:
    """The base ranker, item vectors and online head that every simulated policy shares.

    `fit(world)` does the expensive, policy-independent work once; `start()` resets what is learned
    online, so one fitted agent serves each policy of a comparison from the same starting point.
    """

    def __init__(self, config: AgentConfig | dict[str, Any] | None = None) -> None:
        self.config = validated_config(AgentConfig, config, "agent")
        self.is_fitted = False

    def fit(self, world: World) -> Self:
        """Fit the base ranker on `world.history` and precompute everything per user and item."""
        from lmrec.models import create_model

        cfg, history = self.config, world.history
        started = time.perf_counter()
        self.world = world
        self.known = history.item_counts() > 0  # (I,)
        ranker = create_model(cfg.ranker, cfg.ranker_config).fit(history)
        self._seen = history.matrix(binary=True)[world.user_rows].tocsr()
        text = text_vectors(cfg, history) if cfg.new_item_similarity == "ease" else None  # (I, 384)
        self.static, carried = _static_candidates(ranker, world, self.known, self._seen, cfg.static_candidates, text)
        self.vectors = _item_vectors(cfg, history, np.random.default_rng(cfg.seed))  # (I, D)
        self.profiles = unit_rows(history.matrix(binary=True)[world.user_rows] @ self.vectors)  # (U, D)
        # sim(u, i) = similarity_profiles[u] · similarity_vectors[i]
        self.similarity_profiles, self.similarity_vectors = self.profiles, self.vectors
        if text is not None and carried is not None:
            self.similarity_profiles = unit_rows(ridge_onto_text(carried, text[self.known], cfg.similarity_ridge))
            self.similarity_vectors = text  # (I, 384)
        self.user_factors = _user_factors(history, world.user_rows, cfg.user_dimension, cfg.seed)  # (U, q)
        self.dimension = PAIR_FEATURES + self.vectors.shape[1]
        self.is_fitted = True
        log.info("agent fitted (%s, %d-d head) in %.1fs", cfg.ranker, self.dimension, time.perf_counter() - started)
        self.start()
        return self

    def start(self) -> None:
        """Forget everything learned online: the head, the impression counts."""
        if not self.is_fitted:
            raise NotFittedError("the agent must be fitted on a world before it starts")
        cfg = self.config
        tau = np.array([cfg.offset_prior_std] + [cfg.personal_prior_std] * self.user_factors.shape[1])
        self.head = HybridHead(self.dimension, ~self.known, tau, cfg.prior_precision, cfg.noise_variance)
        self.impressions = np.zeros(len(self.known), dtype=np.int64)

    def retuned(self, **settings: Any) -> Agent:
        """A copy sharing the fitted base ranker and vectors, with new online settings, started afresh.

        Only settings of the online part may change (priors, noise, candidate counts, cold threshold):
        tuning them needs no refit.
        """
        fixed = set(settings) & _FITTED_SETTINGS
        if fixed:
            raise ConfigError(f"{sorted(fixed)} change what `fit` computed; fit a new agent instead")
        if not self.is_fitted:
            raise NotFittedError("the agent must be fitted before it can be retuned")
        twin = copy.copy(self)
        twin.config = validated_config(AgentConfig, {**self.config.model_dump(), **settings}, "agent")
        twin.start()
        return twin

    def cold(self) -> np.ndarray:
        """Whether each item is cold now, shape (n_items,) bool."""
        return ~self.known & (self.impressions < self.config.cold_impressions)

    def features(self, users: np.ndarray, items: np.ndarray, ranks: np.ndarray) -> np.ndarray:
        """x(u, i) of (B,) users and (B, C) items with their base ranks (B, C), shape (B, C, d).

        Item -1 (padding) gives a row of zeros.
        """
        valid = items >= 0
        safe = np.where(valid, items, 0)
        known = (self.known[safe] & valid).astype(np.float64)  # (B, C)
        new = valid - known
        vec = self.vectors[safe] * valid[..., None]  # (B, C, D)
        sim = np.einsum("bd,bcd->bc", self.similarity_profiles[users], self.similarity_vectors[safe])  # (B, C)
        pair = np.stack([known, known / (1.0 + ranks), new, new * sim], axis=-1)  # (B, C, 4)
        return np.concatenate([pair, vec * new[..., None]], axis=-1)

    def arm_features(self, users: np.ndarray) -> np.ndarray:
        """w(u) = (1, u_u) of each user, the features a new item's own weights read, shape (B, q)."""
        return np.concatenate([np.ones((len(users), 1)), self.user_factors[users]], axis=1)

    def candidates(self, users: np.ndarray, available: np.ndarray, rng: np.random.Generator) -> CandidateBatch:
        """Retrieve, score and pick the candidates of each request (module docstring, step 4)."""
        cfg = self.config
        rows = np.arange(len(users))[:, None]
        w = self.arm_features(users)[:, None, :]  # (B, 1, q)
        static = self.static[users]  # (B, N), known and unseen, best first, -1 padding
        ranks = np.broadcast_to(np.arange(static.shape[1]), static.shape)
        rank_of, taken = self._lookup(users, static)  # (B, I) each
        mean = self.head.mean(self.features(users, static, ranks), w, np.maximum(static, 0))
        mean = np.where(static >= 0, mean, -np.inf)  # (B, N)
        extra = self._new_items(users, available)  # (B, T)
        if extra.shape[1]:
            x = self.features(users, extra, rank_of[rows, np.maximum(extra, 0)])
            extra_mean = np.where(extra >= 0, self.head.mean(x, w, np.maximum(extra, 0)), -np.inf)
            static, mean = np.concatenate([static, extra], axis=1), np.concatenate([mean, extra_mean], axis=1)
            taken[rows, np.maximum(extra, 0)] |= extra >= 0
        best = np.argsort(-mean, axis=1, kind="stable")[:, : cfg.candidates]
        chosen = np.take_along_axis(static, best, axis=1)  # (B, M)
        chosen = np.where(np.take_along_axis(mean, best, axis=1) > -np.inf, chosen, -1)
        pool = np.flatnonzero(self.cold() & available)
        if cfg.fresh and len(pool):
            fresh = _fresh_draws(pool, len(users), cfg.fresh, rng)  # (B, F)
            chosen = np.concatenate([chosen, np.where(taken[rows, fresh], -1, fresh)], axis=1)
        x = self.features(users, chosen, rank_of[rows, np.maximum(chosen, 0)])  # (B, C, d)
        wide = np.broadcast_to(w, (*chosen.shape, w.shape[2]))  # (B, C, q)
        mean, std = self.head.predict(
            x.reshape(-1, self.dimension), wide.reshape(-1, w.shape[2]), np.maximum(chosen, 0).ravel()
        )
        valid = chosen >= 0
        return CandidateBatch(
            items=chosen,
            scores=np.where(valid, mean.reshape(chosen.shape), np.nan),
            uncertainty=np.where(valid, std.reshape(chosen.shape), 0.0),
            cold=self.cold()[np.maximum(chosen, 0)] & valid,
            features=x,
            arm_features=w[:, 0, :],
        )

    def _lookup(self, users: np.ndarray, static: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Base rank of every item for each user (N outside the static list), shape (B, I) float32, and
        whether the user has seen the item or already has it among the candidates, (B, I) bool."""
        b, n_static = static.shape
        rank_of = np.full((b, len(self.known)), float(n_static), dtype=np.float32)
        taken = np.zeros((b, len(self.known)), dtype=bool)
        seen = self._seen[users]
        taken[np.repeat(np.arange(b), np.diff(seen.indptr)), seen.indices] = True
        rows = np.broadcast_to(np.arange(b)[:, None], static.shape)
        valid = static >= 0
        rank_of[rows[valid], static[valid]] = np.broadcast_to(np.arange(n_static), static.shape)[valid]
        taken[rows[valid], static[valid]] = True
        return rank_of, taken

    def update(self, batch: CandidateBatch, shown: np.ndarray, clicks: np.ndarray, exam: np.ndarray) -> None:
        """Learn from one step: `shown` (B, k) positions in `batch` (-1: empty slot), `clicks` (B, k),
        `exam` (k,) the examination probability of each slot."""
        rows, slots = np.nonzero(shown >= 0)
        cols = shown[rows, slots]
        items = batch.items[rows, cols]
        self.head.update(batch.features[rows, cols], batch.arm_features[rows], items, exam[slots], clicks[rows, slots])
        self.head.refresh()
        self.impressions += np.bincount(items, minlength=len(self.impressions))

    def _new_items(self, users: np.ndarray, available: np.ndarray) -> np.ndarray:
        """Each user's T best available new items already shown, by posterior mean, shape (B, T).

        The mean of a new item, θ_new + θ_sim · sim(u, i) + v_i · θ_v + w(u) · β_i, is two matrix
        products over all such items, so every one of them can reach every user.
        """
        head, theta = self.head, self.head.theta
        pool = np.flatnonzero(available & ~self.known & (self.impressions > 0))
        n = min(self.config.new_candidates, len(pool))
        if n == 0:
            return np.empty((len(users), 0), dtype=np.int64)
        vectors = self.vectors[pool]  # (P, D)
        sim = self.similarity_profiles[users] @ self.similarity_vectors[pool].T  # (B, P)
        mean = theta[2] + theta[3] * sim + (vectors @ theta[PAIR_FEATURES:])[None, :]
        mean += self.arm_features(users) @ head.beta[head.arm_of[pool]].T  # (B, P)
        best = np.argpartition(-mean, n - 1, axis=1)[:, :n] if n < len(pool) else np.tile(np.arange(n), (len(users), 1))
        return pool[best]


def _scatter_add(target: np.ndarray, index: np.ndarray, values: np.ndarray) -> None:
    """target[index[n]] += values[n] for every n, repeats summed (a sparse product; `np.add.at` is slow)."""
    import scipy.sparse as sp

    rows, group = np.unique(index, return_inverse=True)
    summing = sp.csr_matrix(
        (np.ones(len(index)), (group.ravel(), np.arange(len(index)))), shape=(len(rows), len(index))
    )
    target[rows] += (summing @ values.reshape(len(index), -1)).reshape((len(rows), *target.shape[1:]))


def _static_candidates(
    ranker: Any, world: World, known: np.ndarray, seen: Any, n: int, text: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Each world user's n best unseen known items by base score, best first, shape (U, n), -1 padding;
    with `text` (I, e), also Σ_i s_u(i) t_i over their unseen known items, shape (U, e), else None."""
    n = min(n, int(known.sum()))
    out = np.full((world.n_users, n), -1, dtype=np.int64)
    carried = None if text is None else np.zeros((world.n_users, text.shape[1]))
    for start in range(0, world.n_users, 1_000):
        rows = world.user_rows[start : start + 1_000]
        scores = np.nan_to_num(ranker.score_histories(world.history.histories(rows)), nan=-1e30)  # (b, I)
        scores[:, ~known] = -np.inf
        block = seen[start : start + len(rows)]
        scores[np.repeat(np.arange(len(rows)), np.diff(block.indptr)), block.indices] = -np.inf
        top = top_k_rows(scores, n)
        out[start : start + len(rows)] = np.where(np.isfinite(np.take_along_axis(scores, top, axis=1)), top, -1)
        if carried is not None:
            carried[start : start + len(rows)] = np.where(scores > -1e30, scores, 0.0) @ text  # (b, e); unseen known
    return out, carried


def text_vectors(config: AgentConfig, history: Any) -> np.ndarray:
    """Unit language-model vectors of every item's text, shape (I, 384) float32."""
    from lmrec.encoders import embed_texts

    if not history.has_item_text():
        raise ConfigError("new_item_similarity 'ease' reads item text, and the world's items have none")
    return unit_rows(np.asarray(embed_texts(history.item_text(), config.encoder), dtype=np.float32))


def ridge_onto_text(carried: np.ndarray, text: np.ndarray, ridge: float) -> np.ndarray:
    """(TᵀT + μI)⁻¹ c of each row c = Σ_i s(i) t_i of `carried` (B, e): the text direction that a ridge
    regression from the items' text vectors T (K, e) to the scores s finds, shape (B, e)."""
    text = text.astype(np.float64)
    return np.linalg.solve(text.T @ text + ridge * np.eye(text.shape[1]), carried.T).T


def _item_vectors(config: AgentConfig, history: Any, rng: np.random.Generator) -> np.ndarray:
    """Unit item vectors (I, D): PCA of text embeddings, a random projection, or (I, 0) for none."""
    kind = config.item_vectors
    if kind == "auto":
        kind = "text" if history.has_item_text() else "interactions"
    if kind == "none":
        return np.zeros((history.n_items, 0), dtype=np.float32)
    if kind == "text":
        from lmrec.encoders import embed_texts

        embedded = np.asarray(embed_texts(history.item_text(), config.encoder), dtype=np.float64)  # (I, 384)
        centred = embedded - embedded.mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        vectors = centred @ vt[: config.dimension].T  # (I, D)
    else:
        matrix = history.matrix(binary=True)  # (U_all, I)
        vectors = np.asarray(matrix.T @ rng.standard_normal((matrix.shape[0], config.dimension)))  # (I, D)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def _user_factors(history: Any, user_rows: np.ndarray, dimension: int, seed: int) -> np.ndarray:
    """Unit user factors of a truncated SVD of the binary history matrix, shape (U, dimension)."""
    if dimension == 0:
        return np.zeros((len(user_rows), 0))
    from scipy.sparse.linalg import svds

    matrix = history.matrix(binary=True).astype(np.float64)
    rank = max(1, min(dimension, min(matrix.shape) - 1))
    start = np.random.default_rng(seed).standard_normal(min(matrix.shape))
    u, values, _ = svds(matrix, k=rank, v0=start)
    factors = (u * values)[user_rows][:, np.argsort(-values)]  # (U, r)
    out = np.zeros((len(user_rows), dimension))
    out[:, :rank] = factors
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms > 0, norms, 1.0)


def _fresh_draws(pool: np.ndarray, n_rows: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """`size` items per row drawn uniformly without replacement from `pool`, shape (n_rows, min(size, |pool|))."""
    if len(pool) <= size:
        return np.broadcast_to(pool, (n_rows, len(pool))).copy()
    keys = rng.random((n_rows, len(pool)))
    return pool[np.argpartition(keys, size - 1, axis=1)[:, :size]]


def check_shown(shown: np.ndarray, batch: CandidateBatch) -> None:
    """Raise when a shown position points outside the candidates or at padding."""
    inside = (shown < batch.items.shape[1]) & (shown >= -1)
    if not inside.all():
        raise DataError("a shown position lies outside the candidates", field="shown")
    picked = np.take_along_axis(batch.items, np.maximum(shown, 0), axis=1)
    if ((picked < 0) & (shown >= 0)).any():
        raise DataError("a policy showed a padding candidate", field="shown")
