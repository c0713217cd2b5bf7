"""Vectorised ranking and list metrics over full-catalogue scores.

The rank rule, shared by the fast path here and the reference implementation in the tests:
a target's rank (1-based) is its place in the catalogue sorted by score, best first, where
- NaN scores and excluded items count as -inf, so they rank below every real score;
- ties are broken against the model by default (`ties="pessimistic"`): every non-target item
  with the same score ranks above the target, so a model earns nothing from ties and a constant
  or broken model scores ~0. `ties="optimistic"` puts the target above its tied non-targets
  instead (what a full sort that happens to favour the target gives; some published numbers,
  e.g. the shared-data popularity reference, follow it);
- targets tied with each other are ordered by item position.
So `rank = 1 + #{higher} + #{tied non-targets} + #{tied targets at a lower position}`, without
the middle term when optimistic.

Top-K lists (for coverage, diversity, novelty and popularity metrics) follow
`lmrec.itemlist.top_k_positions`: score descending, ties by item position, -inf never listed;
a list shorter than K is padded with -1.
"""

from __future__ import annotations

import json
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from lmrec.data.columns import Columns
from lmrec.data.dataset import Histories
from lmrec.itemlist import top_k_positions

TieRule = Literal["pessimistic", "optimistic"]

#: Elements per temporary (rows x items) block, to bound memory on large catalogues.
_BLOCK = 1 << 22


def mask_scores(scores: np.ndarray, exclude: Histories | None = None) -> np.ndarray:
    """A copy of (B, n_items) `scores` with NaN and the items of each row of `exclude` at -inf."""
    masked = np.array(scores, dtype=np.float32, copy=True)
    masked[np.isnan(masked)] = -np.inf
    if exclude is not None and len(exclude.items):
        rows = np.repeat(np.arange(len(exclude)), exclude.lengths())
        masked[rows, exclude.items] = -np.inf
    return masked


