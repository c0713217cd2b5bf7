"""The synthetic shop's catalogue: categories, brands and products with text, prices and hidden factors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lmrec.data.columns import ITEM_COLUMNS, Columns
from lmrec.data.synthetic.config import ShopConfig
from lmrec.data.synthetic.words import (
    BRAND_ENDINGS,
    BRAND_OPENINGS,
    CATEGORY_BANKS,
    CLOSING_TEMPLATES,
    LEAD_TEMPLATES,
    USE_TEMPLATES,
    CategoryBank,
)

DAY = 86_400.0
#: How far before the horizon the oldest products were launched, in days.
CATALOGUE_AGE_DAYS = 365.0


@dataclass(frozen=True, eq=False)
class Catalogue:
    """Products in order of launch (row i is item position i) with their hidden properties.

    Attributes:
        items: the item table, columns `ITEM_COLUMNS`.
        categories: category paths, length C.
        category_department: (C,) department position of each category.
        category_centers: (C, D) latent centre of each category.
        brands: brand names, length B.
        brand_department: (B,) department position of each brand.
        brand_share: (B,) a brand's share of its department's products (sums to 1 per department).
        category: (I,) category position of each item.
        brand: (I,) brand position of each item.
        factors: (I, D) latent item factors.
        quality: (I,) additive utility of each item for everyone.
        exposure: (I,) power-law weight of how often the shop shows each item, mean 1.
        price_z: (I,) log price relative to the category median, in category spreads.
        created_at: (I,) launch time, unix seconds, ascending.
    """

    items: pd.DataFrame
    categories: tuple[str, ...]
    category_department: np.ndarray
    category_centers: np.ndarray
    brands: tuple[str, ...]
    brand_department: np.ndarray
    brand_share: np.ndarray
    category: np.ndarray
    brand: np.ndarray
    factors: np.ndarray
    quality: np.ndarray
    exposure: np.ndarray
    price_z: np.ndarray
    created_at: np.ndarray


@dataclass(frozen=True)
class _Words:
    """The word choices of every item, as positions into its category bank: shape (I,) or (I, 2)."""

    noun: np.ndarray
    material: np.ndarray
    features: np.ndarray
    uses: np.ndarray
    size: np.ndarray
    variant: np.ndarray
    sentences: np.ndarray


def build_catalogue(config: ShopConfig, rng: np.random.Generator) -> Catalogue:
    """Draw the whole catalogue for `config` from `rng`."""
    banks = CATEGORY_BANKS[: config.n_categories]
    departments = list(dict.fromkeys(bank.department for bank in banks))
    category_department = np.array([departments.index(bank.department) for bank in banks], dtype=np.int64)
    brands, brand_department, brand_quality, brand_price, brand_share = _brands(config, len(departments), rng)

    n = config.n_items
    category_weight = 1.0 / np.power(1.0 + rng.permutation(len(banks)), 0.6)  # some categories are bigger
    category = rng.choice(len(banks), size=n, p=category_weight / category_weight.sum())
    brand = _item_brands(category_department[category], brand_department, brand_share, rng)
    words = _word_choices(banks, category, rng)

    centers, factors = _factors(config.latent_dim, banks, category, brand, len(brands), words, rng)
    exposure = rng.pareto(config.popularity_exponent, size=n) + 1.0  # classic Pareto, minimum 1
    exposure /= exposure.mean()
    log_exposure = np.log(exposure)
    quality = (
        0.5 * (log_exposure - log_exposure.mean()) / (log_exposure.std() + 1e-9)
        + 0.4 * brand_quality[brand]
        + rng.normal(0.0, 0.4, size=n)
    )
    price, price_z = _prices(banks, category, brand_price[brand], words.size, rng)
    margin = np.array([banks[c].margin for c in category]) + 0.04 * brand_price[brand] + rng.normal(0.0, 0.03, n)
    margin = np.clip(margin, 0.05, 0.75).round(3)
    created_at = _launch_times(config, rng)
    available = rng.random(n) >= config.out_of_stock_rate

    items = _item_table(banks, brands, category, brand, words, price, margin, created_at, available, rng)
    return Catalogue(
        items=items,
        categories=tuple(bank.path for bank in banks),
        category_department=category_department,
        category_centers=centers,
        brands=tuple(brands),
        brand_department=brand_department,
        brand_share=brand_share,
        category=category,
        brand=brand,
        factors=factors,
        quality=quality,
        exposure=exposure,
        price_z=price_z,
        created_at=created_at,
    )


def _brands(
    config: ShopConfig, n_departments: int, rng: np.random.Generator
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Brand names, department, quality, price level and share within the department."""
    n_brands = config.brands_per_department * n_departments
    combos = [o + e for o in BRAND_OPENINGS for e in BRAND_ENDINGS]
    order = rng.permutation(len(combos))
    names = [combos[order[k % len(combos)]] + ("" if k < len(combos) else f" {k // len(combos) + 1}")
             for k in range(n_brands)]  # fmt: skip
    department = np.repeat(np.arange(n_departments), config.brands_per_department)
    quality = rng.normal(0.0, 1.0, n_brands)
    price_level = 0.6 * quality + 0.8 * rng.normal(0.0, 1.0, n_brands)  # better brands charge more
    share = rng.dirichlet(np.full(config.brands_per_department, 0.8), size=n_departments).ravel()
    return names, department, quality, price_level, share


