"""Worlds with a known truth: calibration, held-back items, drift, the oracle, the shop."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import logit

from lmrec.data.columns import Columns
from lmrec.data.dataset import Dataset
from lmrec.data.schema import validate_events
from lmrec.data.synthetic.truth import sigmoid
from lmrec.diagnostics import ConfigError, DataError
from lmrec.simulation.worlds import SemiSyntheticWorld, ShopWorld, World, top_k_rows

HORIZON = 2_000


def clustered_dataset(n_users: int = 120, n_items: int = 60, per_user: int = 12, seed: int = 0) -> Dataset:
    """Users of three taste groups, each touching mostly its group's third of the catalogue."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(n_users):
        group = user % 3
        weights = np.where(np.arange(n_items) % 3 == group, 8.0, 1.0) * np.linspace(2.0, 1.0, n_items)
        items = rng.choice(n_items, size=per_user, replace=False, p=weights / weights.sum())
        rows += [(f"u{user}", f"i{item}", 1_000 + 10 * user + step) for step, item in enumerate(items)]
    events = pd.DataFrame(rows, columns=[Columns.User, Columns.Item, Columns.Timestamp])
    return Dataset.from_frames(validate_events(events).valid)


@pytest.fixture(scope="module")
def data() -> Dataset:
    return clustered_dataset()


def semi(data: Dataset, **config: object) -> SemiSyntheticWorld:
    settings: dict[str, object] = {"horizon": HORIZON, "truth_config": {"l2": 10.0}, "top_k": 5}
    settings.update(config)
    return SemiSyntheticWorld.build(data, settings)


@pytest.fixture(scope="module")
def world(data: Dataset) -> SemiSyntheticWorld:
    return semi(data)


def test_worlds_follow_the_protocol(world: SemiSyntheticWorld) -> None:
    assert isinstance(world, World)
    assert world.n_users == 120 and world.n_items == 60 and world.horizon == HORIZON
    assert world.item_vectors.shape[0] == 60
    np.testing.assert_allclose(np.linalg.norm(world.item_vectors, axis=1), 1.0, atol=1e-5)


def test_intercept_calibrates_the_mean_top_k_attraction(data: Dataset) -> None:
    world = semi(data, drift=0.0, top_ctr=0.08)
    rows = world.attraction_rows(np.arange(world.n_users), HORIZON)  # every item released, no drift
    top = -np.sort(-rows, axis=1)[:, :5]
    assert top.mean() == pytest.approx(0.08, rel=1e-3)


def test_held_back_items_leave_the_history_and_arrive_spread_out(world: SemiSyntheticWorld, data: Dataset) -> None:
    new = world.new_items
    assert len(new) == round(0.2 * 60)
    history_items = world.history.interactions[Columns.ItemIdx].to_numpy()
    assert not np.isin(history_items, new).any()
    assert world.history.n_interactions == (~np.isin(data.interactions[Columns.ItemIdx].to_numpy(), new)).sum()
    rounds = np.sort(world.release_round[new])
    assert rounds[0] >= 1 and rounds[-1] <= 0.5 * HORIZON
    assert len(np.unique(rounds)) == len(new)  # evenly spaced, one release at a time
    assert (world.release_round[np.setdiff1d(np.arange(60), new)] == 0).all()
    assert world.available(0).sum() == 60 - len(new)
    assert world.available(HORIZON).all()


def test_uniform_and_popularity_sampling_differ(data: Dataset) -> None:
    counts = data.item_counts()
    uniform = semi(data, new_item_sampling="uniform", seed=3).new_items
    popular = semi(data, new_item_sampling="popularity", seed=3).new_items
    assert counts[popular].sum() > counts[uniform].sum()


def test_seen_items_never_attract(world: SemiSyntheticWorld) -> None:
    users = np.arange(world.n_users)
    rows = world.attraction_rows(users, 500)
    seen = world.history.matrix()[world.user_rows].toarray() > 0
    assert (rows[seen] == 0).all()
    assert (rows[~seen] > 0).all()


def test_click_probability_agrees_with_rows(world: SemiSyntheticWorld) -> None:
    users = np.array([0, 5, 7, 7])
    items = np.array([3, 10, 0, 59])
    rows = world.attraction_rows(users, 700)
    paired = world.click_probability(users, items, 700)
    np.testing.assert_allclose(paired, rows[np.arange(4), items], rtol=1e-4)  # rows are float32
    matrix = world.click_probability(users[:, None], np.arange(60)[None, :], 700)
    np.testing.assert_allclose(matrix, rows, rtol=1e-4)


def test_drift_moves_probabilities_gradually(data: Dataset) -> None:
    world = semi(data, drift=1.0)
    users = np.arange(world.n_users)
    start, step, end = (world.attraction_rows(users, r) for r in (0, 1, HORIZON))
    unseen = start > 0
    one_round = np.abs(logit(step[unseen]) - logit(start[unseen]))
    whole = logit(end[unseen]) - logit(start[unseen])
    assert one_round.max() < 0.05  # about drift / sqrt(horizon) per round at most
    assert 0.6 < whole.std() < 1.4  # the offset's std reaches `drift` by the end
    still = semi(data, drift=0.0)
    np.testing.assert_array_equal(still.attraction_rows(users, 0), still.attraction_rows(users, HORIZON))


