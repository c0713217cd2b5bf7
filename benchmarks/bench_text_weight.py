"""Is SASRec fused's text-similarity weight γ chosen on the right users? A development probe.

SASRec picks the multiple of its learned γ on validation (`TEXT_WEIGHT_SCALES`), where every
target is an item it was trained on. New items arrive in real use, and γ is what lets the model
rank them. This probe uses no test data: on the training side of `bench_cold_start.py`'s split
(amazon-games, 10% of items held out, `--seed`), a second 10% of the items is held out as stand-in
new items (seed + 1), then each user's last known item. SASRec fused (the cold-start benchmark's
settings) is trained on the rest; NDCG@10 over this world's catalogue (every item but the first
split's held-out ones, which it does not have) is then measured at multiples of its chosen γ on
users whose next item is a stand-in new item, on users whose next item is known, and pooled (both
kinds of next item in their natural proportion), beside the text content model. At the chosen γ
it is also measured with every stand-in's score moved by each of `OFFSETS`: the offset that is best
pooled says whether the model under- or overrates new items against known ones.

    python benchmarks/bench_text_weight.py [--minutes 20] [--seed 0] [--set dim=128 ...]

Writes benchmarks/results/text_weight.json (no README table: it informs how γ should be chosen);
with `--set`, which changes SASRec fused's settings, text_weight_<key>-<value>[_...].json.

What a first run suggested (a γ larger than the choice on known next items helps the users whose
next item is new at no cost over all users) did not carry over: chosen on all users inside the
model, γ went higher and the cold-start test did worse; docs/cold-start.md has the numbers, and
how much two runs of this probe differ.
"""

from __future__ import annotations

import argparse
import math
import re
import time
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

import numpy as np
import torch
from bench_cold_start import AmongItems, compared_models
from common import shared_data, write_results

from lmrec.cli.common import parse_settings
from lmrec.data.dataset import Dataset
from lmrec.data.ingest import load_dataset
from lmrec.data.splits import Split, held_out_items, leave_last_out
from lmrec.evaluation.protocol import EvaluationConfig, evaluate
from lmrec.models import create_model
from lmrec.models.base import Recommender
from lmrec.models.sequential.trainer import TEXT_WEIGHT_SCALES

T = TypeVar("T")

#: Shifts of the stand-in new items' scores (the model's score units) measured at the chosen γ.
OFFSETS = (-0.5, -0.25, 0.0, 0.25, 0.5, 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=20.0, help="Training time limit of SASRec.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="Torch threads.")
    parser.add_argument("--set", action="append", default=[], help="A SASRec fused setting, key=value (JSON).")
    args = parser.parse_args()
    changed = parse_settings(None, args.set)
    # as trained: the first split's held-out items have no interactions here either, and are not
    # in this world's catalogue, so the model would count them among the new items it places
    models = compared_models(args.minutes, args.seed, None, place_new_items=False)
    name, settings = models["sasrec-fused"]
    models["sasrec-fused"] = (name, {**settings, **changed})
    create_model(*models["sasrec-fused"])  # a mistyped or invalid --set fails here, before the hour of work
    path = shared_data("amazon-games")
    if path is None:
        return
    torch.set_num_threads(args.threads)
    data, _ = load_dataset(path)
    new, known, absent, stand_ins = development_split(data, args.seed)
    users = {"new": new.n_test_users, "known": known.n_test_users}
    print(f"users whose next item is new: {users['new']:,}; known: {users['known']:,}", flush=True)
    config = EvaluationConfig(n_bootstrap=0)

    def measured(model: Recommender[Any], offset: float = 0.0) -> dict[str, float]:
        shown = AmongItems(model, ~absent, stand_ins, offset)
        ndcg = {
            kind: evaluate(shown, split, config).metrics["NDCG@10"] for kind, split in (("new", new), ("known", known))
        }
        return {**ndcg, "pooled": sum(ndcg[k] * users[k] for k in users) / sum(users.values())}

    content = measured(create_model(*models["content"]).fit(known.train))
    print(f"content: {content}", flush=True)
    started = time.perf_counter()
    fused = create_model(*models["sasrec-fused"]).fit(known.train)
    seconds = time.perf_counter() - started
    report = fused.report  # type: ignore[attr-defined]
    by_multiple = at_text_weight_multiples(fused, measured)
    by_offset = {}
    for offset in OFFSETS:
        by_offset[offset] = measured(fused, offset)
        print(f"  new items {offset:+g}: {by_offset[offset]}", flush=True)
    # a file name: `dim-128`, `item_parts-idtext` (a list's or string's punctuation left out)
    label = "_".join(key + "-" + re.sub(r"[^\w.]+", "", str(value)) for key, value in changed.items())
    write_results(
        f"text_weight_{label}" if label else "text_weight",
        {
            "dataset": "amazon-games",
            "split": {"held_out_share": 0.1, "seed": args.seed, "stand_in_seed": args.seed + 1},
            "users": users,
            "content": content,
            "sasrec_fused": {
                "settings": models["sasrec-fused"][1],
                "fit_seconds": round(seconds, 1),
                "chosen_scale": report.text_weight_scale,
                "chosen_text_weight": report.text_weight,
                "ndcg_at_multiples_of_chosen": {str(m): v for m, v in by_multiple.items()},
                "ndcg_at_new_item_offsets": {str(o): v for o, v in by_offset.items()},
            },
        },
    )


class DevelopmentSplit(NamedTuple):
    """The development split's two test populations and which items its world has."""

    new: Split
    """Users whose next item is a stand-in new item."""
    known: Split
    """Each user's last known item; its training side is what a model is fitted on."""
    absent: np.ndarray
    """(n_items,) bool: the cold-start split's held-out items, which this world does not have."""
    stand_ins: np.ndarray
    """(n_items,) bool: the stand-in new items."""


def development_split(data: Dataset, seed: int) -> DevelopmentSplit:
    """On the training side of the cold-start benchmark's split of `data` (10% of the items held
    out, `seed`), a second 10% of the items held out as stand-in new items (seed + 1)."""
    cold = held_out_items(data, share=0.1, seed=seed)  # only its training side is used
    new = held_out_items(cold.train, share=0.1, seed=seed + 1)  # next item: a stand-in new item
    known = leave_last_out(new.train)  # next item: a known item; trained on what is left
    absent = cold.train.item_counts() == 0
    return DevelopmentSplit(new, known, absent, (known.train.item_counts() == 0) & ~absent)


def at_text_weight_multiples(fused: Recommender[Any], measured: Callable[[Recommender[Any]], T]) -> dict[float, T]:
    """`measured` of the fused model with its text weight γ set to each multiple of the chosen one
    that the model chose among (`TEXT_WEIGHT_SCALES`); the chosen γ is put back afterwards."""
    network = fused.network  # type: ignore[attr-defined]
    chosen = network.log_gamma.detach().clone()
    by_multiple = {}
    for multiple in TEXT_WEIGHT_SCALES:
        with torch.no_grad():
            network.log_gamma.copy_(chosen + math.log(multiple))
        by_multiple[multiple] = measured(fused)
        print(f"  γ x{multiple}: {by_multiple[multiple]}", flush=True)
    with torch.no_grad():
        network.log_gamma.copy_(chosen)
    return by_multiple


if __name__ == "__main__":
    main()
