"""`lmrec recommend`: top-k items for a user or a session from a saved model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from lmrec.cli.common import console, errors_as_exit_codes


def recommend_command(
    model_dir: Annotated[Path, typer.Argument(help="Folder of a model saved by `lmrec train`.", exists=True)],
    user: Annotated[str | None, typer.Option("--user", "-u", help="User id.")] = None,
    history: Annotated[
        str | None, typer.Option(help="Comma-separated item ids of an anonymous session, oldest first.")
    ] = None,
    k: Annotated[int, typer.Option("-k", min=1, help="How many items.")] = 10,
    include_seen: Annotated[bool, typer.Option(help="Allow items already in the history.")] = False,
) -> None:
    """Recommend items for a known user or an anonymous session.

    Examples:

      lmrec recommend models/ease --user 42 -k 5

      lmrec recommend models/content --history "i12,i40,i7"
    """
    from lmrec.models import load_model

    if user is None and history is None:
        raise typer.BadParameter("give --user, --history or both")
    with errors_as_exit_codes():
        model = load_model(model_dir)
        items = history.split(",") if history else None
        result = model.recommend(user, history=items, k=k, exclude_seen=not include_seen)
    table = Table(title=f"{model.name}: top {k} for {user or 'session'}", show_edge=False)
    table.add_column("rank", justify="right")
    table.add_column("item")
    table.add_column("score", justify="right")
    for rank, (item, score) in enumerate(zip(result.ids, result.scores, strict=True), start=1):
        table.add_row(str(rank), str(item), f"{score:.4f}")
    console.print(table)
