"""Off-policy estimators: a hand-computed log, unbiasedness and coverage in a world with known
truth, the reward model, the bootstrap over rounds, and a table of bad inputs."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from lmrec.diagnostics import ConfigError, DataError, NotFittedError
from lmrec.simulation.likelihood import heavy_units
from lmrec.simulation.logs import ImpressionLog
from lmrec.simulation.ope import (
    DR,
    IPS,
    SNIPS,
    Estimator,
    SlotTarget,
    SwitchDR,
    SwitchDRConfig,
    estimate_all,
)
from lmrec.simulation.reward_model import ItemPositionMean

# -- a hand-computed log ------------------------------------------------------------------------
# Three rounds of two slots over three items.
#   row  round  pos  item  reward  propensity  target pi_e(item|pos)  w = target / propensity
#   0    0      0    0     1       0.5         0.25                   0.5
#   1    0      1    1     0       0.25        0                      0
#   2    1      0    1     0       0.25        0.5                    2
#   3    1      1    2     1       0.5         0.5                    1
#   4    2      0    0     1       0.5         0.25                   0.5
#   5    2      1    2     0       0.5         0.5                    1
# IPS   = (0.5 + 0 + 0 + 1 + 0.5 + 0) / 6 = 2/6
# SNIPS = 2 / (0.5 + 0 + 2 + 1 + 0.5 + 1) = 2/5
# Reward model q per slot: pos 0 -> [0.4, 0.2, 0.0], pos 1 -> [0.0, 0.6, 0.2]
#   q_e(pos 0) = 0.25*0.4 + 0.5*0.2 + 0.25*0 = 0.2;  q_e(pos 1) = 0.5*0 + 0*0.6 + 0.5*0.2 = 0.1
# DR rows q_e + w (r - q(item)):
#   0: 0.2 + 0.5 (1 - 0.4) = 0.5     1: 0.1 + 0 = 0.1            2: 0.2 + 2 (0 - 0.2) = -0.2
#   3: 0.1 + 1 (1 - 0.2) = 0.9       4: 0.2 + 0.5 (1 - 0.4) = 0.5  5: 0.1 + 1 (0 - 0.2) = -0.1
# DR = 1.7 / 6. Switch-DR with tau = 1.5 drops row 2's correction (w = 2): -0.2 -> 0.2, so 2.1 / 6.
# Kish ESS of IPS: (sum w)^2 / sum w^2 = 25 / 6.5; of Switch-DR (w_2 -> 0): 9 / 2.5.
# IPS standard error over rounds: round sums 0.5, 1, 0.5 of 2 rows each, V = 1/3, residuals
#   -1/6, 1/3, -1/6, sum of squares 1/6, times K/(K-1) = 1.5 -> 0.25, sqrt 0.5, / 6 rows = 1/12.

TARGET_BY_SLOT = np.array([[0.25, 0.5, 0.25], [0.5, 0.0, 0.5]])
MODEL_BY_SLOT = np.array([[0.4, 0.2, 0.0], [0.0, 0.6, 0.2]])


def tiny() -> ImpressionLog:
    return ImpressionLog(
        round=[0, 0, 1, 1, 2, 2],
        position=[0, 1, 0, 1, 0, 1],
        item=[0, 1, 1, 2, 0, 2],
        reward=[1.0, 0.0, 0.0, 1.0, 1.0, 0.0],
        propensity=[0.5, 0.25, 0.25, 0.5, 0.5, 0.5],
        n_items=3,
        n_positions=2,
    )


def test_known_answer() -> None:
    impressions = tiny()
    target, model = TARGET_BY_SLOT[impressions.position], MODEL_BY_SLOT[impressions.position]
    estimators: list[Estimator[Any]] = [IPS(), SNIPS(), DR(), SwitchDR({"tau": 1.5})]
    result = estimate_all(impressions, target, model, estimators=estimators)
    assert list(result) == ["ips", "snips", "dr", "switch_dr"]
    assert result["ips"].value == pytest.approx(2 / 6)
    assert result["snips"].value == pytest.approx(2 / 5)
    assert result["dr"].value == pytest.approx(1.7 / 6)
    assert result["switch_dr"].value == pytest.approx(2.1 / 6)
    assert result["ips"].effective_sample_size == pytest.approx(25 / 6.5)
    assert result["switch_dr"].effective_sample_size == pytest.approx(9 / 2.5)
    assert result["ips"].std_error == pytest.approx(1 / 12)
    assert result["ips"].n_rows == 6 and result["ips"].n_rounds == 3
    for estimate in result.values():
        assert estimate.low <= estimate.value <= estimate.high
    json.dumps(result["dr"].to_dict())


def sparse(dense: np.ndarray, width: int) -> SlotTarget:
    """The dense target's nonzero items per row, in reverse order, padded with -1 to `width`."""
    items = np.full((len(dense), width), -1)
    probability = np.zeros((len(dense), width))
    for row, values in enumerate(dense):
        support = np.flatnonzero(values)[::-1]
        items[row, : len(support)], probability[row, : len(support)] = support, values[support]
    return SlotTarget(items, probability)


