"""Impression logs: what a policy showed, where, with what probability, and whether it was clicked.

An `ImpressionLog` holds one row per (request, slot) shown, in the position-level ("independent")
form that off-policy evaluation in `lmrec.simulation.ope` works on. `read_open_bandit` reads the
Open Bandit Dataset (ZOZOTOWN) into one, and `context_free_policy` recovers the marginal
probabilities of a context-free logging policy (such as Bernoulli Thompson sampling) from its log.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from lmrec.diagnostics import ConfigError, DataError

log = logging.getLogger(__name__)

#: Slots per request in the Open Bandit Dataset (ZOZOTOWN shows three items at once).
OPEN_BANDIT_POSITIONS = 3
#: Columns `read_open_bandit` needs besides the user-item affinities.
OPEN_BANDIT_COLUMNS = ("timestamp", "item_id", "position", "click", "propensity_score")
#: Prefix of the user-item affinity columns, followed by the item id.
AFFINITY_PREFIX = "user-item_affinity_"

OpenBanditPolicy = Literal["random", "bts"]
OpenBanditCampaign = Literal["all", "men", "women"]
PolicyEstimate = Literal["frequency", "harmonic", "mean_propensity"]


@dataclass(frozen=True, eq=False)
class ImpressionLog:
    """One row per (request, slot) a logging policy filled; validated on construction.

    Arrays (n = number of rows, d = context features):
        round: (n,) int64, which request (round) the row belongs to; rows of one request share it.
        position: (n,) int64, the slot, 0-based, in [0, n_positions).
        item: (n,) int64, the item (action) shown, in [0, n_items).
        reward: (n,) float64, the observed reward, e.g. click 0/1.
        propensity: (n,) float64, the logging policy's probability of showing `item` at `position`
            in that round, in (0, 1].
        context: (n, d) float64 features of the request, or None.

    Attributes:
        n_items: size of the action set.
        n_positions: slots per request.
    """

    round: np.ndarray
    position: np.ndarray
    item: np.ndarray
    reward: np.ndarray
    propensity: np.ndarray
    n_items: int
    n_positions: int
    context: np.ndarray | None = None

    def __post_init__(self) -> None:
        for name in ("n_items", "n_positions"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise DataError("must be a positive integer", field=name, value=value)
            object.__setattr__(self, name, int(value))
        n = len(np.atleast_1d(self.round))
        for name in ("round", "position", "item"):
            object.__setattr__(self, name, _int_array(getattr(self, name), name, n))
        for name in ("reward", "propensity"):
            object.__setattr__(self, name, _float_array(getattr(self, name), name, n))
        _check_range(self.position, "position", 0, self.n_positions)
        _check_range(self.item, "item", 0, self.n_items)
        bad = ~((self.propensity > 0.0) & (self.propensity <= 1.0))  # NaN fails both
        if bad.any():
            row = int(np.argmax(bad))
            raise DataError("must be a probability in (0, 1]", field="propensity", row=row, value=self.propensity[row])
        if self.context is not None:
            object.__setattr__(self, "context", _context_array(self.context, n))

    @classmethod
    def sized(cls, *, n_items: int | None = None, n_positions: int | None = None, **columns: object) -> ImpressionLog:
        """A log of `columns` (round, position, item, reward, propensity, context) whose action set
        and slots, where not given, are the largest item and position in it plus one; the columns
        are checked before they are measured, so a bad entry is named rather than measured."""
        n = len(np.atleast_1d(np.asarray(columns["round"])))
        item, position = _int_array(columns["item"], "item", n), _int_array(columns["position"], "position", n)
        return cls(
            **{**columns, "item": item, "position": position},  # type: ignore[arg-type]
            n_items=int(item.max(initial=0)) + 1 if n_items is None else n_items,
            n_positions=int(position.max(initial=0)) + 1 if n_positions is None else n_positions,
        )

    def __len__(self) -> int:
        return len(self.item)

    @property
    def n_rounds(self) -> int:
        """Number of distinct rounds (requests)."""
        return len(np.unique(self.round))

    def round_codes(self) -> tuple[np.ndarray, int]:
        """Each row's round as a code in [0, n_rounds), shape (n,), and n_rounds."""
        uniques, codes = np.unique(self.round, return_inverse=True)
        return codes.reshape(-1), len(uniques)

    def round_folds(self, n_folds: int, seed: int) -> np.ndarray:
        """Each row's fold in [0, n_folds), shape (n,): the rounds dealt to folds in a seeded random
        order, so a round's rows share a fold and the folds differ in size by at most one round."""
        codes, n_rounds = self.round_codes()
        return (np.random.default_rng(seed).permutation(n_rounds) % n_folds)[codes]

    def take(self, rows: np.ndarray | list[int] | slice) -> ImpressionLog:
        """A new log of the given rows (indices, a boolean mask or a slice), in that order."""
        return ImpressionLog(
            round=self.round[rows],
            position=self.position[rows],
            item=self.item[rows],
            reward=self.reward[rows],
            propensity=self.propensity[rows],
            n_items=self.n_items,
            n_positions=self.n_positions,
            context=None if self.context is None else self.context[rows],
        )

    def resample_rounds(self, seed: int) -> ImpressionLog:
        """A bootstrap copy: as many rounds as this log, drawn with replacement, each with all its
        rows; a round drawn twice appears as two rounds (numbered 0, 1, ... in draw order)."""
        codes, n_rounds = self.round_codes()
        order = np.argsort(codes, kind="stable")  # rows grouped by round
        starts = np.searchsorted(codes[order], np.arange(n_rounds + 1))  # (K + 1,)
        draws = np.random.default_rng(seed).integers(0, n_rounds, size=n_rounds)
        sizes = starts[draws + 1] - starts[draws]  # (K,) rows of each drawn round
        offsets = np.repeat(starts[draws] - np.cumsum(sizes) + sizes, sizes)
        rows = order[offsets + np.arange(sizes.sum())]
        resampled = self.take(rows)
        object.__setattr__(resampled, "round", np.repeat(np.arange(n_rounds, dtype=np.int64), sizes))
        return resampled


