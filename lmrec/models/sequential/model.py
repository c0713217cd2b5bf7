"""SASRec: the sequential transformer under the model contract, with text or attribute side channels.

Items are represented by a learned id embedding, the projected language-model embedding of their
text, an attribute bag (brand, category, tags), or a sum of these (`item_parts`). With text in the
representation an item that never appeared in training still has a meaningful vector, which is
what cold start needs. The saved state holds the network weights and the text vectors, so a loaded
model scores without loading the language model.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import Field, ValidationInfo, field_validator

from lmrec.data.columns import Columns
from lmrec.data.dataset import Dataset, Histories
from lmrec.diagnostics import ConfigError, DataError
from lmrec.models.base import ModelConfig, Recommender
from lmrec.models.sequential.explain import METHODS
from lmrec.models.sequential.explain import explain as explain_items
from lmrec.models.sequential.network import (
    AttributeBag,
    IdEmbedding,
    ItemEncoder,
    ItemPart,
    SASRecNetwork,
    TextProjection,
)
from lmrec.models.sequential.new_items import adjusted_item_vectors, share_offset, with_offset_column
from lmrec.models.sequential.trainer import (
    FullSoftmaxLoss,
    SampledSoftmaxLoss,
    Trainer,
    TrainerSettings,
    TrainingReport,
    left_padded,
    trimmed,
)

log = logging.getLogger(__name__)

Part = Literal["id", "text", "attributes"]

#: Settings a checkpointed fit may resume under with other values (see `SASRecConfig.checkpoint_dir`).
RESUMABLE_CHANGES = {"epochs", "patience", "min_steps", "max_minutes", "device", "checkpoint_dir", "refit"}


class SASRecConfig(ModelConfig):
    """Settings of the sequential transformer.

    The defaults are the base of the README's ablation on amazon-beauty (`bench_sasrec.py
    --ablation`): sampled softmax with 1,024 negatives, dropout 0.5, two blocks of width 64 over the
    last 50 items; no single change scored better on validation beyond noise (4,096 negatives:
    0.0614 against 0.0606, at a quarter fewer epochs in the same time). Dense data with long
    histories wants less dropout and longer sequences (ml-1m: 0.2 and 200), and a small catalogue
    the full softmax (ml-1m's 3,416 items, 30 minutes: validation NDCG@10 0.1563 against 0.1522
    sampled, in 48 epochs against 80); with few steps an epoch (ml-1m: 47) a larger learning rate
    (4e-3: validation 0.1739) makes better use of a time limit.
    """

    item_parts: tuple[Part, ...] | Literal["auto"] = "auto"
    """What an item's vector is the sum of: `id` (learned per item), `text` (projected language-model
    embedding of the item text), `attributes` (mean of learned brand/category/tag vectors). `auto`
    takes id + text when the items have titles or descriptions, id + attributes when they only have
    categories, brands or tags, and id alone otherwise."""

    max_len: int = Field(default=50, ge=1, le=1024)
    """Most recent items of a history the network reads."""

    dim: int = Field(default=64, ge=8)
    """Model width."""

    layers: int = Field(default=2, ge=1, le=24)
    """Transformer blocks."""

    heads: int = Field(default=1, ge=1)
    """Attention heads per block (must divide `dim`)."""

    dropout: float = Field(default=0.5, ge=0.0, lt=1.0)
    """Dropout on inputs, attention and feed-forward outputs."""

    output_parts: tuple[Part, ...] | Literal["same"] = "same"
    """The parts an item is scored by as the next item (its output vector); `same` is `item_parts`.
    History items are always read with every part. Scoring by `text` (or `attributes`) alone puts
    a new item, which has no id vector, on the same footing as the items seen in training, and
    lets a new item be scored without retraining; it must be a subset of the parts used."""

    text_similarity: bool = False
    """Add to every score γ times the cosine between the item's text and the recency-weighted mean
    text of the history (the text content model's signal, over the last 20 items at weight 0.9 per
    step back; a sharper weight, such as the content model's own default, did no better, as the
    transformer already reads the newest items): a new item is then ranked by what its text says
    from the first request. γ is learned, then rescaled to the best of a few multiples on
    validation (the training loss undervalues a term that cannot memorise). Needs the `text` part."""

    new_item_spread: float = Field(default=1.0, gt=0.0)
    """How far each user's text-similarity term of the items with no training interactions (new
    items) is spread about its mean over them: above 1 the text says more about which new item a
    user wants without lifting new items as a whole. 1 leaves the scores as trained. Needs
    `text_similarity`. On amazon-games' development split (docs/cold-start.md) 2, with
    `new_item_share` at the share of next items that are new, lifted the users whose next item is
    new by 18% and left all users' NDCG@10 as it was."""

    new_item_share: float | None = Field(default=None, gt=0.0, lt=1.0)
    """When set, one offset is added to every new item's score, chosen after fitting so that new
    items fill this share of the top-10 lists of (up to 20,000 of) the training users; the share of
    next items that are new is the natural choice. None: no offset."""

    id_dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    """Share of items whose id vector is hidden in each training step (with other item parts), so
    the model also learns to score an item from its text or attributes alone, which is all a new
    item has. On amazon-games' cold start it did not help (docs/cold-start.md): 0.3 with items
    scored by text, or 0.5 with ids in the score too, each ranked new items worse than none."""

    loss: Literal["full", "sampled"] = "sampled"
    """`full`: softmax cross-entropy over the whole catalogue; `sampled`: over the target and
    `negatives` uniformly drawn items."""

    negatives: int = Field(default=1024, ge=1)
    """Negatives per batch for the sampled loss."""

    epochs: int = Field(default=200, ge=1)
    """Most passes over the training sequences."""

    batch_size: int = Field(default=128, ge=1)
    """Sequences per step."""

    learning_rate: float = Field(default=1e-3, gt=0.0)
    """AdamW step size."""

    weight_decay: float = Field(default=0.0, ge=0.0)
    """AdamW weight decay."""

    patience: int = Field(default=5, ge=1)
    """Stop after this many evaluations without a better validation NDCG@10 (once `min_steps`
    steps are done)."""

    min_steps: int = Field(default=1000, ge=0)
    """Optimiser steps before early stopping may end training. A transformer's validation score
    can sit at the popularity level for a few hundred steps before attention learns the order,
    and on small data that is many epochs (ml-100k: 8 steps an epoch, flat from epoch 6 to 34 at
    the default learning rate; stopped there, NDCG@10 0.026 against 0.085 past it)."""

    eval_every: int = Field(default=2, ge=1)
    """Epochs between validations."""

    max_minutes: float | None = Field(default=None, gt=0.0)
    """Stop training after this much wall time (the best weights so far are kept); a refit comes
    on top."""

    refit: bool = True
    """After early stopping, train a new network (same seed) on every training item, the held-out
    validation items too, for the best epoch count, and keep it instead: it also learns each user's
    most recent step. Costs up to that many epochs again. It has no validation of its own: the
    report's validation NDCG@10 is the first network's, and a text-similarity weight keeps the
    multiple chosen for the first network. Measured one step earlier, so that the test items stay
    unseen (amazon-beauty, each user's last item removed, the model tested on the item before it):
    NDCG@10 0.0586 with the refit against 0.0487 without (+0.0099, 95% CI +0.0083 to +0.0116)."""

    checkpoint_dir: str | None = None
    """Folder for the training checkpoint (`training.npz`, written after every validation); a fit
    with a checkpoint there resumes from it and ends as an uninterrupted run would. It must have
    been written with the same data and settings (`epochs`, `patience`, `min_steps`, `max_minutes`,
    `device` and `refit` may differ; a refit is not checkpointed, it runs again after a resumed fit)."""

    seed: int = 0
    """Seed of initialisation, batch order, dropout and negative sampling."""

    device: str = "auto"
    """`auto` (a GPU when torch sees one, else the CPU), `cpu`, `cuda` or `cuda:N`."""

    precision: Literal["auto", "float32", "bfloat16"] = "auto"
    """Number format of the training steps' matrix products. `bfloat16` runs them in bfloat16
    (torch autocast) while the weights, the optimiser and the loss stay float32: on hardware with
    bfloat16 units it about halves the time of a step (an ml-1m epoch on this project's CPU, two
    threads: 9.9 s against 18.6 s). `auto` takes bfloat16 where the device has such units (a CPU that
    lists AVX512-BF16, AMX-BF16 or Arm's BF16; a GPU that supports it), float32 elsewhere.
    Validation, scoring and explanations are float32."""

    text_encoder: str | None = None
    """Sentence-transformers model for the `text` part (path or name); None is lmrec's default."""

    shapley_coalitions: int = Field(default=1024, ge=2)
    """Most history subsets the `shapley` explanation scores per request: every subset when the
    history has at most log2 of this many items (exact values), else this many drawn with `seed`
    (KernelSHAP estimates, whose sum is still exactly the item's lead). More subsets, steadier
    values and proportionally more time (about 80 ms a request at 1,024 and 50 history items)."""

    @field_validator("new_item_spread")
    @classmethod
    def _spread_needs_text_similarity(cls, spread: float, info: ValidationInfo) -> float:
        if spread != 1.0 and info.data.get("text_similarity") is False:
            raise ValueError("spreads the text-similarity term: set text_similarity=true, or leave it at 1")
        return spread

    @field_validator("heads")
    @classmethod
    def _heads_divide_dim(cls, heads: int, info: ValidationInfo) -> int:
        dim = info.data.get("dim")  # absent when dim itself was invalid
        if dim is not None and dim % heads:
            raise ValueError(f"must divide dim ({dim}) so that each head gets an equal share")
        return heads


class SASRec(Recommender[SASRecConfig]):
    """Self-attentive sequential recommendation (Kang and McAuley 2018) with fused item content.

    Attributes (after `fit`):
        network: the trained `SASRecNetwork` (on the CPU after fitting).
        parts: the item parts actually used.
        report: the training report (epochs, best validation NDCG@10, time).
        new_items: (I,) bool, the items with no interactions in the training data.
        new_item_offset: what `new_item_share` added to every new item's score (0.0 without it).
    """

    name = "sasrec"
    config_class = SASRecConfig
    explain_methods = METHODS

    network: SASRecNetwork
    parts: tuple[str, ...]
    report: TrainingReport
    new_items: np.ndarray
    new_item_offset: float

    def _fit(self, data: Dataset) -> None:
        cfg = self.config
        histories = data.histories()
        if not (histories.lengths() >= 2).any():  # a sequence teaches its next items, and a first item has none
            raise DataError(
                "no user has two or more interactions: there is no next item to learn from",
                field="interactions",
                value=data.n_interactions,
            )
        torch.manual_seed(cfg.seed)
        self.parts = self._choose_parts(data)
        text = self._text_vectors(data) if "text" in self.parts else None
        tokens = attribute_tokens(data) if "attributes" in self.parts else None
        self.network = self._build(data.n_items, text, tokens)
        device = resolve_device(cfg.device)
        self.network.to(device)
        settings = TrainerSettings(
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            learning_rate=cfg.learning_rate,
            weight_decay=cfg.weight_decay,
            patience=cfg.patience,
            min_steps=cfg.min_steps,
            eval_every=cfg.eval_every,
            max_seconds=None if cfg.max_minutes is None else cfg.max_minutes * 60.0,
            device=device,
            autocast=resolve_precision(cfg.precision, device),
        )
        checkpoint = None if cfg.checkpoint_dir is None else Path(cfg.checkpoint_dir)
        fingerprint = {
            **cfg.model_dump(mode="json", exclude=RESUMABLE_CHANGES),
            "parts": list(self.parts),
            "items": data.n_items,
            "histories": _digest(histories),
        }
        self.report = self._trainer(self.network, settings).fit(histories, checkpoint, fingerprint)
        if cfg.refit and self.report.best_epoch:
            torch.manual_seed(cfg.seed)  # the first network's initialisation
            network = self._build(data.n_items, text, tokens).to(device)
            self.report.refit_seconds = self._trainer(network, settings).train_all(histories, self.report.best_epoch)
            if self.report.text_weight_scale is not None:
                with torch.no_grad():
                    network.log_gamma.add_(math.log(self.report.text_weight_scale))
                self.report.text_weight = float(network.log_gamma.detach().exp())
            self.network = network
        self.network.to("cpu").eval()
        self._table: tuple[torch.Tensor, torch.Tensor] | None = None
        self.new_items = data.item_counts() == 0
        self.new_item_offset = 0.0
        self._vectors: np.ndarray | None = None
        if cfg.new_item_share is not None and self.new_items.any():
            self.new_item_offset = share_offset(self._score, histories, self.new_items, cfg.new_item_share, cfg.seed)
            self._vectors = None  # they hold the offset: built again with it
        log.info("SASRec %s: %s", "+".join(self.parts), self.report)

    def _trainer(self, network: SASRecNetwork, settings: TrainerSettings) -> Trainer:
        """The trainer of a network this model fits (a subclass may train differently, say with
        `Trainer.blanked`)."""
        return Trainer(network, self._loss(), settings, self.config.seed)

    def _loss(self) -> FullSoftmaxLoss | SampledSoftmaxLoss:
        cfg = self.config
        known = torch.from_numpy(self.item_popularity > 0)
        if cfg.loss == "full":
            return FullSoftmaxLoss(known)
        return SampledSoftmaxLoss(cfg.negatives, torch.Generator().manual_seed(cfg.seed), known)

    def _choose_parts(self, data: Dataset) -> tuple[str, ...]:
        if self.config.item_parts != "auto":
            return tuple(self.config.item_parts)
        if data.has_item_text():
            return ("id", "text")
        if attribute_tokens(data).any():
            return ("id", "attributes")
        return ("id",)

    def _text_vectors(self, data: Dataset) -> np.ndarray:
        from lmrec.encoders import EncoderConfig, embed_texts

        encoder = EncoderConfig() if self.config.text_encoder is None else EncoderConfig(model=self.config.text_encoder)
        return np.asarray(embed_texts(data.item_text(), encoder), dtype=np.float32)

    def _build(self, n_items: int, text: np.ndarray | None, tokens: np.ndarray | None) -> SASRecNetwork:
        cfg = self.config
        parts: list[ItemPart] = []
        if "id" in self.parts:
            drop = cfg.id_dropout if len(self.parts) > 1 else 0.0
            parts.append(IdEmbedding(n_items, cfg.dim, torch.from_numpy(self.item_popularity > 0), drop))
        if "text" in self.parts:
            assert text is not None
            parts.append(TextProjection(torch.from_numpy(text), cfg.dim))
        if "attributes" in self.parts:
            assert tokens is not None
            parts.append(AttributeBag(torch.from_numpy(tokens), int(tokens.max(initial=0)), cfg.dim))
        chosen = self.parts if cfg.output_parts == "same" else cfg.output_parts
        missing = sorted(set(chosen) - set(self.parts))
        if missing:
            raise ConfigError(f"output_parts {list(chosen)}: {missing} not among the item parts {list(self.parts)}")
        output = [i for i, part in enumerate(self.parts) if part in chosen]
        if cfg.text_similarity and text is None:
            raise ConfigError(f"text_similarity needs the text part; the item parts are {list(self.parts)}")
        unit = torch.from_numpy(text) if cfg.text_similarity and text is not None else None
        items = ItemEncoder(parts, output, unit)
        return SASRecNetwork(items, cfg.max_len, cfg.dim, cfg.layers, cfg.heads, cfg.dropout)

    # -- scoring ------------------------------------------------------------------------------

    def item_table(self) -> torch.Tensor:
        """Every item's input vector (as a history item), shape (I + 1, D); cached after fit or load."""
        return self._tables()[0]

    def output_table(self) -> torch.Tensor:
        """Every item's output vector (as the next item), shape (I + 1, D); cached after fit or load."""
        return self._tables()[1]

    def _tables(self) -> tuple[torch.Tensor, torch.Tensor]:
        if getattr(self, "_table", None) is None:
            with torch.no_grad():
                inputs, output = self.network.items.tables()
            self._table = (inputs.detach(), output.detach())
        assert self._table is not None
        return self._table

    def user_vectors(self, histories: Histories) -> np.ndarray:
        """The network's state after each row's newest item, shape (B, D) (D + Dt with `text_similarity`:
        γ times the history's text profile appended); zeros for an empty row."""
        self._check_fitted()
        return self._user_vectors(histories)

    def _user_vectors(self, histories: Histories) -> np.ndarray:
        rows = torch.from_numpy(trimmed(left_padded(histories, self.config.max_len)))  # (B, T)
        with torch.no_grad():
            hidden = self.network.last_hidden(rows, self.item_table())  # (B, D)
        hidden[torch.from_numpy(histories.lengths() == 0)] = 0.0
        return with_offset_column(hidden.numpy(), histories) if self._places_new_items else hidden.numpy()

    def item_vectors(self) -> np.ndarray:
        """Every item's output vector, shape (I, D) (D + Dt with `text_similarity`: its unit text vector
        appended): a user's score is user_vector . item_vector. With `new_item_spread` or
        `new_item_share` set, the new items' text parts are spread and a last column holds their
        offset (`lmrec.models.sequential.new_items`), and user vectors get a column of ones."""
        self._check_fitted()
        return self._item_vectors()

    def _item_vectors(self) -> np.ndarray:
        vectors = self.output_table()[1:].numpy()
        if not self._places_new_items:
            return vectors
        if getattr(self, "_vectors", None) is None:  # built once, not on every request
            cfg = self.config
            self._vectors = adjusted_item_vectors(
                vectors, self.new_items, cfg.dim, cfg.new_item_spread, self.new_item_offset
            )
        assert self._vectors is not None
        return self._vectors

    @property
    def _places_new_items(self) -> bool:
        """Whether the scores of new items are spread or moved (see `SASRecConfig.new_item_spread`)."""
        cfg = self.config
        return bool(self.new_items.any()) and (cfg.new_item_spread != 1.0 or cfg.new_item_share is not None)

    @property
    def history_window(self) -> int:
        """The network reads the newest `max_len` items."""
        return self.config.max_len

    def _explain(self, history: np.ndarray, targets: np.ndarray, method: str) -> np.ndarray:
        """Occlusion or masking in one batched pass, gradient x input, or attention rollout; see
        `lmrec.models.sequential.explain`."""
        return explain_items(self, history, targets, method)

    def _score(self, histories: Histories) -> np.ndarray:
        return self._user_vectors(histories) @ self._item_vectors().T  # (B, I); also scores within fit

    # -- state --------------------------------------------------------------------------------

    def _state(self) -> dict[str, np.ndarray]:
        state = {f"net.{k}": v.detach().cpu().numpy() for k, v in self.network.state_dict().items()}
        state["parts"] = np.asarray(self.parts, dtype=str)
        state["new_items"] = self.new_items
        state["new_item_offset"] = np.asarray(self.new_item_offset, dtype=np.float64)
        state["report"] = np.asarray(json.dumps(self.report.__dict__), dtype=str)
        return state

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.parts = tuple(str(p) for p in state["parts"])
        weights = {
            k.removeprefix("net."): torch.from_numpy(np.array(v)) for k, v in state.items() if k.startswith("net.")
        }
        n_items = len(self.items)
        text = (
            next(v for k, v in weights.items() if k.endswith(".vectors"))[1:].numpy() if "text" in self.parts else None
        )
        tokens = (
            next(v for k, v in weights.items() if k.endswith(".tokens"))[1:].numpy()
            if "attributes" in self.parts
            else None
        )
        self.network = self._build(n_items, text, tokens)
        self.network.load_state_dict(weights)
        self.network.eval()
        self.report = TrainingReport(**json.loads(str(state["report"])))
        # a model saved before new items were placed has neither: its scores are as trained
        self.new_items = np.asarray(state.get("new_items", np.zeros(n_items, dtype=bool)), dtype=bool)
        self.new_item_offset = float(state.get("new_item_offset", 0.0))
        self._table = None
        self._vectors = None


def attribute_tokens(data: Dataset) -> np.ndarray:
    """Each item's category, brand and tags as token ids (1-based, 0 pads), shape (I, A)."""
    table = data.item_table
    vocab: dict[str, int] = {}
    rows: list[list[int]] = []
    for category, brand, tags in zip(
        table[Columns.Category].tolist(), table[Columns.Brand].tolist(), table[Columns.Tags].tolist(), strict=True
    ):
        words = [f"category:{category}"] if category else []
        words += [f"brand:{brand}"] if brand else []
        words += [f"tag:{t}" for t in json.loads(tags or "[]")]
        rows.append([vocab.setdefault(w, len(vocab) + 1) for w in words])
    width = max((len(r) for r in rows), default=0)
    out = np.zeros((len(rows), max(width, 1)), dtype=np.int64)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out


def resolve_device(name: str) -> torch.device:
    """`auto` is the first GPU when torch sees one, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def resolve_precision(name: str, device: torch.device) -> torch.dtype | None:
    """The autocast type of training steps: None (float32) or torch.bfloat16; see `precision`."""
    if name == "float32":
        return None
    if name == "bfloat16":
        return torch.bfloat16
    if device.type == "cuda":
        fast = torch.cuda.is_bf16_supported()
    else:
        fast = device.type == "cpu" and cpu_has_bfloat16(_cpuinfo())
    return torch.bfloat16 if fast else None


def cpu_has_bfloat16(cpuinfo: str) -> bool:
    """Whether a CPU's flags (the text of Linux's /proc/cpuinfo) list bfloat16 arithmetic: x86's
    AVX512-BF16 or AMX-BF16, Arm's BF16. Without them bfloat16 arithmetic is emulated."""
    return re.search(r"^(flags|Features)\s*:.*\b(avx512_bf16|amx_bf16|bf16)\b", cpuinfo, re.MULTILINE) is not None


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: no way to tell, so float32
        return ""


def _digest(histories: Histories) -> str:
    """A short SHA-256 of the training sequences: a checkpoint resumes only on the same ones."""
    digest = hashlib.sha256(histories.indptr.astype(np.int64).tobytes())
    digest.update(histories.items.astype(np.int64).tobytes())
    return digest.hexdigest()[:16]