@pytest.mark.parametrize("reward_model", ["given", "fitted"])
def test_a_slot_target_estimates_what_its_dense_form_does(reward_model: str) -> None:
    """A target given on its support (any order, padded) is the same policy as its dense rows."""
    impressions = simulate(7)
    dense = TARGETS["greedy_softmax"][impressions.position].copy()
    dense[:, 0] = 0.0  # a support smaller than the catalogue
    dense /= dense.sum(axis=1, keepdims=True)
    model = CLICK[impressions.position] if reward_model == "given" else None
    estimators: list[Estimator[Any]] = [IPS(), SNIPS(), DR(), SwitchDR({"tau": 2.0})]
    expected = estimate_all(impressions, dense, model, estimators=estimators)
    got = estimate_all(impressions, sparse(dense, N_ITEMS + 1), model, estimators=estimators)
    for name, estimate in expected.items():  # the same sums in another order
        numbers = {k: v for k, v in estimate.to_dict().items() if k not in ("estimator", "heavy_units")}
        assert {k: getattr(got[name], k) for k in numbers} == pytest.approx(numbers, rel=1e-12), name
        assert got[name].heavy_units == estimate.heavy_units, name


def test_switch_dr_limits() -> None:
    impressions = tiny()
    target, model = TARGET_BY_SLOT[impressions.position], MODEL_BY_SLOT[impressions.position]
    dr = DR().estimate(impressions, target, model).value
    assert SwitchDR({"tau": 1e9}).estimate(impressions, target, model).value == pytest.approx(dr)
    # a tau below every positive weight leaves the reward model alone: mean of q_e = (3 * 0.2 + 3 * 0.1) / 6
    assert SwitchDR({"tau": 0.1}).estimate(impressions, target, model).value == pytest.approx(0.15)


def test_default_reward_model_known_answer() -> None:
    # mu = 3/6; with s = 2: q = (clicks + 1) / (rows + 2) per (slot, item):
    # slot 0: item 0 2 rows 2 clicks -> 3/4, item 1 1 row 0 clicks -> 1/3, item 2 unseen -> 1/2
    # slot 1: item 0 unseen -> 1/2, item 1 1 row 0 clicks -> 1/3, item 2 2 rows 1 click -> 1/2
    model = ItemPositionMean({"smoothing": 2.0, "n_folds": 1}).fit(tiny())
    np.testing.assert_allclose(model.table, [[3 / 4, 1 / 3, 1 / 2], [1 / 2, 1 / 3, 1 / 2]])
    assert model.predict(tiny()).shape == (6, 3)
    with pytest.raises(NotFittedError):
        ItemPositionMean().predict(tiny())


