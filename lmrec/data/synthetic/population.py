"""The synthetic shop's users: profiles and hidden tastes, category affinities, price sensitivity, loyalty."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lmrec.data.columns import USER_COLUMNS, Columns
from lmrec.data.synthetic.catalogue import DAY, Catalogue
from lmrec.data.synthetic.config import ShopConfig

#: Price segments, their shares and median price sensitivity.
SEGMENTS: tuple[tuple[str, float, float], ...] = (("budget", 0.35, 1.2), ("mainstream", 0.45, 0.6),
                                                  ("premium", 0.2, 0.15))  # fmt: skip
AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
AGE_SHARES = (0.14, 0.27, 0.23, 0.17, 0.12, 0.07)
DEVICES = ("mobile", "desktop", "tablet")
DEVICE_SHARES = (0.6, 0.3, 0.1)
#: How long before the horizon the earliest users registered, in days.
MEMBERSHIP_DAYS = 730.0


@dataclass(frozen=True, eq=False)
class Population:
    """Users in order of registration (row u is user position u) with their hidden traits.

    Attributes:
        users: the user table, columns `USER_COLUMNS`.
        taste: (U, D) latent taste vectors.
        affinity: (U, C) additive utility of each category.
        price_sensitivity: (U,) utility lost per unit of an item's `price_z`.
        brand: (U,) favourite brand position.
        brand_loyalty: (U,) utility bonus of the favourite brand.
        device: (U,) preferred device position into `DEVICES`.
        created_at: (U,) registration time, unix seconds, ascending.
    """

    users: pd.DataFrame
    taste: np.ndarray
    affinity: np.ndarray
    price_sensitivity: np.ndarray
    brand: np.ndarray
    brand_loyalty: np.ndarray
    device: np.ndarray
    created_at: np.ndarray


def build_population(config: ShopConfig, catalogue: Catalogue, rng: np.random.Generator) -> Population:
    """Draw every user for `config`, with tastes that fit the catalogue's categories."""
    n = config.n_users
    segment = rng.choice(len(SEGMENTS), size=n, p=[s[1] for s in SEGMENTS])
    median_sensitivity = np.array([s[2] for s in SEGMENTS])[segment]
    price_sensitivity = median_sensitivity * np.exp(rng.normal(0.0, 0.35, n))
    affinity = _affinities(n, catalogue.category_department, rng)

    # taste leans towards the centres of the favourite categories, plus a personal part that
    # prefers some product types and materials within a category
    weights = np.exp(affinity - affinity.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)  # (U, C)
    dim = catalogue.factors.shape[1]
    taste = 1.5 * weights @ catalogue.category_centers + rng.normal(0.0, 1.0 / np.sqrt(dim), (n, dim))  # (U, D)

    top_department = catalogue.category_department[np.argmax(affinity, axis=1)]
    brand = np.empty(n, dtype=np.int64)
    for d in np.unique(top_department):
        rows = np.flatnonzero(top_department == d)
        candidates = np.flatnonzero(catalogue.brand_department == d)
        brand[rows] = rng.choice(candidates, size=len(rows), p=catalogue.brand_share[candidates])
    brand_loyalty = 1.5 * rng.beta(2.0, 3.0, n)
    device = rng.choice(len(DEVICES), size=n, p=DEVICE_SHARES)
    age = rng.choice(len(AGE_BANDS), size=n, p=AGE_SHARES)
    created_at = _registration_times(config, rng)

    width = len(str(n))
    attributes = [
        {"segment": SEGMENTS[s][0], "age_band": AGE_BANDS[a], "device": DEVICES[d]}
        for s, a, d in zip(segment, age, device, strict=True)
    ]
    users = pd.DataFrame(
        {
            Columns.User: [f"u{k:0{width}d}" for k in range(1, n + 1)],
            Columns.Attributes: pd.Series(attributes, dtype=object),
            Columns.CreatedAt: created_at.astype(np.float64),
        }
    )[list(USER_COLUMNS)]
    return Population(users, taste, affinity, price_sensitivity, brand, brand_loyalty, device, created_at)


def _affinities(n: int, category_department: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(U, C) category affinities: low by default, higher in one or two favourite departments,
    highest for two to four favourite categories (mostly inside those departments)."""
    n_categories = len(category_department)
    n_departments = int(category_department.max()) + 1
    affinity = rng.normal(-1.0, 0.5, (n, n_categories))
    favourite_departments = np.zeros((n, n_departments), dtype=bool)
    favourite_departments[np.arange(n), rng.integers(0, n_departments, n)] = True
    second = rng.random(n) < 0.4
    favourite_departments[np.flatnonzero(second), rng.integers(0, n_departments, int(second.sum()))] = True
    in_favourite = favourite_departments[:, category_department]  # (U, C)
    affinity += 0.6 * in_favourite
    # favourite categories: Gumbel top-k with 4x the weight inside favourite departments
    keys = np.log(np.where(in_favourite, 4.0, 1.0)) + rng.gumbel(size=(n, n_categories))
    n_favourites = np.minimum(rng.integers(2, 5, n), n_categories)
    ranks = np.argsort(np.argsort(-keys, axis=1), axis=1)
    favourite = ranks < n_favourites[:, None]
    affinity += favourite * rng.gamma(4.0, 0.5, (n, n_categories))
    return affinity


def _registration_times(config: ShopConfig, rng: np.random.Generator) -> np.ndarray:
    n = config.n_users
    n_initial = round(config.initial_user_fraction * n)
    before = config.start - rng.uniform(0.0, MEMBERSHIP_DAYS * DAY, n_initial)
    # late sign-ups still leave a day for their sessions
    latest = max(config.days - 1.0, config.days / 2)
    during = config.start + rng.uniform(0.0, latest * DAY, n - n_initial)
    return np.sort(np.round(np.concatenate([before, during])))