def _item_brands(
    item_department: np.ndarray, brand_department: np.ndarray, share: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    brand = np.empty(len(item_department), dtype=np.int64)
    for d in np.unique(item_department):
        rows = np.flatnonzero(item_department == d)
        candidates = np.flatnonzero(brand_department == d)
        brand[rows] = rng.choice(candidates, size=len(rows), p=share[candidates])
    return brand


def _word_choices(banks: tuple[CategoryBank, ...], category: np.ndarray, rng: np.random.Generator) -> _Words:
    def pick(sizes: np.ndarray, k: int = 1) -> np.ndarray:
        # k distinct positions per row, each below that row's bank size
        keys = rng.random((len(sizes), int(sizes.max())))
        keys[np.arange(sizes.max())[None, :] >= sizes[:, None]] = 2.0
        chosen = np.argsort(keys, axis=1)[:, :k]
        return chosen[:, 0] if k == 1 else chosen

    def sizes_of(name: str) -> np.ndarray:
        return np.array([len(getattr(banks[c], name)) for c in category], dtype=np.int64)

    return _Words(
        noun=pick(sizes_of("nouns")),
        material=pick(sizes_of("materials")),
        features=pick(sizes_of("features"), 2),
        uses=pick(sizes_of("uses"), 2),
        size=pick(sizes_of("sizes")),
        variant=pick(sizes_of("variants")),
        sentences=pick(sizes_of("sentences"), 2),
    )


def _factors(
    dim: int,
    banks: tuple[CategoryBank, ...],
    category: np.ndarray,
    brand: np.ndarray,
    n_brands: int,
    words: _Words,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Item factors built from the same parts as the text, so text similarity predicts taste.

    factor = category centre + product-type offset + material offset + brand offset + noise;
    every part has norm about its weight (1, 0.8, 0.5, 0.3, 0.4).
    """
    scale = 1.0 / np.sqrt(dim)
    width = max(max(len(b.nouns), len(b.materials)) for b in banks)
    centers = rng.normal(0.0, scale, (len(banks), dim))  # (C, D)
    noun_offsets = rng.normal(0.0, 0.8 * scale, (len(banks), width, dim))  # (C, W, D)
    material_offsets = rng.normal(0.0, 0.5 * scale, (len(banks), width, dim))  # (C, W, D)
    brand_offsets = rng.normal(0.0, 0.3 * scale, (n_brands, dim))  # (B, D)
    noise = rng.normal(0.0, 0.4 * scale, (len(category), dim))  # (I, D)
    factors = (
        centers[category]
        + noun_offsets[category, words.noun]
        + material_offsets[category, words.material]
        + brand_offsets[brand]
        + noise
    )
    return centers, factors


def _prices(
    banks: tuple[CategoryBank, ...],
    category: np.ndarray,
    brand_price: np.ndarray,
    size: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Log-normal prices per category with a brand premium and bigger sizes costing more."""
    median = np.array([banks[c].price_median for c in category])
    sigma = np.array([banks[c].price_sigma for c in category])
    n_sizes = np.array([len(banks[c].sizes) for c in category])
    size_effect = 0.25 * (size / np.maximum(n_sizes - 1, 1) - 0.5)
    log_price = np.log(median) + sigma * (0.35 * brand_price + rng.normal(0.0, 0.8, len(category))) + size_effect
    raw = np.exp(log_price)
    price = np.where(raw >= 10.0, np.floor(raw) + 0.99, np.maximum(np.round(raw * 2) / 2 - 0.01, 0.99)).round(2)
    price_z = (np.log(price) - np.log(median)) / sigma
    return price, price_z


def _launch_times(config: ShopConfig, rng: np.random.Generator) -> np.ndarray:
    n = config.n_items
    n_initial = round(config.initial_item_fraction * n)
    before = config.start - rng.uniform(0.0, CATALOGUE_AGE_DAYS * DAY, n_initial)
    during = config.start + rng.uniform(0.0, config.days * DAY, n - n_initial)
    return np.sort(np.round(np.concatenate([before, during])))


def _item_table(
    banks: tuple[CategoryBank, ...],
    brands: list[str],
    category: np.ndarray,
    brand: np.ndarray,
    words: _Words,
    price: np.ndarray,
    margin: np.ndarray,
    created_at: np.ndarray,
    available: np.ndarray,
    rng: np.random.Generator,
) -> pd.DataFrame:
    n = len(category)
    width = len(str(n))
    templates = rng.integers(0, 12, size=(n, 4))  # title, lead, use and closing template choices
    titles, descriptions, tags, attributes = [], [], [], []
    for i in range(n):
        bank = banks[category[i]]
        parts = {
            "brand": brands[brand[i]],
            "noun": bank.nouns[words.noun[i]],
            "material": bank.materials[words.material[i]],
            "feature": bank.features[words.features[i, 0]],
            "feature2": bank.features[words.features[i, 1]],
            "use": bank.uses[words.uses[i, 0]],
            "use2": bank.uses[words.uses[i, 1]],
            "size": bank.sizes[words.size[i]],
            "variant": bank.variants[words.variant[i]],
        }
        titles.append(_title(parts, int(templates[i, 0])))
        descriptions.append(_description(bank, parts, words.sentences[i], templates[i]))
        tag_words = [parts["noun"], parts["material"], parts["feature"], parts["feature2"], parts["variant"]]
        tags.append(list(dict.fromkeys(tag_words)))
        attributes.append(
            {
                "margin": float(margin[i]),
                bank.variant_name: parts["variant"],
                "material": parts["material"],
                "size": parts["size"],
                "product_type": parts["noun"],
            }
        )
    frame = pd.DataFrame(
        {
            Columns.Item: [f"i{k:0{width}d}" for k in range(1, n + 1)],
            Columns.Title: titles,
            Columns.Description: descriptions,
            Columns.Category: [banks[c].path for c in category],
            Columns.Brand: [brands[b] for b in brand],
            Columns.Tags: pd.Series(tags, dtype=object),
            Columns.Price: price.astype(np.float64),
            Columns.Attributes: pd.Series(attributes, dtype=object),
            Columns.CreatedAt: created_at.astype(np.float64),
            Columns.Available: available.astype(bool),
        }
    )
    return frame[list(ITEM_COLUMNS)]


def _capitalised(text: str) -> str:
    """Each word with its first letter upper-cased (`PFOA-free` stays, `chef's knife` -> `Chef's Knife`)."""
    return " ".join(word[:1].upper() + word[1:] for word in text.split(" "))


def _title(parts: dict[str, str], choice: int) -> str:
    brand, noun = parts["brand"], _capitalised(parts["noun"])
    feature, material = _capitalised(parts["feature"]), _capitalised(parts["material"])
    if choice % 3 == 0:
        return f"{brand} {noun}, {feature}, {material}, {parts['size']}, {_capitalised(parts['variant'])}"
    if choice % 3 == 1:
        return f"{brand} {feature} {material} {noun}, {parts['size']}"
    return f"{brand} {feature} {noun} in {material}, {parts['size']}, {_capitalised(parts['variant'])}"


def _description(bank: CategoryBank, parts: dict[str, str], sentences: np.ndarray, choices: np.ndarray) -> str:
    article = "an" if parts["feature"][:1].lower() in "aeiou" else "a"
    values = {**parts, "article": article, "Article": article.capitalize(),
              "variant_name": bank.variant_name, "Variant_name": bank.variant_name.capitalize()}  # fmt: skip
    lead = LEAD_TEMPLATES[choices[1] % len(LEAD_TEMPLATES)].format(**values)
    use = USE_TEMPLATES[choices[2] % len(USE_TEMPLATES)].format(use=parts["use2"])
    closing = CLOSING_TEMPLATES[choices[3] % len(CLOSING_TEMPLATES)].format(**values)
    first, second = (bank.sentences[s] for s in sentences)
    return " ".join((lead, first, use, second, closing))