def test_empirical_bayes_smoothing_known_answer() -> None:
    # one slot; item 0 rewards 0, 2 (mean 1), item 1 rewards 4, 6 (mean 5); mu = 3, N = 4, J = 2
    # sigma^2 = within sum of squares / (N - J) = (1 + 1 + 1 + 1) / 2 = 2
    # tau^2 = (2 (1 - 3)^2 + 2 (5 - 3)^2 - (J - 1) sigma^2) / (N - (4 + 4) / 4) = (16 - 2) / 2 = 7
    # s = 2 / 7; q(0) = (2 + 6/7) / (2 + 2/7) = 1.25, q(1) = (10 + 6/7) / (2 + 2/7) = 4.75
    impressions = ImpressionLog(
        round=[0, 1, 2, 3], position=[0, 0, 0, 0], item=[0, 0, 1, 1], reward=[0.0, 2.0, 4.0, 6.0],
        propensity=[0.5] * 4, n_items=2, n_positions=1,
    )  # fmt: skip
    model = ItemPositionMean({"n_folds": 1}).fit(impressions)
    assert model.smoothing == pytest.approx(2 / 7)
    np.testing.assert_allclose(model.table, [[1.25, 4.75]])
    # pairs no further apart than noise: everything pools to the global mean
    flat = ImpressionLog(**{**_fields(impressions), "reward": np.array([0.0, 1.0, 1.0, 0.0])})
    pooled = ItemPositionMean({"n_folds": 1}).fit(flat)
    assert math.isinf(pooled.smoothing)
    np.testing.assert_allclose(pooled.table, [[0.5, 0.5]])


def test_cross_fitting_keeps_a_row_out_of_its_own_prediction() -> None:
    impressions = tiny()
    model = ItemPositionMean({"n_folds": 3, "smoothing": 1.0})
    before = model.fit_predict(impressions)
    flipped = ImpressionLog(**{**_fields(impressions), "reward": np.r_[0.0, impressions.reward[1:]]})
    after = model.fit_predict(flipped)
    np.testing.assert_allclose(after[impressions.round == 0], before[impressions.round == 0])
    assert not np.allclose(after, before)  # other folds did see the change


def _fields(impressions: ImpressionLog) -> dict[str, Any]:
    return {
        "round": impressions.round,
        "position": impressions.position,
        "item": impressions.item,
        "reward": impressions.reward,
        "propensity": impressions.propensity,
        "n_items": impressions.n_items,
        "n_positions": impressions.n_positions,
    }


def test_bootstrap_resamples_rounds_not_rows() -> None:
    """Two identical rows per round carry the information of one: the interval over rounds is
    as wide as for the log of single rows, about sqrt(2) wider than if rows were independent."""
    rng = np.random.default_rng(3)
    n = 400
    reward = (rng.random(n) < 0.3).astype(float)
    single = ImpressionLog(
        round=np.arange(n), position=np.zeros(n, int), item=np.zeros(n, int), reward=reward,
        propensity=np.ones(n), n_items=1, n_positions=1,
    )  # fmt: skip
    doubled_fields = {**_fields(single.take(np.repeat(np.arange(n), 2)))}
    paired = ImpressionLog(**doubled_fields)
    unpaired = ImpressionLog(**{**doubled_fields, "round": np.arange(2 * n)})
    target = np.ones((n, 1))
    width = {
        name: (e.high - e.low, e.std_error)
        for name, e in (
            ("single", IPS().estimate(single, target)),
            ("paired", IPS().estimate(paired, np.ones((2 * n, 1)))),
            ("unpaired", IPS().estimate(unpaired, np.ones((2 * n, 1)))),
        )
    }
    assert width["paired"][0] == pytest.approx(width["single"][0], rel=0.15)
    assert width["paired"][1] == pytest.approx(width["single"][1], rel=1e-9)
    assert width["paired"][0] / width["unpaired"][0] == pytest.approx(math.sqrt(2), rel=0.2)


def test_snips_ignores_a_common_scale_of_the_propensities() -> None:
    impressions = tiny()
    target = TARGET_BY_SLOT[impressions.position]
    halved = ImpressionLog(**{**_fields(impressions), "propensity": impressions.propensity / 2})
    assert SNIPS().estimate(halved, target).value == pytest.approx(SNIPS().estimate(impressions, target).value)
    assert IPS().estimate(halved, target).value == pytest.approx(2 * IPS().estimate(impressions, target).value)


