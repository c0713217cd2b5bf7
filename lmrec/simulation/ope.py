"""Off-policy estimators: the value of a target policy estimated from another policy's impression log.

Everything here is position-level (the "independent" or position-based formulation): each logged
row i is one slot of one round, showing item a_i at position p_i with logging probability
pi_0(a_i | x_i, p_i) (the row's `propensity`), and earning reward r_i. The value of a target
policy pi_e is the expected reward per slot,

    V(pi_e) = E[ sum_a pi_e(a | x, p) q(x, a, p) ],   q(x, a, p) = E[r | x, a, p],

over the log's rounds and slots. The target is given as `target_dist`, shape (n_rows, n_items):
row i holds pi_e(. | x_i, p_i) and sums to 1; or, when each row's target puts its mass on a few
items of a large catalogue (a recommender replayed on the logged requests), as a `SlotTarget`
holding those items and their probabilities. With importance weights

    w_i = pi_e(a_i | x_i, p_i) / pi_0(a_i | x_i, p_i),

the estimators are IPS, SNIPS, DR and Switch-DR (see each class). Each returns an `Estimate`
with an interval over whole rounds (rows of one round share a user and are not independent): a
percentile bootstrap that resamples them, or (`interval = "likelihood"`) the empirical-likelihood
interval of `lmrec.simulation.likelihood`, which also holds the weights to their known mean where
the target says what it is (`SlotTarget.expected_weight`); a delta-method standard error over
rounds; and Kish's effective sample size of the weights. The doubly robust estimators hold their reward model fixed
across resamples.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, ClassVar, Generic, Literal, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from lmrec.configs import validated_config
from lmrec.diagnostics import ConfigError, DataError
from lmrec.evaluation.stats import resampled_means
from lmrec.simulation.likelihood import constrained_likelihood_interval, heavy_units, likelihood_interval
from lmrec.simulation.logs import ImpressionLog
from lmrec.simulation.reward_model import ItemPositionMean, RewardModelConfig

#: Largest |sum - 1| accepted for a row of `target_dist`.
SUM_TOLERANCE = 1e-6


class OPEConfig(BaseModel):
    """Settings every estimator shares: the interval."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    interval: Literal["bootstrap", "likelihood"] = "bootstrap"
    """`bootstrap`: the percentile interval over resamples of the rounds; `likelihood`: the
    empirical-likelihood interval over the rounds (`lmrec.simulation.likelihood`), which follows
    the skew that large importance weights give an estimate and, where the target carries
    `expected_weight`, holds the weights' mean to it (the interval is then centred where that
    constraint puts the value, and a log whose weights stray far from their mean can leave the
    estimate itself outside). A held interval needs the large weights spread over enough rounds:
    where fewer than `RELIABLE_HEAVY_UNITS` rounds carry half the weight above its mean, it can be
    far too narrow (`Estimate.heavy_units` counts them; `lmrec ope` says so)."""

    n_bootstrap: int = Field(default=1000, ge=0)
    """Bootstrap resamples of the rounds for a `bootstrap` interval; 0 skips it (the bounds are then NaN)."""

    seed: int = 0
    """Seed of the bootstrap resampling (a `likelihood` interval draws nothing)."""

    level: float = Field(default=0.95, gt=0.0, lt=1.0)
    """Coverage of the interval."""


class DRConfig(OPEConfig):
    """Settings of the doubly robust estimator."""

    reward_model: RewardModelConfig = Field(default_factory=RewardModelConfig)
    """The default reward model, fitted on the log when `estimate` is given none."""


class SwitchDRConfig(DRConfig):
    """Settings of the switch doubly robust estimator."""

    tau: float = Field(default=10.0, gt=0.0)
    """Largest importance weight whose correction is used; rows with a larger weight use the model alone."""


C = TypeVar("C", bound=OPEConfig)


