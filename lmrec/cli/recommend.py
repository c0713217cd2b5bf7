"""`lmrec recommend`: top-k items for a user or a session from a saved model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

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
    store: Annotated[
        str | None, typer.Option(help="Store URL or SQLite path to show item titles from (e.g. lmrec.db).")
    ] = None,
    explain: Annotated[
        bool, typer.Option("--explain", help="Show the history items behind each recommendation (sequential models).")
    ] = False,
) -> None:
    """Recommend items for a known user or an anonymous session.

    Examples:

      lmrec recommend models/ease --user 42 -k 5

      lmrec recommend models/content --history "i12,i40,i7"

      lmrec recommend demo/models/sasrec --user u0001 --store demo/lmrec.db --explain
    """
    from lmrec.models import load_model

    if user is None and history is None:
        raise typer.BadParameter("give --user, --history or both")
    with errors_as_exit_codes():
        model = load_model(model_dir)
        items = history.split(",") if history else None
        result = model.recommend(user, history=items, k=k, exclude_seen=not include_seen)
        titles = _titles(store) if store else {}
        reasons = _reasons(model, user, items, result.index) if explain else None
    table = Table(title=f"{model.name}: top {k} for {user or 'session'}", show_edge=False)
    table.add_column("rank", justify="right")
    table.add_column("item")
    table.add_column("score", justify="right")
    if reasons is not None:
        table.add_column("because of (weight)")
    for rank, (item, score) in enumerate(zip(result.ids, result.scores, strict=True), start=1):
        label = f"{item}  {titles[item]}" if item in titles else str(item)
        row = [str(rank), label, f"{score:.4f}"]
        if reasons is not None:
            row.append(", ".join(f"{titles.get(i, i)} ({w:+.2f})" for i, w in reasons[rank - 1]))
        table.add_row(*row)
    console.print(table)


def _titles(store: str) -> dict[str, str]:
    from lmrec.data.columns import Columns
    from lmrec.data.store import Store

    frame = Store.open(store, migrate=False).items_frame()
    return {str(i): str(t) for i, t in zip(frame[Columns.Item], frame[Columns.Title], strict=True) if t}


def _reasons(model: Any, user: str | None, session: list[str] | None, shown: Any) -> list[list[tuple[str, float]]]:
    """The two history items that raised each shown item's score most (occlusion weights)."""
    from lmrec.diagnostics import ConfigError

    if not hasattr(model, "explain"):
        raise ConfigError(f"{model.name} cannot explain its recommendations; --explain needs a sequential model")
    if session is not None:
        known = model.items.index(session)
        history = known[known >= 0]
    else:
        history = model.user_histories([user]).row(0)
    recent = history[-model.config.max_len :]
    weights = model.explain(recent, shown)  # (k, T)
    out = []
    for row in weights:
        top = row.argsort()[::-1][:2]
        out.append([(str(model.items.ids[recent[j]]), float(row[j])) for j in top if row[j] > 0])
    return out