def test_likelihood_intervals_hold_the_estimate_and_are_about_the_normal_ones_where_weights_are_tame() -> None:
    impressions = simulate(0)
    target = TARGETS["uniform"][impressions.position]
    for estimator in (IPS, SNIPS, DR, SwitchDR):
        estimate = estimator({"interval": "likelihood"}).estimate(impressions, target)
        half = 1.959964 * estimate.std_error  # the normal interval's half-width
        below, above = (estimate.value - estimate.low) / half, (estimate.high - estimate.value) / half
        assert 0.9 < below < 1.0 < above < 1.1, (estimator.name, below, above)  # clicks are skewed up


def test_a_known_weight_mean_narrows_the_ips_likelihood_interval_to_about_the_snips_one() -> None:
    """Held to E[w] = 1, IPS and SNIPS estimate the same thing, E[w r] / E[w]: their intervals agree,
    and IPS's, which without the constraint also carries the noise of the weights' sample mean,
    narrows (here, a target far from the logging policy: its weights vary most)."""
    impressions = simulate(3)
    target = TARGETS["greedy_softmax"][impressions.position]
    held = SlotTarget.from_dense(target, np.ones(len(impressions)))
    free = {
        name: e({"interval": "likelihood"}).estimate(impressions, target)
        for name, e in (("ips", IPS), ("snips", SNIPS))
    }
    known = {
        name: e({"interval": "likelihood"}).estimate(impressions, held) for name, e in (("ips", IPS), ("snips", SNIPS))
    }
    assert known["ips"].low == pytest.approx(known["snips"].low, rel=1e-6)
    assert known["ips"].high == pytest.approx(known["snips"].high, rel=1e-6)
    assert known["ips"].high - known["ips"].low < 0.9 * (free["ips"].high - free["ips"].low)
    for estimate in (*free.values(), *known.values()):
        assert estimate.low < true_value(TARGETS["greedy_softmax"]) < estimate.high
    codes, n_rounds = impressions.round_codes()
    excess = target[np.arange(len(impressions)), impressions.item] / impressions.propensity - 1.0  # (n,)
    heavy = heavy_units(np.bincount(codes, weights=excess, minlength=n_rounds))
    assert heavy > 1 and known["ips"].heavy_units == known["snips"].heavy_units == heavy
    assert free["ips"].heavy_units is None  # nothing held


def test_no_bootstrap_gives_nan_bounds() -> None:
    impressions = tiny()
    estimate = IPS({"n_bootstrap": 0}).estimate(impressions, TARGET_BY_SLOT[impressions.position])
    assert math.isnan(estimate.low) and math.isnan(estimate.high) and not math.isnan(estimate.value)


# -- a world with known truth ---------------------------------------------------------------------
N_ITEMS, N_POSITIONS, N_ROUNDS = 6, 3, 2000
WORLD = np.random.default_rng(2024)
#: Click probability of each (slot, item): item appeal times slot examination.
CLICK = np.array([1.0, 0.7, 0.5])[:, None] * WORLD.uniform(0.05, 0.4, N_ITEMS)[None, :]  # (P, K)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


#: Logging policy: softmax over noisy preferences, one distribution per slot.
LOGGING = _softmax(WORLD.normal(0.0, 1.0, (N_POSITIONS, N_ITEMS)))  # (P, K)
TARGETS = {
    "uniform": np.full((N_POSITIONS, N_ITEMS), 1.0 / N_ITEMS),
    "greedy_softmax": _softmax(np.tile(CLICK[0] * 15.0, (N_POSITIONS, 1))),
    "reversed": _softmax(np.tile(-CLICK[0] * 10.0, (N_POSITIONS, 1))),
}


