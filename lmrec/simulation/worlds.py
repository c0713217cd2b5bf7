"""Worlds with a known truth, in which the simulator runs a recommender (DESIGN section 5).

A world knows, for every user and item, the true probability that the user clicks the item when
they look at it (its *attraction*), and the probability that a user looks at list position k
(0 = top), `1 / (1 + k) ** eta`: a click on an item shown at position k happens with probability
attraction · examination(k) (the position-based click model). Two worlds:

- `SemiSyntheticWorld`, built from any real dataset. A seeded share of the items is held back:
  their interactions are removed from the history the recommender learns from, and they are
  released at spread-out rounds as new arrivals. A strong model (EASE by default) fitted on *all*
  the data, so it knows how the held-back items relate to the others, scores every item for each
  user from the user's history (the part the recommender sees too); the scores become normal scores
  of their per-user ranks, z(u, i) = Φ⁻¹((rank - 1/2) / n_items), and the attraction is
  sigmoid(a · z + b), with the sharpness a set by the config and the intercept b solved so that the
  mean attraction of each user's k best items is `top_ctr` (a few per cent, a realistic click rate).
  A new item's attraction for a user is thus what their known taste says about it, read by a model
  that has seen the item; nothing flags the items the user actually consumed in the data.
- `ShopWorld`: the synthetic shop of `lmrec.data.synthetic`, whose hidden `ShopTruth` is the truth
  (attraction sigmoid(click_bias + utility)). The shop's events before a cut are the history; the
  products launched after the cut are released during the simulation in launch order.

Shared by both (`TruthWorld`):

- **Rounds.** One round is one request: a user arrives and is shown one list (one impression).
  Users arrive uniformly at random from the world's population, with replacement.
- **Seen items.** A user never clicks an item of their own history (attraction 0); the recommender
  knows that history and leaves those items out.
- **Drift.** Tastes move slowly: logit(u, i, t) = logit(u, i) + <w_u(t), f_i>, where f_i in R^r are
  item directions of norm sqrt(r) (r = `drift_rank`, taken from real taste directions: the item factors
  of a truncated SVD of the interactions, or the shop's hidden item factors) and w_u(t) is a per-user
  random walk started at 0, sampled at `drift_knots` evenly spaced points of the horizon and linear
  in between, with steps chosen so that every item's offset has standard deviation `drift` (in logit
  units) at the end of the horizon. Between two rounds an offset moves by about drift · sqrt(knots) / horizon.
- **Oracle.** The best list for a user at a round is their k most attractive available items in
  decreasing order (by the rearrangement inequality, since examination decreases with position);
  its expected clicks sum_k examination(k) · attraction(item_k) is what regret is measured against.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy.sparse.linalg import svds
from scipy.special import expit

from lmrec.configs import validated_config
from lmrec.data.columns import Columns
from lmrec.data.dataset import Dataset
from lmrec.data.synthetic import ShopConfig, generate_shop, validated_tables
from lmrec.diagnostics import ConfigError, DataError

log = logging.getLogger(__name__)

#: Users scored per chunk when a world computes its truth (bounds the memory of one chunk).
_USER_CHUNK = 1_000
#: Largest (users x items) truth matrix a world holds, in cells (float32: 4 bytes each).
MAX_TRUTH_CELLS = 400_000_000


class WorldConfig(BaseModel):
    """Settings every world shares: horizon, seed, drift and the position bias."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    horizon: int = Field(default=100_000, ge=1)
    """Rounds (requests) the world is built for: releases and drift are spread over them."""

    seed: int = Field(default=0, ge=0)
    """Seed of every random choice made while building the world."""

    drift: float = Field(default=0.25, ge=0.0)
    """Standard deviation, in logit units, of each user's taste offset at the end of the horizon."""

    drift_rank: int = Field(default=8, ge=1, le=64)
    """Dimensions r of the taste offset."""

    drift_knots: int = Field(default=10, ge=1, le=1_000)
    """Steps of the random walk over the horizon; the offset is linear between them."""

    position_bias: float | None = Field(default=None, ge=0.0)
    """Exponent eta of the examination probability 1 / (1 + k) ** eta; None keeps the world's own
    (1.0 for a semi-synthetic world, the shop's `position_bias` for the shop)."""

    max_users: int | None = Field(default=5_000, ge=1)
    """Simulate a seeded sample of at most this many users (the truth is users x items floats)."""


