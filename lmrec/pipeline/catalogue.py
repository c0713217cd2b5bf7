"""Per-item facts the re-rankers need, and the hard rules applied before any objective.

`ItemFacts` holds one array per catalogue fact, aligned to the item vocabulary (row i is item
position i): text vectors for diversity, interaction counts for novelty, a business value, a group
for fair exposure and availability. It is built once per catalogue snapshot (`from_dataset`) and
shared by every request.

`Rules` are the per-request hard rules (already bought or seen, out of stock, category, price and
attribute filters); `apply_rules` keeps the candidates that pass them, in their input order, so
the objectives only ever see items that may be shown.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any, Literal, TypeVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lmrec.configs import validated_config
from lmrec.data.columns import Columns
from lmrec.data.dataset import Dataset
from lmrec.diagnostics import ConfigError, DataError
from lmrec.itemlist import ItemList, frozen_array

#: Group name of items with no category or brand.
NO_GROUP = "(none)"
#: Group names of `group="popularity"`.
HEAD, TAIL = "head", "tail"
#: Share of the catalogue, by interaction count, that `group="popularity"` calls the head.
HEAD_SHARE = 0.2
#: The value fields `ItemFacts.from_dataset` knows by name; anything else is an attribute name.
PRICE_TIMES_MARGIN = "price*margin"

M = TypeVar("M", bound=BaseModel)

GroupField = Literal["category", "category_top", "brand", "popularity"]


@dataclass(frozen=True, eq=False)
class ItemFacts:
    """Catalogue facts aligned to the item vocabulary, read-only.

    Attributes:
        popularity: interaction count of each item, shape (I,), float64 >= 0.
        value: business value of each item (price, price x margin, any numeric field), shape (I,),
            float64, finite; items with no known value hold `missing_value` (0 by default).
        group: group code of each item for fair exposure, shape (I,), int64 in [0, G).
        group_names: name of each group code, length G.
        available: whether each item may be shown (in stock), shape (I,), bool.
        vectors: unit-length item vectors (e.g. language-model text embeddings), shape (I, D),
            float32; an all-zero row means "no vector" (cosine 0 with every item); None when absent.
    """

    popularity: np.ndarray
    value: np.ndarray
    group: np.ndarray
    group_names: tuple[str, ...]
    available: np.ndarray
    vectors: np.ndarray | None = None

    def __post_init__(self) -> None:
        popularity = frozen_array(self.popularity, np.float64)
        n = len(popularity)
        value = frozen_array(self.value, np.float64)
        group = frozen_array(self.group, np.int64)
        available = frozen_array(self.available, bool)
        for name, array in (("popularity", popularity), ("value", value), ("group", group), ("available", available)):
            if array.shape != (n,):
                raise DataError(f"must have shape ({n},) like popularity", field=name, value=array.shape)
        _check_finite(popularity, "popularity", minimum=0.0)
        _check_finite(value, "value")
        names = tuple(str(name) for name in self.group_names)
        if n and (group.min() < 0 or group.max() >= len(names)):
            row = int(np.flatnonzero((group < 0) | (group >= len(names)))[0])
            raise DataError(f"group codes must lie in [0, {len(names)})", field="group", row=row, value=int(group[row]))
        object.__setattr__(self, "popularity", popularity)
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "group", group)
        object.__setattr__(self, "group_names", names)
        object.__setattr__(self, "available", available)
        if self.vectors is not None:
            object.__setattr__(self, "vectors", _unit_rows(self.vectors, n))

    @classmethod
    def uniform(cls, n_items: int, vectors: np.ndarray | None = None) -> ItemFacts:
        """Facts that favour no item: popularity 1, value 0, one group, all available."""
        return cls(
            np.ones(n_items), np.zeros(n_items), np.zeros(n_items, np.int64), ("all",), np.ones(n_items, bool), vectors
        )

    @classmethod
    def from_dataset(
        cls,
        dataset: Dataset,
        vectors: np.ndarray | None = None,
        *,
        value: str | None = None,
        group: GroupField | None = None,
        missing_value: float = 0.0,
    ) -> ItemFacts:
        """Facts of a dataset's catalogue; popularity counts the dataset's interactions.

        Args:
            dataset: the catalogue (`item_table`) and the interactions to count (use the training
                part of a split, so test interactions do not leak into novelty).
            vectors: item vectors, shape (n_items, D), rows in vocabulary order; normalised here.
            value: `"price*margin"` (price times `attributes["margin"]`), `"price"`, or the name of
                a numeric attribute in `attributes`; None gives every item value 0.
            group: `"category"` (the full path), `"category_top"` (the first level of the path),
                `"brand"`, or `"popularity"` (`head`: the 20% most-interacted items, `tail`: the rest);
                None puts every item in one group. Items with no category or brand form `(none)`.
            missing_value: the value of an item whose value field is missing or NaN.

        Raises:
            DataError: the value field is non-numeric for some item (naming field, row and value),
                or no item has it at all; the group field is empty for every item.
        """
        if not math.isfinite(missing_value):
            raise ConfigError(f"missing_value must be finite (got {missing_value!r})")
        table = dataset.item_table
        popularity = dataset.item_counts().astype(np.float64)
        values = np.zeros(len(table)) if value is None else item_values(table, value, missing_value)
        names: tuple[str, ...] = ("all",)
        if group is None:
            codes = np.zeros(len(table), dtype=np.int64)
        else:
            codes, names = item_groups(table, group, popularity)
        available = table[Columns.Available].to_numpy(dtype=bool)
        return cls(popularity, values, codes, names, available, vectors)

    @property
    def n_items(self) -> int:
        return len(self.popularity)

    @property
    def n_groups(self) -> int:
        return len(self.group_names)

    @cached_property
    def total_popularity(self) -> float:
        """Interactions over the whole catalogue (at least 1, so shares are defined)."""
        return max(float(self.popularity.sum()), 1.0)

    def group_shares(self) -> np.ndarray:
        """Share of the catalogue in each group, shape (G,)."""
        return self._group_shares.copy()

    @cached_property
    def _group_shares(self) -> np.ndarray:
        counts = np.bincount(self.group, minlength=self.n_groups).astype(np.float64)
        return counts / max(counts.sum(), 1.0)

    def check_index(self, index: np.ndarray) -> None:
        """DataError naming the first position beyond the catalogue (-1, unknown, is allowed)."""
        bad = np.flatnonzero((index < -1) | (index >= self.n_items))
        if len(bad):
            row = int(bad[0])
            raise DataError(
                f"item position outside the catalogue of {self.n_items} items",
                field="index",
                row=row,
                value=int(index[row]),
            )


def _check_finite(array: np.ndarray, name: str, minimum: float | None = None) -> None:
    bad = ~np.isfinite(array) if minimum is None else ~(np.isfinite(array) & (array >= minimum))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        expected = "finite" if minimum is None else f"finite and >= {minimum:g}"
        raise DataError(f"must be {expected}", field=name, row=row, value=float(array[row]))


def _unit_rows(vectors: Any, n: int) -> np.ndarray:
    """Rows scaled to unit length (all-zero rows stay zero), float32, read-only."""
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim != 2 or array.shape[0] != n:
        raise DataError(f"must have shape ({n}, D), one row per item", field="vectors", value=array.shape)
    finite = np.isfinite(array).all(axis=1)
    if not finite.all():
        raise DataError("must be finite", field="vectors", row=int(np.flatnonzero(~finite)[0]))
    norms = np.linalg.norm(array, axis=1, keepdims=True)  # (I, 1)
    unit = np.divide(array, norms, out=np.zeros_like(array), where=norms > 0)  # (I, D)
    unit.flags.writeable = False
    return unit


def item_values(table: pd.DataFrame, value: str, missing_value: float = 0.0) -> np.ndarray:
    """One business value per item row of `table`: `"price*margin"`, `"price"` or an attribute name.

    Missing and NaN values become `missing_value`. DataError when a value is not a number
    (naming the field, row and value) or when no item has the field.
    """
    if not value:
        raise ConfigError("value must name a field: 'price*margin', 'price' or an attribute")
    if value == PRICE_TIMES_MARGIN:
        values = _numeric_column(table, Columns.Price) * _attribute(table, "margin")
        field = "price*margin"
    elif value == Columns.Price:
        values, field = _numeric_column(table, Columns.Price), Columns.Price
    else:
        values, field = _attribute(table, value), f"{Columns.Attributes}.{value}"
    if len(values) and np.isnan(values).all():
        raise DataError("no item has a value for this field", field=field)
    return np.where(np.isnan(values), missing_value, values)


def _numeric_column(table: pd.DataFrame, name: str) -> np.ndarray:
    if name not in table:
        raise DataError("the item table has no such column", field=name)
    numbers = pd.to_numeric(table[name], errors="coerce")
    bad = numbers.isna() & table[name].notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError("must be a number", field=name, row=row, value=table[name].iloc[row])
    values = numbers.to_numpy(dtype=np.float64)
    infinite = np.flatnonzero(np.isinf(values))
    if len(infinite):
        raise DataError("must be finite", field=name, row=int(infinite[0]), value=float(values[infinite[0]]))
    return values


def _attribute(table: pd.DataFrame, key: str) -> np.ndarray:
    """`attributes[key]` of every row as float64, NaN where absent or null."""
    out = np.full(len(table), np.nan)
    field = f"{Columns.Attributes}.{key}"
    for row, attributes in enumerate(parsed_attributes(table)):
        raw = attributes.get(key)
        if raw is None:
            continue
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
            raise DataError("must be a finite number", field=field, row=row, value=raw)
        out[row] = float(raw)
    return out


def parsed_attributes(table: pd.DataFrame) -> list[dict[str, Any]]:
    """The `attributes` JSON object of every row (an empty dict where there is none)."""
    if Columns.Attributes not in table:
        raise DataError("the item table has no such column", field=Columns.Attributes)
    out: list[dict[str, Any]] = []
    for row, raw in enumerate(table[Columns.Attributes].tolist()):
        out.append(_attributes_of(raw, row))
    return out


def _attributes_of(raw: Any, row: int) -> dict[str, Any]:
    if raw is None or (isinstance(raw, float) and math.isnan(raw)) or raw == "":
        return {}
    if isinstance(raw, Mapping):
        return dict(raw)
    try:
        value = json.loads(raw)
    except (TypeError, ValueError) as exc:
        raise DataError("must be a JSON object", field=Columns.Attributes, row=row, value=raw) from exc
    if not isinstance(value, dict):
        raise DataError("must be a JSON object", field=Columns.Attributes, row=row, value=raw)
    return value


def category_parts(category: Any) -> tuple[str, ...]:
    """The levels of a category path `"A > B > C"`, stripped and case-folded; () when empty."""
    if not isinstance(category, str):
        return ()
    return tuple(part.strip().casefold() for part in category.split(">") if part.strip())


def item_groups(table: pd.DataFrame, group: str, popularity: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """Group code of every row of `table` and the group names (sorted, `(none)` for blanks)."""
    if group == "popularity":
        return _popularity_groups(popularity)
    column = {"category": Columns.Category, "category_top": Columns.Category, "brand": Columns.Brand}.get(group)
    if column is None:
        raise ConfigError(f"unknown group field {group!r}; use 'category', 'category_top', 'brand' or 'popularity'")
    if column not in table:
        raise DataError("the item table has no such column", field=column)
    labels = table[column].fillna("").astype(str).str.strip()
    if group == "category_top":
        labels = labels.str.split(">").str[0].str.strip()
    if not (labels != "").any():
        raise DataError("no item has a value to group by", field=column)
    labels = labels.where(labels != "", NO_GROUP)
    names = tuple(sorted(set(labels.tolist())))
    codes = pd.Categorical(labels, categories=list(names)).codes.astype(np.int64)
    return codes, names


def _popularity_groups(popularity: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """`head` for the ceil(20%) most-interacted items (ties by position), `tail` for the rest."""
    n = len(popularity)
    order = np.lexsort((np.arange(n), -popularity))
    codes = np.ones(n, dtype=np.int64)
    codes[order[: math.ceil(HEAD_SHARE * n)]] = 0
    return codes, (HEAD, TAIL)


# -- hard rules -----------------------------------------------------------------------------------

Scalar = str | int | float | bool


class Rules(BaseModel):
    """Hard rules of one request: what may never be shown, whatever the objectives say."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    exclude: tuple[Annotated[int, Field(ge=0)], ...] = ()
    """Item positions never to show (already bought, already seen)."""

    exclude_unavailable: bool = True
    """Drop items whose `available` fact is false (out of stock)."""

    category_prefix: str | None = None
    """Keep items whose category path starts with these levels (`"Electronics > Cameras"`), level by
    level and ignoring case, so `"Home"` keeps `"Home > Kitchen"` but not `"Homeware"`."""

    price_min: float | None = None
    """Keep items with price >= this; an item with no price never passes a price filter."""

    price_max: float | None = None
    """Keep items with price <= this; an item with no price never passes a price filter."""

    attributes: dict[str, Scalar] = Field(default_factory=dict)
    """Keep items whose `attributes[key]` equals the value for every key (numbers compare as numbers)."""

    @field_validator("exclude", mode="before")
    @classmethod
    def _positions(cls, value: Any) -> Any:
        if isinstance(value, np.ndarray):
            return tuple(int(v) for v in value.ravel())
        return value

    @model_validator(mode="after")
    def _check_range(self) -> Rules:
        for name in ("price_min", "price_max"):
            bound = getattr(self, name)
            if bound is not None and not math.isfinite(bound):
                raise ValueError(f"{name} must be finite (got {bound!r})")
        if self.price_min is not None and self.price_max is not None and self.price_min > self.price_max:
            raise ValueError(f"price_min {self.price_min} is above price_max {self.price_max}")
        if self.category_prefix is not None and not category_parts(self.category_prefix):
            raise ValueError("category_prefix must name at least one category level")
        return self

    @classmethod
    def make(cls, rules: Rules | Mapping[str, Any] | None) -> Rules:
        """`rules` as validated `Rules`; ConfigError naming the field otherwise."""
        return validated_config(cls, rules, "rules")

    @property
    def needs_item_table(self) -> bool:
        """Whether a filter reads the item table (category, price or attributes)."""
        return (
            self.category_prefix is not None
            or self.price_min is not None
            or self.price_max is not None
            or bool(self.attributes)
        )


