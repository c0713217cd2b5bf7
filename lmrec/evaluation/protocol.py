"""The evaluation protocol: full ranking over the whole catalogue, per-user metrics, intervals.

`evaluate` scores every test user of a `Split` against every catalogue item (never sampled
negatives), in batches through `model.score_histories`. Items in the user's input history are
excluded from the ranking by default. Each target's rank is counted, not sorted for (see
`lmrec.evaluation.metrics` for the exact rule, ties included), and top-K lists come from
argpartition. Results hold one row per test user, the means, and bootstrap 95% intervals from
resampling users; `compare` runs a paired test of two models on the same users.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from lmrec.data.columns import Columns
from lmrec.data.dataset import Histories
from lmrec.data.splits import Split
from lmrec.diagnostics import ConfigError, DataError
from lmrec.evaluation import metrics as m
from lmrec.evaluation.metrics import TieRule
from lmrec.evaluation.stats import bootstrap_intervals, paired_difference
from lmrec.models.base import Recommender

log = logging.getLogger(__name__)

#: Per-user column holding how many targets a user has.
N_TARGETS = "n_targets"


class EvaluationConfig(BaseModel):
    """Settings of the evaluation protocol."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    ks: tuple[int, ...] = (10, 20)
    """Cut-offs K of the @K metrics (list metrics use the same cut-offs)."""

    exclude_seen: bool = True
    """Leave the items of each test user's input history out of the ranking."""

    ties: TieRule = "pessimistic"
    """How items tied with a target are counted: `pessimistic` ranks them above it (no credit
    for ties), `optimistic` below it; see `lmrec.evaluation.metrics`."""

    batch_size: int = Field(default=512, ge=1)
    """Test users scored per call to `score_histories`."""

    n_bootstrap: int = Field(default=1000, ge=0)
    """Bootstrap resamples of the users for the 95% intervals; 0 skips the intervals."""

    seed: int = 0
    """Seed of the bootstrap resampling."""

    @field_validator("ks")
    @classmethod
    def _positive_sorted(cls, ks: tuple[int, ...]) -> tuple[int, ...]:
        if not ks or any(k < 1 for k in ks):
            raise ValueError(f"ks must be one or more positive integers, got {ks}")
        return tuple(sorted(set(ks)))


@dataclass(frozen=True)
class EvaluationResult:
    """One model evaluated on one split.

    Attributes:
        model: the model's name.
        split: the split's name.
        metrics: mean of each per-user metric, plus catalogue-level Coverage@K and Gini@K.
        intervals: bootstrap 95% interval of each per-user metric (empty when n_bootstrap is 0).
        per_user: one row per test user: `Columns.UserIdx`, `n_targets` and each per-user metric.
        n_users: number of test users.
        seconds: wall time of the whole evaluation, the model's scoring included.
    """

    model: str
    split: str
    metrics: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    per_user: pd.DataFrame
    n_users: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (per-user rows left out; NaN becomes None)."""
        return {
            "model": self.model,
            "split": self.split,
            "n_users": self.n_users,
            "seconds": round(self.seconds, 4),
            "metrics": {k: _json_float(v) for k, v in self.metrics.items()},
            "intervals": {k: [_json_float(lo), _json_float(hi)] for k, (lo, hi) in self.intervals.items()},
        }


@dataclass(frozen=True)
class PairedComparison:
    """Two models on the same test users: `diff = mean_a - mean_b` (positive: a is better on a
    metric where higher is better), with a paired bootstrap interval and a sign-flip p-value."""

    metric: str
    model_a: str
    model_b: str
    mean_a: float
    mean_b: float
    diff: float
    interval: tuple[float, float]
    p_value: float
    n_users: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN becomes None)."""
        return {
            "metric": self.metric,
            "model_a": self.model_a,
            "model_b": self.model_b,
            "mean_a": _json_float(self.mean_a),
            "mean_b": _json_float(self.mean_b),
            "diff": _json_float(self.diff),
            "interval": [_json_float(self.interval[0]), _json_float(self.interval[1])],
            "p_value": _json_float(self.p_value),
            "n_users": self.n_users,
        }


