"""Every baseline on ml-100k, ml-1m and amazon-beauty, beside the published anchors.

Protocol (../shared/data/README.md): leave-one-out by time, full ranking over the whole catalogue,
items seen in training excluded. Hyperparameters are tuned on the second-to-last item (the
validation split) and the chosen setting is refit on all but the last item; the test split is
never used for tuning.

    python benchmarks/baselines.py [--datasets ml-100k ml-1m amazon-beauty] [--models ...]

Writes benchmarks/results/baselines.json and the README's baselines table.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from typing import Any

from common import peak_rss_mib, replace_readme_section, shared_data, write_results

from lmrec.data.ingest import load_dataset
from lmrec.data.splits import leave_last_out, validation_split
from lmrec.evaluation.protocol import EvaluationConfig, evaluate
from lmrec.models import create_model

DATASETS = ("ml-100k", "ml-1m", "amazon-beauty")
MODELS = ("popularity", "itemknn", "ease", "als", "bpr", "content", "sasrec")

#: Settings tried on the validation split; the first entry of each list is the default.
GRIDS: dict[str, dict[str, list[Any]]] = {
    "popularity": {},
    "itemknn": {"neighbors": [50, 100, 200, 400], "shrink": [0.0, 10.0]},
    "ease": {"l2": [50, 100, 200, 500, 1000, 2000, 4000]},
    "als": {"factors": [64, 128], "regularization": [0.1, 1.0, 10.0], "alpha": [5.0, 20.0]},
    "bpr": {"factors": [64, 128], "learning_rate": [0.01, 0.05]},
    "content": {"decay": [0.5, 0.9, 0.7, 0.3, 0.1]},
    "sasrec": {},  # its defaults: what `lmrec evaluate --model sasrec` gives
}

#: Models measured by another benchmark on some datasets (there under a time cap, side by side with
#: its variants); their rows here point to it.
ELSEWHERE: dict[str, dict[str, str]] = {
    "sasrec": {
        "ml-1m": "see the SASRec section (bench_sasrec.py)",
        "amazon-beauty": "see the SASRec section (bench_sasrec.py)",
    },
}

#: Published anchors from ../shared/data/README.md (HR@10, NDCG@10).
ANCHORS: dict[str, list[tuple[str, float | None, float | None, str]]] = {
    "ml-100k": [
        ("EASE (independent numpy reference)", 0.0880, 0.0407, "shared/data README"),
        ("popularity (reference)", None, 0.0257, "shared/data README"),
    ],
    "ml-1m": [
        ("SASRec, BCE", 0.2500, 0.1341, "Klenitskiy & Vasilev 2023"),
        ("SASRec+ full CE", 0.3152, 0.1821, "Klenitskiy & Vasilev 2023"),
        ("HSTU-large (own split)", 0.3294, 0.1893, "generative-recommenders"),
    ],
    "amazon-beauty": [
        ("EASE (independent numpy reference)", 0.0781, 0.0434, "shared/data README"),
        ("popularity (reference)", None, 0.0063, "shared/data README"),
        ("SASRec (S3-Rec paper)", 0.0605, 0.0318, "S3-Rec, full ranking"),
        ("SASRec + sampled softmax", 0.0921, 0.0531, "eSASRec benchmark 2025"),
    ],
}

#: Datasets whose reference numbers order equal timestamps by item id (see the data README).
TIES_BY_ITEM_ID = {"ml-100k"}

#: Models that need item text; skipped (with the reason recorded) on data without any.
NEEDS_TEXT = {"content"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--no-tune", action="store_true", help="Use each model's defaults.")
    args = parser.parse_args()

    results: dict[str, Any] = {}
    for name in args.datasets:
        path = shared_data(name)
        if path is None:
            continue
        results[name] = run_dataset(name, path, args.models, tune=not args.no_tune)
    payload = {"protocol": "leave-last-out, full ranking, seen items excluded", "datasets": results}
    out = write_results("baselines", payload)
    replace_readme_section("baselines", readme_table(results))
    print(f"wrote {out}")


def run_dataset(name: str, path: Any, models: list[str], *, tune: bool) -> dict[str, Any]:
    start = time.perf_counter()
    dataset, summary = load_dataset(path)
    if name in TIES_BY_ITEM_ID:
        dataset = dataset.with_ties_broken_by_item_id()
    seconds = time.perf_counter() - start
    print(f"{name}: {dataset} (read {summary.read:,}, rejected {summary.rejected:,}) in {seconds:.1f}s")
    split = leave_last_out(dataset)
    valid = validation_split(split)
    config = EvaluationConfig(n_bootstrap=1000)
    out: dict[str, Any] = {
        "users": dataset.n_users,
        "items": dataset.n_items,
        "interactions": dataset.n_interactions,
        "rejected_rows": summary.rejected,
        "test_users": int(split.test[split.test.columns[0]].nunique()),
        "models": {},
    }
    for model_name in models:
        if name in ELSEWHERE.get(model_name, {}):
            out["models"][model_name] = {"elsewhere": ELSEWHERE[model_name][name]}
            print(f"  {model_name:<10} measured elsewhere")
            continue
        if model_name in NEEDS_TEXT and not dataset.has_item_text():
            out["models"][model_name] = {"skipped": "the dataset has no item text"}
            print(f"  {model_name:<10} skipped: no item text")
            continue
        settings, tuning = tune_model(model_name, valid) if tune else ({}, [])
        model = create_model(model_name, settings)
        t0 = time.perf_counter()
        model.fit(split.train)
        fit_seconds = time.perf_counter() - t0
        result = evaluate(model, split, config, name=model_name)
        out["models"][model_name] = {
            "settings": settings,
            "fit_seconds": round(fit_seconds, 2),
            "eval_seconds": round(result.seconds, 2),
            "metrics": result.metrics,
            "intervals": result.intervals,
            "tuning": tuning,
            "peak_rss_mib": round(peak_rss_mib()),
        }
        m = result.metrics
        print(
            f"  {model_name:<10} HR@10 {m['HR@10']:.4f} NDCG@10 {m['NDCG@10']:.4f} "
            f"(fit {fit_seconds:.1f}s, {settings})",
            flush=True,
        )
    return out


def tune_model(
    model_name: str, valid: Any, base: dict[str, Any] | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The grid setting with the best validation NDCG@10, and every trial; `base` settings go
    under every trial (and are not repeated in what it returns)."""
    grid = GRIDS.get(model_name, {})
    if not grid:
        return {}, []
    keys = list(grid)
    trials = []
    config = EvaluationConfig(n_bootstrap=0)
    for values in itertools.product(*(grid[k] for k in keys)):
        settings = dict(zip(keys, values, strict=True))
        model = create_model(model_name, {**(base or {}), **settings}).fit(valid.train)
        ndcg = evaluate(model, valid, config, name=model_name).metrics["NDCG@10"]
        trials.append({"settings": settings, "valid_NDCG@10": ndcg})
        print(f"    tune {model_name} {settings}: valid NDCG@10 {ndcg:.4f}", file=sys.stderr, flush=True)
    best = max(trials, key=lambda t: t["valid_NDCG@10"])
    return best["settings"], trials


