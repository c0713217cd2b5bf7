"""Behaviour-tuned text encoder: LoRA fine-tuning on items that co-occur in users' sequences.

Two items a user touched within `window` steps of each other are a positive pair; the other
items of the batch are negatives (in-batch contrastive loss, both directions, with a temperature).
Only low-rank adapters on the attention projections are trained (`peft`), so a few thousand steps
on the CPU move the encoder towards "what people buy together" without forgetting the language.
The result is merged into the weights and saved as an ordinary sentence-transformers folder
(safetensors), so `EncoderConfig(model=folder)` uses it everywhere, with its own cache version;
the adapter itself is saved beside it in `adapter/`. `merge_adapter` folds it in at a fraction of
its update instead: a point between the base and the tuned weights (weight-space ensembling).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from lmrec.data.dataset import Histories
from lmrec.diagnostics import ConfigError, DataError
from lmrec.encoders.text import EncoderConfig, resolve_device, resolve_model_path

log = logging.getLogger(__name__)


class TuningConfig(BaseModel):
    """Settings of the behaviour tuning of the text encoder."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    rank: int = Field(default=8, ge=1, le=256)
    """LoRA rank of each adapted projection."""

    alpha: float = Field(default=16.0, gt=0.0)
    """LoRA scaling numerator (the update is scaled by alpha / rank)."""

    dropout: float = Field(default=0.1, ge=0.0, lt=1.0)
    """Dropout on the LoRA input."""

    target_modules: tuple[str, ...] = ("query", "key", "value")
    """Names of the linear layers that get adapters (BERT attention projections by default)."""

    window: int = Field(default=3, ge=1)
    """Two items at most this many steps apart in a user's sequence form a positive pair."""

    max_pairs: int = Field(default=20_000, ge=1)
    """Most distinct pairs to train on (a seeded sample when there are more)."""

    epochs: int = Field(default=1, ge=1)
    """Passes over the pairs."""

    batch_size: int = Field(default=64, ge=2)
    """Pairs per step; the other pairs of a batch are the negatives."""

    learning_rate: float = Field(default=5e-4, gt=0.0)
    """AdamW step size of the adapters."""

    temperature: float = Field(default=0.05, gt=0.0)
    """Softmax temperature on cosine similarities."""

    popularity_correction: bool = True
    """Subtract log q_j, item j's share of the pairs, from every logit of item j (the logQ
    correction of in-batch negatives, Yi et al. 2019). The batch's other items are negatives drawn
    in proportion to how often they pair; uncorrected, the most frequent items are pushed away
    from everything, and the tuned vectors lose the popularity that next items have."""

    bfloat16: bool = False
    """Run the encoder in bfloat16 autocast while tuning (the adapters stay float32): about three
    times faster on CPUs with AMX and on recent GPUs, slower on CPUs without bfloat16 units."""

    max_tokens: int = Field(default=64, ge=8, le=512)
    """Texts are cut to this many tokens while tuning (titles and the start of descriptions)."""

    seed: int = 0
    """Seed of the pair sample, batch order and adapter initialisation."""


@dataclass
class TuningReport:
    """What tuning did."""

    pairs: int
    steps: int = 0
    seconds: float = 0.0
    losses: list[float] = field(default_factory=list)
    path: str = ""


def cooccurrence_pairs(histories: Histories, window: int, max_pairs: int, seed: int = 0) -> np.ndarray:
    """Distinct (a, b) item pairs, a != b, at most `window` steps apart in some row; shape (P, 2).

    Each unordered pair appears once (a < b). When there are more than `max_pairs`, a seeded
    sample weighted by how often the pair co-occurs is taken.
    """
    lefts, rights = [], []
    items, indptr = histories.items, histories.indptr
    same_row_end = np.repeat(indptr[1:], histories.lengths())  # (nnz,) end of each entry's row
    positions = np.arange(len(items))
    for step in range(1, window + 1):
        ok = positions + step < same_row_end
        lefts.append(items[positions[ok]])
        rights.append(items[positions[ok] + step])
    a, b = np.concatenate(lefts), np.concatenate(rights)
    keep = a != b
    pairs = np.sort(np.stack([a[keep], b[keep]], axis=1), axis=1)  # (n, 2), a < b
    unique, counts = np.unique(pairs, axis=0, return_counts=True)
    if len(unique) > max_pairs:
        rng = np.random.default_rng(seed)
        chosen = rng.choice(len(unique), size=max_pairs, replace=False, p=counts / counts.sum())
        unique = unique[np.sort(chosen)]
    return unique.astype(np.int64)