class SemiSyntheticConfig(WorldConfig):
    """Settings of a world built from a real dataset."""

    truth_model: str = "ease"
    """Model whose scores, fitted on all the data, define the true preferences."""

    truth_config: dict[str, Any] = Field(default_factory=lambda: {"l2": 200.0})
    """Config of the truth model."""

    sharpness: float = Field(default=2.0, gt=0.0)
    """a in attraction = sigmoid(a · z + b): how much more a user's best items attract than the rest
    (z is about 3.4 for the best of 3,000 items, 2.7 for the 10th, 1.9 for the 100th)."""

    top_ctr: float = Field(default=0.05, gt=0.0, lt=1.0)
    """Mean attraction of each user's `top_k` most attractive items (sets b)."""

    top_k: int = Field(default=10, ge=1)
    """List length at which `top_ctr` is calibrated."""

    new_item_share: float = Field(default=0.2, ge=0.0, lt=1.0)
    """Share of the items held back from the history and released during the simulation."""

    new_item_sampling: Literal["uniform", "popularity"] = "uniform"
    """How held-back items are drawn among those with interactions: uniformly, or with probability
    proportional to their number of interactions (then they carry far more of the demand)."""

    release_start: float = Field(default=0.0, ge=0.0, le=1.0)
    """Fraction of the horizon at which the first held-back item is released."""

    release_end: float = Field(default=0.5, ge=0.0, le=1.0)
    """Fraction of the horizon at which the last held-back item is released (evenly in between)."""

    @model_validator(mode="after")
    def _check_release(self) -> SemiSyntheticConfig:
        if self.release_end < self.release_start:
            raise ValueError(f"release_end ({self.release_end}) must be >= release_start ({self.release_start})")
        return self


class ShopWorldConfig(WorldConfig):
    """Settings of the synthetic-shop world."""

    shop: ShopConfig = Field(default_factory=ShopConfig)
    """The shop to generate (its seed is the shop's own)."""

    history_share: float = Field(default=0.5, gt=0.0, lt=1.0)
    """Share of the shop's horizon whose events form the history; products launched later arrive
    during the simulation, at rounds proportional to their launch times."""


@runtime_checkable
class World(Protocol):
    """What the simulator needs from a world (see the module docstring for the model).

    Attributes:
        n_users, n_items: users and items of the world (positions 0..n-1).
        horizon: rounds the world is built for.
        history: what the recommender may learn from; its item positions are the world's items.
        user_rows: (n_users,) position in `history.users` of each world user.
        release_round: (n_items,) first round at which each item can be shown (0: from the start).
        item_vectors: (n_items, r) unit vectors of the items' true taste directions (for diversity).
        position_bias: eta of the examination probability.
    """

    history: Dataset
    user_rows: np.ndarray
    release_round: np.ndarray
    item_vectors: np.ndarray
    position_bias: float

    @property
    def n_users(self) -> int: ...

    @property
    def n_items(self) -> int: ...

    @property
    def horizon(self) -> int: ...

    def available(self, round: int) -> np.ndarray: ...

    def draw_users(self, round: int, size: int, rng: np.random.Generator) -> np.ndarray: ...

    def click_probability(self, users: np.ndarray, items: np.ndarray, round: int) -> np.ndarray: ...

    def attraction_rows(self, users: np.ndarray, round: int) -> np.ndarray: ...

    def examination_probability(self, positions: np.ndarray) -> np.ndarray: ...

    def oracle_lists(self, users: np.ndarray, round: int, k: int, rows: np.ndarray | None = None) -> np.ndarray: ...

    def describe(self) -> dict[str, Any]: ...


