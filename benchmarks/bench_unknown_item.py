"""ML-1M: does telling SASRec where the unknown item was help it predict across it?

For 5,528 of the file's 6,040 users the item just before the test item is unknown (`?`); the
protocol drops it, so the model reads the history as if the last known item came right before the
target. The network can instead be told: a *marked* position holds an item whose vectors are zero
(the explanations' `blank`), with its place in the sequence kept. A model trained with a share
`rate` of its input positions marked learns to predict the item after an unknown one; tested with
the unknown item marked after the history, it predicts two steps ahead, which is what the test
asks of it.

Each rate trains one id-only, full-softmax SASRec with ml-1m's benchmark settings (bench_sasrec's
BASE) for `--minutes`, one thread; rate 0 is the model as bench_sasrec trains it. Every model is
read two ways, the unknown item dropped (the protocol as it stands) or marked, on the test and on a
validation in the test's condition (the incomplete users' last training item as the target, the
item before it dropped or marked). Choices come from that validation; the test is reported.

    python benchmarks/bench_unknown_item.py --rates 0 0.05 & python benchmarks/bench_unknown_item.py --rates 0.15

Writes benchmarks/results/unknown_item_ml-1m.json (runs of several processes merged, a rate run
again replacing its earlier run) and the README section `unknown-item` once rate 0 is there; with
`--label` (equal epochs instead of equal time, say: `--epochs 32 --minutes 40 --label epochs32`)
unknown_item_ml-1m_<label>.json alone.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from bench_sasrec import BASE
from common import RESULTS, peak_rss_mib, replace_readme_section, shared_data, write_results

from lmrec.data.columns import Columns
from lmrec.data.dataset import Dataset, Histories
from lmrec.data.ingest import load_dataset
from lmrec.data.splits import Split, leave_last_out
from lmrec.evaluation.stats import bootstrap_intervals, paired_difference
from lmrec.models.sequential.model import SASRec
from lmrec.models.sequential.network import SASRecNetwork
from lmrec.models.sequential.trainer import Trainer, TrainerSettings, left_padded

NAME = "unknown_item_ml-1m"


class MarkingTrainer(Trainer):
    """The sequential trainer with a share `rate` of the input positions of every step marked unknown."""

    def __init__(self, *args: Any, rate: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rate = rate

    def blanked(self, inputs: torch.Tensor) -> torch.Tensor | None:
        # drawn at rate 0 too, so that every rate's batches come in the same order
        drawn = torch.from_numpy(self.rng.random(tuple(inputs.shape)) < self.rate).to(inputs.device)  # (B, T)
        return drawn & (inputs > 0) if self.rate > 0 else None


class MarkingSASRec(SASRec):
    """SASRec trained by a `MarkingTrainer`, which it keeps (as `trainer`) for the evaluations here."""

    def __init__(self, config: dict[str, Any], rate: float) -> None:
        super().__init__(config)
        self.rate = rate

    def _trainer(self, network: SASRecNetwork, settings: TrainerSettings) -> Trainer:
        self.trainer = MarkingTrainer(network, self._loss(), settings, self.config.seed, rate=self.rate)
        return self.trainer


def train(data: Dataset, rate: float, minutes: float, epochs: int) -> MarkingSASRec:
    """One id-only, full-softmax SASRec with ml-1m's benchmark settings, a share `rate` of its inputs marked."""
    config = {**BASE["ml-1m"], "item_parts": ["id"], "loss": "full", "max_minutes": minutes, "epochs": epochs}
    return MarkingSASRec(config, rate).fit(data)


def ndcg(trainer: Trainer, histories: Histories, targets: np.ndarray, marked: np.ndarray) -> np.ndarray:
    """Per-row NDCG@10 of `targets` (item positions) over the whole catalogue, history items excluded;
    rows with `marked` read an unknown item after their history."""
    inputs = left_padded(histories, trainer.network.max_len)  # (B, L)
    blank = np.zeros(inputs.shape, dtype=bool)
    # the newest item moves one place left and a copy of it, marked, takes the last place
    inputs[marked] = np.concatenate([inputs[marked, 1:], inputs[marked, -1:]], axis=1)
    blank[marked, -1] = True
    return trainer.ndcg_per_row(inputs, targets + 1, blank=blank)


def evaluate_both_ways(trainer: Trainer, split: Split, incomplete: np.ndarray) -> dict[str, Any]:
    """Test and test-condition validation NDCG@10, the unknown item dropped and marked, per user."""
    test = split.test.set_index(Columns.UserIdx)[Columns.ItemIdx]
    targets = test.loc[split.histories.users].to_numpy()
    # validation in the test's condition: incomplete users with three or more training items, their
    # last one the target and the one before it dropped from the input (and marked, the other way)
    lengths = split.histories.lengths()
    rows = np.flatnonzero(incomplete & (lengths >= 3))
    valid = Histories.from_lists([split.histories.row(int(b))[:-2] for b in rows], split.histories.users[rows])
    valid_targets = np.array([split.histories.row(int(b))[-1] for b in rows])
    out: dict[str, Any] = {}
    for way, marking in (("dropped", False), ("marked", True)):
        gains = ndcg(trainer, split.histories, targets, incomplete & marking)
        out[way] = {
            "valid_NDCG@10": float(ndcg(trainer, valid, valid_targets, np.full(len(rows), marking)).mean()),
            "test_NDCG@10": float(gains.mean()),
            "test_NDCG@10_ci": [float(x) for x in bootstrap_intervals(gains)[0]],
            "incomplete_NDCG@10": float(gains[incomplete].mean()),
            "complete_NDCG@10": float(gains[~incomplete].mean()),
            "per_user_NDCG@10": {str(row): round(float(gains[row]), 5) for row in np.flatnonzero(gains)},
        }
    return out


