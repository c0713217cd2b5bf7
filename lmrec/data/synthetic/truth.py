"""`ShopTruth`: the hidden world behind the synthetic shop, kept for the simulator.

Every probability is a function of one utility

    utility(u, i) = taste[u] . factors[i] + affinity[u, category[i]] + quality[i]
                    + loyalty[u] * [brand[i] == favourite_brand[u]] - price_sensitivity[u] * price_z[i]

where `price_z[i]` is the item's log price relative to its category's median, in units of the
category's spread. The funnel then reads:

    click_probability(u, i)    = sigmoid(click_bias + utility)             (shown at the top)
    cart_probability(u, i)     = sigmoid(cart_bias + utility - price_sensitivity[u] * price_z[i])
    checkout_probability(u, i) = sigmoid(purchase_bias + quality[i] / 2 - price_sensitivity[u] * price_z[i] / 2)
    purchase_probability(u, i) = cart_probability * checkout_probability     (given a view)

and a user examines position k (0 = top) of a list with probability 1 / (1 + k) ** position_bias.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from lmrec.diagnostics import DataError

#: Version of the files `ShopTruth.save` writes.
TRUTH_FORMAT = 1
TRUTH_ARRAYS = "truth.npz"
TRUTH_META = "truth.json"
#: Pairs scored per chunk, so a (users x items) request never holds more than this many vectors.
_CHUNK = 1 << 17


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function, elementwise."""
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64))))


