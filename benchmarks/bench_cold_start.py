"""Cold start on amazon-games: 10% of the items (seeded) are held out with all their interactions.

Test users are those whose last item is a held-out item; every model ranks the whole catalogue
(held-out items included, seen items excluded) from the rest of the user's history. Compared, side
by side on the same users: the text content model (its recency weight chosen on validation, as in
baselines.py), SASRec fused (history items read by id + text; every item scored by its projected
text vector plus the learned text-similarity term, so a held-out item competes on the same footing
as the rest; the items without training interactions placed as `NEW_ITEMS` says), and SASRec with
ids alone (a held-out item has a zero vector there: it falls back to score 0). A variant scoring by
the frozen text vectors alone against a learned text-space query did worse (and was removed): HR@10
0.0169, NDCG@10 0.0083 (20 minutes on one thread, seed 0).

The same users are also ranked among the held-out items alone (every other item left out): that
asks which new item a user goes to, without the question of whether a new item beats the known
ones, which a model that has learned what known items are wanted answers against the new item on
users chosen because their next item is new.

    python benchmarks/bench_cold_start.py [--minutes 25] [--seed 0] [--encoder DIR]

Writes benchmarks/results/cold_start.json and the README table between the `cold-start` markers;
another `--seed` (another draw of held-out items) writes cold_start_seed<N>.json instead. Every run
rewrites the one-row-per-seed table between the `cold-start-seeds` markers, which ends with the mean
of each difference over the draws (`--table` rewrites only that table).

`--encoder DIR` reads item text with that sentence-transformers model instead of the bundled one,
in the content model and in SASRec fused alike: the behaviour-tuned encoder `bench_lora.py
--save-encoder DIR` keeps, tuned on this split's training side (same `--seed`). The content model
with the bundled encoder runs beside them as `content-frozen`. Such a run writes
cold_start_encoder.json (cold_start_encoder_seed<N>.json for another seed) and, on seed 0, the
README table between the `cold-start-encoder` markers.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy.stats
import torch
from baselines import tune_model
from bench_sasrec import BASE
from common import RESULTS, peak_rss_mib, replace_readme_section, shared_data, write_results

from lmrec.data.dataset import Histories
from lmrec.data.ingest import load_dataset
from lmrec.data.splits import Split, held_out_items, validation_split
from lmrec.evaluation.protocol import EvaluationConfig, EvaluationResult, compare, evaluate
from lmrec.models import create_model
from lmrec.models.base import Recommender

#: Metrics of the paired comparisons.
METRICS = ("NDCG@10", "HR@10")

#: The content model's recency weight in the result files written before the benchmark tuned it.
UNTUNED_DECAY = 0.9

#: SASRec fused's placing of new items, fixed on the development split of `bench_text_weight.py`
#: (no test data): their text term spread 2x about its mean (of 1, 1.5 and 2, the best there for the
#: users whose next item is new at the new items' usual share of the lists), and their level set so
#: that they fill 8.9% of the training users' top 10s, the share of next items that are new there
#: (4,903 of 55,380 users). docs/cold-start.md has the numbers.
NEW_ITEMS = {"new_item_spread": 2.0, "new_item_share": 0.089}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="amazon-games")
    parser.add_argument("--minutes", type=float, default=25.0, help="Training time limit per SASRec model.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, help="Torch threads (default torch's choice).")
    parser.add_argument("--encoder", help="Sentence-transformers folder to read item text with (default: bundled).")
    parser.add_argument("--table", action="store_true", help="Only rewrite the seeds table from the result files.")
    args = parser.parse_args()
    if args.table:
        replace_readme_section("cold-start-seeds", seeds_table())
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    path = shared_data(args.dataset)
    if path is None:
        return
    dataset, _ = load_dataset(path)
    split = held_out_items(dataset, share=0.1, seed=args.seed)
    print(f"{args.dataset}: {dataset}; {split}", flush=True)
    models = compared_models(args.minutes, args.seed, args.encoder)
    results, among_new, runs = fit_and_evaluate(models, split)
    others = [name for name in models if name != "sasrec-fused"]
    comparisons, new_comparisons = (
        [compare(by_name["sasrec-fused"], by_name[other], metric).to_dict() for other in others for metric in METRICS]
        for by_name in (results, among_new)
    )
    payload = {
        "dataset": args.dataset,
        "split": {"name": split.name, "share": 0.1, "seed": args.seed, "test_users": split.n_test_users},
        "encoder": args.encoder,
        "runs": runs,
        "comparisons": comparisons,
        "among_new_items_comparisons": new_comparisons,
    }
    if args.encoder is not None:
        write_results("cold_start_encoder" if args.seed == 0 else f"cold_start_encoder_seed{args.seed}", payload)
        if args.seed == 0:  # the README's encoder table is the issue's split, like the main one
            replace_readme_section("cold-start-encoder", table(payload))
        return
    # seed 0 is the issue's split and the README's main table; other seeds show how much the item draw moves it
    write_results("cold_start" if args.seed == 0 else f"cold_start_seed{args.seed}", payload)
    if args.seed == 0:
        replace_readme_section("cold-start", table(payload))
    replace_readme_section("cold-start-seeds", seeds_table())


def compared_models(
    minutes: float, seed: int, encoder: str | None, place_new_items: bool = True
) -> dict[str, tuple[str, dict[str, Any]]]:
    """Name -> (registered model, settings) of the models compared; `encoder` as for `--encoder`.
    Without `place_new_items` SASRec fused scores new items as trained (`NEW_ITEMS` left out)."""
    sasrec = {**BASE["amazon-games"], "epochs": 400, "max_minutes": minutes, "seed": seed}
    reader = {} if encoder is None else {"encoder": {"model": encoder}}
    return {
        "content": ("content", reader),
        **({"content-frozen": ("content", {})} if reader else {}),
        "sasrec-fused": (
            "sasrec",
            {
                **sasrec,
                "text_encoder": encoder,
                "item_parts": ["id", "text"],
                "output_parts": ["text"],
                "text_similarity": True,
                "loss": "sampled",
                "negatives": 1024,
                **(NEW_ITEMS if place_new_items else {}),
            },
        ),
        "sasrec-id": ("sasrec", {**sasrec, "item_parts": ["id"], "loss": "sampled", "negatives": 1024}),
    }


def fit_and_evaluate(
    models: dict[str, tuple[str, dict[str, Any]]], split: Split
) -> tuple[dict[str, EvaluationResult], dict[str, EvaluationResult], dict[str, Any]]:
    """Fit each model on the split's training side; its results over the whole catalogue and among
    the held-out items alone, and its run record for the JSON.

    A model with a grid in `baselines.GRIDS` (the content model's recency weight) first takes the
    grid setting that is best on the training side's own last items, as SASRec chooses its text
    weight: the baseline is tuned as the flagship is, never on the test users.
    """
    config = EvaluationConfig(n_bootstrap=1000)
    new_items = split.train.item_counts() == 0
    valid = validation_split(split)
    results: dict[str, EvaluationResult] = {}
    among_new: dict[str, EvaluationResult] = {}
    runs: dict[str, Any] = {}
    for name, (model_name, base) in models.items():
        started = time.perf_counter()
        chosen, tuning = tune_model(model_name, valid, base)
        tuning_seconds = time.perf_counter() - started
        settings = {**base, **chosen}
        model = create_model(model_name, settings)
        started = time.perf_counter()
        model.fit(split.train)
        seconds = time.perf_counter() - started
        results[name] = evaluate(model, split, config, name=name)
        among_new[name] = evaluate(AmongItems(model, new_items), split, config, name=name)
        report = getattr(model, "report", None)
        runs[name] = {
            "model": model_name,
            "settings": settings,
            "fit_seconds": round(seconds, 1),
            "peak_rss_mib": round(peak_rss_mib()),
            "text_weight": getattr(report, "text_weight", None),
            # the time cap ends a fit at whatever epoch the machine's load allows; these tell runs apart
            "epochs": getattr(report, "epochs", None),
            "best_epoch": getattr(report, "best_epoch", None),
            "valid_ndcg": getattr(report, "best_ndcg", None),
            "tuning": tuning,
            "tuning_seconds": round(tuning_seconds, 1),
            **results[name].to_dict(),
            "among_new_items": among_new[name].to_dict(),
        }
        m = results[name].metrics
        print(
            f"  {name:<14} HR@10 {m['HR@10']:.4f} NDCG@10 {m['NDCG@10']:.4f} (fit {seconds / 60:.1f} min)", flush=True
        )
    return results, among_new, runs


def seeds_table() -> str:
    """One row per held-out draw run so far with the bundled encoder (cold_start.json,
    cold_start_seed<N>.json, and cold_start_as_trained.json: draw 0's last run before `NEW_ITEMS`);
    the fused column says whether its new items were placed, and each kind of run gets its own mean
    over the draws."""
    payloads = [json.loads(path.read_text()) for path in RESULTS.glob("cold_start*.json")]
    payloads = [payload for payload in payloads if payload.get("encoder") is None]
    payloads.sort(key=lambda payload: (not _places_new_items(payload), payload["split"]["seed"]))
    lines = [
        "| seed | users | content (its decay) | sasrec-fused | sasrec-id | fused − content (95% CI) "
        "| among new: fused − content |",
        "|---|---|---|---|---|---|---|",
    ]
    differences: dict[bool, list[tuple[float, float]]] = {True: [], False: []}  # placed? -> (whole, among new)
    for payload in payloads:
        ndcg = {name: run["metrics"]["NDCG@10"] for name, run in payload["runs"].items()}
        whole, new = (
            next(c for c in comparisons if c["model_b"] == "content" and c["metric"] == "NDCG@10")
            for comparisons in (payload["comparisons"], payload["among_new_items_comparisons"])
        )
        placed = _places_new_items(payload)
        differences[placed].append((whole["diff"], new["diff"]))
        lines.append(
            f"| {payload['split']['seed']} | {payload['split']['test_users']:,} | {ndcg['content']:.4f} "
            f"({_content_decay(payload['runs']['content'])}) "
            f"| {ndcg['sasrec-fused']:.4f} ({'new items placed' if placed else 'as trained'}) "
            f"| {ndcg['sasrec-id']:.4f} | {_difference(whole)} | {_difference(new)} |"
        )
    for placed, pairs in differences.items():
        if len(pairs) > 1:
            means = " | ".join(_mean_over_draws([pair[k] for pair in pairs]) for k in (0, 1))
            kind = "new items placed" if placed else "as trained"
            lines.append(f"| mean of {len(pairs)} draws, {kind} | | | | | {means} |")
    return "\n".join(lines)


def _places_new_items(payload: dict[str, Any]) -> bool:
    """Whether a run's SASRec fused placed its new items (runs from before `NEW_ITEMS` did not)."""
    return payload["runs"]["sasrec-fused"]["settings"].get("new_item_share") is not None


def _content_decay(run: dict[str, Any]) -> float:
    """The content model's recency weight in a run: chosen on validation, or in runs from before it
    was, the default it had then."""
    return float(run["settings"].get("decay", UNTUNED_DECAY))


def _mean_over_draws(differences: list[float]) -> str:
    """The mean of one difference over the draws, with its 95% t-interval: the draws are a sample of
    the ways 10% of the items could be held out, and their spread holds each draw's own noise too."""
    mean = statistics.fmean(differences)
    low, high = scipy.stats.t.interval(0.95, len(differences) - 1, loc=mean, scale=scipy.stats.sem(differences))
    return f"{mean:+.4f} ({low:+.4f} to {high:+.4f})"


def _difference(c: dict[str, Any], label: str = "") -> str:
    return f"{c['diff']:+.4f} ({label}{c['interval'][0]:+.4f} to {c['interval'][1]:+.4f})"


def table(payload: dict[str, Any]) -> str:
    lines = [
        f"{payload['dataset']}, {payload['split']['test_users']:,} users whose last item is one of the 10% held-out "
        f"items (seed {payload['split']['seed']}), ranked over the whole catalogue"
        + (
            f", item text read by the encoder in `{Path(payload['encoder']).name}` (content-frozen: the bundled one):"
            if payload.get("encoder")
            else ":"
        ),
        "",
        "| model | HR@10 | NDCG@10 | NDCG@10 95% CI | fit min |",
        "|---|---|---|---|---|",
    ]
    for name, run in payload["runs"].items():
        m, ci = run["metrics"], run["intervals"]["NDCG@10"]
        lines.append(
            f"| {name} | {m['HR@10']:.4f} | {m['NDCG@10']:.4f} | {ci[0]:.4f}–{ci[1]:.4f} "
            f"| {run['fit_seconds'] / 60:.1f} |"
        )
    tuned = [
        f"{name} " + ", ".join(f"{key}={run['settings'][key]}" for key in run["tuning"][0]["settings"])
        for name, run in payload["runs"].items()
        if run.get("tuning")
    ]
    if tuned:
        lines += ["", f"Chosen on validation (each training user's last item): {'; '.join(tuned)}."]
    lines += ["", "Paired differences (fused minus the other, same users):", ""]
    lines += _differences(payload["comparisons"])
    if "among_new_items_comparisons" in payload:
        lines += [
            "",
            "The same users, ranked among the held-out items alone:",
            "",
            "| model | HR@10 | NDCG@10 | NDCG@10 95% CI |",
            "|---|---|---|---|",
        ]
        for name, run in payload["runs"].items():
            m, ci = run["among_new_items"]["metrics"], run["among_new_items"]["intervals"]["NDCG@10"]
            lines.append(f"| {name} | {m['HR@10']:.4f} | {m['NDCG@10']:.4f} | {ci[0]:.4f}–{ci[1]:.4f} |")
        lines += ["", *_differences(payload["among_new_items_comparisons"])]
    return "\n".join(lines)


def _differences(comparisons: list[dict[str, Any]]) -> list[str]:
    return [f"- {c['model_a']} − {c['model_b']} {c['metric']} = {_difference(c, '95% CI ')}" for c in comparisons]


class AmongItems:
    """A fitted model whose scores leave out every item outside `keep` (n_items,) bool, for
    `evaluate`: the targets are then ranked among those items alone. With `shifted` (n_items,) bool,
    those items' scores are moved by `offset` first."""

    def __init__(
        self, model: Recommender[Any], keep: np.ndarray, shifted: np.ndarray | None = None, offset: float = 0.0
    ) -> None:
        self.model, self.keep, self.shifted, self.offset = model, keep, shifted, offset
        self.name, self.items, self.is_fitted = model.name, model.items, True

    def score_histories(self, histories: Histories) -> np.ndarray:
        scores = self.model.score_histories(histories)  # (B, I)
        if self.shifted is not None:
            scores[:, self.shifted] += self.offset
        scores[:, ~self.keep] = -np.inf
        return scores


if __name__ == "__main__":
    main()
