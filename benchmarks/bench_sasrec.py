"""The sequential transformer against EASE, side by side in one run, with bootstrap intervals.

Protocol (../shared/data/README.md): leave-one-out by time, full ranking over the whole catalogue,
items seen in training excluded. SASRec holds out each user's last training item to stop early
on validation NDCG@10; the test split is never used for choices.

    python benchmarks/bench_sasrec.py --dataset amazon-beauty [--variants id fused] [--minutes 30]
    python benchmarks/bench_sasrec.py --dataset amazon-beauty --ablation [--only NAME ...] [--threads 1]
    python benchmarks/bench_sasrec.py --dataset ml-1m --ablation --minutes 20 --threads 1 [--only NAME ...]
    python benchmarks/bench_sasrec.py --dataset ml-1m --variants fused-full --threads 2 --label solo
    python benchmarks/bench_sasrec.py --dataset ml-1m --variants fused-full --threads 2 --minutes 15 --refit \
        --label solo-refit

Writes benchmarks/results/sasrec_<dataset>.json (or sasrec_ablation_<dataset>.json) and the README
table between the `sasrec` (or `sasrec-ablation`) markers, keeping other datasets' rows. Runs are
merged into the file's earlier runs when those had the same time limit (a variant run again replaces
its earlier run), so a table can be filled by two single-threaded processes side by side. A run
with `--label` (one model alone on every core, say) goes to its own file and not into the table.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from common import RESULTS, peak_rss_mib, replace_readme_section, shared_data, write_results

from lmrec.data.columns import Columns
from lmrec.data.dataset import Histories
from lmrec.data.ingest import load_dataset
from lmrec.data.splits import Split, leave_last_out
from lmrec.evaluation.protocol import EvaluationConfig, EvaluationResult, compare, evaluate
from lmrec.models import create_model
from lmrec.models.base import Recommender
from lmrec.models.sequential.model import resolve_device, resolve_precision

#: Per-dataset settings shared by every variant (sequence length fits the data's histories).
BASE: dict[str, dict[str, Any]] = {
    "amazon-beauty": {"max_len": 50, "dim": 64, "layers": 2, "heads": 1, "dropout": 0.5, "eval_every": 2},
    # ml-1m: the time cap ends training while it still improves, so no refit (it would double the time);
    # 47 steps an epoch make the default learning rate too slow here: on validation (fused-full, 30 min)
    # 1e-3 reached NDCG@10 0.1563, 2e-3 0.1688, 4e-3 0.1699
    "ml-1m": {
        "max_len": 200,
        "dim": 64,
        "layers": 2,
        "heads": 1,
        "dropout": 0.2,
        "eval_every": 4,
        "refit": False,
        "learning_rate": 4e-3,
    },
    "amazon-games": {"max_len": 50, "dim": 64, "layers": 2, "heads": 1, "dropout": 0.5, "eval_every": 2},
}
#: The item side channel per dataset: text where there are titles, attributes where only ids.
SIDE = {"amazon-beauty": "attributes", "ml-1m": "text", "amazon-games": "text"}
#: EASE's L2 chosen on validation by benchmarks/baselines.py.
EASE_L2 = {"amazon-beauty": 50.0, "ml-1m": 500.0, "amazon-games": 200.0}

#: Variants of the main comparison: item parts and loss.
VARIANTS: dict[str, dict[str, Any]] = {
    "id": {"item_parts": ["id"], "loss": "sampled", "negatives": 1024},
    "fused": {"item_parts": ["id", "SIDE"], "loss": "sampled", "negatives": 1024},
    "id-full": {"item_parts": ["id"], "loss": "full"},
    "fused-full": {"item_parts": ["id", "SIDE"], "loss": "full"},
}

#: Fused variants compared with the id-only one of the same loss.
FUSED_PAIRS = (("fused", "id"), ("fused-full", "id-full"))

#: Ablation per dataset: the variant it starts from (the best on that dataset's validation) and one
#: change at a time from it; the first change, {}, is the variant itself.
ABLATIONS: dict[str, tuple[str, dict[str, dict[str, Any]]]] = {
    "amazon-beauty": (
        "fused",
        {
            "fused": {},
            "full softmax": {"loss": "full"},
            "256 negatives": {"negatives": 256},
            "4096 negatives": {"negatives": 4096},
            "max_len 20": {"max_len": 20},
            "1 layer": {"layers": 1},
            "4 layers, 2 heads": {"layers": 4, "heads": 2},
            "dropout 0.2": {"dropout": 0.2},
            "dim 128": {"dim": 128},
            "learning rate 0.003": {"learning_rate": 0.003},
            "id only": {"item_parts": ["id"]},
            "side only": {"item_parts": ["SIDE"]},
        },
    ),
    # ml-1m's 3,416 items leave room for full softmax, its best loss on validation
    "ml-1m": (
        "fused-full",
        {
            "fused-full": {},
            "sampled, 1024 negatives": {"loss": "sampled", "negatives": 1024},
            "sampled, 256 negatives": {"loss": "sampled", "negatives": 256},
            "max_len 50": {"max_len": 50},
            "1 layer": {"layers": 1},
            "4 layers, 2 heads": {"layers": 4, "heads": 2},
            "dropout 0.5": {"dropout": 0.5},
            "id only": {"item_parts": ["id"]},
        },
    ),
}
#: Every ablation variant's name, for `--only`.
ABLATION_NAMES = sorted({name for _, changes in ABLATIONS.values() for name in changes})

PROTOCOL_NOTE = "leave-last-out, full ranking, seen items excluded, ties counted against the target"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="amazon-beauty", choices=sorted(BASE))
    parser.add_argument("--variants", nargs="+", default=["id", "fused"], choices=sorted(VARIANTS))
    parser.add_argument("--minutes", type=float, default=30.0, help="Training time limit per model.")
    parser.add_argument("--epochs", type=int, default=400)
    parser.add_argument("--ablation", action="store_true", help="Run the ablation table instead.")
    parser.add_argument("--only", nargs="+", choices=ABLATION_NAMES, help="Ablation variants to run (default all).")
    parser.add_argument("--threads", type=int, help="Torch threads (default torch's choice).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--refit", action="store_true", help="Refit on every item after early stopping (ml-1m's runs do not)."
    )
    parser.add_argument(
        "--label", help="Write sasrec_<dataset>_<label>.json, kept out of the README table (a run on other terms)."
    )
    return parser.parse_args()


def main() -> None:
    args = _arguments()
    path = shared_data(args.dataset)
    if path is None:
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    dataset, _ = load_dataset(path)
    split = leave_last_out(dataset)
    print(f"{args.dataset}: {dataset}, {split.n_test_users:,} test users", flush=True)
    common = {**BASE[args.dataset], "epochs": args.epochs, "max_minutes": args.minutes, "seed": args.seed}
    if args.refit:
        common["refit"] = True
    if args.ablation:
        start, order = ABLATIONS[args.dataset]
        unknown = sorted(set(args.only or ()) - set(order))
        if unknown:
            raise SystemExit(f"no ablation variant {unknown} for {args.dataset}; it has {sorted(order)}")
        runs = {name: {**VARIANTS[start], **change} for name, change in order.items() if name in (args.only or order)}
    else:
        order = VARIANTS
        runs = {name: VARIANTS[name] for name in args.variants}
    eval_config = EvaluationConfig(n_bootstrap=1000)

    results, rows = {}, {}
    for name, change in runs.items():
        settings = _resolve({**common, **change}, SIDE[args.dataset])
        model, rows[name], results[name] = fit_and_evaluate(name, settings, split, eval_config)
        if not args.ablation:
            cost = missing_item_cost(model, split, path, eval_config, f"sasrec-{name}")
            if cost is not None:
                results[name]["missing_item"] = cost
            results[name]["per_user_NDCG@10"] = _stored_ndcg(rows[name])

    payload: dict[str, Any] = {
        "dataset": args.dataset,
        "protocol": PROTOCOL_NOTE,
        "minutes": args.minutes,
        "threads": torch.get_num_threads(),
        "training_precision": str(resolve_precision("auto", resolve_device("auto")) or torch.float32),
        "runs": results,
    }
    name = ("sasrec_ablation_" if args.ablation else "sasrec_") + args.dataset
    if args.label:
        name, payload["label"] = f"{name}_{args.label}", args.label
    earlier = _earlier(name, args.minutes)
    payload["runs"] = _merged(earlier.get("runs", {}), results, order)
    if not args.ablation:
        compare_with_ease(payload, earlier, rows, split, args.dataset, eval_config)
    out = write_results(name, payload)
    print(f"wrote {out}")
    if args.label:
        return
    if args.ablation:
        replace_readme_section("sasrec-ablation", ablation_table())
    else:
        replace_readme_section("sasrec", main_table())


def fit_and_evaluate(
    name: str, settings: dict[str, Any], split: Split, config: EvaluationConfig
) -> tuple[Recommender[Any], EvaluationResult, dict[str, Any]]:
    """Fit SASRec with `settings` on the split's training side; the model, its evaluation and its
    run record for the JSON."""
    model = create_model("sasrec", settings)
    started = time.perf_counter()
    model.fit(split.train)
    seconds = time.perf_counter() - started
    result = evaluate(model, split, config, name=f"sasrec-{name}")
    report = model.report  # type: ignore[attr-defined]
    m = result.metrics
    print(
        f"  {name:<18} HR@10 {m['HR@10']:.4f} NDCG@10 {m['NDCG@10']:.4f} valid {report.best_ndcg:.4f} "
        f"epochs {report.epochs} (best {report.best_epoch}) in {seconds / 60:.1f} min",
        flush=True,
    )
    record = {
        "settings": settings,
        "fit_seconds": round(seconds, 1),
        "epochs": report.epochs,
        "best_epoch": report.best_epoch,
        "refit_seconds": report.refit_seconds,
        "valid_NDCG@10": report.best_ndcg,
        "metrics": result.metrics,
        "intervals": result.intervals,
        "peak_rss_mib": round(peak_rss_mib()),
    }
    return model, result, record


def compare_with_ease(
    payload: dict[str, Any],
    earlier: dict[str, Any],
    rows: dict[str, EvaluationResult],
    split: Split,
    dataset: str,
    config: EvaluationConfig,
) -> None:
    """Fit and evaluate EASE into `payload`, with the paired comparisons of this run's variants
    against it and of the fused/plain pairs; comparisons of variants not rerun are kept."""
    ease = create_model("ease", {"l2": EASE_L2[dataset]})
    started = time.perf_counter()
    ease.fit(split.train)
    ease_seconds = time.perf_counter() - started
    ease_result = evaluate(ease, split, config, name="ease")
    payload["ease"] = {"l2": EASE_L2[dataset], "fit_seconds": round(ease_seconds, 1), **ease_result.to_dict()}
    # a pair with one side from an earlier process is compared on that run's stored per-user NDCG@10
    users = ease_result.per_user[Columns.UserIdx].to_numpy()
    stored = {name: _restored(name, run, users) for name, run in payload["runs"].items() if name not in rows}
    paired = {**{name: r for name, r in stored.items() if r is not None}, **rows}
    pairs = [(rows[name], ease_result) for name in rows] + [
        (paired[fused], paired[plain])
        for fused, plain in FUSED_PAIRS
        if {fused, plain} <= set(paired) and {fused, plain} & set(rows)
    ]
    ours = [compare(a, b, "NDCG@10").to_dict() for a, b in pairs]
    rerun = {f"sasrec-{name}" for name in rows}  # their earlier comparisons are stale
    kept = [c for c in earlier.get("comparisons", []) if not {c["model_a"], c["model_b"]} & rerun]
    payload["comparisons"] = kept + ours


def missing_item_cost(
    model: Recommender[Any], split: Split, path: Path, config: EvaluationConfig, name: str
) -> dict[str, Any] | None:
    """ML-1M: what the unknown second-to-last item costs, measured on the users who have it.

    For 92% of this file's users the item just before the test item is unknown (`?`, absent from
    the input). The 512 users of `complete_users.txt` have it, so their test is the published
    protocol's; the same users with their second-to-last item dropped from the input (and so no
    longer excluded from the ranking, as the unknown item is not) are tested as everyone else is.
    """
    listed = path / "complete_users.txt"
    if not listed.is_file():
        return None
    users = split.train.users.index(listed.read_text().split())
    rows = np.flatnonzero(np.isin(split.histories.users, users))
    full = split.histories.take(rows)
    cut = Histories.from_lists([full.row(b)[:-1] for b in range(len(full))], full.users)
    test = split.test[split.test[Columns.UserIdx].isin(users)]
    results: dict[str, EvaluationResult] = {
        label: evaluate(model, Split(f"complete users, {label}", split.train, test, histories), config, name=name)
        for label, histories in (("with", full), ("without", cut))
    }
    difference = compare(results["with"], results["without"], "NDCG@10").to_dict()
    return {
        "users": len(full),
        **{f"{label}_NDCG@10": r.metrics["NDCG@10"] for label, r in results.items()},
        **{f"{label}_HR@10": r.metrics["HR@10"] for label, r in results.items()},
        "difference": difference,
    }


def _earlier(name: str, minutes: float) -> dict[str, Any]:
    """The results file `name` as written before, when its runs had the same time limit; else {}."""
    path = RESULTS / f"{name}.json"
    if not path.is_file():
        return {}
    payload: dict[str, Any] = json.loads(path.read_text())
    return payload if payload["minutes"] == minutes else {}


def _stored_ndcg(result: EvaluationResult) -> dict[str, float]:
    """Each test user's NDCG@10 where it is not 0, by user position: what pairs this run with one
    from another process."""
    hits = result.per_user[result.per_user["NDCG@10"] > 0]
    return {str(u): round(float(v), 6) for u, v in zip(hits[Columns.UserIdx], hits["NDCG@10"], strict=True)}


def _restored(name: str, run: dict[str, Any], users: np.ndarray) -> EvaluationResult | None:
    """An earlier run's per-user NDCG@10 over `users` (None when the run did not store it)."""
    stored = run.get("per_user_NDCG@10")
    if stored is None:
        return None
    ndcg = np.array([stored.get(str(u), 0.0) for u in users])
    per_user = pd.DataFrame({Columns.UserIdx: users, "NDCG@10": ndcg})
    return EvaluationResult(f"sasrec-{name}", "leave-last-out", run["metrics"], {}, per_user, len(users), 0.0)