def readme_table(results: dict[str, Any]) -> str:
    lines = []
    for name, data in results.items():
        lines.append(
            f"**{name}** — {data['users']:,} users, {data['items']:,} items, {data['interactions']:,} interactions "
            f"({data['test_users']:,} test users)\n"
        )
        lines.append(
            "| model | HR@10 | NDCG@10 | NDCG@10 95% CI | HR@20 | NDCG@20 | MRR | Coverage@10 | fit s | settings |"
        )
        lines.append("|---|---|---|---|---|---|---|---|---|---|")
        for model_name, r in data["models"].items():
            if "skipped" in r or "elsewhere" in r:
                reason = r.get("elsewhere") or f"skipped: {r['skipped']}"
                lines.append(f"| {model_name} | — | — | — | — | — | — | — | — | {reason} |")
                continue
            m, ci = r["metrics"], r["intervals"].get("NDCG@10", (float("nan"), float("nan")))
            settings = ", ".join(f"{k}={v}" for k, v in r["settings"].items()) or "defaults"
            lines.append(
                f"| {model_name} | {m['HR@10']:.4f} | {m['NDCG@10']:.4f} | {ci[0]:.4f}–{ci[1]:.4f} | {m['HR@20']:.4f} "
                f"| {m['NDCG@20']:.4f} | {m['MRR']:.4f} | {m.get('Coverage@10', float('nan')):.3f} "
                f"| {r['fit_seconds']:.1f} | {settings} |"
            )
        for label, hr, ndcg, source in ANCHORS.get(name, []):
            hr_text = f"{hr:.4f}" if hr is not None else "—"
            lines.append(f"| *{label}* | *{hr_text}* | *{ndcg:.4f}* | | | | | | | *{source}* |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