@dataclass(frozen=True)
class Estimate:
    """One estimator's estimate of a target policy's value (expected reward per slot).

    Attributes:
        estimator: the estimator's name.
        value: the estimate.
        low: lower bound of the interval over rounds (`OPEConfig.interval`; NaN where there is too
            little to compute it, or with `n_bootstrap` 0).
        high: upper bound of that interval.
        level: the interval's coverage.
        std_error: delta-method standard error, treating rounds as the independent units.
        effective_sample_size: Kish's (sum w)^2 / sum w^2 over the importance weights the
            estimator applies to rewards (Switch-DR: weights above tau count as 0).
        n_rows: logged rows used.
        n_rounds: distinct rounds among them.
        heavy_units: for an interval held to the weights' known mean, the fewest rounds that carry
            half of the weight above it (`lmrec.simulation.likelihood.heavy_units`; below
            `RELIABLE_HEAVY_UNITS` the interval can be far too narrow); None where nothing is held.
    """

    estimator: str
    value: float
    low: float
    high: float
    level: float
    std_error: float
    effective_sample_size: float
    n_rows: int
    n_rounds: int
    heavy_units: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True, eq=False)
class SlotTarget:
    """A target policy on a few items per logged row: pi_e(items[i, c] | x_i, p_i) = probability[i, c].

    Every item outside a row's `items` has probability 0 there. Rows with fewer items than others are
    padded with item -1 at probability 0. Checked against a log by `check_target`.

    Arrays (n = rows of the log, c = the most items any row holds):
        items: (n, c) int64, item positions in [0, n_items), or -1 for padding; distinct within a row.
        probability: (n, c) float64, their target probabilities; each row sums to 1.
        expected_weight: (n,) float64 or None. Where known, each row's importance weight expected
            under the logging policy: the row's target probability on items the logging policy can
            show at that slot (1 where it can show all of them). A likelihood interval then holds
            the weights' mean to it. `lmrec.simulation.replay.expected_weights` computes it for a
            pipeline log.
    """

    items: np.ndarray
    probability: np.ndarray
    expected_weight: np.ndarray | None = None

    @classmethod
    def from_dense(cls, target_dist: np.ndarray, expected_weight: np.ndarray | None = None) -> SlotTarget:
        """The (n_rows, n_items) form as a `SlotTarget` over every item."""
        dist = np.asarray(target_dist, dtype=np.float64)
        if dist.ndim != 2:
            raise DataError(f"must be 2-dimensional (rows, items), got shape {dist.shape}", field="target_dist")
        items = np.broadcast_to(np.arange(dist.shape[1], dtype=np.int64), dist.shape)
        return cls(items, dist, expected_weight)

    def at(self, values: np.ndarray) -> np.ndarray:
        """`values[i, items[i, c]]` for a (n_rows, n_items) array, 0 at padding; shape (n, c)."""
        picked = np.take_along_axis(values, np.maximum(self.items, 0), axis=1)  # (n, c)
        return np.where(self.items >= 0, picked, 0.0)

    def logged(self, impressions: ImpressionLog) -> np.ndarray:
        """pi_e(a_i | x_i, p_i) of each row's logged item, shape (n,)."""
        return np.where(self.items == impressions.item[:, None], self.probability, 0.0).sum(axis=1)


