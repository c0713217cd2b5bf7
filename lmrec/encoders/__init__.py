"""Language-model encoders for item text and the on-disk embedding cache."""

from __future__ import annotations

from lmrec.encoders.cache import EmbeddingCache, default_cache_dir, embed_texts
from lmrec.encoders.text import DEFAULT_MODEL, Encoder, EncoderConfig, TextEncoder, model_version

__all__ = [
    "DEFAULT_MODEL",
    "EmbeddingCache",
    "Encoder",
    "EncoderConfig",
    "TextEncoder",
    "default_cache_dir",
    "embed_texts",
    "model_version",
]
