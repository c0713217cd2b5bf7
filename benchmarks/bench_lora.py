"""Behaviour-tuned encoder on amazon-games: LoRA on co-occurring items, frozen vs tuned, cold and warm.

10% of the items (seeded) are held out with all their interactions, as in bench_cold_start.py.
The encoder is tuned (`lmrec.encoders.tuning`, peft LoRA, in-batch contrastive) on pairs of items
that co-occur within 3 steps in the remaining histories with each user's last two items removed,
so none of these was seen by the tuning:

- validation: each user's second-to-last remaining item; it chooses the scale at which the
  adapter is merged (`merge_adapter`: 1 is the tuned encoder, 0.5 the midpoint of the base and
  tuned weights), from `SCALES`;
- cold: users whose last item is a held-out item, ranked over the whole catalogue;
- warm: each user's last remaining item (leave-last-out on the data without the held-out items).

All are scored by the text content model (recency-weighted mean of the recent items' text
vectors), which reads nothing but the encoder, so the difference is the encoder's alone.

    python benchmarks/bench_lora.py [--pairs 60000] [--max-tokens 32] [--epochs 1] [--float32] [--seed 0]
        [--save-encoder DIR]

`--save-encoder DIR` keeps the merged encoder (the scale chosen on validation) as a
sentence-transformers folder, for other benchmarks to name as their encoder (bench_cold_start.py
`--encoder DIR`); it was tuned on the training side of the same held-out split.

Tuning costs a forward and backward pass of the encoder per title per pair. In float32 about 4,000
pairs of 32-token titles fit in ten minutes on this 2-core CPU; bfloat16 autocast (the default here:
the CPU has AMX) runs the encoder's matrix products about three times faster. On a GPU, raise both.

Writes benchmarks/results/lora.json and the README table between the `lora` markers.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from common import peak_rss_mib, replace_readme_section, shared_data, write_results

from lmrec.data.ingest import load_dataset
from lmrec.data.splits import Split, held_out_items, leave_last_out
from lmrec.encoders import EncoderConfig
from lmrec.encoders.tuning import TuningConfig, cooccurrence_pairs, merge_adapter, tune_encoder
from lmrec.evaluation.protocol import EvaluationConfig, EvaluationResult, compare, evaluate
from lmrec.models import create_model

#: Scales at which the adapter is merged, chosen among on validation.
SCALES = (0.25, 0.5, 0.75, 1.0)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="amazon-games")
    parser.add_argument("--pairs", type=int, default=60_000, help="Most co-occurring pairs to tune on.")
    parser.add_argument("--max-tokens", type=int, default=32, help="Tokens of each title read while tuning.")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--float32", action="store_true", help="Tune in float32 instead of bfloat16 autocast.")
    parser.add_argument("--threads", type=int, help="Torch threads (default torch's choice).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save-encoder", type=Path, help="Copy the merged encoder (chosen scale) to this folder.")
    return parser.parse_args()


def main() -> None:
    args = _arguments()
    if args.threads:
        torch.set_num_threads(args.threads)
    path = shared_data(args.dataset)
    if path is None:
        return
    dataset, _ = load_dataset(path)
    cold = held_out_items(dataset, share=0.1, seed=args.seed)
    warm = leave_last_out(cold.train)
    valid = leave_last_out(warm.train)
    splits: dict[str, Split] = {"cold": cold, "warm": warm}
    print(f"{args.dataset}: {dataset}; cold {cold.n_test_users:,} users, warm {warm.n_test_users:,} users", flush=True)

    tuning = TuningConfig(
        max_pairs=args.pairs,
        epochs=args.epochs,
        max_tokens=args.max_tokens,
        bfloat16=not args.float32,
        seed=args.seed,
    )
    pairs = cooccurrence_pairs(valid.train.histories(), tuning.window, tuning.max_pairs, tuning.seed)
    texts = cold.train.item_text()
    with tempfile.TemporaryDirectory() as root:
        started = time.perf_counter()
        report = tune_encoder(texts, pairs, Path(root) / "tuned", tuning)
        tuning_seconds = time.perf_counter() - started
        print(f"tuned on {len(pairs):,} pairs, {report.steps} steps, {tuning_seconds / 60:.1f} min", flush=True)
        chosen, validation = choose_scale(Path(report.path) / "adapter", Path(root), valid)
        if args.save_encoder is not None:
            shutil.copytree(Path(root) / f"scale-{chosen}", args.save_encoder, dirs_exist_ok=True)
        encoders = {
            "frozen": EncoderConfig(),
            "tuned": EncoderConfig(model=str(Path(root) / "scale-1.0")),
            "merged": EncoderConfig(model=str(Path(root) / f"scale-{chosen}")),
        }
        rows = compare_encoders(encoders, splits)
    payload = {
        "dataset": args.dataset,
        "split": {"held_out_share": 0.1, "seed": args.seed},
        "tuning": {
            "config": tuning.model_dump(mode="json"),
            "pairs": len(pairs),
            "steps": report.steps,
            "seconds": round(tuning_seconds, 1),
            "first_loss": report.losses[0],
            "last_loss": sum(report.losses[-20:]) / len(report.losses[-20:]),
        },
        "merge": {"scales": list(SCALES), "validation_ndcg": validation, "chosen": chosen},
        "peak_rss_mib": round(peak_rss_mib()),
        "results": rows,
        "target": {"relative_cold_ndcg_change": 0.10},
    }
    write_results("lora", payload)
    replace_readme_section("lora", table(payload))


def choose_scale(adapter: Path, root: Path, valid: Split) -> tuple[float, dict[float, float]]:
    """Merge the adapter at each of `SCALES` (into root/scale-<s>) and measure the content model
    with each on the validation split; the best scale (ties: the smaller) and every scale's NDCG@10."""
    validation: dict[float, float] = {}
    for scale in SCALES:
        folder = merge_adapter(adapter, root / f"scale-{scale}", scale)
        model = create_model("content", {"encoder": {"model": str(folder)}}).fit(valid.train)
        validation[scale] = evaluate(model, valid, EvaluationConfig(n_bootstrap=0)).metrics["NDCG@10"]
        print(f"  validation, merged at {scale}: NDCG@10 {validation[scale]:.4f}", flush=True)
    return max(SCALES, key=lambda scale: (validation[scale], -scale)), validation


