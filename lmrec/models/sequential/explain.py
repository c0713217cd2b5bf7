"""Which history items drove a sequential recommendation, with weights.

Five methods:

- `occlusion` (the default, the contract every model keeps): the drop in the item's score when one
  history item is removed from the sequence, computed for every history item in one batch. It
  answers "what if this item had not been there", exactly. Removing an item also moves every older
  item one position back and, for the newest, hands the query to the item before it, so a newest
  item much like the one before it can weigh little, or less than nothing, although the model reads
  it most.
- `mask`: the drop when one history item is taken out where it stands, every other item keeping
  its position: an older item becomes padding (out of attention and of the text profile), the
  newest, whose position is the one that queries, keeps it with zero vectors. One batch too; it
  measures what the model drew from that item, and on MovieLens names the newest item for 96% of
  recommendations (occlusion: 70%), which says less (`benchmarks/bench_explain.py`).
- `shapley`: each history item's Shapley value, where a subset of the history is worth the item's
  lead over the catalogue's mean score with only that subset in the sequence (in order, as
  occlusion scores it), and the empty history is worth 0. It averages an item's effect over every
  context the rest of the history could give it, so two items that stand in for each other
  (occlusion: each looks unneeded while the other remains) share the credit, and the weights sum
  to the item's lead. The lead, not the raw score: a part every item's score shares (the user
  vector's length, its pull toward popular items) does not rank one item over another, and left
  in, the first item to join a subset takes it whatever its taste. Exact up to
  log2(`shapley_coalitions`) history items (every subset scored); above, estimated by KernelSHAP
  from that many subsets drawn with a seed. The subsets go through the network in batches of like
  length.
- `gradient`: gradient times input on each history item's input vector (a first-order estimate
  of zeroing that vector where it stands, the text profile left out; one backward pass per
  explained item).
- `attention`: attention rollout from the newest position through the blocks (heads averaged,
  residual mixed in). It is the same for every recommended item and describes what the user
  state attended to, not why one item won; use it for display, not for attribution.

Weights are per history position, newest last, shape (n_items, history length).
"""

from __future__ import annotations

from math import factorial
from typing import TYPE_CHECKING

import numpy as np
import torch

from lmrec.data.dataset import Histories

if TYPE_CHECKING:
    from lmrec.models.sequential.model import SASRec

METHODS = ("occlusion", "shapley", "mask", "gradient", "attention")
#: Subsets scored per network pass by `shapley`.
_SUBSET_BATCH = 128


def explain(model: SASRec, recent: np.ndarray, targets: np.ndarray, method: str) -> np.ndarray:
    """Weights of each history item for each target item, shape (len(targets), len(recent)).

    Args:
        model: a fitted SASRec.
        recent: non-empty item positions, oldest first, at most `max_len` of them.
        targets: non-empty item positions to explain (for example the recommended ones).
        method: one of `METHODS` (see the module docstring).

    Larger means the history item pushed the item's score up more. `SASRec.explain` checks the
    method, keeps the newest `max_len` items and handles empty inputs.
    """
    if method == "mask":
        return _mask(model, recent, targets)
    if method == "occlusion":
        return _occlusion(model, recent, targets)
    if method == "shapley":
        return _shapley(model, recent, targets)
    if method == "gradient":
        return _gradient(model, recent, targets)
    return np.broadcast_to(_attention(model, recent), (len(targets), len(recent))).copy()


def _rows(sequences: list[np.ndarray], width: int) -> torch.Tensor:
    """Left-padded network rows (item position + 1) of the given sequences, shape (B, width)."""
    out = np.zeros((len(sequences), width), dtype=np.int64)
    for b, seq in enumerate(sequences):
        if len(seq):
            out[b, width - len(seq) :] = seq + 1
    return torch.from_numpy(out)


def _mask(model: SASRec, recent: np.ndarray, targets: np.ndarray) -> np.ndarray:
    t = len(recent)
    rows = _rows([recent], t).repeat(t + 1, 1)  # (1 + T, T): the history, then once per position
    rows[torch.arange(1, t), torch.arange(t - 1)] = 0  # row j + 1: older item j becomes padding in place
    blank = torch.zeros(rows.shape, dtype=torch.bool)
    blank[t, t - 1] = True  # row T: the newest item keeps the query's position with zero vectors
    with torch.no_grad():
        hidden = model.network.last_hidden(rows, model.item_table(), blank)  # (1 + T, D)
        scores = hidden @ model.output_table()[torch.from_numpy(targets + 1)].T  # (1 + T, n)
    return (scores[0:1] - scores[1:]).T.numpy().astype(np.float32)


def _occlusion(model: SASRec, recent: np.ndarray, targets: np.ndarray) -> np.ndarray:
    variants = Histories.from_lists([recent] + [np.delete(recent, j) for j in range(len(recent))])
    hidden = model.user_vectors(variants)  # (1 + T, D): the full history, then each item removed
    scores = hidden @ model.item_vectors()[targets].T  # (1 + T, n)
    drops = scores[0:1] - scores[1:]  # (T, n): how much each removal lowers each item's score
    return drops.T.astype(np.float32)