def apply_rules(
    candidates: ItemList,
    rules: Rules | Mapping[str, Any] | None,
    facts: ItemFacts,
    items: Dataset | pd.DataFrame | None = None,
) -> ItemList:
    """The candidates that pass every rule, in their input order (never re-ordered).

    An item not in the vocabulary (index -1) is dropped: the catalogue cannot vouch for it.

    Args:
        candidates: the scored candidates; columns are kept.
        rules: the request's rules (an instance, a dict or None for the defaults).
        facts: availability of each item.
        items: the catalogue (a `Dataset` or its `item_table`); needed only by category, price and
            attribute filters.
    """
    rules = Rules.make(rules)
    index = candidates.index
    facts.check_index(index)
    keep = index >= 0
    safe = np.where(keep, index, 0)
    if rules.exclude:
        keep &= ~np.isin(index, np.fromiter(rules.exclude, dtype=np.int64, count=len(rules.exclude)))
    if rules.exclude_unavailable:
        keep &= facts.available[safe]
    if rules.needs_item_table and keep.any():
        table = items.item_table if isinstance(items, Dataset) else items
        if table is None:
            raise ConfigError("category, price and attribute rules need the item table (pass items=)")
        if len(table) != facts.n_items:
            raise DataError(f"has {len(table)} rows for {facts.n_items} items", field="items", value=len(table))
        rows = np.flatnonzero(keep)
        keep[rows] = _passes_filters(table.iloc[index[rows]], rules)
    return candidates.take(np.flatnonzero(keep))


