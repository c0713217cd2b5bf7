"""Item facts from a catalogue, and the hard rules applied before re-ranking."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lmrec.data.columns import ITEM_COLUMNS, Columns
from lmrec.data.dataset import Dataset
from lmrec.diagnostics import ConfigError, DataError
from lmrec.itemlist import ItemList
from lmrec.pipeline.catalogue import NO_GROUP, ItemFacts, Rules, apply_rules, category_parts
from lmrec.testing.reranker_contract import make_candidates


def item_rows() -> list[dict[str, Any]]:
    """Six products: a NaN price, a missing margin, an item with no category, one out of stock."""
    rows = [
        ("a", "Electronics > Cameras", "Ulex", 200.0, {"margin": 0.5, "colour": "black", "size": 1}, True),
        ("b", "Electronics > Audio", "Caltek", 100.0, {"margin": 0.2, "colour": "red"}, True),
        ("c", "Home > Kitchen", "Ulex", math.nan, {"margin": 0.4, "colour": "black"}, True),
        ("d", "Homeware", "", 50.0, {"colour": "black", "size": 1.0, "eco": True}, False),
        ("e", "", "Garden", 10.0, None, True),
        ("f", "home > kitchen > knives", "Garden", 30.0, {"margin": 0.3, "eco": 1}, True),
    ]
    out = []
    for item, category, brand, price, attributes, available in rows:
        out.append(
            {
                Columns.Item: item,
                Columns.Title: f"product {item}",
                Columns.Description: "",
                Columns.Category: category,
                Columns.Brand: brand,
                Columns.Tags: "[]",
                Columns.Price: price,
                Columns.Attributes: None if attributes is None else json.dumps(attributes),
                Columns.CreatedAt: 0.0,
                Columns.Available: available,
            }
        )
    return out


def shop(rows: list[dict[str, Any]] | None = None) -> Dataset:
    items = pd.DataFrame(rows or item_rows(), columns=list(ITEM_COLUMNS))
    clicks = ["a"] * 5 + ["b"] * 3 + ["c", "f"]  # d and e have no interactions
    events = pd.DataFrame(
        {
            Columns.User: [f"u{i % 3}" for i in range(len(clicks))],
            Columns.Item: clicks,
            Columns.Type: "view",
            Columns.Timestamp: np.arange(len(clicks), dtype=float),
        }
    )
    return Dataset.from_frames(events, items)


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return shop()


# -- ItemFacts ------------------------------------------------------------------------------------


def test_facts_from_dataset(dataset: Dataset) -> None:
    vectors = np.arange(18, dtype=np.float64).reshape(6, 3)
    vectors[4] = 0.0
    facts = ItemFacts.from_dataset(dataset, vectors, value="price*margin", group="category_top")
    np.testing.assert_array_equal(facts.popularity, [5, 3, 1, 0, 0, 1])
    np.testing.assert_allclose(facts.value, [100.0, 20.0, 0.0, 0.0, 0.0, 9.0])  # NaN price or margin -> 0
    assert facts.group_names == (NO_GROUP, "Electronics", "Home", "Homeware", "home")
    np.testing.assert_array_equal(facts.group, [1, 1, 2, 3, 0, 4])
    np.testing.assert_array_equal(facts.available, [True, True, True, False, True, True])
    assert facts.vectors is not None and facts.vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(facts.vectors, axis=1), [1, 1, 1, 1, 0, 1], atol=1e-6)
    assert not facts.vectors.flags.writeable and not facts.value.flags.writeable
    np.testing.assert_allclose(facts.group_shares(), [1 / 6, 2 / 6, 1 / 6, 1 / 6, 1 / 6])


def test_value_and_group_fields(dataset: Dataset) -> None:
    price = ItemFacts.from_dataset(dataset, value="price", missing_value=-1.0)
    np.testing.assert_allclose(price.value, [200, 100, -1, 50, 10, 30])
    size = ItemFacts.from_dataset(dataset, value="size")
    np.testing.assert_allclose(size.value, [1, 0, 0, 1, 0, 0])
    brand = ItemFacts.from_dataset(dataset, group="brand")
    assert brand.group_names == (NO_GROUP, "Caltek", "Garden", "Ulex")
    np.testing.assert_array_equal(brand.group, [3, 1, 3, 0, 2, 2])
    category = ItemFacts.from_dataset(dataset, group="category")
    assert "Electronics > Cameras" in category.group_names and len(category.group_names) == 6
    popular = ItemFacts.from_dataset(dataset, group="popularity")
    assert popular.group_names == ("head", "tail")
    np.testing.assert_array_equal(popular.group, [0, 0, 1, 1, 1, 1])  # ceil(20% of 6) = 2 head items
    plain = ItemFacts.from_dataset(dataset)
    assert plain.group_names == ("all",) and not plain.value.any() and plain.vectors is None


def test_uniform_facts() -> None:
    facts = ItemFacts.uniform(3)
    assert facts.n_items == 3 and facts.n_groups == 1 and facts.available.all()


def with_row(change: dict[str, Any], row: int = 1) -> Dataset:
    rows = item_rows()
    rows[row] = {**rows[row], **change}
    return shop(rows)


FACT_ERRORS: list[tuple[str, Callable[[Dataset], Any], type[Exception], str]] = [
    ("unknown group field", lambda d: ItemFacts.from_dataset(d, group="colour"), ConfigError, "unknown group field"),  # type: ignore[arg-type]
    ("empty value name", lambda d: ItemFacts.from_dataset(d, value=""), ConfigError, "value must name a field"),
    (
        "attribute nobody has",
        lambda d: ItemFacts.from_dataset(d, value="weight"),
        DataError,
        "field 'attributes.weight'",
    ),
    (
        "text attribute",
        lambda d: ItemFacts.from_dataset(d, value="colour"),
        DataError,
        "row 0, field 'attributes.colour'",
    ),
    ("bool attribute", lambda d: ItemFacts.from_dataset(d, value="eco"), DataError, "row 3, field 'attributes.eco'"),
    (
        "infinite missing value",
        lambda d: ItemFacts.from_dataset(d, missing_value=math.inf),
        ConfigError,
        "missing_value",
    ),
    ("bad vectors shape", lambda d: ItemFacts.from_dataset(d, np.ones((5, 3))), DataError, "field 'vectors'"),
    (
        "NaN in vectors",
        lambda d: ItemFacts.from_dataset(d, np.full((6, 2), np.nan)),
        DataError,
        "row 0, field 'vectors'",
    ),
]


@pytest.mark.parametrize(("case", "call", "error", "fragment"), FACT_ERRORS, ids=[c[0] for c in FACT_ERRORS])
def test_bad_fact_requests_name_the_field(
    dataset: Dataset, case: str, call: Callable[[Dataset], Any], error: type[Exception], fragment: str
) -> None:
    with pytest.raises(error, match=fragment):
        call(dataset)


def test_bad_catalogue_columns_name_the_row() -> None:
    text_price = shop(item_rows()).item_table.assign(**{Columns.Price: ["1", "x", "3", "4", "5", "6"]})
    dataset = shop()
    broken = Dataset(dataset.users, dataset.items, dataset.interactions, text_price, dataset.user_table, {})
    with pytest.raises(DataError, match=r"row 1, field 'price'.*'x'"):
        ItemFacts.from_dataset(broken, value="price")
    no_prices = [{**row, Columns.Price: math.nan} for row in item_rows()]
    with pytest.raises(DataError, match="field 'price': no item has a value"):
        ItemFacts.from_dataset(shop(no_prices), value="price")
    with pytest.raises(DataError, match="row 1, field 'attributes'"):
        ItemFacts.from_dataset(with_row({Columns.Attributes: "[1, 2]"}), value="margin")
    blank = [{**row, Columns.Brand: ""} for row in item_rows()]
    with pytest.raises(DataError, match="field 'brand': no item has a value"):
        ItemFacts.from_dataset(shop(blank), group="brand")


def test_facts_validate_their_arrays() -> None:
    ok: dict[str, Any] = {"popularity": np.ones(3), "value": np.zeros(3), "group": np.zeros(3), "group_names": ("all",)}
    with pytest.raises(DataError, match="row 1, field 'popularity'"):
        ItemFacts(**{**ok, "popularity": np.array([1.0, -1.0, 0.0])}, available=np.ones(3, bool))
    with pytest.raises(DataError, match="row 2, field 'value'"):
        ItemFacts(**{**ok, "value": np.array([1.0, 0.0, np.nan])}, available=np.ones(3, bool))
    with pytest.raises(DataError, match="row 0, field 'group'"):
        ItemFacts(**{**ok, "group": np.array([1, 0, 0])}, available=np.ones(3, bool))
    with pytest.raises(DataError, match="field 'available'"):
        ItemFacts(**ok, available=np.ones(2, bool))


# -- Rules ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def facts(dataset: Dataset) -> ItemFacts:
    return ItemFacts.from_dataset(dataset, group="brand")


@pytest.fixture(scope="module")
def candidates() -> ItemList:
    """All six products, in an order that is not the catalogue's, plus one unknown item."""
    return make_candidates([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3], [5, 0, 3, 1, 2, 4, -1])


