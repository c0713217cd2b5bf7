"""Exploration policies: choose the k shown items from a scored list and log exact propensities.

A policy takes the re-ranked candidates (an `ItemList` whose scores are relevance, higher is
better, with an optional `uncertainty` column, the posterior std of each score, and an optional
boolean `cold` column) and returns the shown items in slot order with three columns:

- `propensity`: P(this item is shown at this slot | these candidates), exactly;
- `explored`: the item is there because of exploration rather than the greedy order (for sampling
  policies and UCB: it is not among the m best scores; for epsilon-greedy and the cold budget: it
  fills an exploration or budget slot);
- `policy`: the policy's name.

`slot_probabilities` gives the whole (n, m) matrix P[i, j] = P(candidate i at slot j) for the same
input, and `select` logs P[i, j] of the item it put at slot j, so off-policy evaluation can read the
action distribution of any policy; `sample` draws many lists at once (simulation, tests). Candidates
with a NaN score are never shown (their rows are 0), and m = min(k, number of candidates with a
score) slots are filled. Draws come from a generator
derived from (seed, request id) by `request_rng`, so a logged list and its propensities can be
reproduced. The maths lives in `lmrec.pipeline.propensity`.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Literal, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from lmrec.configs import validated_config
from lmrec.data.columns import Columns
from lmrec.diagnostics import ConfigError, DataError
from lmrec.itemlist import ItemList, top_k_positions
from lmrec.pipeline import propensity as maths

# Re-exported: the Bayesian linear head is what feeds the `uncertainty` column.
from lmrec.pipeline.uncertainty import BayesianLinearConfig as BayesianLinearConfig
from lmrec.pipeline.uncertainty import BayesianLinearHead as BayesianLinearHead

#: Column names read and written by the policies.
UNCERTAINTY = Columns.Uncertainty
COLD = Columns.Cold
PROPENSITY = Columns.Propensity
EXPLORED = Columns.Explored
POLICY = Columns.Policy

#: Thompson sampling treats a std below TINY_STD · (1 + |score|) as 0, in the sampler and the maths
#: alike: such a std moves no sample in any way that matters, while a near-point mass narrower than
#: about 1e-9 of the scale defeats the quadrature (column sums off by 1e-5 at 1e-11, seen in tests).
TINY_STD = 1e-7


def request_rng(seed: int, request_id: str | int) -> np.random.Generator:
    """The generator of one request: PCG64 seeded by `seed` and a BLAKE2b hash of the request id.

    The hash is stable across processes and machines (never Python's salted `hash`), and an int id
    and its decimal string give the same generator, so an id read back from a log reproduces the draw.
    """
    if isinstance(request_id, bool) or not isinstance(request_id, str | int | np.integer):
        raise TypeError(f"request_id must be a str or an int, not {type(request_id).__name__}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"seed must be a whole number >= 0 (got {seed!r})")
    digest = hashlib.blake2b(str(request_id).encode("utf-8"), digest_size=16).digest()
    words = tuple(int(w) for w in np.frombuffer(digest, dtype="<u4"))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(int(seed), spawn_key=words)))


class PolicyConfig(BaseModel):
    """Base of every policy config: frozen, no unknown fields, field docstrings as descriptions."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    seed: int = Field(default=0, ge=0)
    """Seed of the per-request generators (`Policy.rng`); with the request id it fixes every draw."""


C = TypeVar("C", bound=PolicyConfig)


@dataclass(frozen=True)
class Candidates:
    """The validated, scored candidates a policy works on (NaN-scored ones already removed)."""

    scores: np.ndarray
    """Relevance, higher is better, shape (n,), finite."""
    uncertainty: np.ndarray | None
    """Posterior std of each score, shape (n,), finite and >= 0; None when not given."""
    cold: np.ndarray | None
    """Whether each item has too few impressions, shape (n,) bool; None when not given."""

    def __len__(self) -> int:
        return len(self.scores)

    def take(self, positions: np.ndarray) -> Candidates:
        """A subset by positions."""
        uncertainty = None if self.uncertainty is None else self.uncertainty[positions]
        cold = None if self.cold is None else self.cold[positions]
        return Candidates(self.scores[positions], uncertainty, cold)

    def greedy(self, m: int) -> np.ndarray:
        """Positions of the m best scores, best first, ties by position, shape (m,)."""
        return top_k_positions(self.scores, m)


class Policy(ABC, Generic[C]):
    """Chooses the shown list from scored candidates and knows the exact probability of each choice.

    Subclasses set `name` and `config_class` and implement `_probabilities` and `_sample` on
    validated `Candidates`; the base class validates input, drops NaN scores and builds the output.
    """

    name: ClassVar[str]
    config_class: ClassVar[type[PolicyConfig]]
    #: Whether candidates must carry an `uncertainty` column.
    needs_uncertainty: bool = False

    config: C

    def __init__(self, config: C | dict[str, Any] | None = None) -> None:
        self.config = validated_config(self.config_class, config, self.name)  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"

    def rng(self, request_id: str | int) -> np.random.Generator:
        """The generator of one request, from this policy's seed and the request id."""
        return request_rng(self.config.seed, request_id)

    def select(self, candidates: ItemList, k: int, rng: np.random.Generator) -> ItemList:
        """The min(k, n) shown items in slot order, with `propensity`, `explored` and `policy` columns.

        The propensity of the item at slot j is `slot_probabilities(candidates, k)[i, j]` for its
        position i in `candidates`. Input columns are kept.
        """
        valid, c, m, local, explored = self._draw(candidates, k, rng, 1)
        propensity = self._matrix(c, m)[local[0], np.arange(m)] if m else np.empty(0)
        shown = candidates.take(valid[local[0]])
        columns = {
            **shown.columns,
            PROPENSITY: propensity,
            EXPLORED: explored[0],
            POLICY: np.full(m, self.name, dtype=object),
        }
        return ItemList(shown.ids, shown.index, shown.scores, columns)

    def slot_probabilities(self, candidates: ItemList, k: int) -> np.ndarray:
        """P[i, j] = P(candidate i is shown at slot j), shape (n, m) with m = min(k, scored candidates).

        Columns sum to 1 and rows to at most 1; rows of NaN-scored candidates are 0.
        """
        valid, c, m = self._prepare(candidates, k)
        out = np.zeros((len(candidates), m))
        if m:
            out[valid] = self._matrix(c, m)
        return out

    def sample(
        self, candidates: ItemList, k: int, rng: np.random.Generator, size: int = 1
    ) -> tuple[np.ndarray, np.ndarray]:
        """`size` independent draws of the shown list, vectorised; `select` is the draw with size 1.

        Returns:
            positions: positions in `candidates` of the shown items in slot order, shape (size, m).
            explored: whether each shown item is an exploration pick, shape (size, m).
        """
        if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 0:
            raise ValueError(f"size must be a whole number >= 0 (got {size!r})")
        valid, _, _, local, explored = self._draw(candidates, k, rng, int(size))
        return valid[local], explored

    def _draw(
        self, candidates: ItemList, k: int, rng: np.random.Generator, size: int
    ) -> tuple[np.ndarray, Candidates, int, np.ndarray, np.ndarray]:
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy Generator (see request_rng), not {type(rng).__name__}")
        valid, c, m = self._prepare(candidates, k)
        if m == 0:
            return valid, c, m, np.empty((size, 0), dtype=np.int64), np.empty((size, 0), dtype=bool)
        local, explored = self._sample(c, m, rng, size)
        return valid, c, m, local, explored

    def _matrix(self, c: Candidates, m: int) -> np.ndarray:
        return np.clip(self._probabilities(c, m), 0.0, 1.0)  # rounding may leave 1 + 1e-16

    @abstractmethod
    def _probabilities(self, c: Candidates, m: int) -> np.ndarray:
        """(n, m) slot probabilities over validated candidates, 1 <= m <= n."""

    @abstractmethod
    def _sample(self, c: Candidates, m: int, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
        """(size, m) positions in `c` and (size, m) explored flags."""

    def _prepare(self, candidates: ItemList, k: int) -> tuple[np.ndarray, Candidates, int]:
        """Validate the input; the scored positions, the candidates there, and m."""
        if not isinstance(candidates, ItemList):
            raise TypeError(f"candidates must be an ItemList, not {type(candidates).__name__}")
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0:
            raise DataError("k must be a whole number >= 0", field="k", value=k)
        scores = candidates.scores
        infinite = np.flatnonzero(np.isinf(scores))
        if len(infinite):
            row = int(infinite[0])
            raise DataError(
                "scores must be finite (NaN leaves an item out)", field="score", row=row, value=float(scores[row])
            )
        valid = np.flatnonzero(~np.isnan(scores))
        _check_unique(candidates.ids[valid], valid)
        uncertainty = _uncertainty(candidates, valid)
        if uncertainty is None and self.needs_uncertainty:
            raise DataError(
                f"the {self.name} policy needs an {UNCERTAINTY!r} column (std of each score)", field=UNCERTAINTY
            )
        cold = None
        if COLD in candidates.columns:
            column = candidates.columns[COLD]
            if column.dtype != np.bool_:
                raise DataError("must be a boolean column", field=COLD, value=str(column.dtype))
            cold = column[valid]
        return valid, Candidates(scores[valid], uncertainty, cold), min(int(k), len(valid))


def _check_unique(ids: np.ndarray, rows: np.ndarray) -> None:
    if len(set(ids.tolist())) == len(ids):
        return
    seen: set[Any] = set()
    for item, row in zip(ids.tolist(), rows.tolist(), strict=True):
        if item in seen:
            raise DataError("the item appears more than once among the candidates", field="ids", row=row, value=item)
        seen.add(item)


def _uncertainty(candidates: ItemList, valid: np.ndarray) -> np.ndarray | None:
    if UNCERTAINTY not in candidates.columns:
        return None
    try:
        values = np.asarray(candidates.columns[UNCERTAINTY][valid], dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError("must be numeric", field=UNCERTAINTY) from exc
    bad = np.flatnonzero(~(np.isfinite(values) & (values >= 0)))
    if len(bad):
        row = int(valid[bad[0]])
        raise DataError(
            "must be a finite standard deviation >= 0", field=UNCERTAINTY, row=row, value=float(values[bad[0]])
        )
    return values


def _one_hot(order: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros((n, len(order)))
    out[order, np.arange(len(order))] = 1.0
    return out


class GreedyConfig(PolicyConfig):
    """Settings of the greedy policy (only the seed, which it never uses)."""


class Greedy(Policy[GreedyConfig]):
    """The m best scores in order (ties by list position); every propensity is 1."""

    name = "greedy"
    config_class = GreedyConfig

    def _probabilities(self, c: Candidates, m: int) -> np.ndarray:
        return _one_hot(c.greedy(m), len(c))

    def _sample(self, c: Candidates, m: int, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
        return np.tile(c.greedy(m), (size, 1)), np.zeros((size, m), dtype=bool)


class EpsilonGreedyConfig(PolicyConfig):
    """Settings of epsilon-greedy slots."""

    epsilon: float = Field(default=0.1, ge=0.0, le=1.0)
    """Probability that each slot, independently, is an exploration slot."""


class EpsilonGreedy(Policy[EpsilonGreedyConfig]):
    """Greedy list with exploration slots drawn uniformly from the candidates outside the greedy top m.

    Each slot is an exploration slot with probability ε, independently, except that there are never
    more exploration slots than the r = n - m candidates outside the top m (a slot after the r-th
    exploration slot stays greedy). Exploration slots take uniform draws without replacement from
    those r candidates; the other slots take the greedy items in order, so the best greedy items are
    kept and the e greedy items at the end of the top m are the ones pushed out. With no cap in play,

        P(g_s at slot j) = (1 - ε) · C(j, s) (1 - ε)^s ε^(j - s),   P(l at slot j) = ε / r (l outside the top m),

    and in general both come from `capped_flag_probabilities`.
    """

    name = "epsilon"
    config_class = EpsilonGreedyConfig

    def _probabilities(self, c: Candidates, m: int) -> np.ndarray:
        top = c.greedy(m)
        rest = np.setdiff1d(np.arange(len(c)), top)
        flagged, kept = maths.capped_flag_probabilities(np.full(m, self.config.epsilon), len(rest))
        out = np.zeros((len(c), m))
        out[top] = maths.compaction(kept)[0]
        if len(rest):
            out[rest] = flagged / len(rest)
        return out

    def _sample(self, c: Candidates, m: int, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
        top = c.greedy(m)
        rest = np.setdiff1d(np.arange(len(c)), top)
        flags = maths.capped_flags(rng.random((size, m)) < self.config.epsilon, len(rest))
        main = np.tile(top, (size, 1))
        return maths.assemble_slots(flags, main, np.zeros_like(main, dtype=bool), rest, rng)


class SoftmaxConfig(PolicyConfig):
    """Settings of softmax (Plackett–Luce) sampling."""

    temperature: float = Field(default=1.0, gt=0.0)
    """T in the weights exp(score / T): small T is nearly greedy, large T nearly uniform."""

    pool: int | None = Field(default=None, ge=1)
    """Sample only among the `pool` best scores (at least m of them; None: all candidates). The cost of
    exact propensities grows linearly with the number of candidates sampled from."""


class Softmax(Policy[SoftmaxConfig]):
    """Plackett–Luce sampling without replacement with weights w_i = exp(score_i / T).

    Slot 1 goes to item i with probability w_i / Σ w, slot 2 likewise among the rest, and so on
    (drawn as an exponential race: the items whose clocks E_i / w_i ring first). Exact slot
    probabilities by `propensity.plackett_luce_probabilities`. Candidates shown with probability
    below ~1e-20 are left out of both the draw and the probabilities, and a weight is never below
    e^-600 times the best one (so every clock rings in finite time).
    """

    name = "softmax"
    config_class = SoftmaxConfig

    def _pool(self, c: Candidates, m: int) -> tuple[np.ndarray, np.ndarray]:
        pool = np.arange(len(c)) if self.config.pool is None else np.sort(c.greedy(max(self.config.pool, m)))
        scores = c.scores[pool]
        return pool, np.maximum((scores - scores.max()) / self.config.temperature, maths.MIN_LOG_WEIGHT)

    def _probabilities(self, c: Candidates, m: int) -> np.ndarray:
        pool, log_weights = self._pool(c, m)
        out = np.zeros((len(c), m))
        out[pool] = maths.plackett_luce_probabilities(log_weights, m)
        return out

    def _sample(self, c: Candidates, m: int, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
        pool, log_weights = self._pool(c, m)
        support = maths.plackett_luce_support(log_weights, m)
        pool, log_weights = pool[support], log_weights[support]
        ring = np.log(rng.standard_exponential((size, len(pool)))) - log_weights  # (size, n_pool): log E_i / w_i
        order = np.argsort(ring, axis=1, kind="stable")[:, :m]
        return _explored_by_greedy(c, m, pool[order])


class ThompsonConfig(PolicyConfig):
    """Settings of Thompson sampling."""

    scale: float = Field(default=1.0, ge=0.0)
    """Multiplies the `uncertainty` column: the std of each score's sample (0 is greedy)."""


class Thompson(Policy[ThompsonConfig]):
    """Sample each score from N(score, (scale · uncertainty)²) independently and show the top m samples.

    Items with zero std (or below 1e-12 · (1 + |score|), taken as 0) always sample their score; ties
    among them go by list position. Exact slot probabilities by `propensity.thompson_probabilities`;
    candidates shown with probability below ~1e-23 are left out of both the draw and the probabilities.
    """

    name = "thompson"
    config_class = ThompsonConfig
    needs_uncertainty = True

    def _std(self, c: Candidates) -> np.ndarray:
        assert c.uncertainty is not None  # checked by _prepare
        std = self.config.scale * c.uncertainty
        return np.where(std < TINY_STD * (1.0 + np.abs(c.scores)), 0.0, std)

    def _probabilities(self, c: Candidates, m: int) -> np.ndarray:
        return maths.thompson_probabilities(c.scores, self._std(c), m)

    def _sample(self, c: Candidates, m: int, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
        std = self._std(c)
        support = np.flatnonzero(maths.thompson_support(c.scores, std, m))
        draws = c.scores[support] + std[support] * rng.standard_normal((size, len(support)))  # (size, n_s)
        order = np.argsort(-draws, axis=1, kind="stable")[:, :m]
        return _explored_by_greedy(c, m, support[order])


class UCBConfig(PolicyConfig):
    """Settings of the upper-confidence-bound policy."""

    beta: float = Field(default=1.0, ge=0.0)
    """Weight of the uncertainty: items are ranked by score + beta · uncertainty."""


class UCB(Policy[UCBConfig]):
    """Deterministic top m by score + beta · uncertainty (ties by position); every propensity is 1."""

    name = "ucb"
    config_class = UCBConfig
    needs_uncertainty = True

    def _order(self, c: Candidates, m: int) -> np.ndarray:
        assert c.uncertainty is not None  # checked by _prepare
        return top_k_positions(c.scores + self.config.beta * c.uncertainty, m)

    def _probabilities(self, c: Candidates, m: int) -> np.ndarray:
        return _one_hot(self._order(c, m), len(c))

    def _sample(self, c: Candidates, m: int, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
        return _explored_by_greedy(c, m, np.tile(self._order(c, m), (size, 1)))


def _explored_by_greedy(c: Candidates, m: int, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An item counts as explored when it is not among the greedy top m by score."""
    return positions, ~np.isin(positions, c.greedy(m))


class ColdBudgetConfig(PolicyConfig):
    """Settings of the cold-item budget wrapped around another policy."""

    inner: str = "greedy"
    """Name of the policy that orders the warm (not cold) candidates."""

    inner_config: dict[str, Any] = Field(default_factory=dict, validate_default=True)
    """Config of the inner policy (validated; its seed is unused, the wrapper's generator is passed on)."""

    budget: int = Field(default=1, ge=0)
    """At most this many slots of a list go to cold items drawn by the budget."""

    slots: tuple[int, ...] = (2,)
    """Slot positions that may hold a budget pick, tried in increasing order: 0-based from the top,
    or negative to count from the bottom of the list (-1: its last slot, whatever its length)."""

    rate: float = Field(default=0.2, ge=0.0, le=1.0)
    """Probability that each reserved slot, independently, holds a cold item (within the budget)."""

    pick: Literal["uniform", "ucb"] = "uniform"
    """Which cold items fill the budget slots: uniform draws without replacement, or `ucb`: the cold
    items in order of score + pick_beta · uncertainty (aimed at the users the posterior says are the
    likeliest to click them, so an exploration slot also earns clicks and teaches more)."""

    pick_beta: float = Field(default=0.0, ge=0.0)
    """Weight of the uncertainty in the pick index score + pick_beta · uncertainty (0: by score alone)."""

    reach: int | None = Field(default=None, ge=1)
    """When set, a cold item may fill a budget slot only if its pick index reaches the `reach`-th best
    warm score (with `reach` = m: it would make the list on its optimistic estimate); the others compete
    with the warm items through the inner policy. None: every cold item may fill a budget slot."""

    @field_validator("slots")
    @classmethod
    def _sorted_slots(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if len(set(value)) != len(value):
            raise ValueError("slots must be distinct positions")
        return tuple(sorted(value))

    @field_validator("inner")
    @classmethod
    def _known_inner(cls, value: str) -> str:
        if value not in POLICIES or value == "cold_budget":
            raise ValueError(f"must name one of {sorted(set(POLICIES) - {'cold_budget'})}")
        return value

    @field_validator("inner_config")
    @classmethod
    def _valid_inner_config(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        inner = info.data.get("inner")
        if inner is None:  # the name itself was invalid; that error is reported
            return value
        config = validated_config(POLICIES[inner].config_class, value, inner)
        return dict(config.model_dump(mode="json"))


class ColdBudget(Policy[ColdBudgetConfig]):
    """Reserves up to `budget` slots, at the configured positions, for cold items.

    Construction, with m slots, warm candidates W (cold False or no `cold` column) and cold ones K:
    1. each reserved position s < m (m + s for a negative s) is flagged with probability `rate`, in
       increasing order of position, while fewer than min(budget, |K|) are flagged;
    2. the inner policy orders W into a list of min(m, |W|) items, independently of step 1;
    3. unflagged slots take the inner list in order (its last items are pushed out by flagged
       slots); flagged slots, and unflagged ones left once the inner list runs out (when |W| < m),
       take uniform draws without replacement from K in slot order (`pick="uniform"`), or K's items
       in order of score + pick_beta · uncertainty (`pick="ucb"`: the r-th such slot takes the r-th).
    Cold items never come through the inner policy, so at most `budget` slots go to them unless
    there are too few warm items. With `reach` set, K holds only the cold items whose pick index
    reaches the reach-th best warm score (all of them when there are fewer warm items); the rest join
    W, so a slot is spent on a cold item only when it has a chance of earning its place. The split is
    a function of the candidates alone, so the propensities stay exact. Because steps 1 and 2 are
    independent,

        P(w at slot j) = Σ_s P_inner(w at slot s) · P(unflagged slot j is the s-th unflagged slot),
        P(c at slot j) = P(slot j draws from K) / |K|          (c in K, uniform),
        P(c at slot j) = P(slot j is the r-th draw from K)      (c the r-th of K, ucb).

    Budget picks are marked explored; warm items keep the inner policy's flag.
    """

    name = "cold_budget"
    config_class = ColdBudgetConfig

    def __init__(self, config: ColdBudgetConfig | dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self.inner: Policy[Any] = create_policy(self.config.inner, self.config.inner_config)
        uses_index = self.config.pick == "ucb" or self.config.reach is not None
        self._optimistic = uses_index and self.config.pick_beta > 0  # the pick index reads the uncertainty
        self.needs_uncertainty = self.inner.needs_uncertainty or self._optimistic

    def _split(self, c: Candidates, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """Warm positions, cold positions that may fill a budget slot (in pick order when it is `ucb`),
        slot rates and the cap. Cold items held back by `reach` are returned among the warm ones."""
        cold = np.zeros(len(c), dtype=bool) if c.cold is None else c.cold.copy()
        index = c.scores
        if self._optimistic:
            assert c.uncertainty is not None  # checked by _prepare
            index = c.scores + self.config.pick_beta * c.uncertainty
        if self.config.reach is not None and cold.any():
            warm_scores = c.scores[~cold]
            if len(warm_scores) >= self.config.reach:
                bar = np.partition(warm_scores, len(warm_scores) - self.config.reach)[-self.config.reach]
                cold &= index >= bar
        warm, frozen = np.flatnonzero(~cold), np.flatnonzero(cold)
        if self.config.pick == "ucb" and len(frozen):
            frozen = frozen[np.argsort(-index[frozen], kind="stable")]
        rates = np.zeros(m)
        rates[[s for s in self.config.slots if -m <= s < m]] = self.config.rate  # a negative s counts from the end
        return warm, frozen, rates, min(self.config.budget, len(frozen))

    def _probabilities(self, c: Candidates, m: int) -> np.ndarray:
        warm, frozen, rates, cap = self._split(c, m)
        m_warm = min(m, len(warm))
        flagged, kept = maths.capped_flag_probabilities(rates, cap)
        landing, overflow = maths.compaction(kept, m_warm)
        out = np.zeros((len(c), m))
        if m_warm:
            out[warm] = self.inner._probabilities(c.take(warm), m_warm) @ landing
        if len(frozen) and self.config.pick == "ucb":
            ranks = maths.pool_rank_probabilities(rates, cap, m_warm)  # (m, m): r-th pick at slot j
            r = min(len(frozen), m)
            out[frozen[:r]] = ranks[:r]
        elif len(frozen):
            out[frozen] = (flagged + overflow) / len(frozen)
        return out

    def _sample(self, c: Candidates, m: int, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
        warm, frozen, rates, cap = self._split(c, m)
        m_warm = min(m, len(warm))
        flags = maths.capped_flags(rng.random((size, m)) < rates, cap)
        main = np.empty((size, 0), dtype=np.int64)
        main_explored = np.empty((size, 0), dtype=bool)
        if m_warm:
            main, main_explored = self.inner._sample(c.take(warm), m_warm, rng, size)
            main = warm[main]
        return maths.assemble_slots(flags, main, main_explored, frozen, rng, ordered=self.config.pick == "ucb")


#: Every policy by name.
POLICIES: dict[str, type[Policy[Any]]] = {
    cls.name: cls for cls in (Greedy, EpsilonGreedy, Softmax, Thompson, UCB, ColdBudget)
}


def create_policy(name: str, config: PolicyConfig | dict[str, Any] | None = None) -> Policy[Any]:
    """A policy by name with an optional config (an instance or a dict)."""
    if name not in POLICIES:
        raise ConfigError(f"unknown policy {name!r}; known policies: {', '.join(sorted(POLICIES))}")
    return POLICIES[name](config)