def target_ranks(
    masked: np.ndarray, rows: np.ndarray, items: np.ndarray, *, ties: TieRule = "pessimistic"
) -> np.ndarray:
    """1-based rank of each target `(rows[t], items[t])` in its row of `masked` (see module doc).

    Args:
        masked: (B, n_items) scores from `mask_scores` (no NaN).
        rows: (T,) row of each target; a (row, item) pair must not repeat.
        items: (T,) item position of each target.
        ties: how non-target items tied with a target are counted.
    """
    if ties not in ("pessimistic", "optimistic"):
        raise ValueError(f"ties must be 'pessimistic' or 'optimistic', got {ties!r}")
    rows = np.asarray(rows, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64)
    n_targets = len(rows)
    target_scores = masked[rows, items]
    higher = np.empty(n_targets, dtype=np.int64)
    equal = np.empty(n_targets, dtype=np.int64)
    step = max(1, _BLOCK // max(1, masked.shape[1]))
    for start in range(0, n_targets, step):
        part = slice(start, start + step)
        block = masked[rows[part]]  # (t, n_items)
        pivot = target_scores[part, None]
        higher[part] = (block > pivot).sum(axis=1)
        equal[part] = (block == pivot).sum(axis=1)
    tied_targets, before = _ties_among_targets(rows, items, target_scores)
    tied_others = equal - tied_targets if ties == "pessimistic" else 0
    return 1 + higher + tied_others + before


def _ties_among_targets(rows: np.ndarray, items: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each target: how many targets of its row share its score (itself included), and how
    many of those sit at a lower item position."""
    order = np.lexsort((items, values, rows))
    r, v = rows[order], values[order]
    starts = np.ones(len(order), dtype=bool)
    starts[1:] = (r[1:] != r[:-1]) | (v[1:] != v[:-1])
    group = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    size = np.bincount(group)[group]
    position = np.arange(len(order)) - first[group]
    tied = np.empty(len(order), dtype=np.int64)
    before = np.empty(len(order), dtype=np.int64)
    tied[order] = size
    before[order] = position
    return tied, before


def top_k_lists(masked: np.ndarray, k: int) -> np.ndarray:
    """(B, k) item positions of each row's k best finite scores, best first, -1 padded.

    Finds each row's k-th best value with `np.partition`, keeps every item above it and, of the
    items tied with it, those at the lowest positions, then sorts the k kept items by score
    (ties by position). A row with fewer than k finite scores is done by `top_k_positions`.
    """
    n_rows, n_items = masked.shape
    out = np.full((n_rows, k), -1, dtype=np.int64)
    width = min(k, n_items)
    if width == 0 or n_rows == 0:
        return out
    kth = np.partition(masked, n_items - width, axis=1)[:, n_items - width]
    short = ~np.isfinite(kth)
    above = masked > kth[:, None]
    tied = masked == kth[:, None]
    need = width - above.sum(axis=1)
    cut = np.flatnonzero((tied.sum(axis=1) > need) & ~short)  # ties straddle the k-th place
    if len(cut):
        tied[cut] &= np.cumsum(tied[cut], axis=1) <= need[cut, None]
    chosen = above | tied
    chosen[short] = False
    full = np.flatnonzero(~short)
    rows, flat = np.nonzero(chosen)
    positions = flat.reshape(len(full), width)  # row-major: each row's picks by position
    values = masked[rows, flat].reshape(len(full), width)
    order = np.lexsort((positions, -values), axis=1)
    out[full, :width] = np.take_along_axis(positions, order, axis=1)
    for row in np.flatnonzero(short):
        best = top_k_positions(masked[row], k)
        out[row, : len(best)] = best
    return out


def ranking_metrics(ranks: np.ndarray, rows: np.ndarray, n_rows: int, ks: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Per-row HR@K, Recall@K, NDCG@K and MRR from the targets' 1-based ranks.

    With T targets in a row: HR@K = 1 if any target ranks <= K; Recall@K = hits / T;
    NDCG@K = sum over hits of 1/log2(rank + 1), divided by the ideal sum over min(T, K) targets;
    MRR = 1 / (best rank), uncut. A row without targets gets NaN.
    """
    ranks = np.asarray(ranks, dtype=np.float64)
    rows = np.asarray(rows, dtype=np.int64)
    n_targets = np.bincount(rows, minlength=n_rows).astype(np.float64)
    has_targets = n_targets > 0
    discount = 1.0 / np.log2(ranks + 1.0)
    out: dict[str, np.ndarray] = {}
    for k in ks:
        hit = ranks <= k
        hits = np.bincount(rows, weights=hit, minlength=n_rows)
        dcg = np.bincount(rows, weights=np.where(hit, discount, 0.0), minlength=n_rows)
        ideal = _ideal_dcg(np.minimum(n_targets, k).astype(np.int64))
        with np.errstate(invalid="ignore", divide="ignore"):
            out[f"HR@{k}"] = np.where(has_targets, (hits > 0).astype(np.float64), np.nan)
            out[f"Recall@{k}"] = np.where(has_targets, hits / n_targets, np.nan)
            out[f"NDCG@{k}"] = np.where(has_targets, dcg / ideal, np.nan)
    best = np.full(n_rows, np.inf)
    np.minimum.at(best, rows, ranks)
    out["MRR"] = np.where(has_targets, 1.0 / best, np.nan)
    return out


def _ideal_dcg(counts: np.ndarray) -> np.ndarray:
    """sum_{i=1..c} 1/log2(i + 1) for each count c."""
    top = int(counts.max()) if len(counts) else 0
    table = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(2, top + 2)))])
    return table[counts]


# ---------------------------------------------------------------------------------------------
# list metrics


def coverage(lists: np.ndarray, n_items: int) -> float:
    """Share of the catalogue that appears in at least one list (-1 entries ignored)."""
    shown = lists[lists >= 0]
    return float(len(np.unique(shown)) / n_items) if n_items else float("nan")


def gini(lists: np.ndarray, n_items: int) -> float:
    """Gini coefficient of how often each catalogue item is recommended.

    0 when every item is shown equally often, approaching 1 when a few items take all exposure.
    Items never shown count as zeros.
    """
    counts = np.sort(np.bincount(lists[lists >= 0], minlength=n_items).astype(np.float64))
    total = counts.sum()
    if n_items == 0 or total == 0:
        return float("nan")
    index = np.arange(1, n_items + 1)
    return float(np.sum((2 * index - n_items - 1) * counts) / (n_items * total))