@dataclass(frozen=True, eq=False)
class ShopTruth:
    """The shop's hidden truth; user and item positions are rows of `Shop.users` / `Shop.items`.

    Attributes:
        user_taste: (U, D) latent taste of each user.
        item_factors: (I, D) latent factors of each item.
        item_quality: (I,) how good an item is for everyone (additive utility).
        item_exposure: (I,) how often the shop's own pages show the item (power law, mean 1).
        item_category: (I,) category position, into `categories`.
        item_brand: (I,) brand position, into `brands`.
        item_price_z: (I,) log price relative to the category median, in category spreads.
        user_affinity: (U, C) additive utility of each category for each user.
        user_price_sensitivity: (U,) how much a user's utility falls per unit of `item_price_z`.
        user_brand: (U,) the user's favourite brand position.
        user_brand_loyalty: (U,) utility bonus of an item of the favourite brand.
        categories: category paths, length C.
        brands: brand names.
        click_bias, cart_bias, purchase_bias: logit intercepts (see the module docstring).
        position_bias: exponent eta of the examination probability 1 / (1 + k) ** eta.
    """

    user_taste: np.ndarray
    item_factors: np.ndarray
    item_quality: np.ndarray
    item_exposure: np.ndarray
    item_category: np.ndarray
    item_brand: np.ndarray
    item_price_z: np.ndarray
    user_affinity: np.ndarray
    user_price_sensitivity: np.ndarray
    user_brand: np.ndarray
    user_brand_loyalty: np.ndarray
    categories: tuple[str, ...]
    brands: tuple[str, ...]
    click_bias: float
    cart_bias: float
    purchase_bias: float
    position_bias: float

    _SCALARS: ClassVar[tuple[str, ...]] = ("click_bias", "cart_bias", "purchase_bias", "position_bias")
    _NAMES: ClassVar[tuple[str, ...]] = ("categories", "brands")

    def __post_init__(self) -> None:
        n_users, n_items = len(self.user_taste), len(self.item_factors)
        for name in self._array_names():
            array = getattr(self, name)
            rows = n_users if name.startswith("user_") else n_items
            if len(array) != rows:
                raise DataError(f"has {len(array)} rows, expected {rows}", field=name)
        if self.user_affinity.shape[1] != len(self.categories):
            raise DataError(f"has {self.user_affinity.shape[1]} columns for {len(self.categories)} categories",
                            field="user_affinity")  # fmt: skip
        if self.user_taste.shape[1] != self.item_factors.shape[1]:
            raise DataError("user_taste and item_factors differ in latent dimension", field="user_taste")

    @property
    def n_users(self) -> int:
        """Number of users."""
        return len(self.user_taste)

    @property
    def n_items(self) -> int:
        """Number of items."""
        return len(self.item_factors)

    # -- probabilities --------------------------------------------------------------------------

    def utility(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """The hidden utility of `items` for `users` (broadcast against each other by numpy rules).

        Paired arrays of one shape give one value per pair; `users[:, None]` with `items[None, :]`
        gives a (U, I) matrix.

        Raises:
            DataError: a position outside the users or items.
        """
        u, i = self._positions(users, items)
        shape = u.shape
        u, i = u.ravel(), i.ravel()
        out = np.empty(u.size, dtype=np.float64)
        for start in range(0, u.size, _CHUNK):
            uu, ii = u[start : start + _CHUNK], i[start : start + _CHUNK]
            dot = np.einsum("nd,nd->n", self.user_taste[uu], self.item_factors[ii])  # (n,)
            loyal = self.user_brand_loyalty[uu] * (self.user_brand[uu] == self.item_brand[ii])
            out[start : start + _CHUNK] = (
                dot
                + self.user_affinity[uu, self.item_category[ii]]
                + self.item_quality[ii]
                + loyal
                - self.user_price_sensitivity[uu] * self.item_price_z[ii]
            )
        return out.reshape(shape)

    def click_probability(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """The true probability that a user clicks an item shown at the top of a list."""
        return sigmoid(self.click_bias + self.utility(users, items))

    def cart_probability(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """The true probability that a user who views an item adds it to the basket."""
        return self.funnel(users, items)[1]

    def checkout_probability(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """The true probability that an item in a user's basket is bought at checkout."""
        return self.funnel(users, items)[2]

    def purchase_probability(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """The true probability that a user who views an item buys it in the same session."""
        _, cart, checkout = self.funnel(users, items)
        return cart * checkout

    def funnel(self, users: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Click (at the top), cart (given a view) and checkout (given a cart) probabilities at once."""
        u, i = self._positions(users, items)
        utility = self.utility(u, i)
        price = self.user_price_sensitivity[u] * self.item_price_z[i]
        click = sigmoid(self.click_bias + utility)
        cart = sigmoid(self.cart_bias + utility - price)
        checkout = sigmoid(self.purchase_bias + 0.5 * self.item_quality[i] - 0.5 * price)
        return click, cart, checkout

    def examination_probability(self, positions: np.ndarray) -> np.ndarray:
        """The probability that a user looks at list position k (0 = top): 1 / (1 + k) ** eta."""
        k = np.asarray(positions, dtype=np.float64)
        if (k < 0).any():
            raise DataError("positions must be >= 0 (0 is the top of the list)", field="positions")
        return np.asarray(np.power(1.0 + k, -self.position_bias))

    def click_probability_at(self, users: np.ndarray, items: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """The true click probability of items shown at `positions` (position bias times attraction)."""
        return self.click_probability(users, items) * self.examination_probability(positions)

    def _positions(self, users: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u = np.asarray(users)
        i = np.asarray(items)
        for name, array, size in (("users", u, self.n_users), ("items", i, self.n_items)):
            if array.size and not np.issubdtype(array.dtype, np.integer):
                raise DataError(f"positions must be integers, got dtype {array.dtype}", field=name)
            if array.size and (array.min() < 0 or array.max() >= size):
                bad = array[(array < 0) | (array >= size)].ravel()[0]
                raise DataError(f"position out of range 0..{size - 1}", field=name, value=int(bad))
        u64, i64 = np.broadcast_arrays(u.astype(np.int64), i.astype(np.int64))
        return u64, i64

    # -- files ----------------------------------------------------------------------------------

    def save(self, folder: Path) -> None:
        """Write `truth.npz` (arrays) and `truth.json` (scalars and names) into `folder`."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {name: getattr(self, name) for name in self._array_names()}
        np.savez_compressed(folder / TRUTH_ARRAYS, **arrays)  # type: ignore[arg-type]
        meta: dict[str, Any] = {"format": TRUTH_FORMAT, "n_users": self.n_users, "n_items": self.n_items}
        meta.update({name: float(getattr(self, name)) for name in self._SCALARS})
        meta.update({name: list(getattr(self, name)) for name in self._NAMES})
        (folder / TRUTH_META).write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> ShopTruth:
        """Read a truth written by `save`; the JSON is checked before any array is used.

        Raises:
            DataError: missing files, an unknown format or arrays that do not fit together.
        """
        folder = Path(folder)
        try:
            meta = json.loads((folder / TRUTH_META).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read the shop truth: {exc}", source=str(folder / TRUTH_META)) from exc
        if not isinstance(meta, dict) or meta.get("format") != TRUTH_FORMAT:
            found = meta.get("format") if isinstance(meta, dict) else meta
            raise DataError(f"unknown truth format, expected {TRUTH_FORMAT}", field="format", value=found)
        missing = [k for k in (*cls._SCALARS, *cls._NAMES) if k not in meta]
        if missing:
            raise DataError(f"missing keys {missing}", source=str(folder / TRUTH_META))
        try:
            with np.load(folder / TRUTH_ARRAYS, allow_pickle=False) as data:
                arrays = {name: data[name] for name in cls._array_names()}
        except (OSError, KeyError, ValueError) as exc:
            raise DataError(f"cannot read the shop truth arrays: {exc}", source=str(folder / TRUTH_ARRAYS)) from exc
        scalars = {name: float(meta[name]) for name in cls._SCALARS}
        names = {name: tuple(str(v) for v in meta[name]) for name in cls._NAMES}
        return cls(**arrays, **names, **scalars)  # type: ignore[arg-type]

    @classmethod
    def _array_names(cls) -> tuple[str, ...]:
        skip = {*cls._SCALARS, *cls._NAMES}
        return tuple(f.name for f in fields(cls) if f.name not in skip)
