"""`lmrec models`: the available models and their settings."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from rich.table import Table

from lmrec.cli.common import console


def models_command() -> None:
    """List every model with its settings, defaults and what each setting does.

    Defaults are written as `--set KEY=VALUE` takes them, in JSON.

    Example:

      lmrec models
    """
    from lmrec.models import model_class, model_names
    from lmrec.models.base import ModelConfig

    for name in model_names():
        cls = model_class(name)
        table = Table(title=f"{name}: {(cls.__doc__ or '').strip().splitlines()[0]}", show_edge=False)
        table.add_column("setting")
        table.add_column("default", justify="right")
        table.add_column("meaning")
        fields = cls.config_class.model_fields.items()
        for field, info in sorted(fields, key=lambda pair: pair[0] in ModelConfig.model_fields):  # shared ones last
            table.add_row(field, _as_json(info.default), (info.description or "").replace("\n", " "))
        console.print(table)
        default = " (the first is the default)" if len(cls.explain_methods) > 1 else ""
        console.print(f"  explains by: {', '.join(cls.explain_methods)}{default}\n")


def _as_json(value: Any) -> str:
    """A default as `--set` takes it: JSON, with a nested config as its object."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    return json.dumps(value)
