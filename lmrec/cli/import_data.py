"""`lmrec import`: load a file or folder into the store, reporting every rejected row."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from lmrec.cli.common import DEFAULT_STORE, console, errors_as_exit_codes, parse_mapping, progress_bar


def import_command(
    path: Annotated[Path, typer.Argument(help="File or folder to import.", exists=True)],
    store: Annotated[str, typer.Option(help="Store URL or SQLite file path.")] = DEFAULT_STORE,
    format: Annotated[str | None, typer.Option("--format", help="Input format; detected when omitted.")] = None,
    map_: Annotated[
        list[str] | None, typer.Option("--map", help="Column mapping FILE_COLUMN=FIELD (repeatable).")
    ] = None,
    rejects: Annotated[
        Path | None, typer.Option(help="Where to write rejected rows (default: <path>.rejects.jsonl).")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Rows per transaction.")] = 50_000,
) -> None:
    """Import events, items and users; every valid row is stored, every invalid row reported.

    Examples:

      lmrec import ratings.csv --map userId=user_id --map movieId=item_id --map rating=value

      lmrec import ../shared/data/ml-100k --store sqlite:///ml100k.db
    """
    from lmrec.data.ingest import import_path
    from lmrec.data.store import Store

    with errors_as_exit_codes():
        db = Store.open(store)
        with progress_bar() as bar:
            task = bar.add_task(f"importing {path.name}", total=None)
            summary = import_path(
                db,
                path,
                format=format,
                mapping=parse_mapping(map_),
                rejects_path=rejects,
                batch_size=batch_size,
                progress=lambda rows: bar.advance(task, rows),
            )
    table = Table(title=f"import of {summary.source}", show_edge=False)
    for column in ("kind", "read", "stored", "duplicates", "rejected"):
        table.add_column(column, justify="right" if column != "kind" else "left")
    for kind, counts in summary.per_kind.items():
        table.add_row(kind, *(f"{counts.get(c, 0):,}" for c in ("read", "stored", "duplicates", "rejected")))
    console.print(table)
    rate = summary.read / summary.seconds if summary.seconds > 0 else float("nan")
    console.print(f"{summary.read:,} rows in {summary.seconds:.1f}s ({rate:,.0f} rows/s) into {store}")
    if summary.rejected:
        rows = "row" if summary.rejected == 1 else "rows"
        console.print(f"[yellow]{summary.rejected:,} {rows} rejected[/]; details in {summary.rejects_path}")