def simulate(seed: int) -> ImpressionLog:
    """N_ROUNDS rounds; each slot's item drawn independently from LOGGING, clicked with CLICK."""
    rng = np.random.default_rng(seed)
    position = np.tile(np.arange(N_POSITIONS), N_ROUNDS)  # (n,)
    cdf = np.cumsum(LOGGING, axis=1)[position]  # (n, K)
    item = np.minimum((rng.random(len(position))[:, None] > cdf).sum(axis=1), N_ITEMS - 1)
    reward = (rng.random(len(position)) < CLICK[position, item]).astype(float)
    return ImpressionLog(
        round=np.repeat(np.arange(N_ROUNDS), N_POSITIONS),
        position=position,
        item=item,
        reward=reward,
        propensity=LOGGING[position, item],
        n_items=N_ITEMS,
        n_positions=N_POSITIONS,
    )


def true_value(target: np.ndarray) -> float:
    """Every slot is filled once per round, so V = mean over slots of sum_a pi_e(a|p) click(p, a)."""
    return float((target * CLICK).sum(axis=1).mean())


@pytest.mark.parametrize("interval", ["bootstrap", "likelihood", "likelihood, weight mean known"])
def test_unbiased_and_covering_in_a_known_world(interval: str) -> None:
    seeds = range(20)
    shared = {"n_bootstrap": 200, "interval": interval.split(",")[0]}
    estimators: list[Estimator[Any]] = [IPS(shared), SNIPS(shared), DR(shared)]
    results: dict[tuple[str, str], list[Any]] = {}
    for seed in seeds:
        impressions = simulate(seed)
        known = np.ones(len(impressions)) if "known" in interval else None  # the logging policy shows every item
        for name, target in TARGETS.items():
            dense = SlotTarget.from_dense(target[impressions.position], known)
            out = estimate_all(impressions, dense, estimators=estimators)
            for estimator, estimate in out.items():
                results.setdefault((name, estimator), []).append(estimate)
    for (name, estimator), estimates in results.items():
        truth = true_value(TARGETS[name])
        values = np.array([e.value for e in estimates])
        errors = np.array([e.std_error for e in estimates])
        # each estimate within 4 standard errors; the mean of 20 within 3 standard errors of a mean
        assert (np.abs(values - truth) < 4 * errors).all(), (name, estimator)
        assert abs(values.mean() - truth) < 3 * errors.mean() / math.sqrt(len(values)), (name, estimator)
        covered = sum(e.low <= truth <= e.high for e in estimates)
        assert covered >= 15, (name, estimator, covered)  # 95% intervals: 19 expected of 20


def test_dr_with_the_true_model_beats_ips() -> None:
    impressions = simulate(99)
    target = TARGETS["greedy_softmax"][impressions.position]
    truth_model = CLICK[impressions.position]  # (n, K)
    ips = IPS({"n_bootstrap": 0}).estimate(impressions, target)
    dr = DR({"n_bootstrap": 0}).estimate(impressions, target, truth_model)
    assert dr.std_error < ips.std_error  # 0.016 vs 0.019 here: click noise dominates, weights add the rest
    assert abs(dr.value - true_value(TARGETS["greedy_softmax"])) < 3 * dr.std_error


# -- bad inputs -----------------------------------------------------------------------------------
def _target() -> np.ndarray:
    return TARGET_BY_SLOT[tiny().position]


def _with_row(row: int, values: list[float]) -> np.ndarray:
    target = _target().copy()
    target[row] = values
    return target


def ips(target: Any) -> Any:
    return IPS().estimate(tiny(), target)


def dr(model: Any) -> Any:
    return DR().estimate(tiny(), _target(), model)