def compare_encoders(encoders: dict[str, EncoderConfig], splits: dict[str, Split]) -> dict[str, Any]:
    """The content model with each encoder on each split; per split, the frozen encoder's results and
    each other encoder's with its paired NDCG@10 difference and relative change against frozen."""
    eval_config = EvaluationConfig(n_bootstrap=1000)
    rows: dict[str, Any] = {}
    for split_name, split in splits.items():
        results: dict[str, EvaluationResult] = {}
        for encoder_name, encoder in encoders.items():
            model = create_model("content", {"encoder": encoder.model_dump()}).fit(split.train)
            results[encoder_name] = evaluate(model, split, eval_config, name=f"content-{encoder_name}")
            m = results[encoder_name].metrics
            print(f"  {split_name:<5} {encoder_name:<7} HR@10 {m['HR@10']:.4f} NDCG@10 {m['NDCG@10']:.4f}")
        frozen = results["frozen"]
        rows[split_name] = {"test_users": split.n_test_users, "frozen": frozen.to_dict()}
        for name in ("tuned", "merged"):
            other = results[name]
            rows[split_name][name] = {
                **other.to_dict(),
                "ndcg_difference": compare(other, frozen, "NDCG@10").to_dict(),
                "relative_ndcg_change": other.metrics["NDCG@10"] / frozen.metrics["NDCG@10"] - 1.0,
            }
    return rows


def table(payload: dict[str, Any]) -> str:
    t, merge = payload["tuning"], payload["merge"]
    scale = merge["chosen"]
    tried = ", ".join(f"{float(s):g}: {v:.4f}" for s, v in merge["validation_ndcg"].items())
    lines = [
        f"{payload['dataset']}: the bundled all-MiniLM-L6-v2 (frozen) against the same model LoRA-tuned "
        f"(rank {t['config']['rank']}) on {t['pairs']:,} co-occurring item pairs, {t['steps']} steps in "
        f"{t['seconds'] / 60:.1f} min on this CPU"
        f"{', in-batch negatives logQ-corrected' if t['config']['popularity_correction'] else ''}"
        f"{', bfloat16 autocast' if t['config']['bfloat16'] else ''}; `tuned` is the adapter merged in full, "
        f"`merged` at the scale chosen on validation, {scale:g} (validation NDCG@10 by scale: {tried}); all scored "
        "by the text content model (`python benchmarks/bench_lora.py`):",
        "",
        "| test users | encoder | HR@10 | NDCG@10 | NDCG@10 95% CI |",
        "|---|---|---|---|---|",
    ]
    for split_name, row in payload["results"].items():
        for encoder_name in ("frozen", "tuned", "merged"):
            run = row[encoder_name]
            m, ci = run["metrics"], run["intervals"]["NDCG@10"]
            label = f"{split_name} ({row['test_users']:,})"
            metrics = f"{m['HR@10']:.4f} | {m['NDCG@10']:.4f} | {ci[0]:.4f}–{ci[1]:.4f}"
            lines.append(f"| {label} | {encoder_name} | {metrics} |")
    lines.append("")
    for split_name, row in payload["results"].items():
        for encoder_name in ("tuned", "merged"):
            d = row[encoder_name]["ndcg_difference"]
            low, high = d["interval"]
            change = row[encoder_name]["relative_ndcg_change"]
            lines.append(
                f"- {split_name}: {encoder_name} − frozen NDCG@10 = {d['diff']:+.4f} (95% CI {low:+.4f} to "
                f"{high:+.4f}), {change:+.1%} relative" + (" (target: +10%)" if split_name == "cold" else "")
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
