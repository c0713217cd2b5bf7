"""How SASRec scores items that had no interactions in training (new items) against the rest.

A new item is scored by its projected text and, with `text_similarity`, by γ times the cosine of its
text to the history's. Two settings then place new items among the known ones (docs/cold-start.md
has the measurements behind them):

- the spread: each user's text term of the new items is spread about its mean over them, so that
  the text says more about *which* new item a user wants without lifting new items as a whole;
- the share: one offset added to every new item's score, chosen after fitting so that new items
  fill a given share of the top-k lists of the training users.

Both fold into the item and user vectors, so a score stays one dot product (a vector index over
`item_vectors` returns the same top-k as `score`) and explanations read the scores as ranked.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lmrec.data.dataset import Histories
from lmrec.evaluation.metrics import mask_scores

#: Training users (at most) whose top-k lists the new items' offset is calibrated on.
CALIBRATION_USERS = 20_000

#: Length of the lists whose slots the new items' share counts.
CALIBRATION_K = 10


def adjusted_item_vectors(vectors: np.ndarray, new: np.ndarray, dim: int, spread: float, offset: float) -> np.ndarray:
    """Item vectors (I, D + Dt) with the new items' text part spread about their mean, plus a last
    column holding the offset for new items and 0 for the rest, shape (I, D + Dt + 1).

    With u_t a user's text part (γ times the history's text profile) and v_j an item's unit text
    vector, the text term is u_t · v_j. Spreading it about its mean over the new items N,
    u_t · v̄_N + spread · u_t · (v_j - v̄_N), is the dot product with spread · v_j - (spread - 1) · v̄_N,
    the same vector for every user.
    """
    adjusted = np.array(vectors, dtype=np.float32, copy=True)  # (I, D + Dt)
    if spread != 1.0 and new.any():
        text = adjusted[new, dim:]  # (N, Dt)
        adjusted[new, dim:] = spread * text - (spread - 1.0) * text.mean(axis=0, keepdims=True)
    column = np.where(new, np.float32(offset), np.float32(0.0)).astype(np.float32)[:, None]  # (I, 1)
    return np.hstack([adjusted, column])


def with_offset_column(users: np.ndarray, histories: Histories) -> np.ndarray:
    """User vectors (B, D') with a last column of ones (zero for an empty history), which picks up
    the new items' offset from `adjusted_item_vectors`; shape (B, D' + 1)."""
    ones = (histories.lengths() > 0).astype(np.float32)[:, None]  # (B, 1)
    return np.hstack([users.astype(np.float32, copy=False), ones])


def share_offset(
    score: Callable[[Histories], np.ndarray],
    histories: Histories,
    new: np.ndarray,
    share: float,
    seed: int,
) -> float:
    """The offset that, added to every new item's score, makes new items fill `share` of the top
    `CALIBRATION_K` slots over (up to `CALIBRATION_USERS` of) `histories`, seen items excluded.

    `score` gives the (B, I) scores without an offset. Only each user's best `CALIBRATION_K` new and
    known scores can reach a list, so they are kept and the offset is found by bisection on them.
    """
    rows = np.flatnonzero(histories.lengths() > 0)
    if len(rows) > CALIBRATION_USERS:
        rows = np.sort(np.random.default_rng(seed).choice(rows, size=CALIBRATION_USERS, replace=False))
    k = CALIBRATION_K
    best_new, best_known = [], []
    for begin in range(0, len(rows), 1024):
        batch = histories.take(rows[begin : begin + 1024])
        scores = mask_scores(score(batch), batch)  # (B, I), seen items at -inf
        best_new.append(_top(scores[:, new], k))  # (B, k)
        best_known.append(_top(scores[:, ~new], k))  # (B, k)
    tops_new, tops_known = np.vstack(best_new), np.vstack(best_known)

    def filled(offset: float) -> float:
        merged = np.hstack([tops_new + offset, tops_known])  # (U, 2k)
        order = np.argsort(-merged, axis=1, kind="stable")[:, :k]  # ties go to the new items, listed first
        taken = np.take_along_axis(np.isfinite(merged), order, axis=1) & (order < k)
        return float(taken.mean())

    finite = np.concatenate([tops_new[np.isfinite(tops_new)], tops_known[np.isfinite(tops_known)]])
    if finite.size == 0:
        return 0.0
    span = float(finite.max() - finite.min()) + 1.0
    low, high = -span, span  # every new item below every known one, and above
    for _ in range(60):
        middle = (low + high) / 2.0
        low, high = (low, middle) if filled(middle) > share else (middle, high)
    return (low + high) / 2.0


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Each row's `k` largest values (-inf where a row has fewer than k columns), shape (B, k)."""
    if scores.shape[1] < k:
        scores = np.hstack([scores, np.full((len(scores), k - scores.shape[1]), -np.inf)])
    return -np.sort(-np.partition(scores, scores.shape[1] - k, axis=1)[:, -k:], axis=1)