@pytest.mark.parametrize(
    ("call", "error", "fragment"),
    [
        (lambda: ips(np.full((6, 4), 0.25)), DataError, "field 'target_dist': must have shape (6, 3)"),
        (lambda: ips(_target()[:5]), DataError, "got (5, 3)"),
        (lambda: ips(_with_row(4, [0.5, 0.4, 0.0])), DataError, "row 4, field 'target_dist': must sum to 1"),
        (lambda: ips(_with_row(2, [1.5, -0.5, 0.0])), DataError, "row 2, field 'target_dist': must be probabilities"),
        (lambda: ips(_with_row(1, [np.nan, 0.5, 0.5])), DataError, "row 1, field 'target_dist': must be finite"),
        (lambda: ips([["a"] * 3] * 6), DataError, "field 'target_dist': must be a numeric array"),
        (lambda: dr(np.zeros((6, 2))), DataError, "field 'reward_model': must have shape (6, 3)"),
        (lambda: dr(np.full((6, 3), np.inf)), DataError, "row 0, field 'reward_model': must be finite"),
        (lambda: IPS({"n_bootstrap": -1}), ConfigError, "invalid ips config: n_bootstrap"),
        (lambda: IPS({"level": 1.0}), ConfigError, "level: Input should be less than 1"),
        (lambda: IPS({"bootstrap": 10}), ConfigError, "Extra inputs are not permitted"),
        (lambda: SwitchDR({"tau": 0}), ConfigError, "invalid switch_dr config: tau"),
        (lambda: DR({"reward_model": {"smoothing": -1}}), ConfigError, "reward_model.smoothing"),
        (lambda: ItemPositionMean({"n_folds": 0}), ConfigError, "invalid reward model config: n_folds"),
        (lambda: IPS(SwitchDRConfig()), ConfigError, "ips takes a OPEConfig, not SwitchDRConfig"),
        (lambda: estimate_all(tiny(), _target(), estimators=[IPS(), IPS()]), ConfigError, "names must be distinct"),
        (lambda: ItemPositionMean().fit(tiny()).predict(_other_catalogue()), DataError, "fitted on 2 positions x 3"),
        (
            lambda: ips(_slots(items={(3, 1): 3})),
            DataError,
            "row 3, field 'target_dist.items': must be an item in [0, 3)",
        ),
        (lambda: ips(_slots(items={(5, 0): 2})), DataError, "row 5, field 'target_dist.items': an item appears twice"),
        (lambda: ips(_slots(items={(0, 2): -1})), DataError, "row 0, field 'target_dist': padding (item -1) must"),
        (lambda: ips(_slots(probability={(1, 0): 0.7})), DataError, "row 1, field 'target_dist': must sum to 1"),
        (lambda: ips(SlotTarget(np.zeros((6, 2), int), np.full((6, 3), 0.5))), DataError, "must have shape (6, 2)"),
        (lambda: ips(SlotTarget(np.zeros((6, 3)), np.full((6, 3), 1 / 3))), DataError, "items must be integers"),
        (
            lambda: ips(SlotTarget.from_dense(_target(), np.ones(5))),
            DataError,
            "field 'target_dist.expected_weight': must have shape (6,)",
        ),
        (
            lambda: ips(SlotTarget.from_dense(_target(), np.array([1, 1, 1, 1.5, 1, 1]))),
            DataError,
            "row 3, field 'target_dist.expected_weight': must be a share",
        ),
        (
            lambda: ips(SlotTarget.from_dense(_target(), np.array([1, np.nan, 1, 1, 1, 1]))),
            DataError,
            "row 1, field 'target_dist.expected_weight'",
        ),
    ],
)
def test_bad_inputs_name_the_culprit(call: Any, error: type[Exception], fragment: str) -> None:
    with pytest.raises(error) as info:
        call()
    assert fragment in str(info.value)


def _slots(
    items: dict[tuple[int, int], int] | None = None, probability: dict[tuple[int, int], float] | None = None
) -> SlotTarget:
    """The tiny target as a `SlotTarget` over every item, with some cells changed."""
    target = SlotTarget.from_dense(_target())
    changed_items, changed_probability = target.items.copy(), target.probability.copy()
    for cell, item in (items or {}).items():
        changed_items[cell] = item
    for cell, value in (probability or {}).items():
        changed_probability[cell] = value
    return SlotTarget(changed_items, changed_probability)


def _other_catalogue() -> ImpressionLog:
    return ImpressionLog(round=[0], position=[0], item=[3], reward=[0.0], propensity=[1.0], n_items=4, n_positions=2)