def evaluate(
    model: Recommender[Any],
    split: Split,
    config: EvaluationConfig | None = None,
    *,
    item_vectors: np.ndarray | None = None,
    name: str | None = None,
) -> EvaluationResult:
    """Rank the whole catalogue for every test user of `split` and measure the result.

    Args:
        model: a model fitted on `split.train`.
        split: the split to evaluate on.
        config: protocol settings (defaults when None).
        item_vectors: (n_items, d) item vectors for intra-list diversity (cosine distance); when
            None, 1 - Jaccard of the items' category and tag sets is used, and ILD is left out
            when no item has a category or tag (and always for K = 1).
        name: the model's name in the results (default `model.name`).
    """
    config = config or EvaluationConfig()
    start = time.perf_counter()
    train = split.train
    _check_model(model, split)
    if item_vectors is not None and (item_vectors.ndim != 2 or len(item_vectors) != train.n_items):
        raise ConfigError(f"item_vectors must have shape ({train.n_items}, d), got {item_vectors.shape}")
    histories, rows, items = _targets(split)
    ranks, lists = _rank(model, histories, rows, items, config)
    per_user = pd.DataFrame({Columns.UserIdx: histories.users, N_TARGETS: np.bincount(rows, minlength=len(histories))})
    columns = m.ranking_metrics(ranks, rows, len(histories), config.ks)
    aggregate = _list_metrics(lists, split, config.ks, item_vectors, columns)
    names = _metric_order(config.ks, columns, aggregate)
    for column in names:
        if column in columns:
            per_user[column] = columns[column]
    values = {c: _mean(columns[c]) for c in columns}
    metrics_out = {c: values[c] if c in values else aggregate[c] for c in names}
    intervals = _intervals(per_user, list(columns), config)
    seconds = time.perf_counter() - start
    model_name = name or model.name
    log.info("evaluated %s on %s: %d users in %.2fs", model_name, split.name, len(histories), seconds)
    return EvaluationResult(model_name, split.name, metrics_out, intervals, per_user, len(histories), seconds)


def compare(
    a: EvaluationResult, b: EvaluationResult, metric: str = "NDCG@10", *, n_bootstrap: int = 1000, seed: int = 0
) -> PairedComparison:
    """Paired comparison of two results on the same test users (see `PairedComparison`)."""
    for result in (a, b):
        if metric not in result.per_user.columns or metric == N_TARGETS:
            known = [c for c in result.per_user.columns if c not in (Columns.UserIdx, N_TARGETS)]
            raise ConfigError(f"{result.model} has no per-user metric {metric!r}; choose one of {known}")
    left = a.per_user.set_index(Columns.UserIdx)[metric]
    right = b.per_user.set_index(Columns.UserIdx)[metric]
    if len(left) != len(right) or not left.index.sort_values().equals(right.index.sort_values()):
        raise DataError(
            f"cannot pair {a.model} ({len(left)} users) with {b.model} ({len(right)} users): "
            "a paired comparison needs the same test users (evaluate both on the same split)"
        )
    right = right.reindex(left.index)
    x, y = left.to_numpy(dtype=np.float64), right.to_numpy(dtype=np.float64)
    diff, interval, p_value = paired_difference(x, y, n_bootstrap=n_bootstrap, seed=seed)
    return PairedComparison(metric, a.model, b.model, _mean(x), _mean(y), diff, interval, p_value, len(x))


# ---------------------------------------------------------------------------------------------
# helpers


def _check_model(model: Recommender[Any], split: Split) -> None:
    if not getattr(model, "is_fitted", False):
        return  # score_histories raises NotFittedError with the model's own message
    if len(model.items) != split.train.n_items or model.items != split.train.items:
        raise ConfigError(
            f"{model.name} was fitted on a catalogue of {len(model.items)} items that is not this split's "
            f"({split.train.n_items} items); fit it on split.train"
        )


def _targets(split: Split) -> tuple[Histories, np.ndarray, np.ndarray]:
    """The histories of users with targets, and each target's (row, item), sorted by row."""
    test = split.test.drop_duplicates([Columns.UserIdx, Columns.ItemIdx])
    users = test[Columns.UserIdx].to_numpy(dtype=np.int64)
    items = test[Columns.ItemIdx].to_numpy(dtype=np.int64)
    n_items = split.train.n_items
    bad = (items < 0) | (items >= n_items)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"target item is not in the catalogue of {n_items} items",
            field=Columns.ItemIdx,
            row=row,
            value=int(items[row]),
        )
    index = pd.Index(split.histories.users)
    rows = index.get_indexer(users)
    if (rows < 0).any():
        user = int(users[np.flatnonzero(rows < 0)[0]])
        raise DataError("test user has no row in split.histories", field=Columns.UserIdx, value=user)
    kept = np.unique(rows)  # users without targets are not evaluated
    histories = split.histories.take(kept) if len(kept) < len(split.histories) else split.histories
    rows = np.searchsorted(kept, rows)
    order = np.argsort(rows, kind="stable")
    return histories, rows[order], items[order]