class Estimator(ABC, Generic[C]):
    """Base of the estimators: validates the inputs, computes per-row terms, summarises them.

    Each estimator is a ratio over rows, V = sum_i n_i / sum_i d_i; subclasses give n_i and d_i.
    """

    name: ClassVar[str]
    config_class: ClassVar[type[OPEConfig]]
    config: C

    def __init__(self, config: C | dict[str, Any] | None = None) -> None:
        self.config = _make_config(self.config_class, config, self.name)  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"

    def estimate(
        self,
        impressions: ImpressionLog,
        target_dist: np.ndarray | SlotTarget,
        reward_model: np.ndarray | None = None,
    ) -> Estimate:
        """Estimate the value of the policy `target_dist` from `impressions`.

        Args:
            impressions: the logging policy's log.
            target_dist: (n_rows, n_items), pi_e(a | x_i, p_i) for every row i; rows sum to 1. Or a
                `SlotTarget` with each row's probabilities on a few items.
            reward_model: (n_rows, n_items), q(x_i, a, p_i) for every row i and item a; used by the
                doubly robust estimators, which fit `ItemPositionMean` on the log when it is None.
        """
        target = check_target(impressions, target_dist)
        weight = target.logged(impressions) / impressions.propensity  # (n,)
        numerator, denominator, applied = self._terms(impressions, target, weight, reward_model)
        excess = None if target.expected_weight is None else weight - target.expected_weight  # (n,)
        return _summarise(self.name, numerator, denominator, applied, excess, impressions, self.config)

    @abstractmethod
    def _terms(
        self, impressions: ImpressionLog, target: SlotTarget, weight: np.ndarray, reward_model: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-row numerator n_i, denominator d_i and the weights applied to rewards, each (n,)."""


class IPS(Estimator[OPEConfig]):
    """Inverse propensity scoring: V = (1/n) sum_i w_i r_i.

    Unbiased when the logging policy gives every item the target may show a positive
    probability; its variance grows with the weights.
    """

    name = "ips"
    config_class = OPEConfig

    def _terms(
        self, impressions: ImpressionLog, target: SlotTarget, weight: np.ndarray, reward_model: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return weight * impressions.reward, np.ones(len(weight)), weight


class SNIPS(Estimator[OPEConfig]):
    """Self-normalised IPS: V = sum_i w_i r_i / sum_i w_i.

    Slightly biased, consistent, never outside the range of the rewards, and usually of lower
    variance than IPS. NaN when every logged item has target probability 0.
    """

    name = "snips"
    config_class = OPEConfig

    def _terms(
        self, impressions: ImpressionLog, target: SlotTarget, weight: np.ndarray, reward_model: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return weight * impressions.reward, weight, weight


class DR(Estimator[DRConfig]):
    """Doubly robust: V = (1/n) sum_i [ q_e(i) + w_i (r_i - q(x_i, a_i, p_i)) ],

    with q_e(i) = sum_a pi_e(a | x_i, p_i) q(x_i, a, p_i) the reward model's value of the target
    on row i. Unbiased when either the weights or the reward model are right; lower variance
    than IPS when the model is good.
    """

    name = "dr"
    config_class = DRConfig

    def _terms(
        self, impressions: ImpressionLog, target: SlotTarget, weight: np.ndarray, reward_model: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        model_value, residual = _model_terms(impressions, target, reward_model, self.config.reward_model)
        return model_value + weight * residual, np.ones(len(weight)), weight


class SwitchDR(Estimator[SwitchDRConfig]):
    """Switch doubly robust: V = (1/n) sum_i [ q_e(i) + 1[w_i <= tau] w_i (r_i - q(x_i, a_i, p_i)) ].

    DR where the weight is small, the reward model alone where it exceeds tau, trading a bias
    (the model's error on those rows) for the variance of large weights. tau = infinity is DR.
    """

    name = "switch_dr"
    config_class = SwitchDRConfig

    def _terms(
        self, impressions: ImpressionLog, target: SlotTarget, weight: np.ndarray, reward_model: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        model_value, residual = _model_terms(impressions, target, reward_model, self.config.reward_model)
        applied = np.where(weight <= self.config.tau, weight, 0.0)
        return model_value + applied * residual, np.ones(len(weight)), applied


def default_estimators() -> list[Estimator[Any]]:
    """IPS, SNIPS, DR and Switch-DR with their default configs."""
    return [IPS(), SNIPS(), DR(), SwitchDR()]


def estimate_all(
    impressions: ImpressionLog,
    target_dist: np.ndarray | SlotTarget,
    reward_model: np.ndarray | None = None,
    *,
    estimators: Sequence[Estimator[Any]] | None = None,
) -> dict[str, Estimate]:
    """Run several estimators (by default `default_estimators()`) on one log and target.

    Returns:
        estimator name -> its `Estimate`, in the order given.
    """
    chosen = default_estimators() if estimators is None else list(estimators)
    names = [e.name for e in chosen]
    if len(set(names)) != len(names):
        raise ConfigError(f"estimator names must be distinct, got {names}")
    target = check_target(impressions, target_dist)
    return {e.name: e.estimate(impressions, target, reward_model) for e in chosen}


def check_target(impressions: ImpressionLog, target_dist: np.ndarray | SlotTarget) -> SlotTarget:
    """`target_dist` as a validated `SlotTarget`: shapes, items, probabilities and row sums checked."""
    if isinstance(target_dist, SlotTarget):
        items = np.asarray(target_dist.items)
        probability = _numeric_matrix(target_dist.probability, "target_dist", impressions, width=items.shape[-1])
        if items.shape != probability.shape or items.dtype.kind not in "iu":
            raise DataError(
                f"items must be integers of the probabilities' shape {probability.shape}, got {items.dtype} "
                f"{items.shape}",
                field="target_dist.items",
            )
        target = SlotTarget(items.astype(np.int64), probability, target_dist.expected_weight)
        _check_slot_items(target.items, probability, impressions.n_items)
    else:
        target = SlotTarget.from_dense(_numeric_matrix(target_dist, "target_dist", impressions))
    array = target.probability
    negative = (array < 0).any(axis=1)
    if negative.any():
        row = int(np.argmax(negative))
        raise DataError("must be probabilities (>= 0)", field="target_dist", row=row, value=float(array[row].min()))
    sums = array.sum(axis=1)
    off = np.abs(sums - 1.0) > SUM_TOLERANCE
    if off.any():
        row = int(np.argmax(off))
        raise DataError("must sum to 1 over items", field="target_dist", row=row, value=float(sums[row]))
    if target.expected_weight is not None:
        target = replace(target, expected_weight=_expected_weight(target.expected_weight, len(impressions)))
    return target


def _expected_weight(values: np.ndarray, n_rows: int) -> np.ndarray:
    """`SlotTarget.expected_weight` checked: one share in [0, 1] per row of the log."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"must be a numeric array of shape ({n_rows},)", field="target_dist.expected_weight") from exc
    if array.shape != (n_rows,):
        raise DataError(
            f"must have shape ({n_rows},) (rows of the log), got {array.shape}", field="target_dist.expected_weight"
        )
    bad = ~((array >= 0.0) & (array <= 1.0 + SUM_TOLERANCE))  # NaN fails both
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(
            "must be a share of the row's probability, in [0, 1]",
            field="target_dist.expected_weight",
            row=row,
            value=float(array[row]),
        )
    return array


def _check_slot_items(items: np.ndarray, probability: np.ndarray, n_items: int) -> None:
    """Items in [-1, n_items), padding at probability 0, no item twice in a row."""
    outside = (items < -1) | (items >= n_items)  # (n, c)
    if outside.any():
        row, col = np.argwhere(outside)[0]
        raise DataError(
            f"must be an item in [0, {n_items}) or -1 (padding)",
            field="target_dist.items",
            row=int(row),
            value=int(items[row, col]),
        )
    padded = (items == -1) & (probability != 0)  # (n, c)
    if padded.any():
        raise DataError(
            "padding (item -1) must have probability 0", field="target_dist", row=int(np.argwhere(padded)[0, 0])
        )
    ordered = np.sort(items, axis=1)  # (n, c)
    twice = (ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)  # (n, c - 1)
    if twice.any():
        row, col = np.argwhere(twice)[0]
        raise DataError(
            "an item appears twice in one row", field="target_dist.items", row=int(row), value=int(ordered[row, col])
        )


def _model_terms(
    impressions: ImpressionLog, target: SlotTarget, reward_model: np.ndarray | None, config: RewardModelConfig
) -> tuple[np.ndarray, np.ndarray]:
    """The reward model's value of the target per row, q_e(i), and the residual r_i - q(a_i), each (n,)."""
    if reward_model is None:  # the default model's tables, read only where the target and the log need them
        tables, fold = ItemPositionMean(config).cross_fitted(impressions)
        fold, position = fold[:, None], impressions.position[:, None]  # (n, 1)
        at_target = np.where(target.items >= 0, tables[fold, position, np.maximum(target.items, 0)], 0.0)  # (n, c)
        at_logged = tables[fold[:, 0], position[:, 0], impressions.item]  # (n,)
    else:
        q = _numeric_matrix(reward_model, "reward_model", impressions)  # (n, n_items)
        at_target, at_logged = target.at(q), q[np.arange(len(impressions)), impressions.item]
    return (target.probability * at_target).sum(axis=1), impressions.reward - at_logged


def _numeric_matrix(values: np.ndarray, name: str, impressions: ImpressionLog, width: int | None = None) -> np.ndarray:
    """A finite float64 array of shape (rows of the log, `width`, by default n_items)."""
    expected = (len(impressions), impressions.n_items if width is None else width)
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"must be a numeric array of shape {expected} (rows, items)", field=name) from exc
    if array.shape != expected:
        raise DataError(f"must have shape {expected} (rows of the log, items), got {array.shape}", field=name)
    bad = ~np.isfinite(array).all(axis=1)
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError("must be finite", field=name, row=row, value=float(array[row][~np.isfinite(array[row])][0]))
    return array


def _summarise(
    name: str,
    numerator: np.ndarray,
    denominator: np.ndarray,
    applied: np.ndarray,
    excess: np.ndarray | None,
    impressions: ImpressionLog,
    config: OPEConfig,
) -> Estimate:
    """V = sum n_i / sum d_i with its interval and standard error over rounds; `excess` (n,), where
    known, is each row's importance weight minus its expectation (a likelihood interval's side
    constraint)."""
    codes, n_rounds = impressions.round_codes()
    num = np.bincount(codes, weights=numerator, minlength=n_rounds)  # (K,) per-round sums
    den = np.bincount(codes, weights=denominator, minlength=n_rounds)  # (K,)
    total = float(den.sum())
    value = float(num.sum()) / total if total > 0 else math.nan
    # linearised ratio: V_hat - V ~ sum_k (num_k - V den_k) / sum_k den_k
    residual = num - value * den
    std_error = math.nan
    if n_rounds > 1 and total > 0:
        std_error = math.sqrt(n_rounds / (n_rounds - 1) * float(residual @ residual)) / total
    heavy = None
    if config.interval == "likelihood" and excess is not None:
        surplus = np.bincount(codes, weights=excess, minlength=n_rounds)  # (K,)
        low, high = constrained_likelihood_interval(num, den, surplus, config.level)
        heavy = heavy_units(surplus)
    elif config.interval == "likelihood":
        low, high = likelihood_interval(num, den, config.level)
    else:
        low, high = _bootstrap_ratio(num, den, config)
    squares = float(applied @ applied)
    ess = float(applied.sum()) ** 2 / squares if squares > 0 else 0.0
    return Estimate(
        estimator=name,
        value=value,
        low=low,
        high=high,
        level=config.level,
        std_error=std_error,
        effective_sample_size=ess,
        n_rows=len(impressions),
        n_rounds=n_rounds,
        heavy_units=heavy,
    )


def _bootstrap_ratio(num: np.ndarray, den: np.ndarray, config: OPEConfig) -> tuple[float, float]:
    """Percentile interval of sum num / sum den over resamples of the rounds (entries of num, den)."""
    if config.n_bootstrap == 0 or len(num) == 0:
        return math.nan, math.nan
    means = resampled_means(np.column_stack([num, den]), config.n_bootstrap, config.seed)  # (B, 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratios = means[:, 0] / means[:, 1]
    ratios = ratios[np.isfinite(ratios)]
    if len(ratios) == 0:
        return math.nan, math.nan
    tail = (1.0 - config.level) / 2.0 * 100.0
    low, high = np.percentile(ratios, [tail, 100.0 - tail])
    return float(low), float(high)


M = TypeVar("M", bound=BaseModel)


def _make_config(cls: type[M], config: M | dict[str, Any] | None, what: str) -> M:
    """Validate a config; exactly `cls` (a subclass would carry settings this component ignores)."""
    return validated_config(cls, config, what, exact=True)
