"""Small datasets with a known answer, for testing models (lmrec's own and users' extensions).

`two_tastes` is a shop of two disjoint halves: shoe lovers only ever touch shoes, cooks only
kitchenware. Any model that learns from behaviour or from item text must recommend a shoe lover
the shoes they have not touched yet before any kitchenware, and the other way round.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lmrec.data.columns import Columns
from lmrec.data.dataset import Dataset
from lmrec.data.schema import validate_events, validate_items, validate_users

SHOES = [
    "red running shoes",
    "blue trail running sneakers",
    "lightweight marathon racing shoes",
    "leather hiking boots",
    "waterproof walking boots",
    "canvas tennis sneakers",
    "cushioned jogging trainers",
    "suede ankle boots",
    "minimalist barefoot running shoes",
    "high-top basketball sneakers",
]
KITCHEN = [
    "stainless steel frying pan",
    "non-stick cooking pot",
    "cast iron skillet",
    "chef's kitchen knife",
    "wooden cutting board",
    "copper saucepan",
    "ceramic baking dish",
    "silicone spatula set",
    "enamel dutch oven",
    "carbon steel wok",
]


def two_tastes(n_users_per_taste: int = 20, items_per_user: int = 6, seed: int = 0) -> Dataset:
    """Users `shoe-N` touch only items `shoe-0..9`, users `cook-N` only `kitchen-0..9`.

    Each user touches `items_per_user` distinct items of their half, in a random order over
    time; item popularity within a half is skewed so that rankings have no ties. The user table
    also holds `newcomer`, who has no events.
    """
    rng = np.random.default_rng(seed)
    groups = {"shoe": SHOES, "kitchen": KITCHEN}
    users, items, stamps = [], [], []
    for group, (prefix, titles) in enumerate(groups.items()):
        user_prefix = "shoe" if prefix == "shoe" else "cook"
        popularity = np.linspace(2.0, 1.0, len(titles))
        popularity /= popularity.sum()
        for u in range(n_users_per_taste):
            chosen = rng.choice(len(titles), size=items_per_user, replace=False, p=popularity)
            for step, i in enumerate(chosen):
                users.append(f"{user_prefix}-{u}")
                items.append(f"{prefix}-{i}")
                stamps.append(1_700_000_000 + group * 10_000 + u * 100 + step)
    events = pd.DataFrame({Columns.User: users, Columns.Item: items, Columns.Timestamp: stamps})
    catalogue = pd.DataFrame(
        {
            Columns.Item: [f"{p}-{i}" for p, titles in groups.items() for i in range(len(titles))],
            Columns.Title: SHOES + KITCHEN,
            Columns.Category: ["Shoes"] * len(SHOES) + ["Kitchen"] * len(KITCHEN),
        }
    )
    people = pd.DataFrame({Columns.User: ["newcomer"]})
    return Dataset.from_frames(
        validate_events(events).valid, validate_items(catalogue).valid, validate_users(people).valid
    )


def two_tastes_with_new_items(titles: dict[str, str]) -> Dataset:
    """`two_tastes` (its items by title alone) plus the items `titles` (id -> title), which nobody
    has touched yet: what a model sees of items launched after its training data."""
    base = two_tastes()
    frame = base.interactions
    events = pd.DataFrame(
        {
            Columns.User: base.users.id(frame[Columns.UserIdx].to_numpy()),
            Columns.Item: base.items.id(frame[Columns.ItemIdx].to_numpy()),
            Columns.Timestamp: frame[Columns.Timestamp].to_numpy(),
        }
    )
    ids = [f"shoe-{i}" for i in range(len(SHOES))] + [f"kitchen-{i}" for i in range(len(KITCHEN))] + list(titles)
    items = pd.DataFrame({Columns.Item: ids, Columns.Title: [*SHOES, *KITCHEN, *titles.values()]})
    return Dataset.from_frames(validate_events(events).valid, validate_items(items).valid)


def taste_of(item_or_user_id: str) -> str:
    """`shoe` or `kitchen` for an item id of `two_tastes`; `shoe` or `cook` mapped likewise for users."""
    head = item_or_user_id.split("-")[0]
    return "kitchen" if head in ("kitchen", "cook") else "shoe"
