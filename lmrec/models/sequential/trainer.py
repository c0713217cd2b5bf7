"""Training the sequential transformer: batches of sequences, the loss, early stopping on NDCG@10.

Each user's training sequence (their last `max_len + 1` items) teaches the network to predict
the item at every position from the items before it. Each user's last training item is held
out for validation; training stops when validation NDCG@10 (full ranking, seen items excluded)
has not improved for `patience` evaluations and at least `min_steps` steps are done, and the best
weights are kept. A network with the text-similarity term then has its weight γ chosen on the same
validation (`TEXT_WEIGHT_SCALES`).
`train_all` then trains a fresh network on every item for the best epoch count (the model's refit).
Training steps can run in bfloat16 (`TrainerSettings.autocast`); validation is always float32.

With a checkpoint folder, the whole training state is written after every validation (`Checkpoint`)
and a later fit with the same folder resumes from it: the result equals an uninterrupted run.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lmrec.data.dataset import Histories
from lmrec.diagnostics import ConfigError
from lmrec.models.sequential.network import SASRecNetwork

log = logging.getLogger(__name__)

#: Multiples of the learned text-similarity weight γ tried on validation after training. The
#: training loss is measured on the sequences the id and text projections fit, so it favours them
#: over the similarity term, which only generalises; in a development run on amazon-games,
#: validation NDCG@10 was best at 3x the learned γ (0.0402 against 0.0347 at 1x).
TEXT_WEIGHT_SCALES = (0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0)


def left_padded(histories: Histories, max_len: int, *, drop_last: int = 0) -> np.ndarray:
    """Each row's last `max_len` items (after dropping `drop_last` newest), as network rows.

    Returns:
        (B, max_len) int64; item position p becomes p + 1, padding is 0 on the left.
    """
    out = np.zeros((len(histories), max_len), dtype=np.int64)
    lengths = histories.lengths() - drop_last
    ends = histories.indptr[1:] - drop_last
    take = np.clip(lengths, 0, max_len)  # (B,)
    rows = np.repeat(np.arange(len(histories)), take)
    offsets = np.arange(take.sum()) - np.repeat(np.cumsum(take) - take, take)  # 0..take-1 within each row
    source = np.repeat(ends - take, take) + offsets
    out[rows, max_len - np.repeat(take, take) + offsets] = histories.items[source] + 1
    return out


def training_rows(histories: Histories, max_len: int, *, drop_last: int = 0) -> np.ndarray:
    """Rows of `max_len + 1` items (inputs and their next items) of the histories that have at least
    two after dropping `drop_last` newest; shape (U, max_len + 1), left-padded."""
    rows = left_padded(histories, max_len + 1, drop_last=drop_last)
    return rows[(rows > 0).sum(axis=1) >= 2]  # a row needs an input and a target


def trimmed(rows: np.ndarray) -> np.ndarray:
    """`rows` without the leading columns that are padding in every row (keeps at least one column).

    Positions count from the right, so trimming changes no result, only the work done.
    """
    used = np.flatnonzero((rows > 0).any(axis=0))
    return rows[:, used[0] :] if len(used) else rows[:, -1:]


def length_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Row indices in random batches of similar length, so trimming removes most padding.

    Rows are shuffled, cut into pools of 50 batches, sorted by length within a pool, batched,
    and the batches shuffled.
    """
    order = rng.permutation(len(lengths))
    pool = batch_size * 50
    batches = []
    for start in range(0, len(order), pool):
        chunk = order[start : start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


class FullSoftmaxLoss(nn.Module):
    """Cross-entropy over the catalogue's trained items at every non-padding position.

    Items with no training interaction (`known` False) are left out of the softmax: they can never
    be a target, so as negatives they would only teach the network to push their content down,
    which is exactly the content a new item is scored by.
    """

    unknown: torch.Tensor

    def __init__(self, known: torch.Tensor | None = None) -> None:
        super().__init__()
        self.register_buffer("unknown", torch.zeros(0, dtype=torch.bool) if known is None else ~known.bool())

    def forward(self, hidden: torch.Tensor, targets: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        """hidden (N, D) and targets (N,) as network rows (>= 1); table (I + 1, D)."""
        logits = (hidden @ table[1:].T).float()  # (N, I); float32 also under bfloat16 autocast
        if self.unknown.any():
            logits = logits.masked_fill(self.unknown.to(logits.device), float("-inf"))
        return F.cross_entropy(logits, targets - 1)


class SampledSoftmaxLoss(nn.Module):
    """Cross-entropy over the target and `negatives` distinct items drawn uniformly, shared by the batch.

    Negatives are drawn without replacement from the items with training interactions (`known`;
    all when None), for the reason `FullSoftmaxLoss` gives; asking for more than there are takes
    them all. A drawn negative that equals a row's target is left out of that row.
    """

    def __init__(self, negatives: int, generator: torch.Generator, known: torch.Tensor | None = None) -> None:
        super().__init__()
        self.negatives = negatives
        self.generator = generator
        self.rows = None if known is None else torch.nonzero(known.bool()).flatten() + 1  # network rows to draw from

    def forward(self, hidden: torch.Tensor, targets: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        pool = table.shape[0] - 1 if self.rows is None else len(self.rows)
        drawn = torch.randperm(pool, generator=self.generator)[: self.negatives]  # (S,) distinct
        drawn = drawn + 1 if self.rows is None else self.rows[drawn]  # network rows
        slot = torch.full((table.shape[0],), -1, dtype=torch.long)  # network row -> its place among the drawn
        slot[drawn] = torch.arange(len(drawn))
        slot, drawn = slot.to(hidden.device), drawn.to(hidden.device)
        positive = (hidden.float() * table[targets].float()).sum(-1)  # (N,)
        negative = (hidden @ table[drawn].T).float()  # (N, S); float32 also under bfloat16 autocast
        hit = slot[targets]  # (N,): where a row's target was drawn, -1 where it was not
        rows = torch.nonzero(hit >= 0).flatten()
        negative = negative.index_put((rows, hit[rows]), torch.tensor(float("-inf"), device=hidden.device))
        # log(e^positive + sum e^negative) - positive, without building the (N, 1 + S) logits
        return (torch.logaddexp(positive, torch.logsumexp(negative, dim=1)) - positive).mean()


@dataclass
class TrainingReport:
    """What training did: per-evaluation validation NDCG@10, the best epoch, time."""

    epochs: int = 0
    steps: int = 0  # optimiser steps of the first network
    best_epoch: int = 0
    best_ndcg: float = float("nan")  # of the weights returned (after the text weight is chosen)
    seconds: float = 0.0
    text_weight: float | None = None  # γ chosen on validation (networks with the text-similarity term)
    text_weight_scale: float | None = None  # the multiple of the learned γ that was chosen
    refit_seconds: float | None = None  # a refit on every item after early stopping (SASRecConfig.refit)
    history: list[dict[str, float]] = field(default_factory=list)


@dataclass
class TrainerSettings:
    """Loop settings, taken from the model config."""

    epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    patience: int
    min_steps: int
    eval_every: int
    max_seconds: float | None
    device: torch.device
    autocast: torch.dtype | None = None  # the training steps' matrix products in this type (bfloat16)


class Trainer:
    """Runs epochs over the training sequences and keeps the weights with the best validation NDCG@10."""

    def __init__(self, network: SASRecNetwork, loss: nn.Module, settings: TrainerSettings, seed: int) -> None:
        self.network = network
        self.loss = loss
        self.settings = settings
        self.rng = np.random.default_rng(seed)

    def fit(
        self, histories: Histories, checkpoint: Path | None = None, fingerprint: dict[str, Any] | None = None
    ) -> TrainingReport:
        """Train on every row's items but its last, validate on the last; returns the report.

        With `checkpoint` (a folder), the training state is saved there after every validation,
        and training resumes from what is there; `fingerprint` (JSON-ready: the settings and data
        that must match) is stored with it and checked on resuming.
        """
        s = self.settings
        max_len = self.network.max_len
        train_rows = training_rows(histories, max_len, drop_last=1)
        has_valid = histories.lengths() >= 2
        valid_inputs = left_padded(histories.take(np.flatnonzero(has_valid)), max_len, drop_last=1)
        valid_targets = histories.items[histories.indptr[1:][has_valid] - 1] + 1
        optimizer = self._optimizer()
        report, best_state, waited, first, spent = TrainingReport(), None, 0, 1, 0.0
        saved = Checkpoint(checkpoint, fingerprint or {}) if checkpoint is not None else None
        if saved is not None and saved.exists():
            report, best_state, waited, spent = saved.restore(self, optimizer)
            first = report.epochs + 1
            log.info("resumed from %s after epoch %d", saved.file, report.epochs)
        started = time.perf_counter() - spent

        def out_of_time() -> bool:
            return s.max_seconds is not None and time.perf_counter() - started > s.max_seconds

        def is_done() -> bool:
            return (waited >= s.patience and report.steps >= s.min_steps) or out_of_time()

        if first > 1 and is_done():
            first = s.epochs + 1  # the resumed run had ended: nothing left to train
        for epoch in range(first, s.epochs + 1):
            loss, steps = self._epoch(train_rows, optimizer)
            report.epochs, report.steps = epoch, report.steps + steps
            if epoch % s.eval_every and epoch != s.epochs and not out_of_time():
                continue  # out of time, an epoch validates anyway and ends the run
            ndcg = self.validate(valid_inputs, valid_targets)
            report.history.append({"epoch": epoch, "loss": loss, "valid_NDCG@10": ndcg})
            log.info("epoch %d: loss %.4f, valid NDCG@10 %.4f", epoch, loss, ndcg)
            if not ndcg <= report.best_ndcg:  # also true for the first evaluation (NaN best)
                report.best_ndcg, report.best_epoch, waited = ndcg, epoch, 0
                best_state = copy.deepcopy(self.network.state_dict())
            else:
                waited += 1
            if saved is not None:
                saved.write(self, optimizer, report, best_state, waited, time.perf_counter() - started)
            if is_done():
                break
        if best_state is not None:
            self.network.load_state_dict(best_state)
        if self.network.items.unit is not None and len(valid_inputs):
            report.text_weight_scale, report.best_ndcg = self.calibrate_text_weight(valid_inputs, valid_targets)
            report.text_weight = float(self.network.log_gamma.detach().exp())
        report.seconds = time.perf_counter() - started
        return report

    def train_all(self, histories: Histories, epochs: int) -> float:
        """Train on every row's items, none held out, for `epochs` epochs: a refit after early
        stopping has chosen the epoch count. Returns the seconds it took."""
        started = time.perf_counter()
        rows = training_rows(histories, self.network.max_len)
        optimizer = self._optimizer()
        for epoch in range(1, epochs + 1):
            log.info("refit epoch %d: loss %.4f", epoch, self._epoch(rows, optimizer)[0])
        return time.perf_counter() - started

    def _optimizer(self) -> torch.optim.Optimizer:
        s = self.settings
        return torch.optim.AdamW(self.network.parameters(), lr=s.learning_rate, weight_decay=s.weight_decay)

    def _epoch(self, rows: np.ndarray, optimizer: torch.optim.Optimizer) -> tuple[float, int]:
        """One pass over `rows`; returns the mean loss and the number of steps."""
        self.network.train()
        device, autocast = self.settings.device, self.settings.autocast
        lengths = (rows > 0).sum(axis=1)
        total, batches = 0.0, 0
        for chosen in length_batches(lengths, self.settings.batch_size, self.rng):
            batch = torch.from_numpy(trimmed(rows[chosen])).to(device)  # (B, T + 1)
            inputs, targets = batch[:, :-1], batch[:, 1:]  # (B, T) each
            keep = (inputs > 0) & (targets > 0)  # (B, T)
            blank = self.blanked(inputs)  # (B, T) or None
            with torch.autocast(device.type, dtype=autocast, enabled=autocast is not None):
                table, output = self.network.items.tables()  # (I + 1, D) each
                hidden = self.network(inputs, table, blank=blank)  # (B, T, D)
                loss = self.loss(hidden[keep], targets[keep], output)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach())
            batches += 1
        return total / max(batches, 1), batches

    def blanked(self, inputs: torch.Tensor) -> torch.Tensor | None:
        """Input positions (B, T) a training step reads as items of unknown identity (their vectors
        zero, their places kept); None, the default, for none. A subclass that marks some teaches
        the network to predict across unknown items (benchmarks/bench_unknown_item.py)."""
        return None

    @torch.no_grad()
    def calibrate_text_weight(self, inputs: np.ndarray, targets: np.ndarray) -> tuple[float, float]:
        """Set γ to the multiple in `TEXT_WEIGHT_SCALES` of the learned γ with the best validation
        NDCG@10 (ties: the smaller multiple); returns (the multiple, its NDCG@10)."""
        learned = self.network.log_gamma.detach().clone()
        scores = {}
        for scale in TEXT_WEIGHT_SCALES:
            self.network.log_gamma.copy_(learned + math.log(scale))
            scores[scale] = self.validate(inputs, targets)
        best = max(TEXT_WEIGHT_SCALES, key=lambda scale: (scores[scale], -scale))
        self.network.log_gamma.copy_(learned + math.log(best))
        log.info(
            "text-similarity weight: %.3g x the learned %.3g (valid NDCG@10 %.4f)",
            best,
            float(learned.exp()),
            scores[best],
        )
        return best, scores[best]

    def validate(self, inputs: np.ndarray, targets: np.ndarray, k: int = 10) -> float:
        """NDCG@k of the targets (network rows) ranked over the whole catalogue, inputs excluded
        (the mean of `ndcg_per_row`)."""
        return float(self.ndcg_per_row(inputs, targets, k).mean()) if len(inputs) else float("nan")

    @torch.no_grad()
    def ndcg_per_row(
        self, inputs: np.ndarray, targets: np.ndarray, k: int = 10, blank: np.ndarray | None = None
    ) -> np.ndarray:
        """Each row's NDCG@k of its target (a network row) over the whole catalogue, shape (B,).

        Args:
            inputs: (B, L) left-padded network rows; their items never rank.
            targets: (B,) network rows.
            blank: (B, L), True where an input is read as an item of unknown identity.

        Ties count against the target (its rank is 1 + the number of items scored at least as high).
        """
        self.network.eval()
        device = self.settings.device
        table, output = self.network.items.tables()
        gains = []
        for start in range(0, len(inputs), 1024):
            seq = torch.from_numpy(trimmed(inputs[start : start + 1024])).to(device)  # (b, T)
            target = torch.from_numpy(targets[start : start + 1024]).to(device)  # (b,)
            window = None if blank is None else blank[start : start + 1024, -seq.shape[1] :]  # (b, T)
            marked = None if window is None else torch.from_numpy(window).to(device)
            hidden = self.network.last_hidden(seq, table, marked)  # (b, D)
            scores = hidden @ output.T  # (b, I + 1)
            scores[:, 0] = float("-inf")
            scores.scatter_(1, seq, float("-inf"))  # seen items (and padding) never rank
            own = scores.gather(1, target.unsqueeze(1))  # (b, 1)
            rank = (scores >= own).sum(dim=1) - 1  # 0-based, pessimistic on ties
            gain = torch.where(rank < k, 1.0 / torch.log2(rank.float() + 2.0), torch.zeros_like(own[:, 0]))
            gains.append(gain.cpu().numpy())
        return np.concatenate(gains) if gains else np.zeros(0)


class Checkpoint:
    """The training state in one file, `<folder>/training.npz`, written after every validation.

    It holds the network's weights, the best weights so far, AdamW's moments, the random states
    (numpy's batch order, torch's for dropout, on the CPU and the GPU, and the `generator` of a loss
    that samples) and, as JSON, the report, the patience count, the time spent and the
    `fingerprint`. Arrays and JSON only, no pickle; written to a temporary file and renamed, so an
    interruption while writing leaves the previous checkpoint whole.
    """

    def __init__(self, folder: Path, fingerprint: dict[str, Any]) -> None:
        self.file = Path(folder) / "training.npz"
        self.fingerprint = fingerprint

    def exists(self) -> bool:
        return self.file.is_file()

    def write(
        self,
        trainer: Trainer,
        optimizer: torch.optim.Optimizer,
        report: TrainingReport,
        best: dict[str, torch.Tensor] | None,
        waited: int,
        spent: float,
    ) -> None:
        arrays = {f"net.{k}": v.detach().cpu().numpy() for k, v in trainer.network.state_dict().items()}
        arrays |= {f"best.{k}": v.cpu().numpy() for k, v in (best or {}).items()}
        state = optimizer.state_dict()
        for index, moments in state["state"].items():
            arrays |= {f"opt.{index}.{k}": torch.as_tensor(v).cpu().numpy() for k, v in moments.items()}
        arrays["rng.torch"] = torch.get_rng_state().numpy()
        if trainer.settings.device.type == "cuda":  # dropout on a GPU draws from the device's generator
            arrays["rng.cuda"] = torch.cuda.get_rng_state(trainer.settings.device).numpy()
        generator = getattr(trainer.loss, "generator", None)
        if generator is not None:
            arrays["rng.loss"] = generator.get_state().numpy()
        progress = {
            "fingerprint": self.fingerprint,
            "report": asdict(report),
            "waited": waited,
            "spent": spent,
            "param_groups": state["param_groups"],
            "numpy": trainer.rng.bit_generator.state,
        }
        arrays["progress"] = np.asarray(json.dumps(progress))
        self.file.parent.mkdir(parents=True, exist_ok=True)
        partial = self.file.with_suffix(".partial.npz")
        np.savez(partial, **arrays)
        os.replace(partial, self.file)

    def restore(
        self, trainer: Trainer, optimizer: torch.optim.Optimizer
    ) -> tuple[TrainingReport, dict[str, torch.Tensor] | None, int, float]:
        """Load the state into `trainer` and `optimizer`; returns (report, best weights, patience
        count, seconds spent)."""
        with np.load(self.file, allow_pickle=False) as stored:
            arrays = {k: stored[k] for k in stored.files}
        progress = json.loads(str(arrays.pop("progress")))
        changed = {
            k: (progress["fingerprint"].get(k), v)
            for k, v in self.fingerprint.items()
            if progress["fingerprint"].get(k) != v
        }
        if changed:
            described = "; ".join(f"{k}: {old!r} there, {new!r} now" for k, (old, new) in sorted(changed.items()))
            raise ConfigError(f"the checkpoint {self.file} was written for other settings or data ({described})")
        device = trainer.settings.device

        def tensors(prefix: str) -> dict[str, torch.Tensor]:
            return {k.removeprefix(prefix): torch.from_numpy(v) for k, v in arrays.items() if k.startswith(prefix)}

        trainer.network.load_state_dict(tensors("net."))
        best = tensors("best.") or None
        moments: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in tensors("opt.").items():
            index, name = key.split(".", 1)
            moments.setdefault(int(index), {})[name] = value if name == "step" else value.to(device)
        optimizer.load_state_dict({"state": moments, "param_groups": progress["param_groups"]})
        torch.set_rng_state(torch.from_numpy(arrays["rng.torch"]))
        if "rng.cuda" in arrays and trainer.settings.device.type == "cuda":
            torch.cuda.set_rng_state(torch.from_numpy(arrays["rng.cuda"]), trainer.settings.device)
        generator = getattr(trainer.loss, "generator", None)
        if generator is not None and "rng.loss" in arrays:
            generator.set_state(torch.from_numpy(arrays["rng.loss"]))
        trainer.rng.bit_generator.state = progress["numpy"]
        return TrainingReport(**progress["report"]), best, int(progress["waited"]), float(progress["spent"])
