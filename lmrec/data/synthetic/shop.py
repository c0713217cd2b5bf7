"""`generate_shop`: the whole synthetic shop, and its way out to files or into a store."""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lmrec.data.schema import Validated, validate_events, validate_items, validate_users
from lmrec.data.store import Store
from lmrec.data.synthetic.catalogue import build_catalogue
from lmrec.data.synthetic.config import ShopConfig
from lmrec.data.synthetic.population import build_population
from lmrec.data.synthetic.sessions import SessionSimulator
from lmrec.data.synthetic.truth import ShopTruth
from lmrec.diagnostics import DataError

log = logging.getLogger(__name__)

#: File names `write_shop` uses inside its folder.
ITEMS_FILE = "items.jsonl"
USERS_FILE = "users.jsonl"
EVENTS_FILE = "events.jsonl"
CONFIG_FILE = "shop.json"
TRUTH_FOLDER = "truth"


@dataclass(frozen=True, eq=False)
class Shop:
    """A generated shop: its tables (ready for validation and the store) and its hidden truth.

    Attributes:
        config: the settings it was generated from.
        items: columns `ITEM_COLUMNS`, one row per product, in launch order.
        users: columns `USER_COLUMNS`, one row per user, in registration order.
        events: columns `EVENT_COLUMNS`, sorted by time; `context` holds session, device and page.
        truth: the hidden truth; its user and item positions are rows of `users` and `items`.
    """

    config: ShopConfig
    items: pd.DataFrame
    users: pd.DataFrame
    events: pd.DataFrame
    truth: ShopTruth


def generate_shop(config: ShopConfig | None = None) -> Shop:
    """Generate the synthetic shop for `config` (the defaults when None); deterministic per seed.

    Catalogue, users and sessions draw from separate streams of the seed, so for example a
    different number of users leaves the catalogue unchanged.
    """
    config = config or ShopConfig()
    started = time.perf_counter()
    catalogue_rng, users_rng, sessions_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(3)
    )
    catalogue = build_catalogue(config, catalogue_rng)
    population = build_population(config, catalogue, users_rng)
    truth = ShopTruth(
        user_taste=population.taste,
        item_factors=catalogue.factors,
        item_quality=catalogue.quality,
        item_exposure=catalogue.exposure,
        item_category=catalogue.category,
        item_brand=catalogue.brand,
        item_price_z=catalogue.price_z,
        user_affinity=population.affinity,
        user_price_sensitivity=population.price_sensitivity,
        user_brand=population.brand,
        user_brand_loyalty=population.brand_loyalty,
        categories=catalogue.categories,
        brands=catalogue.brands,
        click_bias=config.click_bias,
        cart_bias=config.cart_bias,
        purchase_bias=config.purchase_bias,
        position_bias=config.position_bias,
    )
    events = SessionSimulator(config, catalogue, population, truth, sessions_rng).run()
    log.info(
        "generated a shop of %d items, %d users, %d events in %.1fs",
        len(catalogue.items),
        len(population.users),
        len(events),
        time.perf_counter() - started,
    )
    return Shop(config, catalogue.items, population.users, events, truth)


def write_shop(shop: Shop, folder: Path) -> dict[str, Path]:
    """Write the shop as JSON-lines files with lmrec column names, plus its config and truth.

    Writes `items.jsonl`, `users.jsonl`, `events.jsonl` (tags as lists, attributes and context as
    objects, missing values as null), `shop.json` (the config) and `truth/`. Import the three
    tables in that order (items, users, events) with `lmrec import`.

    Returns:
        The paths, under the keys `folder`, `items`, `users`, `events`, `config` and `truth`.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "folder": folder,
        "items": folder / ITEMS_FILE,
        "users": folder / USERS_FILE,
        "events": folder / EVENTS_FILE,
        "config": folder / CONFIG_FILE,
        "truth": folder / TRUTH_FOLDER,
    }
    for key, frame in (("items", shop.items), ("users", shop.users), ("events", shop.events)):
        _write_jsonl(frame, paths[key])
    paths["config"].write_text(shop.config.model_dump_json(indent=2), encoding="utf-8")
    shop.truth.save(paths["truth"])
    return paths


def _write_jsonl(frame: pd.DataFrame, path: Path) -> None:
    columns = [frame[c].tolist() for c in frame.columns]
    names = [str(c) for c in frame.columns]
    with path.open("w", encoding="utf-8") as handle:
        for values in zip(*columns, strict=True):
            record = {name: _json_value(value) for name, value in zip(names, values, strict=True)}
            handle.write(json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n")


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)  # timestamps and created_at as whole seconds
    return value


def validated_tables(shop: Shop) -> dict[str, Validated]:
    """The shop's items, users and events as `lmrec.data.schema` normalises them.

    Raises:
        DataError: any row rejected (a bug in the generator), naming the first reject.
    """
    checked = {
        "items": validate_items(shop.items),
        "users": validate_users(shop.users),
        "events": validate_events(shop.events),
    }
    for kind, result in checked.items():
        if len(result.rejects):
            first = result.rejects.iloc[0]
            raise DataError(
                f"the synthetic shop produced {len(result.rejects)} invalid {kind}: {first['reason']}",
                field=str(first["field"]),
                row=int(first["row"]),
                value=first["value"],
            )
    return checked


def load_shop_into_store(shop: Shop, store: Store) -> dict[str, int]:
    """Validate the shop and write it into `store` in one transaction.

    Returns:
        Rows written per table (`items`, `users`, `events`) and `duplicates`: events whose id
        the store already held (all of them when the same shop is loaded twice).
    """
    checked = validated_tables(shop)
    with store.writer() as writer:
        n_items = writer.upsert_items(checked["items"].valid)
        n_users = writer.upsert_users(checked["users"].valid)
        result = writer.add_events(checked["events"].valid)
    return {"items": n_items, "users": n_users, "events": result.stored, "duplicates": result.duplicates}
