"""The sequential transformer's maths: item encoders and causal self-attention (SASRec family).

Item positions in the network are shifted by one: 0 is padding, item position p is row p + 1.
Shapes: B batch, T sequence length, D model width, I catalogue size, H heads.
"""

from __future__ import annotations

import math
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn


class ItemPart(nn.Module):
    """One part of an item's vector; `table()` gives every item's, shape (I + 1, D), row 0 zero."""

    def table(self) -> torch.Tensor:
        raise NotImplementedError


class IdEmbedding(ItemPart):
    """A learned vector per item id; zero for padding and for items marked unknown.

    An item with no training interaction has nothing to learn its id vector from, so it is
    masked to zero rather than left at its random start: its vector is then its other parts
    (text, attributes) alone.
    """

    known: torch.Tensor

    def __init__(self, n_items: int, dim: int, known: torch.Tensor | None = None, drop: float = 0.0) -> None:
        super().__init__()
        self.drop = drop  # share of items whose id vector is hidden in each training step
        self.embedding = nn.Embedding(n_items + 1, dim, padding_idx=0)
        nn.init.normal_(self.embedding.weight, std=dim**-0.5)
        mask = torch.ones(n_items + 1, 1) if known is None else torch.cat([torch.ones(1), known.float()]).unsqueeze(1)
        mask[0] = 0.0
        self.register_buffer("known", mask)  # (I + 1, 1)

    def table(self) -> torch.Tensor:
        mask = self.known  # (I + 1, 1)
        if self.training and self.drop > 0.0:
            # item-level dropout: the model must also score items from their other parts alone,
            # which is all a new item has (DropoutNet, Volkovs et al. 2017)
            mask = mask * (torch.rand(mask.shape, device=mask.device) >= self.drop)
        return self.embedding.weight * mask  # (I + 1, D)


class TextProjection(ItemPart):
    """Frozen language-model vectors of the items' text, projected to the model width."""

    vectors: torch.Tensor

    def __init__(self, vectors: torch.Tensor, dim: int) -> None:
        super().__init__()
        padded = torch.cat([torch.zeros(1, vectors.shape[1]), vectors.float()])  # (I + 1, Dt)
        self.register_buffer("vectors", padded)
        self.projection = nn.Sequential(nn.Linear(vectors.shape[1], dim), nn.GELU(), nn.Linear(dim, dim))

    def table(self) -> torch.Tensor:
        out = self.projection(self.vectors)  # (I + 1, D)
        return out * (torch.arange(len(out), device=out.device) > 0).unsqueeze(1)  # padding stays zero


class AttributeBag(ItemPart):
    """The mean of learned vectors of an item's attribute tokens (brand, category, tags)."""

    tokens: torch.Tensor

    def __init__(self, tokens: torch.Tensor, n_tokens: int, dim: int) -> None:
        super().__init__()
        padded = torch.cat([torch.zeros(1, tokens.shape[1], dtype=torch.long), tokens.long()])  # (I + 1, A)
        self.register_buffer("tokens", padded)
        self.embedding = nn.Embedding(n_tokens + 1, dim, padding_idx=0)
        nn.init.normal_(self.embedding.weight, std=dim**-0.5)
        with torch.no_grad():
            self.embedding.weight[0].zero_()

    def table(self) -> torch.Tensor:
        vectors = self.embedding(self.tokens)  # (I + 1, A, D)
        counts = (self.tokens > 0).sum(dim=1, keepdim=True).clamp(min=1)  # (I + 1, 1)
        return vectors.sum(dim=1) / counts  # (I + 1, D)