def kept(out: ItemList) -> list[int]:
    return out.index.tolist()


def test_default_rules_drop_unavailable_and_unknown(candidates: ItemList, facts: ItemFacts) -> None:
    assert kept(apply_rules(candidates, None, facts)) == [5, 0, 1, 2, 4]
    assert kept(apply_rules(candidates, {"exclude_unavailable": False}, facts)) == [5, 0, 3, 1, 2, 4]
    assert kept(apply_rules(candidates, Rules.make({"exclude": np.array([0, 2])}), facts)) == [5, 1, 4]


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        ({"category_prefix": "Home"}, [5, 2]),  # not "Homeware": prefixes match level by level
        ({"category_prefix": "home > KITCHEN"}, [5, 2]),
        ({"category_prefix": "Home > Kitchen > Knives"}, [5]),
        ({"category_prefix": "Electronics>Audio"}, [1]),
        ({"price_min": 30.0}, [5, 0, 1]),  # c has no price: it never passes a price filter
        ({"price_max": 30.0}, [5, 4]),
        ({"price_min": 20.0, "price_max": 150.0}, [5, 1]),
        ({"attributes": {"colour": "black"}}, [0, 2]),
        ({"attributes": {"colour": "Black"}}, []),
        ({"attributes": {"size": 1}}, [0]),  # d has size 1.0 but is out of stock
        ({"attributes": {"eco": True}}, []),  # f's eco is 1, not true
        ({"attributes": {"eco": 1}}, [5]),
        ({"attributes": {"colour": "black", "margin": 0.4}, "exclude_unavailable": False}, [2]),
    ],
)
def test_filters(
    dataset: Dataset, candidates: ItemList, facts: ItemFacts, rules: dict[str, Any], expected: list[int]
) -> None:
    assert kept(apply_rules(candidates, rules, facts, dataset)) == expected
    assert kept(apply_rules(candidates, rules, facts, dataset.item_table)) == expected


