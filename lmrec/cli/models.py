"""`lmrec models`: the available models and their settings."""

from __future__ import annotations

from rich.table import Table

from lmrec.cli.common import console


def models_command() -> None:
    """List every model with its settings, defaults and what each setting does.

    Example:

      lmrec models
    """
    from lmrec.models import model_class, model_names

    for name in model_names():
        cls = model_class(name)
        table = Table(title=f"{name}: {(cls.__doc__ or '').strip().splitlines()[0]}", show_edge=False)
        table.add_column("setting")
        table.add_column("default", justify="right")
        table.add_column("meaning")
        for field, info in cls.config_class.model_fields.items():
            table.add_row(field, repr(info.default), (info.description or "").replace("\n", " "))
        console.print(table)