class ItemEncoder(nn.Module):
    """An item's vector: the sum of its parts (id embedding, projected text, attribute bag).

    Items have two vectors: the input vector (all parts), read where the item is in a history, and
    the output vector (the parts listed in `output`, all by default), which scores the item as the
    next one. Scoring by content parts alone puts a new item, which has no id vector, on the same
    footing as the items seen in training. With `unit` text vectors (I, Dt) the output vector also
    carries them, unprojected, as its last Dt entries: the network then adds a text-similarity
    term to every score (see `SASRecNetwork`).
    """

    unit: torch.Tensor | None

    def __init__(
        self, parts: list[ItemPart], output: list[int] | None = None, unit: torch.Tensor | None = None
    ) -> None:
        super().__init__()
        if not parts:
            raise ValueError("an item encoder needs at least one part")
        self.parts = nn.ModuleList(parts)
        self.output = list(range(len(parts))) if output is None else output
        if not self.output or not set(self.output) <= set(range(len(parts))):
            raise ValueError(f"output parts {output} must be a non-empty subset of the {len(parts)} parts")
        padded = None if unit is None else torch.cat([torch.zeros(1, unit.shape[1]), F.normalize(unit.float(), dim=1)])
        self.register_buffer("unit", padded)  # (I + 1, Dt) or None

    def table(self) -> torch.Tensor:
        """Input vectors of every item, shape (I + 1, D); row 0 is padding."""
        return self.tables()[0]

    def tables(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Input and output vectors of every item, each (I + 1, D); each part is computed once."""
        tables = [cast(ItemPart, part).table() for part in self.parts]
        inputs = torch.stack(tables).sum(dim=0) if len(tables) > 1 else tables[0]
        chosen = [tables[i] for i in self.output]
        output = inputs if len(chosen) == len(tables) else torch.stack(chosen).sum(dim=0)
        if self.unit is not None:
            output = torch.cat([output, self.unit], dim=1)  # (I + 1, D + Dt)
        return inputs, output


class ByteDropout(nn.Module):
    """Dropout with its mask drawn as random bytes: on the CPU torch draws dropout's Bernoulli
    variables one by one (32 ms for a 128 x 200 x 64 batch; random bytes take 2 ms), so this
    keeps each entry with probability 1 - p rounded to 1/256. Elsewhere it is `F.dropout`."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p
        self.threshold = round(p * 256)  # a byte below it drops the entry

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.threshold == 0:
            return x
        if x.device.type != "cpu":
            return F.dropout(x, self.p, training=True)
        words = torch.empty((x.numel() + 7) // 8, dtype=torch.int64)
        words.random_(torch.iinfo(torch.int64).min, None)  # the whole range: 8 uniform random bytes each
        keep = words.view(torch.uint8)[: x.numel()].view(x.shape) >= self.threshold
        return x * (keep.to(x.dtype) * (256 / (256 - self.threshold)))  # one product with x: half the work


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where position t sees positions <= t that are not padding."""

    last_weights: torch.Tensor

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.dropout = ByteDropout(dropout)  # on the attention weights

    def forward(
        self, x: torch.Tensor, bias: torch.Tensor, return_weights: bool = False, last: bool = False
    ) -> torch.Tensor:
        """x (B, T, D), bias (B, 1, T, T) 0 where attention is allowed and -inf where not; with `last`
        only the newest position queries, giving (B, 1, D)."""
        b, t, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=2)  # (B, T, D) each
        q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))  # (B, H, T, D/H)
        if last:
            q, bias = q[:, :, -1:], bias[:, :, -1:]  # (B, H, 1, D/H), (B, 1, 1, T)
        if return_weights or self.training:  # training: the weights get ByteDropout
            logits = (q @ k.transpose(-2, -1)) / math.sqrt(d // self.heads) + bias  # (B, H, Tq, T)
            weights = torch.softmax(logits, dim=-1)
            if return_weights:
                self.last_weights = weights  # read by explanations
            y = self.dropout(weights) @ v  # (B, H, Tq, D/H)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)  # (B, H, Tq, D/H)
        y = y.transpose(1, 2).reshape(b, q.shape[2], d)  # (B, Tq, D)
        return self.out(y)


class Block(nn.Module):
    """Pre-norm transformer block: attention then a feed-forward layer, each with a residual."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attention = CausalSelfAttention(dim, heads, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.feed_forward = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))
        self.dropout = ByteDropout(dropout)

    def forward(
        self, x: torch.Tensor, bias: torch.Tensor, return_weights: bool = False, last: bool = False
    ) -> torch.Tensor:
        """x (B, T, D) -> (B, T, D), or (B, 1, D) for the newest position alone with `last`."""
        attended = self.attention(self.norm1(x), bias, return_weights, last)  # (B, Tq, D)
        x = (x[:, -1:] if last else x) + self.dropout(attended)  # (B, Tq, D)
        return x + self.dropout(self.feed_forward(self.norm2(x)))  # (B, Tq, D)


class SASRecNetwork(nn.Module):
    """Causal self-attention over a user's item sequence; item vectors are shared with the output.

    forward(sequence) gives one hidden state per position; the score of item i after position t
    is hidden[t] . output[i + 1], with `output` the item encoder's output table.

    When the item encoder carries unit text vectors u_i, the hidden state gets γ · p_t appended,
    p_t the recency-weighted mean of the unit text vectors of the items up to t (weight
    `decay` ** steps back, the last `window` items), so the score gains γ · p_t · u_i: the text content
    model's similarity, with its weight γ learned alongside the rest. It ranks an item by what its
    text says from the first request on, which is all a new item has.
    """

    def __init__(
        self,
        items: ItemEncoder,
        max_len: int,
        dim: int,
        layers: int,
        heads: int,
        dropout: float,
        window: int = 20,
        decay: float = 0.9,
    ) -> None:
        super().__init__()
        self.items = items
        self.positions = nn.Embedding(max_len, dim)
        self.input_dropout = ByteDropout(dropout)
        self.blocks = nn.ModuleList(Block(dim, heads, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.max_len = max_len
        self.dim = dim
        self.window, self.decay = window, decay
        if items.unit is not None:
            self.log_gamma = nn.Parameter(torch.tensor(math.log(10.0)))  # γ = 10: a 0.1 cosine gap is 1 logit

    def forward(
        self,
        sequence: torch.Tensor,
        table: torch.Tensor | None = None,
        return_weights: bool = False,
        last: bool = False,
        blank: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Hidden states (B, T, D) for left-padded item rows `sequence` (B, T), 0 = padding; with
        `last` only the newest position's, (B, 1, D), which spares the last block the other queries.
        `blank` (B, T), True where an item's vectors (id, text, profile) count as zero while its
        position stays in the sequence, is for explanations."""
        table = self.items.table() if table is None else table  # (I + 1, D)
        t = sequence.shape[1]
        present = sequence > 0  # (B, T)
        x = table[sequence] * math.sqrt(self.dim)  # (B, T, D)
        if blank is not None:
            x = x * (~blank).unsqueeze(-1)
        x = x + self.positions(torch.arange(self.max_len - t, self.max_len, device=sequence.device))  # (B, T, D)
        x = self.input_dropout(x) * present.unsqueeze(-1)
        causal = torch.ones(t, t, dtype=torch.bool, device=sequence.device).tril()  # (T, T)
        allowed = causal & present.unsqueeze(1)  # (B, T, T): query t sees non-padding keys <= t
        allowed = allowed | torch.eye(t, dtype=torch.bool, device=sequence.device)  # padding rows see themselves
        bias = torch.zeros(allowed.shape, device=x.device).masked_fill(~allowed, float("-inf")).unsqueeze(1)
        for i, block in enumerate(self.blocks):
            only_last = last and i == len(self.blocks) - 1
            keep = present[:, -1:] if only_last else present  # (B, Tq)
            x = block(x, bias, return_weights, only_last) * keep.unsqueeze(-1)  # (B, Tq, D)
        x = self.norm(x)
        if self.items.unit is None:
            return x
        profile = self.text_profile(sequence, last, blank)  # (B, Tq, Dt)
        return torch.cat([x, self.log_gamma.exp() * profile], dim=2)  # (B, Tq, D + Dt)

    def text_profile(
        self, sequence: torch.Tensor, last: bool = False, blank: torch.Tensor | None = None
    ) -> torch.Tensor:
        """p_t: the recency-weighted mean unit text vector of the items up to each position t of
        `sequence` (B, T), shape (B, T, Dt); with `last` the newest position's alone, (B, 1, Dt).
        A `blank` item keeps its weight in the mean with a zero vector."""
        assert self.items.unit is not None
        t = sequence.shape[1]
        tq = 1 if last else t
        steps = torch.arange(t, device=sequence.device)
        back = steps[t - tq :].unsqueeze(1) - steps.unsqueeze(0)  # (Tq, T): [q, j] = position of q - j
        recent = (back >= 0) & (back < self.window)
        weights = torch.where(recent, self.decay ** back.clamp(min=0).float(), 0.0)  # (Tq, T)
        weights = weights.unsqueeze(0) * (sequence > 0).unsqueeze(1).float()  # (B, Tq, T): padding weighs 0
        weights = weights / weights.sum(dim=2, keepdim=True).clamp(min=1e-12)
        unit = self.items.unit[sequence]  # (B, T, Dt)
        if blank is not None:
            unit = unit * (~blank).unsqueeze(-1)
        return weights @ unit  # (B, Tq, Dt)

    def last_hidden(
        self, sequence: torch.Tensor, table: torch.Tensor | None = None, blank: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The hidden state after the newest item of each row, shape (B, D)."""
        return self.forward(sequence, table, last=True, blank=blank)[:, 0]  # left-padded: the newest item is last

    def attention_weights(self) -> list[torch.Tensor]:
        """Attention weights (B, H, T, T) of each block from the last `return_weights=True` pass."""
        return [cast(Block, block).attention.last_weights for block in self.blocks]
