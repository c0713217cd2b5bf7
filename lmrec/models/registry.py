"""Model names -> classes, so the CLI and configs can name a model."""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Any

from lmrec.diagnostics import ConfigError
from lmrec.models.base import Recommender, read_artifact_meta

#: name -> "module:Class"; imported lazily so `lmrec --help` does not load torch.
_MODELS: dict[str, str] = {}


def register(name: str, target: str) -> None:
    """Make a model available by name; `target` is `"package.module:ClassName"`."""
    _MODELS[name] = target


def model_names() -> list[str]:
    """Every registered model name, sorted."""
    return sorted(_MODELS)


def model_class(name: str) -> type[Recommender[Any]]:
    """The class registered under `name`."""
    if name not in _MODELS:
        raise ConfigError(f"unknown model {name!r}; known models: {', '.join(model_names())}")
    module, _, attr = _MODELS[name].partition(":")
    cls: type[Recommender[Any]] = getattr(import_module(module), attr)
    return cls


def create_model(name: str, config: dict[str, Any] | None = None) -> Recommender[Any]:
    """A new, unfitted model by name with an optional config dict."""
    return model_class(name)(config)


def load_model(path: str | Path) -> Recommender[Any]:
    """Load any saved model; its class is read from the artifact's `config.json`."""
    meta = read_artifact_meta(Path(path))
    return model_class(meta["model"]).load(path)