def _numbers(array: np.ndarray, name: str) -> np.ndarray:
    """An array of other values (text read from a file) as float64; the first entry that is not a
    number is named by its row."""
    out = np.empty(len(array))
    for row, value in enumerate(array):
        try:
            out[row] = float(value)
        except (TypeError, ValueError):
            raise DataError("must be a number", field=name, row=row, value=value) from None
    return out


def _int_array(values: object, name: str, n: int) -> np.ndarray:
    array = np.asarray(values)
    _check_length(array, name, n)
    if array.dtype.kind in "iub":
        return array.astype(np.int64)
    if array.dtype.kind != "f":
        array = _numbers(array, name)
    whole = np.isfinite(array) & (array == np.round(array))
    if not whole.all():
        row = int(np.argmax(~whole))
        raise DataError("must be an integer", field=name, row=row, value=array[row])
    return array.astype(np.int64)


def _float_array(values: object, name: str, n: int) -> np.ndarray:
    array = np.asarray(values)
    _check_length(array, name, n)
    array = array.astype(np.float64) if array.dtype.kind in "iubf" else _numbers(array, name)
    bad = ~np.isfinite(array)
    if name == "reward" and bad.any():
        row = int(np.argmax(bad))
        raise DataError("must be a finite number", field=name, row=row, value=array[row])
    return array


def _context_array(values: np.ndarray, n: int) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 2 or array.shape[0] != n or array.dtype.kind not in "iubf":
        raise DataError(f"must be a numeric array of shape ({n}, d), got {array.dtype} {array.shape}", field="context")
    array = array.astype(np.float64)
    bad = ~np.isfinite(array).all(axis=1)
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError("must be finite", field="context", row=row, value=array[row][~np.isfinite(array[row])][0])
    return array


def _check_length(array: np.ndarray, name: str, n: int) -> None:
    if array.ndim != 1 or len(array) != n:
        raise DataError(f"must be a 1-d array of {n} values (as many as `round`), got shape {array.shape}", field=name)


def _check_range(array: np.ndarray, name: str, low: int, high: int) -> None:
    bad = (array < low) | (array >= high)
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(f"must be in [{low}, {high})", field=name, row=row, value=int(array[row]))