def tune_encoder(
    texts: list[str],
    pairs: np.ndarray,
    output: str | Path,
    config: TuningConfig | None = None,
    base: EncoderConfig | None = None,
) -> TuningReport:
    """LoRA-tune the base encoder so co-occurring items' texts embed close together; save to `output`.

    Args:
        texts: one text per item position (`Dataset.item_text()`).
        pairs: (P, 2) item positions that co-occur (`cooccurrence_pairs`).
        output: folder for the merged sentence-transformers model (and `adapter/`).
        config: tuning settings.
        base: the encoder to start from (the bundled all-MiniLM-L6-v2 by default).

    Returns:
        The report; `EncoderConfig(model=report.path)` loads the tuned encoder.
    """
    import torch
    from peft import LoraConfig, get_peft_model
    from sentence_transformers import SentenceTransformer

    config = config or TuningConfig()
    base = base or EncoderConfig()
    pairs = _checked_pairs(pairs, len(texts))
    torch.manual_seed(config.seed)
    device = resolve_device(base.device)
    model = SentenceTransformer(str(resolve_model_path(base.model)), device=device, local_files_only=True)
    served_length = model.max_seq_length
    model.max_seq_length = config.max_tokens
    lora = LoraConfig(
        r=config.rank,
        lora_alpha=config.alpha,  # type: ignore[arg-type]  # peft annotates int, computes with float
        lora_dropout=config.dropout,
        target_modules=list(config.target_modules),
    )
    # adapters are injected into the encoder's own layers; keep the peft handle to save and merge them
    adapted = get_peft_model(model[0].auto_model, lora)  # type: ignore[arg-type]
    report = TuningReport(pairs=len(pairs))
    started = time.perf_counter()
    _train(model, texts, pairs, config, device, report)
    folder = Path(output)
    adapted.save_pretrained(str(folder / "adapter"))  # the LoRA weights alone
    adapted.merge_and_unload()  # folds the adapters into the encoder's layers, in place
    model.max_seq_length = served_length
    model.save(str(folder), safe_serialization=True)
    report.seconds = time.perf_counter() - started
    report.path = str(folder)
    (folder / "lmrec_tuning.json").write_text(
        json.dumps({"config": config.model_dump(mode="json"), "report": asdict(report)}, indent=2)
    )
    log.info(
        "tuned the encoder on %d pairs in %d steps (%.0fs) -> %s", len(pairs), report.steps, report.seconds, folder
    )
    return report


def _checked_pairs(pairs: np.ndarray, n_texts: int) -> np.ndarray:
    """`pairs` as (P, 2) int64 item positions, refused unless P >= 2 and every position has a text."""
    pairs = np.asarray(pairs, dtype=np.int64)
    if pairs.ndim != 2 or pairs.shape[1] != 2 or len(pairs) < 2:
        raise DataError(f"need at least 2 item pairs of shape (P, 2), got {pairs.shape}", field="pairs")
    if pairs.min() < 0 or pairs.max() >= n_texts:
        raise DataError(f"pair item outside the {n_texts} texts", field="pairs", value=int(pairs.max()))
    return pairs