class TruthWorld(ABC):
    """The machinery both worlds share: drift, seen items, availability, examination and the oracle.

    Subclasses build `history`, `user_rows`, `release_round`, `item_vectors`, `position_bias`, the
    (n_users, n_items) float32 static logits `_logits` and the CSR matrix `_seen` of history pairs,
    then call `_init_drift`.
    """

    config: WorldConfig
    history: Dataset
    user_rows: np.ndarray
    release_round: np.ndarray
    item_vectors: np.ndarray
    position_bias: float
    _logits: np.ndarray  # (U, I) float32
    _seen: sp.csr_matrix  # (U, I) history pairs
    _drift_items: np.ndarray  # (I, r) directions of norm sqrt(r)
    _drift_knots: np.ndarray  # (K + 1, U, r) float32

    @property
    def n_users(self) -> int:
        return int(self._logits.shape[0])

    @property
    def n_items(self) -> int:
        return int(self._logits.shape[1])

    @property
    def horizon(self) -> int:
        return self.config.horizon

    # -- building -------------------------------------------------------------------------------

    def _init_drift(self, directions: np.ndarray, rng: np.random.Generator) -> None:
        """Item directions (I, r) of norm sqrt(r) and the random walk's knots (K + 1, U, r).

        For w the sum of K steps of N(0, drift² / (K r) I), Var <w, f_i> = |f_i|² drift² / r = drift²: every
        item's offset has standard deviation `drift` at the end of the horizon. (Standardising each
        coordinate instead gave that only on average over items: the real factors are heavy-tailed,
        and amazon-games' most popular games drifted by up to 27 times `drift`.)
        """
        cfg = self.config
        rank = min(cfg.drift_rank, directions.shape[1])
        mix = rng.standard_normal((directions.shape[1], rank)) / np.sqrt(directions.shape[1])
        f = directions @ mix  # (I, r)
        f = f - f.mean(axis=0)  # a change of taste, not of how much the user clicks overall
        norms = np.linalg.norm(f, axis=1, keepdims=True)
        f = np.sqrt(rank) * f / np.where(norms > 0, norms, 1.0)
        self._drift_items = f.astype(np.float32)
        step = cfg.drift / np.sqrt(cfg.drift_knots * rank)
        steps = rng.standard_normal((cfg.drift_knots, self.n_users, rank)) * step  # (K, U, r)
        knots = np.concatenate([np.zeros((1, self.n_users, rank)), np.cumsum(steps, axis=0)])
        self._drift_knots = knots.astype(np.float32)  # (K + 1, U, r)

    # -- the truth ------------------------------------------------------------------------------

    def available(self, round: int) -> np.ndarray:
        """Whether each item can be shown at `round`, shape (n_items,) bool."""
        return np.asarray(self.release_round <= round)

    def draw_users(self, round: int, size: int, rng: np.random.Generator) -> np.ndarray:
        """`size` arriving users, uniformly from the population with replacement, shape (size,)."""
        return rng.integers(0, self.n_users, size=size)

    def taste_offset(self, users: np.ndarray, round: int) -> np.ndarray:
        """w_u(round) of each user, shape (B, r): the random walk, linear between knots."""
        knots = self._drift_knots
        position = np.clip(round / max(self.horizon, 1), 0.0, 1.0) * (len(knots) - 1)
        low = min(int(np.floor(position)), len(knots) - 2) if len(knots) > 1 else 0
        frac = position - low
        if len(knots) == 1:
            return knots[0][users]
        return (1.0 - frac) * knots[low][users] + frac * knots[low + 1][users]  # (B, r)

    def click_probability(self, users: np.ndarray, items: np.ndarray, round: int) -> np.ndarray:
        """True attraction of paired users and items at `round` (drift applied; 0 for seen items).

        `users` and `items` broadcast against each other; the result has their broadcast shape.
        """
        u, i = self._check(users, items)
        offset = np.einsum("...r,...r->...", self.taste_offset(u, round), self._drift_items[i])
        p = expit(self._logits[u, i] + offset)
        seen = np.asarray(self._seen[u.ravel(), i.ravel()]).reshape(u.shape) > 0
        return np.where(seen, 0.0, p)

    def attraction_rows(self, users: np.ndarray, round: int) -> np.ndarray:
        """True attraction of every item for each user at `round`, shape (B, n_items) float32.

        Items not yet released keep their attraction; the oracle and the simulator mask them.
        """
        users = self._check(np.asarray(users).ravel(), np.zeros(1, dtype=np.int64))[0]
        rows = self._logits[users]  # (B, I) float32, a copy
        rows += self.taste_offset(users, round) @ self._drift_items.T
        p = expit(rows)  # float32, accurate for small probabilities too
        seen = self._seen[users]
        p[np.repeat(np.arange(len(users)), np.diff(seen.indptr)), seen.indices] = 0.0
        return p

    def examination_probability(self, positions: np.ndarray) -> np.ndarray:
        """Probability that a user looks at list position k (0 = top): 1 / (1 + k) ** eta."""
        k = np.asarray(positions, dtype=np.float64)
        if (k < 0).any():
            raise DataError("positions must be >= 0 (0 is the top of the list)", field="positions")
        return np.asarray(np.power(1.0 + k, -self.position_bias))

    def oracle_lists(self, users: np.ndarray, round: int, k: int, rows: np.ndarray | None = None) -> np.ndarray:
        """The true best list of each user: their k most attractive available items, best first.

        Args:
            rows: `attraction_rows(users, round)` when already computed.

        Returns:
            Item positions, shape (B, min(k, available items)).
        """
        rows = self.attraction_rows(users, round) if rows is None else rows
        hidden = np.flatnonzero(~self.available(round))
        if len(hidden):
            rows = rows.copy()
            rows[:, hidden] = -1.0
        return top_k_rows(rows, min(k, self.n_items - len(hidden)))

    def _check(self, users: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u, i = np.asarray(users), np.asarray(items)
        for name, array, size in (("users", u, self.n_users), ("items", i, self.n_items)):
            if array.size and not np.issubdtype(array.dtype, np.integer):
                raise DataError(f"positions must be integers, got dtype {array.dtype}", field=name)
            if array.size and (array.min() < 0 or array.max() >= size):
                bad = array[(array < 0) | (array >= size)].ravel()[0]
                raise DataError(f"position out of range 0..{size - 1}", field=name, value=int(bad))
        u64, i64 = np.broadcast_arrays(u.astype(np.int64), i.astype(np.int64))
        return u64, i64

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary of the world for reports."""

    def _summary(self) -> dict[str, Any]:
        released = self.release_round > 0
        return {
            "users": self.n_users,
            "items": self.n_items,
            "new_items": int(released.sum()),
            "history_interactions": self.history.n_interactions,
            "position_bias": self.position_bias,
            "config": self.config.model_dump(mode="json"),
        }


class SemiSyntheticWorld(TruthWorld):
    """A world whose truth is a strong model fitted on all of a real dataset (module docstring).

    Build with `SemiSyntheticWorld.build(dataset, config)`.

    Attributes (besides the `World` ones):
        new_items: positions of the held-back items, in release order.
        intercept: b of attraction = sigmoid(a · z + b), solved at build time.
    """

    config: SemiSyntheticConfig
    new_items: np.ndarray
    intercept: float

    def __init__(self, config: SemiSyntheticConfig | dict[str, Any] | None = None) -> None:
        self.config = validated_config(SemiSyntheticConfig, config, "semi-synthetic world")

    @classmethod
    def build(
        cls, dataset: Dataset, config: SemiSyntheticConfig | dict[str, Any] | None = None, *, truth: Any = None
    ) -> SemiSyntheticWorld:
        """Build the world from `dataset`: fit the truth model, hold items back, calibrate, drift.

        Args:
            truth: the truth model already fitted on all of `dataset` (saves fitting it again when
                several worlds are built from one dataset); None fits `config.truth_model`.
        """
        world = cls(config)
        world._build(dataset, truth)
        return world

    def _build(self, data: Dataset, truth: Any) -> None:
        from lmrec.models import create_model

        cfg = self.config
        started = time.perf_counter()
        counts = data.item_counts()
        if data.n_interactions == 0 or (counts > 0).sum() < 2:
            raise DataError("a semi-synthetic world needs a dataset with interactions on at least 2 items")
        rng_items, rng_users, rng_release, rng_drift = (
            np.random.default_rng(s) for s in np.random.SeedSequence(cfg.seed).spawn(4)
        )
        self.new_items = _held_back(counts, cfg.new_item_share, cfg.new_item_sampling, rng_items)
        self.release_round = np.zeros(data.n_items, dtype=np.int64)
        self.release_round[self.new_items] = _release_rounds(len(self.new_items), cfg, rng_release)
        frame = data.interactions
        keep = ~np.isin(frame[Columns.ItemIdx].to_numpy(), self.new_items)
        self.history = data.with_interactions(frame[keep])

        active = np.flatnonzero(np.bincount(frame[Columns.UserIdx].to_numpy(), minlength=data.n_users) > 0)
        n_users = len(active) if cfg.max_users is None else min(cfg.max_users, len(active))
        self.user_rows = np.sort(rng_users.choice(active, size=n_users, replace=False))
        _check_cells(n_users, data.n_items)

        if truth is None:
            truth = create_model(cfg.truth_model, cfg.truth_config).fit(data)
        z = _normal_scores(truth, self.history, self.user_rows)  # (U, I)
        self._seen = self.history.matrix(binary=True)[self.user_rows].tocsr()
        self.intercept = _calibrate(z, self._seen, cfg.sharpness, cfg.top_ctr, cfg.top_k)
        self._logits = (cfg.sharpness * z + self.intercept).astype(np.float32)
        self.position_bias = 1.0 if cfg.position_bias is None else cfg.position_bias
        factors = _item_factors(data, cfg.drift_rank, rng_drift)
        self.item_vectors = unit_rows(factors)
        self._init_drift(factors, rng_drift)
        log.info(
            "semi-synthetic world: %d users, %d items (%d new), intercept %.2f, built in %.1fs",
            self.n_users,
            self.n_items,
            len(self.new_items),
            self.intercept,
            time.perf_counter() - started,
        )

    def describe(self) -> dict[str, Any]:
        return {"kind": "semi-synthetic", **self._summary(), "intercept": self.intercept}


class ShopWorld(TruthWorld):
    """The synthetic shop, with its hidden `ShopTruth` as the truth (module docstring).

    Build with `ShopWorld.build(config)`. World users and items are the shop's user and item rows
    (a seeded sample of users when there are more than `max_users`).
    """

    config: ShopWorldConfig

    def __init__(self, config: ShopWorldConfig | dict[str, Any] | None = None) -> None:
        self.config = validated_config(ShopWorldConfig, config, "shop world")

    @classmethod
    def build(cls, config: ShopWorldConfig | dict[str, Any] | None = None) -> ShopWorld:
        """Generate the shop and build the world around its truth."""
        world = cls(config)
        world._build()
        return world

    def _build(self) -> None:
        cfg = self.config
        shop = generate_shop(cfg.shop)
        tables = validated_tables(shop)
        cut = cfg.shop.start + cfg.history_share * cfg.shop.days * 86_400.0
        events = tables["events"].valid
        past = events[events[Columns.Timestamp].to_numpy(dtype=float) < cut]
        data = Dataset.from_frames(past, tables["items"].valid, tables["users"].valid)
        if not np.array_equal(data.items.ids, shop.items[Columns.Item].astype(str).to_numpy(dtype=object)):
            raise AssertionError("the shop's item table and the dataset's item vocabulary differ in order")
        self.history = data
        rng_users, rng_drift = (np.random.default_rng(s) for s in np.random.SeedSequence(cfg.seed).spawn(2))
        n_users = shop.truth.n_users if cfg.max_users is None else min(cfg.max_users, shop.truth.n_users)
        truth_users = np.sort(rng_users.choice(shop.truth.n_users, size=n_users, replace=False))
        user_ids = shop.users[Columns.User].astype(str).to_numpy()[truth_users]
        self.user_rows = data.users.index(user_ids)
        _check_cells(n_users, shop.truth.n_items)

        launched = shop.items[Columns.CreatedAt].to_numpy(dtype=float)
        later = (launched - cut) / max(cfg.shop.end - cut, 1.0)
        self.release_round = np.where(launched > cut, np.ceil(np.clip(later, 0, 1) * (cfg.horizon - 1)), 0)
        self.release_round = self.release_round.astype(np.int64)
        logits = np.empty((n_users, shop.truth.n_items), dtype=np.float32)
        items = np.arange(shop.truth.n_items)
        for start in range(0, n_users, _USER_CHUNK):
            chunk = truth_users[start : start + _USER_CHUNK]
            logits[start : start + len(chunk)] = shop.truth.click_bias + shop.truth.utility(chunk[:, None], items)
        self._logits = logits
        self._seen = data.matrix(binary=True)[self.user_rows].tocsr()
        self.position_bias = shop.truth.position_bias if cfg.position_bias is None else cfg.position_bias
        self.item_vectors = unit_rows(shop.truth.item_factors)
        self._init_drift(shop.truth.item_factors, rng_drift)

    def describe(self) -> dict[str, Any]:
        return {"kind": "shop", **self._summary()}


def _check_cells(n_users: int, n_items: int) -> None:
    if n_users * n_items > MAX_TRUTH_CELLS:
        raise ConfigError(
            f"a truth of {n_users:,} users x {n_items:,} items is too large to hold "
            f"({n_users * n_items * 4 / 2**30:.1f} GiB); lower max_users"
        )


def _held_back(counts: np.ndarray, share: float, sampling: str, rng: np.random.Generator) -> np.ndarray:
    """Positions of the held-back items, in release order (a seeded random order)."""
    candidates = np.flatnonzero(counts > 0)
    n_new = min(round(share * len(candidates)), len(candidates) - 1)
    if n_new <= 0:
        return np.empty(0, dtype=np.int64)
    weights = counts[candidates].astype(np.float64) if sampling == "popularity" else np.ones(len(candidates))
    chosen = rng.choice(candidates, size=n_new, replace=False, p=weights / weights.sum())
    return chosen.astype(np.int64)


def _release_rounds(n: int, config: SemiSyntheticConfig, rng: np.random.Generator) -> np.ndarray:
    """Evenly spaced release rounds over [release_start, release_end] of the horizon (at least round 1)."""
    if n == 0:
        return np.empty(0, dtype=np.int64)
    first, last = config.release_start * config.horizon, config.release_end * config.horizon
    rounds = np.linspace(first, last, n) if n > 1 else np.array([first])
    return np.maximum(np.floor(rounds), 1).astype(np.int64)


def _normal_scores(model: Any, data: Dataset, users: np.ndarray) -> np.ndarray:
    """Each user's scores as normal scores of their ranks, z = Φ⁻¹((r - 1/2) / I), shape (U, I) float32.

    r is the item's rank among the user's scores (1 = lowest; tied items share their mean rank).
    Ranks, unlike standardised scores, mean the same thing whatever the shape of a model's scores:
    EASE gives a user with five interactions a few very large scores and thousands of zeros.
    """
    from scipy.special import ndtri
    from scipy.stats import rankdata

    n_items = data.n_items
    out = np.empty((len(users), n_items), dtype=np.float32)
    for start in range(0, len(users), _USER_CHUNK):
        chunk = users[start : start + _USER_CHUNK]
        histories = data.histories(chunk)
        scores = np.nan_to_num(model.score_histories(histories).astype(np.float64))  # (b, I)
        scores[histories.lengths() == 0] = 0.0  # no history, no known taste: every item alike, not the fallback
        ranks = rankdata(scores, method="average", axis=1)  # (b, I), 1 = lowest
        out[start : start + len(chunk)] = ndtri((ranks - 0.5) / n_items)
    return out


def _calibrate(z: np.ndarray, seen: sp.csr_matrix, sharpness: float, top_ctr: float, top_k: int) -> float:
    """The intercept b for which the mean attraction of the users' top_k unseen items is `top_ctr`.

    Uses up to 2,000 users (evenly spaced rows); solved by bisection, the mean being increasing in b.
    """
    rows = np.unique(np.linspace(0, len(z) - 1, min(len(z), 2_000)).astype(np.int64))
    sub = z[rows].astype(np.float64)
    mask = seen[rows]
    sub[np.repeat(np.arange(len(rows)), np.diff(mask.indptr)), mask.indices] = -np.inf
    k = min(top_k, sub.shape[1])
    top = -np.partition(-sub, k - 1, axis=1)[:, :k]  # (n, k)
    top = top[np.isfinite(top).all(axis=1)]
    if len(top) == 0:
        raise DataError("no user has enough unseen items to calibrate the click rate", field="top_k", value=top_k)
    low, high = -50.0, 50.0
    for _ in range(100):
        mid = (low + high) / 2
        if expit(sharpness * top + mid).mean() < top_ctr:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def _item_factors(data: Dataset, rank: int, rng: np.random.Generator) -> np.ndarray:
    """Item factors of a truncated SVD of the binary interaction matrix, shape (I, rank')."""
    matrix = data.matrix(binary=True).astype(np.float64)
    rank = max(1, min(rank, min(matrix.shape) - 1))
    start = rng.standard_normal(min(matrix.shape))
    _, values, vt = svds(matrix, k=rank, v0=start)
    factors = vt.T * values[None, :]  # (I, r)
    return np.asarray(factors[:, np.argsort(-values)])


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Each row divided by its norm (rows of zeros kept), float32."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def top_k_rows(values: np.ndarray, k: int) -> np.ndarray:
    """Column positions of the k largest values of each row, largest first, shape (B, min(k, n)).

    Uses `torch.topk`, an order of magnitude faster than `np.argpartition` on wide rows.
    """
    import torch

    k = min(k, values.shape[1])
    if k == 0:
        return np.empty((values.shape[0], 0), dtype=np.int64)
    tensor = torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))
    return torch.topk(tensor, k, dim=1, largest=True, sorted=True).indices.numpy().astype(np.int64)
