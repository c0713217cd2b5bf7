"""Can SASRec fused tell who will go to a new item? A development probe, on no test data.

On the cold-start benchmark's development split (`bench_text_weight.development_split`:
amazon-games, the training side of `bench_cold_start.py`'s split with a second 10% of its items
held out as stand-in new items), the users are cut into fifths by how popular their history is
(the mean log(1 + interactions) of its items). Per fifth: the share of users whose next item is a
stand-in, and NDCG@10 of the content model and of SASRec fused with the stand-ins' scores moved by
each of `OFFSETS`, on the users whose next item is new, known, and pooled in their natural
proportion. If the users of long-tail histories went to new items far more often, and wanted them
lifted where the rest do not, a shift per user could win pooled where one shift for all does not
(`bench_text_weight.py` finds the best single shift over all users negative). Each fifth at its own
best offset (`pooled_at_each_fifths_best_offset`) is that idea's upper bound: it is chosen on the
very users it is measured on. The same per fifth for the text weight γ at multiples of the one the
model chose (`TEXT_WEIGHT_SCALES`), with one multiple per fifth chosen as the model's validation
could choose it, on the users whose next item is known.

    python benchmarks/bench_new_item_users.py [--minutes 20] [--seed 0]

Writes benchmarks/results/new_item_users.json (no README table: it informs docs/cold-start.md).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import torch
from bench_cold_start import AmongItems, compared_models
from bench_text_weight import at_text_weight_multiples, development_split
from common import shared_data, write_results

from lmrec.data.dataset import Histories
from lmrec.data.ingest import load_dataset
from lmrec.evaluation.protocol import EvaluationConfig, evaluate
from lmrec.models import create_model
from lmrec.models.base import Recommender

#: Shifts of the stand-in new items' scores (SASRec fused's score units).
OFFSETS = (-0.5, 0.0, 1.0)
FIFTHS = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=20.0, help="Training time limit of SASRec.")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    path = shared_data("amazon-games")
    if path is None:
        return
    torch.set_num_threads(1)
    data, _ = load_dataset(path)
    new, known, absent, stand_ins = development_split(data, args.seed)
    counts = known.train.item_counts()
    popularity = {kind: history_popularity(split.histories, counts) for kind, split in (("new", new), ("known", known))}
    edges = np.quantile(np.concatenate(list(popularity.values())), np.arange(1, FIFTHS) / FIFTHS)
    fifth = {kind: np.digitize(values, edges) for kind, values in popularity.items()}  # 0 = least popular
    sizes = {kind: np.bincount(f, minlength=FIFTHS) for kind, f in fifth.items()}
    sizes["pooled"] = sizes["new"] + sizes["known"]
    share_new = (sizes["new"] / sizes["pooled"]).tolist()
    print(f"share of users whose next item is new, least to most popular history: {share_new}", flush=True)
    config = EvaluationConfig(n_bootstrap=0)
    splits = {"new": new, "known": known}

    def by_fifth(model: Recommender[Any], offset: float) -> list[dict[str, float]]:
        shown = AmongItems(model, ~absent, stand_ins, offset)
        ndcg = {kind: evaluate(shown, split, config).per_user["NDCG@10"].to_numpy() for kind, split in splits.items()}
        rows = []
        for f in range(FIFTHS):
            parts = {kind: ndcg[kind][fifth[kind] == f] for kind in splits}
            rows.append(
                {
                    **{k: float(v.mean()) for k, v in parts.items()},
                    "pooled": float(np.concatenate(list(parts.values())).mean()),
                }
            )
        return rows

    # as trained: the first split's held-out items have no interactions here either, and are not
    # in this world's catalogue, so the model would count them among the new items it places
    models = compared_models(args.minutes, args.seed, None, place_new_items=False)
    content = by_fifth(create_model(*models["content"]).fit(known.train), 0.0)
    print(f"content: {[round(r['pooled'], 4) for r in content]}", flush=True)
    started = time.perf_counter()
    fused = create_model(*models["sasrec-fused"]).fit(known.train)
    seconds = time.perf_counter() - started
    at_offset = {}
    for offset in OFFSETS:
        at_offset[offset] = by_fifth(fused, offset)
        print(f"fused {offset:+g}: {[round(r['pooled'], 4) for r in at_offset[offset]]}", flush=True)
    at_multiple = at_text_weight_multiples(fused, lambda model: by_fifth(model, 0.0))
    best = [max(OFFSETS, key=lambda o: at_offset[o][f]["pooled"]) for f in range(FIFTHS)]
    # γ per fifth as the model's validation could choose it: on the users whose next item is known
    chosen = [max(at_multiple, key=lambda m: at_multiple[m][f]["known"]) for f in range(FIFTHS)]

    def pooled(table: dict[float, list[dict[str, float]]], choice: list[float], kind: str = "pooled") -> float:
        weights = sizes[kind]
        return float(sum(table[c][f][kind] * weights[f] for f, c in enumerate(choice)) / weights.sum())

    write_results(
        "new_item_users",
        {
            "dataset": "amazon-games",
            "split": {"held_out_share": 0.1, "seed": args.seed, "stand_in_seed": args.seed + 1},
            "fifths_by_history_popularity": {
                "edges": edges.tolist(),
                "users": sizes["pooled"].tolist(),
                "share_next_item_new": share_new,
            },
            "content": content,
            "sasrec_fused": {
                "fit_seconds": round(seconds, 1),
                "ndcg_at_new_item_offsets": {str(o): rows for o, rows in at_offset.items()},
                "best_offset_per_fifth": best,
                "pooled_at_each_fifths_best_offset": pooled(at_offset, best),
                "pooled_at_each_single_offset": {str(o): pooled(at_offset, [o] * FIFTHS) for o in OFFSETS},
                "ndcg_at_text_weight_multiples": {str(m): rows for m, rows in at_multiple.items()},
                "text_weight_multiple_per_fifth_chosen_on_known": chosen,
                "at_multiple_per_fifth": {
                    kind: pooled(at_multiple, chosen, kind) for kind in ("new", "known", "pooled")
                },
                "at_chosen_text_weight": {
                    kind: pooled(at_multiple, [1.0] * FIFTHS, kind) for kind in ("new", "known", "pooled")
                },
            },
        },
    )


def history_popularity(histories: Histories, counts: np.ndarray) -> np.ndarray:
    """The mean log(1 + training interactions) of each user's history items, shape (B,)."""
    lengths = histories.lengths()  # (B,)
    rows = np.repeat(np.arange(len(lengths)), lengths)  # (nnz,) the row of each history item
    sums = np.bincount(rows, np.log1p(counts.astype(np.float64))[histories.items], minlength=len(lengths))
    return sums / np.maximum(lengths, 1)  # an empty history counts 0


if __name__ == "__main__":
    main()
