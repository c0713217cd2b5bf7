"""The synthetic shop: a deterministic e-commerce world with a hidden truth (DESIGN section 8).

A catalogue of products across categories, with titles and descriptions built from per-category
word banks, brands, log-normal prices and margins; users with latent tastes, category affinities,
price sensitivity and brand loyalty; sessions that go view -> cart -> purchase; a power-law
popularity tail; products launched over the horizon. The same `ShopConfig` always gives the same
shop, and its `ShopTruth` gives the simulator the true click and purchase probabilities.

    shop = generate_shop(ShopConfig(n_users=500, seed=1))
    write_shop(shop, Path("shop"))            # items/users/events .jsonl + truth/
    load_shop_into_store(shop, Store.open("lmrec.db"))
    shop.truth.click_probability(np.array([0, 1]), np.array([5, 7]))
"""

from __future__ import annotations

from lmrec.data.synthetic.config import ShopConfig
from lmrec.data.synthetic.shop import Shop, generate_shop, load_shop_into_store, validated_tables, write_shop
from lmrec.data.synthetic.truth import ShopTruth

__all__ = [
    "Shop",
    "ShopConfig",
    "ShopTruth",
    "generate_shop",
    "load_shop_into_store",
    "validated_tables",
    "write_shop",
]
