"""The `lmrec` command: one sub-command per module in this package."""

from __future__ import annotations

import logging

import typer

from lmrec.cli.demo import demo_command
from lmrec.cli.evaluate import evaluate_command
from lmrec.cli.import_data import import_command
from lmrec.cli.models import models_command
from lmrec.cli.ope import ope_command
from lmrec.cli.recommend import recommend_command
from lmrec.cli.simulate import simulate_command
from lmrec.cli.train import train_command

app = typer.Typer(
    name="lmrec",
    help="lmrec: a recommendation engine that reads items with a language model.",
    no_args_is_help=True,
    rich_markup_mode="markdown",  # docstring paragraphs reflow to the terminal width
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("demo")(demo_command)
app.command("import")(import_command)
app.command("train")(train_command)
app.command("evaluate")(evaluate_command)
app.command("recommend")(recommend_command)
app.command("models")(models_command)
app.command("ope")(ope_command)
app.command("simulate")(simulate_command)


@app.callback()
def _configure(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details.")) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


def main() -> None:
    """Entry point of the `lmrec` console script."""
    app()