def _shapley(model: SASRec, recent: np.ndarray, targets: np.ndarray) -> np.ndarray:
    t = len(recent)
    budget = model.config.shapley_coalitions
    if 2**t <= budget:
        return _exact_shapley(model, recent, targets)
    return _kernel_shapley(model, recent, targets, budget // 2)


def _kernel_shapley(model: SASRec, recent: np.ndarray, targets: np.ndarray, pairs: int) -> np.ndarray:
    """KernelSHAP (Lundberg and Lee 2017) with paired sampling (Covert and Lee 2021): subsets drawn
    with the Shapley kernel's size distribution, each scored with its complement; the values are
    the least-squares fit of subset values by sums of member weights, constrained to sum to the
    whole history's value. For as many subsets it names the largest values more reliably than
    averaging gains over sampled orders: in a development comparison on MovieLens-100K (24 users,
    50 history items, 1,024 subsets) it named the same first item as a 20,000-subset reference for
    16 of 24 recommendations, against 9 by orders."""
    t = len(recent)
    rng = np.random.default_rng(model.config.seed)
    sizes = np.arange(1, t)
    kernel = (t - 1) / (sizes * (t - sizes))  # the kernel's weight of a size, all its subsets together
    size = rng.choice(sizes, size=pairs, p=kernel / kernel.sum())  # (S,)
    order = np.argsort(rng.random((pairs, t)), axis=1)  # (S, T) a random permutation per subset
    drawn = order < size[:, None]  # (S, T): `size` members at random
    present = np.concatenate([drawn, ~drawn])  # (2S, T) each subset, then its complement
    values = _subset_scores(model, recent, present, targets)  # (2S, n)
    whole = _subset_scores(model, recent, np.ones((1, t), dtype=bool), targets)[0]  # (n,)
    member = present.astype(np.float64)  # (2S, T)
    gram = np.linalg.pinv(member.T @ member / len(member))  # (T, T) inverse second moment of membership
    fit = gram @ (member.T @ values / len(member))  # (T, n) unconstrained least squares
    ones = gram.sum(axis=1)  # (T,) gram @ 1
    shift = (fit.sum(axis=0) - whole) / ones.sum()  # (n,) the multiplier that makes each column sum to whole
    return (fit - np.outer(ones, shift)).T.astype(np.float32)


def _exact_shapley(model: SASRec, recent: np.ndarray, targets: np.ndarray) -> np.ndarray:
    t = len(recent)
    subsets = np.arange(2**t)  # bit j set: history item j is in the subset
    present = ((subsets[:, None] >> np.arange(t)) & 1).astype(bool)  # (2^T, T)
    values = _subset_scores(model, recent, present, targets)  # (2^T, n)
    sizes = present.sum(axis=1)
    share = np.array([factorial(s) * factorial(t - s - 1) / factorial(t) for s in range(t)])  # by subset size
    out = np.empty((len(targets), t))
    for j in range(t):
        without = subsets[~present[:, j]]  # subsets j can join
        gains = values[without | (1 << j)] - values[without]  # (2^(T-1), n)
        out[:, j] = share[sizes[without]] @ gains
    return out.astype(np.float32)


def _subset_scores(model: SASRec, recent: np.ndarray, present: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """The targets' leads over the catalogue's mean score with only the marked history items, in
    order (an empty subset: 0), shape (len(present), len(targets)). Rows go through the network
    sorted by length, so a batch pads only to its own longest subset."""
    vectors = model.item_vectors()  # (I, D)
    outputs = (vectors[targets] - vectors.mean(axis=0)).T  # (D, n): a score is linear in the item vector
    scores = np.empty((len(present), len(targets)))
    order = np.argsort(present.sum(axis=1), kind="stable")
    for start in range(0, len(order), _SUBSET_BATCH):
        rows = order[start : start + _SUBSET_BATCH]
        subsets = Histories.from_lists([recent[present[r]] for r in rows])
        scores[rows] = model.user_vectors(subsets) @ outputs
    return scores


def _gradient(model: SASRec, recent: np.ndarray, targets: np.ndarray) -> np.ndarray:
    network = model.network
    table, output = model.item_table(), model.output_table()  # (I + 1, D) each
    rows = _rows([recent], len(recent))  # (1, T)
    out = np.zeros((len(targets), len(recent)), dtype=np.float32)
    for n, item in enumerate(targets):
        inputs = table.clone().requires_grad_(True)  # gradients w.r.t. the input copy of the item vectors
        hidden = network.last_hidden(rows, inputs)  # (1, D)
        score = hidden[0] @ output[int(item) + 1]
        (grad,) = torch.autograd.grad(score, inputs)
        positions = rows[0]  # (T,) network rows of the history
        out[n] = (grad[positions] * table[positions]).sum(dim=1).numpy()  # gradient x input per position
    return out


def _attention(model: SASRec, recent: np.ndarray) -> np.ndarray:
    network = model.network
    with torch.no_grad():
        network.forward(_rows([recent], len(recent)), model.item_table(), return_weights=True)
    rollout = torch.eye(len(recent))
    for weights in network.attention_weights():  # (1, H, T, T) per block
        mixed = 0.5 * weights[0].mean(dim=0) + 0.5 * torch.eye(len(recent))  # the residual path keeps half
        rollout = mixed @ rollout
    return rollout[-1].numpy().astype(np.float32)  # what the newest position draws from each item