def _rank(
    model: Recommender[Any], histories: Histories, rows: np.ndarray, items: np.ndarray, config: EvaluationConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Score users batch by batch: each target's rank, and each user's top-max(K) list."""
    kmax = max(config.ks)
    ranks = np.empty(len(rows), dtype=np.int64)
    lists = np.full((len(histories), kmax), -1, dtype=np.int64)
    bounds = np.searchsorted(rows, np.arange(0, len(histories) + config.batch_size, config.batch_size))
    for batch, begin in enumerate(range(0, len(histories), config.batch_size)):
        end = min(begin + config.batch_size, len(histories))
        sub = _slice(histories, begin, end)
        masked = m.mask_scores(model.score_histories(sub), sub if config.exclude_seen else None)
        lo, hi = bounds[batch], bounds[batch + 1]
        ranks[lo:hi] = m.target_ranks(masked, rows[lo:hi] - begin, items[lo:hi], ties=config.ties)
        lists[begin:end] = m.top_k_lists(masked, kmax)
    return ranks, lists


def _list_metrics(
    lists: np.ndarray,
    split: Split,
    ks: tuple[int, ...],
    item_vectors: np.ndarray | None,
    columns: dict[str, np.ndarray],
) -> dict[str, float]:
    """Add per-user ILD, Novelty and MeanPop at each K to `columns`; return Coverage and Gini."""
    train = split.train
    aggregate: dict[str, float] = {}
    features = None if item_vectors is not None else m.item_features(train.item_table)
    counts = train.item_counts().astype(np.float64)
    information = m.self_information(counts)
    for k in ks:
        top = lists[:, :k]
        aggregate[f"Coverage@{k}"] = m.coverage(top, train.n_items)
        if k >= 2 and (item_vectors is not None or features is not None):  # one item has no pairs
            columns[f"ILD@{k}"] = m.intra_list_diversity(top, vectors=item_vectors, features=features)
        columns[f"Novelty@{k}"] = m.list_means(top, information)
        aggregate[f"Gini@{k}"] = m.gini(top, train.n_items)
        columns[f"MeanPop@{k}"] = m.list_means(top, counts)
    return aggregate


def _slice(histories: Histories, begin: int, end: int) -> Histories:
    """Rows begin..end of a batch, without copying row by row."""
    lo, hi = histories.indptr[begin], histories.indptr[end]
    return Histories(histories.users[begin:end], histories.indptr[begin : end + 1] - lo, histories.items[lo:hi])


def _metric_order(ks: tuple[int, ...], columns: dict[str, np.ndarray], aggregate: dict[str, float]) -> list[str]:
    names = [f"{metric}@{k}" for k in ks for metric in ("HR", "Recall", "NDCG")] + ["MRR"]
    names += [f"{metric}@{k}" for k in ks for metric in ("Coverage", "ILD", "Novelty", "Gini", "MeanPop")]
    return [n for n in names if n in columns or n in aggregate]


def _intervals(per_user: pd.DataFrame, names: list[str], config: EvaluationConfig) -> dict[str, tuple[float, float]]:
    if config.n_bootstrap == 0 or per_user.empty:
        return {}
    ordered = [c for c in per_user.columns if c in names]
    values = per_user[ordered].to_numpy(dtype=np.float64)
    bounds = bootstrap_intervals(values, n_bootstrap=config.n_bootstrap, seed=config.seed)
    return {c: (float(lo), float(hi)) for c, (lo, hi) in zip(ordered, bounds, strict=True)}


def _mean(values: np.ndarray) -> float:
    """Mean of the finite entries; NaN (without a warning) when there are none."""
    present = ~np.isnan(values)
    return float(values[present].mean()) if present.any() else math.nan


def _json_float(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)