def merged_write(name: str, runs: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
    """Merge `runs` into the results file under a lock (several processes finish side by side)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(Path(tempfile.gettempdir()) / f"lmrec-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = RESULTS / f"{name}.json"
        earlier = json.loads(path.read_text()).get("runs", {}) if path.is_file() else {}
        payload["runs"] = {**earlier, **runs}
        payload["runs"] = {k: payload["runs"][k] for k in sorted(payload["runs"], key=float)}
        write_results(name, payload)
    return payload


def table(payload: dict[str, Any]) -> str:
    """The README section: one row per rate and way of reading the unknown item, and the choice."""
    lines = [
        f"ML-1M, id-only full-softmax SASRec with a share of its training inputs marked unknown, "
        f"{payload['minutes']:g} minutes each on one thread (`python benchmarks/bench_unknown_item.py`). "
        "*Dropped*: the unknown item left out of the input, as the protocol does; *marked*: read as a "
        "marked position after the history. Validation in the test's condition: the incomplete users' "
        "last training item as the target, the one before it dropped or marked.",
        "",
        "| marked in training | epochs (best) | unknown item at test | valid NDCG@10 (test's condition) "
        "| test NDCG@10 | 95% CI | incomplete users | complete users |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for rate, run in payload["runs"].items():
        for way in ("dropped", "marked"):
            r = run[way]
            lines.append(
                f"| {float(rate):.0%} | {run['epochs']} ({run['best_epoch']}) | {way} | {r['valid_NDCG@10']:.4f} "
                f"| {r['test_NDCG@10']:.4f} | {r['test_NDCG@10_ci'][0]:.4f}–{r['test_NDCG@10_ci'][1]:.4f} "
                f"| {r['incomplete_NDCG@10']:.4f} | {r['complete_NDCG@10']:.4f} |"
            )
    choices = [(rate, way) for rate, run in payload["runs"].items() for way in ("dropped", "marked")]
    rate, way = max(choices, key=lambda c: payload["runs"][c[0]][c[1]]["valid_NDCG@10"])
    lines.append("")
    lines.append(f"Chosen on validation: {float(rate):.0%} marked in training, the unknown item {way} at test.")
    base = payload["runs"].get("0")

    def per_user(run: dict[str, Any], way: str) -> np.ndarray:
        """A run's per-test-user NDCG@10 (stored where it is not 0, by row)."""
        gains = np.zeros(payload["test_users"])
        for row, value in run[way]["per_user_NDCG@10"].items():
            gains[int(row)] = value
        return gains

    if base is not None:
        for rate, run in payload["runs"].items():
            for way in ("dropped", "marked"):
                if (rate, way) == ("0", "dropped"):
                    continue
                diff, (low, high), _ = paired_difference(per_user(run, way), per_user(base, "dropped"))
                lines.append(
                    f"- {float(rate):.0%} marked, unknown item {way}, against the protocol's model: test NDCG@10 "
                    f"{diff:+.4f} (95% CI {low:+.4f} to {high:+.4f})"
                )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", nargs="+", type=float, default=[0.0, 0.05, 0.15])
    parser.add_argument("--minutes", type=float, default=20.0, help="Training time limit per model.")
    parser.add_argument("--epochs", type=int, default=400, help="Most epochs per model (early stopping may end it).")
    parser.add_argument(
        "--label", help="Write unknown_item_ml-1m_<label>.json, kept out of the README (a run on other terms)."
    )
    args = parser.parse_args()
    path = shared_data("ml-1m")
    if path is None:
        return
    torch.set_num_threads(1)
    data, _ = load_dataset(path)
    split = leave_last_out(data)
    complete = split.train.users.index((path / "complete_users.txt").read_text().split())
    incomplete = ~np.isin(split.histories.users, complete)
    print(f"ml-1m: {incomplete.sum():,} of {len(incomplete):,} test users lack their second-to-last item", flush=True)
    runs = {}
    for rate in args.rates:
        started = time.perf_counter()
        model = train(split.train, rate, args.minutes, args.epochs)
        trainer, report = model.trainer, model.report
        runs[f"{rate:g}"] = {
            "epochs": report.epochs,
            "best_epoch": report.best_epoch,
            "valid_NDCG@10_as_trained": report.best_ndcg,
            "fit_seconds": round(time.perf_counter() - started, 1),
            **evaluate_both_ways(trainer, split, incomplete),
        }
        summary = {way: runs[f"{rate:g}"][way]["test_NDCG@10"] for way in ("dropped", "marked")}
        print(f"rate {rate:g}: epochs {report.epochs} (best {report.best_epoch}), test {summary}", flush=True)
    name = NAME if args.label is None else f"{NAME}_{args.label}"
    settings = {"minutes": args.minutes, "epochs": args.epochs, "threads": 1, "test_users": len(incomplete)}
    payload = merged_write(name, runs, {**settings, "peak_rss_mib": peak_rss_mib()})
    print(f"wrote {RESULTS / (name + '.json')}")
    if "0" in payload["runs"] and args.label is None:
        replace_readme_section("unknown-item", table(payload))


if __name__ == "__main__":
    main()