def test_every_item_drifts_by_the_configured_std() -> None:
    """With a few very popular items (heavy-tailed real factors), each item's offset still has
    standard deviation `drift` at the end, not only the average item's (it ranged from 0.23 to 3.1
    times `drift` when each factor coordinate was standardised instead)."""
    rng = np.random.default_rng(0)
    n_items = 60
    weights = 1 / np.arange(1, n_items + 1) ** 1.2  # Zipf popularity
    rows = [
        (f"u{user}", f"i{item}", 1_000 + 10 * user + step)
        for user in range(300)
        for step, item in enumerate(rng.choice(n_items, size=8, replace=False, p=weights / weights.sum()))
    ]
    events = pd.DataFrame(rows, columns=[Columns.User, Columns.Item, Columns.Timestamp])
    world = semi(Dataset.from_frames(validate_events(events).valid), drift=1.0)
    users = np.arange(world.n_users)
    start, end = world.attraction_rows(users, 0), world.attraction_rows(users, HORIZON)
    unseen = start > 0
    offset = np.full(start.shape, np.nan)
    offset[unseen] = logit(end[unseen]) - logit(start[unseen])  # (U, I), NaN where seen
    spread, n = np.nanstd(offset, axis=0), unseen.sum(axis=0)  # (I,) over the n users who have not seen it
    z = (spread[n >= 5] - 1.0) * np.sqrt(2 * n[n >= 5])  # a sample std's error is about std / sqrt(2n)
    assert np.abs(z).max() < 4  # 29 with per-coordinate standardisation


def test_oracle_lists_are_the_best_available_items(world: SemiSyntheticWorld) -> None:
    users = np.arange(0, world.n_users, 7)
    for at in (0, 600, HORIZON):
        rows = world.attraction_rows(users, at)
        lists = world.oracle_lists(users, at, 5, rows)
        available = world.available(at)
        for row, items in zip(rows, lists, strict=True):
            reference = np.sort(np.where(available, row, -1.0))[::-1][:5]  # plain sort of the available values
            np.testing.assert_allclose(row[items], reference)
            assert available[items].all()


def test_examination_probability_is_position_bias(world: SemiSyntheticWorld) -> None:
    np.testing.assert_allclose(world.examination_probability(np.arange(4)), [1, 1 / 2, 1 / 3, 1 / 4])
    with pytest.raises(DataError, match="positions"):
        world.examination_probability(np.array([-1]))


def test_same_seed_same_world(data: Dataset) -> None:
    a, b = semi(data, seed=5), semi(data, seed=5)
    users = np.arange(a.n_users)
    np.testing.assert_array_equal(a.attraction_rows(users, 900), b.attraction_rows(users, 900))
    np.testing.assert_array_equal(a.release_round, b.release_round)
    assert not np.array_equal(a.new_items, semi(data, seed=6).new_items)


def test_user_sample_and_a_prefitted_truth(data: Dataset) -> None:
    from lmrec.models import create_model

    truth = create_model("ease", {"l2": 10.0}).fit(data)
    sampled = SemiSyntheticWorld.build(data, {"horizon": HORIZON, "max_users": 40, "top_k": 5}, truth=truth)
    assert sampled.n_users == 40 and len(np.unique(sampled.user_rows)) == 40
    full = semi(data)
    rows = sampled.attraction_rows(np.arange(40), 0)
    assert rows.shape == (40, 60) and np.isfinite(rows).all() and full.n_users == 120


def test_top_k_rows_matches_a_sort() -> None:
    values = np.random.default_rng(0).random((6, 50)).astype(np.float32)
    np.testing.assert_array_equal(top_k_rows(values, 4), np.argsort(-values, axis=1)[:, :4])
    assert top_k_rows(values, 0).shape == (6, 0)


@pytest.fixture(scope="module")
def shop_world() -> ShopWorld:
    return ShopWorld.build({"horizon": HORIZON, "drift": 0.0, "shop": {"n_users": 60, "n_items": 50, "seed": 2}})


def test_shop_world_reads_the_shops_hidden_truth(shop_world: ShopWorld) -> None:
    from lmrec.data.synthetic import ShopConfig, generate_shop

    shop = generate_shop(ShopConfig(n_users=60, n_items=50, seed=2))
    users = np.arange(shop_world.n_users)
    rows = shop_world.attraction_rows(users, 10)
    truth = shop.truth.click_probability(users[:, None], np.arange(50)[None, :])
    unseen = rows > 0
    np.testing.assert_allclose(rows[unseen], truth[unseen], rtol=1e-4)  # float32 rows
    assert shop_world.position_bias == shop.truth.position_bias


def test_shop_releases_later_launches_in_launch_order(shop_world: ShopWorld) -> None:
    late = shop_world.release_round > 0
    assert late.any() and (~late).any()
    assert shop_world.history.item_counts()[late].sum() == 0  # launched after the history's cut
    assert (np.diff(shop_world.release_round[late]) >= 0).all()  # item rows are in launch order
    assert shop_world.describe()["kind"] == "shop"


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({"new_item_share": 1.0}, "new_item_share"),
        ({"release_start": 0.8, "release_end": 0.2}, "release_end"),
        ({"horizon": 0}, "horizon"),
        ({"sharpness": -1.0}, "sharpness"),
        ({"new_item_sampling": "random"}, "new_item_sampling"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_world_configs_name_the_field(data: Dataset, config: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        SemiSyntheticWorld.build(data, config)


def test_bad_truth_model_and_bad_positions(data: Dataset, world: SemiSyntheticWorld) -> None:
    with pytest.raises(ConfigError, match="unknown model 'nope'"):
        semi(data, truth_model="nope")
    with pytest.raises(DataError, match=r"items.*out of range"):
        world.click_probability(np.array([0]), np.array([60]), 0)
    with pytest.raises(DataError, match="integers"):
        world.click_probability(np.array([0.5]), np.array([1]), 0)


def test_logistic_link_is_the_shops_sigmoid() -> None:
    np.testing.assert_allclose(sigmoid(np.array([0.0, 2.0])), [0.5, 1 / (1 + np.exp(-2.0))])