def list_means(lists: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per-row mean of `values[item]` over each list's items (-1 ignored); NaN for an empty list."""
    valid = lists >= 0
    picked = np.where(valid, values[np.where(valid, lists, 0)], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return picked.sum(axis=1) / valid.sum(axis=1)


def self_information(item_counts: np.ndarray) -> np.ndarray:
    """-log2 of each item's share of train interactions, for novelty.

    An item never seen in train counts as one interaction, so a cold item's novelty is high
    but finite.
    """
    counts = np.maximum(np.asarray(item_counts, dtype=np.float64), 1.0)
    total = max(float(np.asarray(item_counts).sum()), 1.0)
    return -np.log2(counts / total)


def intra_list_diversity(
    lists: np.ndarray, *, vectors: np.ndarray | None = None, features: sp.csr_matrix | None = None
) -> np.ndarray:
    """Per-row mean pairwise distance of the items of each list; NaN for a list of < 2 items.

    With `vectors` (n_items, d) the distance is the cosine distance 1 - cos (a zero vector has
    cosine 0 with everything); with `features` (n_items, n_features, binary) it is 1 - Jaccard of
    the feature sets, two empty sets counting as identical (distance 0).
    """
    if (vectors is None) == (features is None):
        raise ValueError("give exactly one of vectors or features")
    n_rows, k = lists.shape
    left, right = np.triu_indices(k, 1)
    total = np.zeros(n_rows)
    pairs = np.zeros(n_rows)
    if vectors is not None:
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        unit = np.divide(vectors, norms, out=np.zeros_like(vectors, dtype=np.float64), where=norms > 0)
    else:
        assert features is not None
        binary = sp.csr_matrix(features, dtype=np.float64)
        binary.data[:] = 1.0
        sizes = np.asarray(binary.getnnz(axis=1), dtype=np.float64)
    width = unit.shape[1] if vectors is not None else 1
    step = max(1, _BLOCK // max(1, len(left) * width))
    for start in range(0, n_rows, step):
        block = lists[start : start + step]
        a, b = block[:, left], block[:, right]  # (rows, pairs)
        valid = (a >= 0) & (b >= 0)
        ai, bi = a[valid], b[valid]
        if vectors is not None:
            distance = 1.0 - np.einsum("pd,pd->p", unit[ai], unit[bi])
        else:
            inter = np.asarray(binary[ai].multiply(binary[bi]).sum(axis=1)).ravel()
            union = sizes[ai] + sizes[bi] - inter
            distance = np.where(union > 0, 1.0 - inter / np.maximum(union, 1.0), 0.0)
        sums = np.zeros(valid.shape)
        sums[valid] = distance
        total[start : start + step] = sums.sum(axis=1)
        pairs[start : start + step] = valid.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs > 0, total / np.maximum(pairs, 1), np.nan)


def item_features(item_table: pd.DataFrame) -> sp.csr_matrix | None:
    """Binary (n_items, n_features) matrix of each item's category and tags; None when no item
    has any (then there is nothing to measure diversity with)."""
    categories = item_table[Columns.Category].fillna("").astype(str).str.strip().to_numpy()
    tags = item_table[Columns.Tags].to_numpy()
    rows: list[int] = []
    names: list[str] = []
    for position, (category, raw_tags) in enumerate(zip(categories, tags, strict=True)):
        labels = {f"category:{category}"} if category else set()
        labels.update(f"tag:{tag}" for tag in _tag_list(raw_tags))
        rows.extend([position] * len(labels))
        names.extend(sorted(labels))
    if not names:
        return None
    codes, _ = pd.factorize(pd.Series(names, dtype=object))
    data = np.ones(len(codes), dtype=np.float64)
    matrix = sp.csr_matrix((data, (np.asarray(rows), codes)), shape=(len(item_table), int(codes.max()) + 1))
    matrix.sum_duplicates()
    return matrix


def _tag_list(raw: object) -> list[str]:
    if isinstance(raw, str):
        try:
            value = json.loads(raw) if raw else []
        except ValueError:
            value = raw.split("|")
    elif isinstance(raw, (list, tuple, np.ndarray)):
        value = list(raw)
    else:
        value = []
    return [str(v).strip() for v in value if str(v).strip()]
