"""ImpressionLog validation and helpers, context-free policy recovery, and the Open Bandit reader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from lmrec.diagnostics import ConfigError, DataError
from lmrec.simulation.logs import ImpressionLog, context_free_policy, read_open_bandit


def tiny(**overrides: Any) -> ImpressionLog:
    """Three rounds of two slots over three items; `overrides` replace fields."""
    fields: dict[str, Any] = {
        "round": [0, 0, 1, 1, 2, 2],
        "position": [0, 1, 0, 1, 0, 1],
        "item": [0, 1, 1, 2, 0, 2],
        "reward": [1.0, 0.0, 0.0, 1.0, 1.0, 0.0],
        "propensity": [0.5, 0.25, 0.25, 0.5, 0.5, 0.5],
        "n_items": 3,
        "n_positions": 2,
    }
    fields.update(overrides)
    return ImpressionLog(**fields)


def test_valid_log_and_helpers() -> None:
    impressions = tiny(context=np.arange(12.0).reshape(6, 2))
    assert len(impressions) == 6
    assert impressions.n_rounds == 3
    assert impressions.item.dtype == np.int64 and impressions.reward.dtype == np.float64
    part = impressions.take([4, 1])
    assert part.item.tolist() == [0, 1] and part.round.tolist() == [2, 0]
    assert part.context is not None and part.context.tolist() == [[8.0, 9.0], [2.0, 3.0]]
    codes, n_rounds = tiny(round=[7, 7, 3, 3, 9, 9]).round_codes()
    assert codes.tolist() == [1, 1, 0, 0, 2, 2] and n_rounds == 3


def test_float_ids_that_are_whole_numbers_are_accepted() -> None:
    assert tiny(item=[0.0, 1.0, 1.0, 2.0, 0.0, 2.0]).item.dtype == np.int64


def test_resample_rounds_keeps_each_round_whole() -> None:
    impressions = tiny()
    for seed in range(5):
        sample = impressions.resample_rounds(seed)
        assert len(sample) == 6 and sample.n_rounds == 3
        # every resampled round is one original round: slots 0 and 1 with the original items
        for r in range(3):
            rows = sample.round == r
            assert sample.position[rows].tolist() == [0, 1]
            pair = tuple(sample.item[rows].tolist())
            assert pair in {(0, 1), (1, 2), (0, 2)}


def test_round_folds_keep_each_round_whole_and_balance_the_folds() -> None:
    impressions = tiny(round=[5, 5, 1, 1, 9, 9])
    for seed in range(5):
        fold = impressions.round_folds(2, seed)
        assert fold[0] == fold[1] and fold[2] == fold[3] and fold[4] == fold[5]
        assert sorted(np.bincount(fold[::2], minlength=2).tolist()) == [1, 2]  # 3 rounds over 2 folds
    orders = {tuple(impressions.round_folds(3, seed)[::2].tolist()) for seed in range(20)}
    assert all(sorted(order) == [0, 1, 2] for order in orders) and len(orders) > 1  # seeded shuffles
    assert np.array_equal(impressions.round_folds(3, 7), impressions.round_folds(3, 7))


@pytest.mark.parametrize(
    ("overrides", "error", "fragment"),
    [
        (
            {"propensity": [0.5, 0.25, 0.0, 0.5, 0.5, 0.5]},
            DataError,
            "row 2, field 'propensity': must be a probability",
        ),
        ({"propensity": [0.5, 0.25, 0.25, 1.5, 0.5, 0.5]}, DataError, "row 3, field 'propensity'"),
        ({"propensity": [0.5, np.nan, 0.25, 0.5, 0.5, 0.5]}, DataError, "row 1, field 'propensity'"),
        ({"propensity": [0.5, 0.25, 0.25, 0.5, 0.5, -0.1]}, DataError, "(got -0.1)"),
        ({"position": [0, 1, 0, 2, 0, 1]}, DataError, "row 3, field 'position': must be in [0, 2) (got 2)"),
        ({"position": [0, -1, 0, 1, 0, 1]}, DataError, "row 1, field 'position'"),
        ({"item": [0, 1, 1, 2, 3, 2]}, DataError, "row 4, field 'item': must be in [0, 3) (got 3)"),
        ({"item": [0, 1, 1.5, 2, 0, 2]}, DataError, "row 2, field 'item': must be an integer"),
        ({"item": ["1", "2", "c", "0", "1", "2"]}, DataError, "row 2, field 'item': must be a number (got 'c')"),
        ({"reward": [1.0, 0.0, 0.0, 1.0, 1.0]}, DataError, "field 'reward': must be a 1-d array of 6 values"),
        ({"reward": [1.0, 0.0, np.inf, 1.0, 1.0, 0.0]}, DataError, "row 2, field 'reward': must be a finite"),
        ({"propensity": [[0.5] * 6]}, DataError, "field 'propensity': must be a 1-d array"),
        ({"context": np.zeros((5, 2))}, DataError, "field 'context': must be a numeric array of shape (6, d)"),
        ({"context": np.array([[0.0], [0.0], [0.0], [np.nan], [0.0], [0.0]])}, DataError, "row 3, field 'context'"),
        ({"n_items": 0}, DataError, "field 'n_items': must be a positive integer"),
        ({"n_positions": 1.5}, DataError, "field 'n_positions'"),
    ],
)
def test_bad_logs_name_the_culprit(overrides: dict[str, Any], error: type[Exception], fragment: str) -> None:
    with pytest.raises(error) as info:
        tiny(**overrides)
    assert fragment in str(info.value)


def test_context_free_policy_known_answer() -> None:
    # slot 0: item 0 twice (propensities 0.2, 0.6), item 1 once (0.5); slot 1: item 2 once (0.4)
    impressions = ImpressionLog(
        round=[0, 1, 2, 3],
        position=[0, 0, 0, 1],
        item=[0, 0, 1, 2],
        reward=[0.0, 0.0, 0.0, 0.0],
        propensity=[0.2, 0.6, 0.5, 0.4],
        n_items=3,
        n_positions=3,
    )
    frequency = context_free_policy(impressions, "frequency")
    np.testing.assert_allclose(frequency[0], [2 / 3, 1 / 3, 0.0])
    np.testing.assert_allclose(frequency[1], [0.0, 0.0, 1.0])
    np.testing.assert_allclose(frequency[2], [1 / 3, 1 / 3, 1 / 3])  # a slot never logged: uniform
    # harmonic means: item 0: 2 / (1/0.2 + 1/0.6) = 0.3, item 1: 0.5 -> normalised 0.375, 0.625
    np.testing.assert_allclose(context_free_policy(impressions, "harmonic")[0], [0.375, 0.625, 0.0])
    # arithmetic means: item 0: 0.4, item 1: 0.5 -> 4/9, 5/9
    np.testing.assert_allclose(context_free_policy(impressions, "mean_propensity")[0], [4 / 9, 5 / 9, 0.0])
    with pytest.raises(ConfigError, match="unknown method"):
        context_free_policy(impressions, "median")  # type: ignore[arg-type]


def test_harmonic_mean_recovers_a_drifting_policy() -> None:
    """A policy whose probabilities drift: harmonic and frequency recover the time average,
    the arithmetic mean of logged propensities overshoots the frequently shown item."""
    rng = np.random.default_rng(0)
    n = 40_000
    p_first = np.where(np.arange(n) < n // 2, 0.1, 0.7)  # item 0's probability, half the time each
    item = (rng.random(n) >= p_first).astype(int)  # 0 with probability p_first
    propensity = np.where(item == 0, p_first, 1 - p_first)
    impressions = ImpressionLog(
        round=np.arange(n), position=np.zeros(n, int), item=item, reward=np.zeros(n), propensity=propensity, n_items=2,
        n_positions=1,
    )  # fmt: skip
    truth = 0.4  # mean of 0.1 and 0.7
    assert context_free_policy(impressions, "frequency")[0, 0] == pytest.approx(truth, abs=0.01)
    assert context_free_policy(impressions, "harmonic")[0, 0] == pytest.approx(truth, abs=0.01)
    assert context_free_policy(impressions, "mean_propensity")[0, 0] > truth + 0.05


# -- the Open Bandit reader ------------------------------------------------------------------


def write_open_bandit(folder: Path, frame: pd.DataFrame, n_items: int = 2) -> Path:
    path = folder / "random" / "all"
    path.mkdir(parents=True)
    frame.to_csv(path / "all.csv")
    pd.DataFrame({"item_id": range(n_items)}).to_csv(path / "item_context.csv")
    return path / "all.csv"


def small_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "timestamp": ["t0", "t0", "t1"],
            "item_id": [0, 1, 1],
            "position": [1, 2, 3],
            "click": [0, 1, 0],
            "propensity_score": [0.5, 0.5, 0.5],
            "user_feature_0": ["a", "a", "b"],
            "user-item_affinity_0": [0.0, 0.0, 1.0],
            "user-item_affinity_1": [0.0, 2.0, 0.0],
        }
    )


def test_read_open_bandit_small_file(tmp_path: Path) -> None:
    write_open_bandit(tmp_path, small_frame())
    impressions = read_open_bandit(tmp_path)
    assert impressions.position.tolist() == [0, 1, 2]  # 1-based in the file
    assert impressions.round.tolist() == [0, 0, 1]  # same timestamp, same request
    assert impressions.n_items == 2 and impressions.n_positions == 3
    assert impressions.context is not None and impressions.context.tolist() == [[0, 0], [0, 2], [1, 0]]


@pytest.mark.parametrize(
    ("change", "error", "fragment"),
    [
        (lambda f: f.drop(columns="propensity_score"), DataError, "all.csv, field 'propensity_score': missing column"),
        (lambda f: f.drop(columns="user-item_affinity_1"), DataError, "'user-item_affinity_1'"),
        (lambda f: f.assign(position=[1, 2, 4]), DataError, "all.csv, row 2, field 'position'"),
        (lambda f: f.assign(propensity_score=[0.5, 0.0, 0.5]), DataError, "all.csv, row 1, field 'propensity'"),
    ],
)
def test_read_open_bandit_bad_files(tmp_path: Path, change: Any, error: type[Exception], fragment: str) -> None:
    write_open_bandit(tmp_path, change(small_frame()))
    with pytest.raises(error) as info:
        read_open_bandit(tmp_path)
    assert fragment in str(info.value)


def test_read_open_bandit_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown Open Bandit policy"):
        read_open_bandit(tmp_path, policy="greedy")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unknown Open Bandit campaign"):
        read_open_bandit(tmp_path, campaign="kids")  # type: ignore[arg-type]
    with pytest.raises(DataError, match=r"all\.csv: no such file"):
        read_open_bandit(tmp_path)


#: Catalogue size and distinct timestamps (rounds) of each file, counted from the files.
OPEN_BANDIT_FILES = {
    ("random", "all"): (80, 9991, 38),
    ("random", "men"): (34, 9989, 46),
    ("random", "women"): (46, 9997, 46),
    ("bts", "all"): (80, 9999, 42),
    ("bts", "men"): (34, 9998, 69),
    ("bts", "women"): (46, 9999, 46),
}


@pytest.mark.data
@pytest.mark.parametrize(("policy", "campaign"), sorted(OPEN_BANDIT_FILES))
def test_read_open_bandit_real_files(shared_data: Path, policy: Any, campaign: Any) -> None:
    n_items, n_rounds, clicks = OPEN_BANDIT_FILES[(policy, campaign)]
    impressions = read_open_bandit(shared_data / "open-bandit", policy, campaign)
    assert len(impressions) == 10_000
    assert impressions.n_items == n_items and impressions.n_rounds == n_rounds
    assert set(impressions.position.tolist()) == {0, 1, 2}
    assert impressions.reward.sum() == clicks and set(impressions.reward.tolist()) <= {0.0, 1.0}
    assert ((impressions.propensity > 0) & (impressions.propensity <= 1)).all()
    assert impressions.context is not None and impressions.context.shape == (10_000, n_items)
    # rows of one request hold different slots
    codes, _ = impressions.round_codes()
    assert len(set(zip(codes.tolist(), impressions.position.tolist(), strict=True))) == 10_000
    if policy == "random":
        # uniform random over the campaign's items, independently per slot as logged
        np.testing.assert_allclose(impressions.propensity, 1.0 / n_items, rtol=1e-12)
    else:
        # Thompson sampling's probabilities drift over the week: the same (item, slot) pair is
        # logged with very different propensities, and their per-pair means do not sum to 1
        pair = impressions.position * n_items + impressions.item
        spread = pd.Series(impressions.propensity).groupby(pair).agg(lambda s: s.max() - s.min())
        assert spread.max() > 0.5
        means = pd.Series(impressions.propensity).groupby([impressions.position, impressions.item]).mean()
        assert (means.groupby(level=0).sum() > 1.5).all()


def test_a_sized_log_measures_its_items_and_slots_after_checking_them() -> None:
    columns = {"round": [0, 0, 1], "position": ["0", "1", "0"], "reward": [1, 0, 0], "propensity": [0.5] * 3}
    log = ImpressionLog.sized(**columns, item=[4, 2, 0])
    assert (log.n_items, log.n_positions) == (5, 2) and log.position.tolist() == [0, 1, 0]
    assert ImpressionLog.sized(**columns, item=[4, 2, 0], n_items=9).n_items == 9
    with pytest.raises(DataError, match=r"row 1, field 'item': must be a number \(got 'two'\)"):
        ImpressionLog.sized(**columns, item=[4, "two", 0])