def _passes_filters(rows: pd.DataFrame, rules: Rules) -> np.ndarray:
    """Whether each catalogue row passes the category, price and attribute filters, shape (n,)."""
    ok = np.ones(len(rows), dtype=bool)
    if rules.category_prefix is not None:
        prefix = category_parts(rules.category_prefix)
        paths = [category_parts(c) for c in rows[Columns.Category].tolist()]
        ok &= np.array([path[: len(prefix)] == prefix for path in paths], dtype=bool)
    if rules.price_min is not None or rules.price_max is not None:
        price = pd.to_numeric(rows[Columns.Price], errors="coerce").to_numpy(dtype=np.float64)
        with np.errstate(invalid="ignore"):
            ok &= ~np.isnan(price)
            if rules.price_min is not None:
                ok &= price >= rules.price_min
            if rules.price_max is not None:
                ok &= price <= rules.price_max
    if rules.attributes:
        parsed = parsed_attributes(rows)
        ok &= np.array([_attributes_match(a, rules.attributes) for a in parsed], dtype=bool)
    return ok


def _attributes_match(attributes: Mapping[str, Any], wanted: Mapping[str, Scalar]) -> bool:
    for key, expected in wanted.items():
        if key not in attributes:
            return False
        actual = attributes[key]
        if isinstance(expected, bool) or isinstance(actual, bool):
            if actual is not expected:
                return False
        elif actual != expected:  # 1 == 1.0, "red" != "Red"
            return False
    return True