def test_rules_keep_columns_and_order(dataset: Dataset, facts: ItemFacts) -> None:
    candidates = make_candidates([0.1, 0.9, 0.5], [2, 1, 0], source=np.array(["x", "y", "z"], dtype=object))
    out = apply_rules(candidates, {"price_max": 1000}, facts, dataset)
    assert out.ids.tolist() == ["c1", "c2"] and out.column("source").tolist() == ["y", "z"]
    np.testing.assert_array_equal(out.scores, [0.9, 0.5])


def test_category_parts() -> None:
    assert category_parts(" Home >Kitchen > ") == ("home", "kitchen")
    assert category_parts("") == () and category_parts(None) == ()


RULE_ERRORS: list[tuple[str, Callable[[Dataset, ItemList, ItemFacts], Any], type[Exception], str]] = [
    ("unknown rule", lambda d, c, f: apply_rules(c, {"in_stock": True}, f), ConfigError, "in_stock"),
    ("inverted range", lambda d, c, f: Rules(price_min=5, price_max=1), ValueError, "price_min 5.0 is above"),
    ("infinite bound", lambda d, c, f: Rules.make({"price_max": math.inf}), ConfigError, "price_max"),
    ("negative exclude", lambda d, c, f: Rules.make({"exclude": [1, -2]}), ConfigError, "exclude.1"),
    ("empty category", lambda d, c, f: Rules.make({"category_prefix": " > "}), ConfigError, "category_prefix"),
    ("filter with no table", lambda d, c, f: apply_rules(c, {"price_min": 1}, f), ConfigError, "need the item table"),
    (
        "table of another size",
        lambda d, c, f: apply_rules(c, {"price_min": 1}, f, d.item_table.iloc[:3]),
        DataError,
        "field 'items'",
    ),
    (
        "position past the catalogue",
        lambda d, c, f: apply_rules(make_candidates([1.0], [6]), None, f),
        DataError,
        "row 0, field 'index'",
    ),
    ("rules of another type", lambda d, c, f: apply_rules(c, "in stock", f), ConfigError, "Rules or a dict"),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("case", "call", "error", "fragment"), RULE_ERRORS, ids=[c[0] for c in RULE_ERRORS])
def test_bad_rules_name_the_field(
    dataset: Dataset,
    candidates: ItemList,
    facts: ItemFacts,
    case: str,
    call: Callable[[Dataset, ItemList, ItemFacts], Any],
    error: type[Exception],
    fragment: str,
) -> None:
    with pytest.raises(error, match=fragment):
        call(dataset, candidates, facts)


def test_rules_round_trip_through_json() -> None:
    rules = Rules(exclude=(3, 1), category_prefix="Home", price_min=1.5, attributes={"colour": "red", "eco": True})
    assert Rules.model_validate_json(rules.model_dump_json()) == rules


@given(
    st.lists(st.integers(-1, 5), max_size=8, unique=True),
    st.lists(st.integers(0, 5), max_size=4),
    st.sampled_from([None, "Home", "Electronics"]),
    st.one_of(st.none(), st.floats(0, 250)),
)
def test_rules_keep_a_subsequence(
    dataset: Dataset,
    facts: ItemFacts,
    index: list[int],
    exclude: list[int],
    prefix: str | None,
    price_max: float | None,
) -> None:
    candidates = make_candidates(np.linspace(1, 0, len(index)), index)
    out = apply_rules(
        candidates, {"exclude": exclude, "category_prefix": prefix, "price_max": price_max}, facts, dataset
    )
    ids = candidates.ids.tolist()
    positions = [ids.index(i) for i in out.ids]
    assert positions == sorted(positions)  # a subset, never re-ordered
    assert not set(out.index.tolist()) & ({*exclude, -1, 3})  # excluded, unknown and out of stock all gone