def _train(
    model: Any, texts: list[str], pairs: np.ndarray, config: TuningConfig, device: str, report: TuningReport
) -> None:
    """`config.epochs` passes over the shuffled pairs in batches, training the model's trainable
    (adapter) weights with `_pair_loss`; steps and losses go into `report`."""
    import torch
    import torch.nn.functional as F

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate)
    rng = np.random.default_rng(config.seed)
    model.train()

    def embed(batch_texts: list[str]) -> torch.Tensor:
        features = {
            k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in model.preprocess(batch_texts).items()
        }
        return F.normalize(model(features)["sentence_embedding"], dim=-1)  # (B, D)

    share = np.bincount(pairs.ravel(), minlength=len(texts)) / pairs.size  # q_j: item j's share of the pairs
    log_share = torch.from_numpy(np.log(np.maximum(share, 1e-12))).float().to(device)
    device_type = torch.device(device).type
    for _ in range(config.epochs):
        order = rng.permutation(len(pairs))
        for start in range(0, len(order) - 1, config.batch_size):
            batch = pairs[order[start : start + config.batch_size]]  # (B, 2)
            if len(batch) < 2:
                continue
            with torch.autocast(device_type, dtype=torch.bfloat16, enabled=config.bfloat16):
                left = embed([texts[i] for i in batch[:, 0]]).float()  # (B, D)
                right = embed([texts[i] for i in batch[:, 1]]).float()  # (B, D)
            loss = _pair_loss(left, right, torch.from_numpy(batch).to(device), config, log_share)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            report.steps += 1
            report.losses.append(float(loss.detach()))
    model.eval()


def _pair_loss(left: Any, right: Any, batch: Any, config: TuningConfig, log_share: Any) -> Any:
    """In-batch contrastive loss of unit vectors left, right (B, D) of the pairs `batch` (B, 2), both ways.

    Row i's positive is column i; the other columns are its negatives, except those holding item i
    itself or its partner (a batch may hold an item twice), which are masked. With the popularity
    correction every logit of item j is lowered by log q_j.
    """
    import torch
    import torch.nn.functional as F

    logits = left @ right.T / config.temperature  # (B, B): [i, j] = left i against right j
    labels = torch.arange(len(batch), device=logits.device)
    off_diagonal = ~torch.eye(len(batch), dtype=torch.bool, device=logits.device)
    loss = logits.new_zeros(())
    for scores, mine, theirs in ((logits, batch, batch), (logits.T, batch.flip(1), batch.flip(1))):
        # scores[i, j]: query mine[i, 0] against candidate theirs[j, 1]
        candidate = theirs[:, 1][None, :]  # (1, B)
        clash = ((candidate == mine[:, 1][:, None]) | (candidate == mine[:, 0][:, None])) & off_diagonal
        if config.popularity_correction:
            scores = scores - log_share[theirs[:, 1]][None, :]
        loss = loss + 0.5 * F.cross_entropy(scores.masked_fill(clash, float("-inf")), labels)
    return loss


def merge_adapter(
    adapter: str | Path, output: str | Path, scale: float = 1.0, base: EncoderConfig | None = None
) -> Path:
    """Fold a saved LoRA adapter (`tune_encoder`'s `adapter/` folder) into the base encoder at
    `scale` times its update and save the sentence-transformers model to `output`.

    Scale 1 gives the tuned encoder, 0 the base one, and scales between them points on the line
    between the two weight sets (WiSE-FT, Wortsman et al. 2022): fine-tuned models interpolated
    with their base keep more of what the base knows about inputs the tuning never saw, here the
    text of items that were in no pair. `base` must be the encoder the adapter was tuned from.
    """
    from peft import PeftModel
    from peft.tuners.lora import LoraLayer
    from sentence_transformers import SentenceTransformer

    if scale < 0:
        raise ConfigError(f"merge scale must be >= 0, got {scale}")
    base = base or EncoderConfig()
    model = SentenceTransformer(str(resolve_model_path(base.model)), device="cpu", local_files_only=True)
    # the adapter is injected into the encoder's own layers (torch types a submodule as Tensor | Module)
    adapted = PeftModel.from_pretrained(model[0].auto_model, str(adapter))  # type: ignore[arg-type]
    for module in adapted.modules():
        if isinstance(module, LoraLayer):
            module.set_scale("default", scale)  # scaling = scale * alpha / rank
    adapted.merge_and_unload()  # folds the scaled update into the layers, in place
    folder = Path(output)
    model.save(str(folder), safe_serialization=True)
    log.info("merged %s at scale %.3g -> %s", adapter, scale, folder)
    return folder