def _merged(old: dict[str, Any], new: dict[str, Any], order: dict[str, Any]) -> dict[str, Any]:
    """Earlier runs with this run's replacing those of the same name, in `order`."""
    merged = old | new
    return {name: merged[name] for name in order if name in merged}


def _resolve(settings: dict[str, Any], side: str) -> dict[str, Any]:
    parts = settings.get("item_parts")
    if isinstance(parts, list):
        settings = {**settings, "item_parts": [side if p == "SIDE" else p for p in parts]}
    return settings


def main_table() -> str:
    """The README table from every sasrec_<dataset>.json written so far."""
    lines = [
        "| data | model | valid NDCG@10 | HR@10 | NDCG@10 | NDCG@10 95% CI | epochs (best) | train min | peak MiB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    comparisons, missing = [], []
    for path in sorted(RESULTS.glob("sasrec_*.json")):
        if path.name.startswith("sasrec_ablation"):
            continue
        payload = json.loads(path.read_text())
        if "label" in payload:
            continue
        data = payload["dataset"]
        for name, run in payload["runs"].items():
            m, ci = run["metrics"], run["intervals"]["NDCG@10"]
            parts = "+".join(run["settings"]["item_parts"])
            lines.append(
                f"| {data} | SASRec {name} ({parts}, {run['settings']['loss']}) | {run['valid_NDCG@10']:.4f} "
                f"| {m['HR@10']:.4f} | {m['NDCG@10']:.4f} | {ci[0]:.4f}–{ci[1]:.4f} "
                f"| {run['epochs']} ({run['best_epoch']}) | {run['fit_seconds'] / 60:.1f} | {run['peak_rss_mib']} |"
            )
        ease = payload["ease"]
        ci, m = ease["intervals"]["NDCG@10"], ease["metrics"]
        lines.append(
            f"| {data} | EASE (l2={ease['l2']:g}) | | {m['HR@10']:.4f} | {m['NDCG@10']:.4f} "
            f"| {ci[0]:.4f}–{ci[1]:.4f} | | {ease['fit_seconds'] / 60:.1f} | |"
        )
        for name, run in payload["runs"].items():
            if "missing_item" in run:
                cost = run["missing_item"]
                low, high = cost["difference"]["interval"]
                missing.append(
                    f"- {data}: SASRec {name}, the {cost['users']} users with a complete sequence: NDCG@10 "
                    f"{cost['with_NDCG@10']:.4f} with their second-to-last item, {cost['without_NDCG@10']:.4f} "
                    f"without it ({cost['difference']['diff']:+.4f}, 95% CI {low:+.4f} to {high:+.4f}); "
                    f"HR@10 {cost['with_HR@10']:.4f} / {cost['without_HR@10']:.4f}"
                )
        for c in payload["comparisons"]:
            low, high = c["interval"]
            comparisons.append(
                f"- {data}: {c['model_a']} − {c['model_b']} NDCG@10 = {c['diff']:+.4f} "
                f"(95% CI {low:+.4f} to {high:+.4f}, p = {c['p_value']:.3g})"
            )
    out = [*lines, "", "Paired differences over the same test users:", "", *comparisons]
    if missing:
        out += ["", "What the unknown item before the test item costs (the same model, the same users):", "", *missing]
    return "\n".join(out)


def ablation_table() -> str:
    """The README's ablation tables, one per dataset, from every sasrec_ablation_<dataset>.json."""
    tables = []
    for path in sorted(RESULTS.glob("sasrec_ablation_*.json")):
        payload = json.loads(path.read_text())
        if "label" in payload:
            continue
        start = VARIANTS[ABLATIONS[payload["dataset"]][0]]
        parts = "fused" if "SIDE" in start["item_parts"] else "id-only"
        lines = [
            f"**{payload['dataset']}**, one change at a time from the {parts}, {start['loss']}-softmax model "
            f"(each trained at most {payload['minutes']:g} minutes on {payload['threads']} thread(s); "
            "choices read from the validation column):",
            "",
            "| variant | valid NDCG@10 | test NDCG@10 | test HR@10 | epochs (best) | train min |",
            "|---|---|---|---|---|---|",
        ]
        for name, run in payload["runs"].items():
            m = run["metrics"]
            lines.append(
                f"| {name} | {run['valid_NDCG@10']:.4f} | {m['NDCG@10']:.4f} | {m['HR@10']:.4f} "
                f"| {run['epochs']} ({run['best_epoch']}) | {run['fit_seconds'] / 60:.1f} |"
            )
        tables.append("\n".join(lines))
    return "\n\n".join(tables)


if __name__ == "__main__":
    main()