def read_open_bandit(
    folder: str | Path, policy: OpenBanditPolicy = "random", campaign: OpenBanditCampaign = "all"
) -> ImpressionLog:
    """Read one Open Bandit Dataset log, `{folder}/{policy}/{campaign}/{campaign}.csv`.

    Each file row is one item shown in one slot. The file's 1-based `position` becomes 0-based;
    `click` is the reward; `propensity_score` the logged probability of that item in that slot;
    the `user-item_affinity_*` columns (one per item) are the context. Rows with the same
    timestamp are one request (they hold different slots of the same user), so `round` numbers
    distinct timestamps in file order. `n_items` is the number of rows of the folder's
    `item_context.csv` (the campaign's catalogue), or the largest item id + 1 without that file.

    Raises:
        ConfigError: for an unknown policy or campaign.
        DataError: for a missing file or column (naming the file) or an invalid value.
    """
    if policy not in ("random", "bts"):
        raise ConfigError(f"unknown Open Bandit policy {policy!r}; choose 'random' or 'bts'")
    if campaign not in ("all", "men", "women"):
        raise ConfigError(f"unknown Open Bandit campaign {campaign!r}; choose 'all', 'men' or 'women'")
    path = Path(folder) / policy / campaign / f"{campaign}.csv"
    if not path.is_file():
        raise DataError("no such file", source=str(path))
    frame = pd.read_csv(path, index_col=0)
    missing = [c for c in OPEN_BANDIT_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"missing column(s) {missing}", field=missing[0], source=str(path))
    n_items = _open_bandit_items(path.parent / "item_context.csv", frame)
    affinity = [f"{AFFINITY_PREFIX}{i}" for i in range(n_items)]
    absent = [c for c in affinity if c not in frame.columns]
    if absent:
        raise DataError(f"missing {len(absent)} affinity column(s), first {absent[0]!r}", source=str(path))
    try:
        impressions = ImpressionLog(
            round=pd.factorize(frame["timestamp"])[0],
            position=frame["position"].to_numpy() - 1,
            item=frame["item_id"].to_numpy(),
            reward=frame["click"].to_numpy(),
            propensity=frame["propensity_score"].to_numpy(),
            n_items=n_items,
            n_positions=OPEN_BANDIT_POSITIONS,
            context=frame[affinity].to_numpy(dtype=np.float64),
        )
    except DataError as exc:
        raise DataError(exc.reason, field=exc.field, row=exc.row, value=exc.value, source=str(path)) from exc
    log.info("read %s: %d rows, %d rounds, %d items", path, len(impressions), impressions.n_rounds, n_items)
    return impressions


def _open_bandit_items(item_context: Path, frame: pd.DataFrame) -> int:
    if item_context.is_file():
        return len(pd.read_csv(item_context, index_col=0))
    return int(frame["item_id"].max()) + 1


def context_free_policy(impressions: ImpressionLog, method: PolicyEstimate = "frequency") -> np.ndarray:
    """Per-slot item probabilities of the context-free policy that wrote `impressions`.

    A context-free policy whose probabilities drift over time (Thompson sampling updating its
    posterior) is summarised by its time-averaged probability of each item in each slot,
    pi(a | p) = mean over rounds t of pi_t(a | p). Methods:

    - `frequency`: share of the rows at slot p that show a, c(a, p) / c(p). Unbiased for pi(a | p)
      and, when this log is also the on-policy ground truth, the exact action mix behind it.
    - `harmonic`: the harmonic mean of the logged propensities of (a, p), c(a, p) / sum 1 / pi_t,
      an inverse-propensity estimate of the same average; exact when pi_t(a | p) is constant.
    - `mean_propensity`: the arithmetic mean of the logged propensities of (a, p). Biased upwards
      when propensities vary, because a row is logged with probability pi_t itself: the mean is
      E[pi^2] / E[pi], not E[pi]. Kept for comparison.

    Every row is then normalised to sum to 1 over items; unseen (item, slot) pairs get 0.

    Returns:
        (n_positions, n_items) array whose rows sum to 1 (a slot never logged gets uniform).
    """
    if method not in ("frequency", "harmonic", "mean_propensity"):
        raise ConfigError(f"unknown method {method!r}; choose 'frequency', 'harmonic' or 'mean_propensity'")
    shape = (impressions.n_positions, impressions.n_items)
    pair = impressions.position * impressions.n_items + impressions.item
    counts = np.bincount(pair, minlength=shape[0] * shape[1]).reshape(shape).astype(np.float64)
    if method == "frequency":
        weights = counts
    else:
        summed = 1.0 / impressions.propensity if method == "harmonic" else impressions.propensity
        totals = np.bincount(pair, weights=summed, minlength=shape[0] * shape[1]).reshape(shape)
        with np.errstate(invalid="ignore", divide="ignore"):
            weights = np.where(counts > 0, counts / totals if method == "harmonic" else totals / counts, 0.0)
    norms = weights.sum(axis=1, keepdims=True)
    uniform = np.full(shape, 1.0 / shape[1])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norms > 0, weights / norms, uniform)
