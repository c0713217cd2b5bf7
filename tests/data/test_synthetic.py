"""The synthetic shop: deterministic, valid, shaped like a real shop, and true to its hidden truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lmrec.data.columns import Columns
from lmrec.data.ingest import import_path
from lmrec.data.store import Store
from lmrec.data.synthetic import (
    ShopConfig,
    ShopTruth,
    generate_shop,
    load_shop_into_store,
    validated_tables,
    write_shop,
)
from lmrec.data.synthetic.shop import Shop
from lmrec.diagnostics import DataError


@pytest.fixture(scope="module")
def shop() -> Shop:
    return generate_shop(ShopConfig(n_users=400, n_items=500, seed=3))


def test_same_config_same_shop_and_seed_matters(shop: Shop) -> None:
    again = generate_shop(ShopConfig(n_users=400, n_items=500, seed=3))
    for name in ("items", "users", "events"):
        pd.testing.assert_frame_equal(getattr(shop, name), getattr(again, name))
    np.testing.assert_array_equal(shop.truth.user_taste, again.truth.user_taste)
    other = generate_shop(ShopConfig(n_users=400, n_items=500, seed=4))
    assert not shop.items[Columns.Title].equals(other.items[Columns.Title])


def test_catalogue_does_not_depend_on_the_number_of_users(shop: Shop) -> None:
    bigger = generate_shop(ShopConfig(n_users=450, n_items=500, seed=3))
    pd.testing.assert_frame_equal(shop.items, bigger.items)


def test_every_row_is_valid_and_ids_are_unique(shop: Shop) -> None:
    tables = validated_tables(shop)
    assert len(tables["items"].valid) == 500 and len(tables["users"].valid) == 400
    assert len(tables["events"].valid) == len(shop.events)
    assert shop.items[Columns.Item].is_unique and shop.events[Columns.Event].is_unique
    assert set(shop.events[Columns.Type]) == {"view", "cart", "purchase"}


def test_products_have_meaningful_text_prices_and_margins(shop: Shop) -> None:
    items = shop.items
    for row in items.head(50).itertuples():
        assert str(row.brand) in str(row.title)
        assert len(str(row.description).split()) >= 12
        assert str(row.category).count(" > ") >= 1
        assert 0.0 < float(row.attributes["margin"]) < 1.0
    prices = items[Columns.Price].to_numpy(dtype=float)
    assert (prices > 0).all() and np.median(prices) < prices.max() / 5  # a long-tailed price range
    by_category = items.groupby(Columns.Category)[Columns.Price].median()
    assert by_category.max() / by_category.min() > 5  # categories differ in price level
    assert items[Columns.Category].nunique() >= 10 and items[Columns.Brand].nunique() >= 20


def test_sessions_follow_the_funnel(shop: Shop) -> None:
    events = shop.events
    session = events[Columns.Context].map(lambda c: c["session"])
    views = set(zip(events[Columns.User], events[Columns.Item], session, strict=True))
    carts = events[events[Columns.Type] == "cart"]
    cart_sessions = session[carts.index]
    assert all(key in views for key in zip(carts[Columns.User], carts[Columns.Item], cart_sessions, strict=True))
    first_cart = carts.groupby([Columns.User, Columns.Item])[Columns.Timestamp].min()
    purchases = events[events[Columns.Type] == "purchase"]
    for row in purchases.itertuples():
        assert first_cart[(row.user_id, row.item_id)] <= row.timestamp  # bought only after a basket add
    assert purchases[Columns.Value].notna().all()
    counts = events[Columns.Type].value_counts()
    assert counts["view"] > 3 * counts["cart"] > 3 * 0.3 * counts["purchase"]  # a funnel, narrowing


def test_popularity_is_skewed_and_products_arrive_over_time(shop: Shop) -> None:
    counts = np.sort(shop.events[Columns.Item].value_counts().to_numpy())[::-1]
    top_tenth = counts[: max(1, len(counts) // 10)].sum() / counts.sum()
    assert top_tenth > 0.35
    created = dict(zip(shop.items[Columns.Item], shop.items[Columns.CreatedAt], strict=True))
    launched_during = shop.items[Columns.CreatedAt] > shop.config.start
    assert 0.2 < launched_during.mean() < 0.4  # 30% of the catalogue arrives during the horizon
    first_seen = shop.events.groupby(Columns.Item)[Columns.Timestamp].min()
    assert all(first_seen[item] >= created[item] for item in first_seen.index)
    registered = dict(zip(shop.users[Columns.User], shop.users[Columns.CreatedAt], strict=True))
    user_first = shop.events.groupby(Columns.User)[Columns.Timestamp].min()
    assert all(user_first[user] >= registered[user] for user in user_first.index)


def test_behaviour_follows_the_hidden_truth(shop: Shop) -> None:
    """Users view items of higher true utility than the catalogue at large, and buy the best of those."""
    user_pos = pd.Series(np.arange(len(shop.users)), index=shop.users[Columns.User])
    item_pos = pd.Series(np.arange(len(shop.items)), index=shop.items[Columns.Item])
    events = shop.events
    users = user_pos[events[Columns.User]].to_numpy()
    items = item_pos[events[Columns.Item]].to_numpy()
    utility = shop.truth.utility(users, items)
    rng = np.random.default_rng(0)
    random_items = rng.integers(0, len(shop.items), size=len(users))
    baseline = shop.truth.utility(users, random_items)
    viewed = (events[Columns.Type] == "view").to_numpy()
    bought = (events[Columns.Type] == "purchase").to_numpy()
    assert utility[viewed].mean() > baseline.mean() + 0.5
    assert utility[bought].mean() > utility[viewed].mean()


def test_truth_probabilities_broadcast_and_check_positions(shop: Shop) -> None:
    truth = shop.truth
    matrix = truth.click_probability(np.arange(5)[:, None], np.arange(7)[None, :])
    assert matrix.shape == (5, 7) and ((matrix > 0) & (matrix < 1)).all()
    pairs = truth.click_probability(np.array([1, 2]), np.array([3, 4]))
    np.testing.assert_allclose(pairs, matrix[[1, 2], [3, 4]])
    at = truth.click_probability_at(np.array([1, 1]), np.array([3, 3]), np.array([0, 3]))
    assert at[1] == pytest.approx(at[0] / 4.0)  # examination 1 / (1 + 3) with position_bias 1
    with pytest.raises(DataError, match="items"):
        truth.click_probability(np.array([0]), np.array([len(shop.items)]))


def test_write_import_and_truth_round_trip(shop: Shop, tmp_path: Path) -> None:
    files = write_shop(shop, tmp_path / "shop")
    store = Store.open(tmp_path / "shop.db")
    read = {kind: import_path(store, files[kind]) for kind in ("items", "users", "events")}
    assert all(summary.rejected == 0 for summary in read.values())
    assert store.counts()["events"] == len(shop.events)
    assert import_path(store, files["events"]).duplicates == len(shop.events)
    loaded = ShopTruth.load(files["truth"])
    users, items = np.arange(10)[:, None], np.arange(20)[None, :]
    np.testing.assert_array_equal(loaded.click_probability(users, items), shop.truth.click_probability(users, items))
    assert loaded.categories == shop.truth.categories
    stored = store.dataset()
    assert stored.n_items == len(shop.items) and stored.n_interactions == len(shop.events)


def test_load_into_store_is_idempotent(shop: Shop, tmp_path: Path) -> None:
    store = Store.open(tmp_path / "direct.db")
    first = load_shop_into_store(shop, store)
    assert first == {"items": 500, "users": 400, "events": len(shop.events), "duplicates": 0}
    second = load_shop_into_store(shop, store)
    assert second["events"] == 0 and second["duplicates"] == len(shop.events)


def test_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="n_users"):
        ShopConfig(n_users=3)
    with pytest.raises(ValueError, match="colour"):
        ShopConfig(colour="red")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="2200"):
        ShopConfig(days=3_650, start=7_200_000_000)


def test_truth_load_names_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read the shop truth"):
        ShopTruth.load(tmp_path / "nothing-here")
    (tmp_path / "truth.json").write_text('{"format": 99}')
    with pytest.raises(DataError, match="format"):
        ShopTruth.load(tmp_path)
