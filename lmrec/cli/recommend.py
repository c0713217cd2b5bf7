"""`lmrec recommend`: top-k items for a user or a session from a saved model, or through a declared pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from lmrec.cli.common import console, errors, errors_as_exit_codes, parse_settings
from lmrec.data.columns import Columns

if TYPE_CHECKING:
    from lmrec.itemlist import ItemList
    from lmrec.pipeline.pipeline import Query


def recommend_command(
    model_dir: Annotated[Path, typer.Argument(help="Folder of a model saved by `lmrec train`.", exists=True)],
    user: Annotated[str | None, typer.Option("--user", "-u", help="User id.")] = None,
    history: Annotated[
        str | None, typer.Option(help="Comma-separated item ids of an anonymous session, oldest first.")
    ] = None,
    k: Annotated[
        int | None, typer.Option("-k", min=1, help="How many items (default 10, or the pipeline's k).")
    ] = None,
    include_seen: Annotated[bool, typer.Option(help="Allow items already in the history.")] = False,
    store: Annotated[
        str | None,
        typer.Option(
            help="Store URL or SQLite path to show item titles from (e.g. lmrec.db); with --pipeline, also its data."
        ),
    ] = None,
    explain: Annotated[
        bool, typer.Option("--explain", help="Show the two history items that raised each recommendation's score most.")
    ] = False,
    explain_by: Annotated[
        str | None,
        typer.Option(
            help="Explain by this of the model's methods (implies --explain; `lmrec models` lists them, "
            "the first is the default), e.g. shapley for sasrec."
        ),
    ] = None,
    pipeline: Annotated[
        Path | None,
        typer.Option(
            help="Run the request through this pipeline config (TOML or JSON): sources, propensities, reasons.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    data: Annotated[
        Path | None, typer.Option(help="--pipeline: the file or folder the model was trained on (else --store).")
    ] = None,
    format: Annotated[str | None, typer.Option("--format", help="Format of --data; detected when omitted.")] = None,
    request_id: Annotated[
        str, typer.Option(help="--pipeline: request id; the same id draws the same exploring list.")
    ] = "0",
    explore: Annotated[
        list[str] | None,
        typer.Option(
            help="--pipeline: this request's exploration, KEY=VALUE (repeat): name=greedy switches policy, "
            "epsilon=0.3 sets the policy's own setting."
        ),
    ] = None,
) -> None:
    """Recommend items for a known user or an anonymous session.

    Examples:

      lmrec recommend models/ease --user 42 -k 5

      lmrec recommend models/content --history "i12,i40,i7"

      lmrec recommend demo/models/sasrec --user u0001 --store demo/lmrec.db --explain

      lmrec recommend demo/models/sasrec --user u0001 --store demo/lmrec.db --explain-by shapley

      lmrec recommend demo/models/ease --user u0001 --store demo/lmrec.db --pipeline pipeline.toml

      lmrec recommend demo/models/ease --user u0001 --store demo/lmrec.db --pipeline pipeline.toml --explore name=greedy

    With --pipeline the request runs the whole declared pipeline (retrievers, rules, re-ranker,
    exploration policy, explanations) over the model and the data it was trained on (--data, or
    --store as for `lmrec train`), and each item shows the retrievers that found it, its propensity,
    whether it is an exploration pick and its reason. Stages that read item text vectors (text
    retriever, mmr, dpp, thompson, ucb) embed the catalogue with the default language model.
    """
    from lmrec.models import load_model

    if user is None and history is None:
        raise typer.BadParameter("give --user, --history or both")
    if pipeline is not None:
        if explain_by is not None:
            raise typer.BadParameter("a pipeline explains as its config says (explain = ...); drop --explain-by")
        if include_seen:
            raise typer.BadParameter("a pipeline never shows the user's own history; drop --include-seen")
        with errors_as_exit_codes():
            from lmrec.pipeline.pipeline import Query

            session = tuple(history.split(",")) if history else None
            exploration = parse_settings(None, explore, "--explore") or None
            query = Query(user_id=user, history=session, k=k, request_id=request_id, exploration=exploration)
            shown, name = _through_pipeline(pipeline, model_dir, query, data, store, format)
        _print_pipeline(shown, f"{name}: top {len(shown)} for {user or 'session'}")
        return
    if data is not None or format is not None or explore:
        raise typer.BadParameter("--data, --format and --explore only apply with --pipeline")
    k = k or 10
    with errors_as_exit_codes():
        model = load_model(model_dir)
        items = history.split(",") if history else None
        explain = explain or explain_by is not None
        drivers = 2 if explain else 0
        result = model.recommend(
            user, history=items, k=k, exclude_seen=not include_seen, explain=drivers, explain_method=explain_by
        )
        titles = _titles(store) if store else {}
        reasons = result.column(Columns.Because) if explain else None
    for note in _notes(model, user, items, k, len(result), include_seen):
        errors.print(f"[yellow]note:[/] {note}")
    table = Table(title=f"{model.name}: top {len(result)} for {user or 'session'}", show_edge=False)
    table.add_column("rank", justify="right")
    table.add_column("item")
    table.add_column("score", justify="right")
    if reasons is not None:
        table.add_column("because of (weight)")
    for rank, (item, score) in enumerate(zip(result.ids, result.scores, strict=True), start=1):
        label = f"{item}  {titles[item]}" if item in titles else str(item)
        row = [str(rank), label, f"{score:.4f}"]
        if reasons is not None:
            row.append(", ".join(f"{titles.get(i, i)} ({w:+.4f})" for i, w in reasons[rank - 1]))  # as the score
        table.add_row(*row)
    console.print(table)


def _notes(
    model: Any, user: str | None, session: list[str] | None, k: int, shown: int, include_seen: bool
) -> list[str]:
    """What the model could not use (item ids it does not know, a user with nothing to go on) and why
    the list is shorter than asked."""
    notes = []
    if session is not None:
        known = model.items.index(session) >= 0
        unknown = [item for item, ok in zip(session, known, strict=True) if not ok]
        if unknown:
            listed = ", ".join(unknown[:5]) + (", ..." if len(unknown) > 5 else "")
            verb = "is" if len(unknown) == 1 else "are"
            notes.append(
                f"{len(unknown)} of the {len(session)} --history items {verb} not in the model's catalogue: {listed}"
            )
        has_history = bool(known.any())
    else:
        has_history = user is not None and model.users.index([user])[0] >= 0
        if user is not None and not has_history:  # most often a mistyped id
            notes.append(f"user {user!r} is not among the {len(model.users):,} users the model was trained on")
    unscored = not has_history and model.config.fallback == "nan"
    if unscored:
        notes.append(f"no history to go on, and {model.name}'s fallback is nan: it scores no item")
    elif not has_history:
        notes.append(f"no history to go on; {model.name} shows its {model.config.fallback} fallback")
    if shown < k and not unscored:
        n_items = len(model.items)
        if shown == n_items:
            notes.append(f"the model knows only {n_items:,} items")
        elif has_history and not include_seen:
            why = "items in the history are left out (--include-seen keeps them)"
            notes.append(f"only {shown} of the model's {n_items:,} items can be shown; {why}")
        else:
            notes.append(f"only {shown} of the model's {n_items:,} items can be shown; it gives the rest no score")
    return notes


def _through_pipeline(
    path: Path, model_dir: Path, query: Query, data: Path | None, store: str | None, format: str | None
) -> tuple[ItemList, str]:
    """The shown list of one request through the pipeline declared in `path`, and its title."""
    from lmrec.cli.data_source import load_pipeline

    runner = load_pipeline(path, model_dir, data, store, format)
    model, dataset = runner.model, runner.data
    shown = runner.recommend(query)
    titles = dataset.item_table[Columns.Title].to_numpy()[shown.index]
    policy = runner.policy_for(query.exploration).name
    return shown.with_column(Columns.Title, titles), f"{model.name} pipeline, {policy} policy"


def _print_pipeline(shown: ItemList, title: str) -> None:
    table = Table(title=title, show_edge=False)
    for column in ("rank", "item", "title", "score", "source", "propensity", "explored", "reason"):
        table.add_column(column, justify="right" if column in ("rank", "score", "propensity") else "left")
    for rank in range(len(shown)):
        table.add_row(
            str(rank + 1),
            str(shown.ids[rank]),
            str(shown.column(Columns.Title)[rank]),
            f"{shown.scores[rank]:.4f}",
            str(shown.column(Columns.Source)[rank]),
            f"{shown.column(Columns.Propensity)[rank]:.4f}",
            "yes" if shown.column(Columns.Explored)[rank] else "no",
            str(shown.column(Columns.Reason)[rank]),
        )
    console.print(table)


def _titles(store: str) -> dict[str, str]:
    from lmrec.data.store import Store

    frame = Store.open(store, migrate=False, create=False).items_frame()
    return {str(i): str(t) for i, t in zip(frame[Columns.Item], frame[Columns.Title], strict=True) if t}
