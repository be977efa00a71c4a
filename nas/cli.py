"""The `nas` command: thin wrappers over the library. Each command lives in its own module under
nas/commands/ and is registered here; user mistakes become one-line errors with exit code 2."""

from __future__ import annotations

import sys

import click
import typer
from typer.core import TyperGroup

from nas.errors import UserError, one_line


class _Commands(TyperGroup):
    """Every command's user mistakes (UserError) end as one line on stderr and exit code 2, also when the app
    is invoked in-process (tests) rather than through `main`."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except UserError as e:
            typer.echo("error: " + one_line(e), err=True)
            raise typer.Exit(2) from None


app = typer.Typer(
    cls=_Commands,
    name="nas",
    help="Neural architecture search over cell search spaces (random, evolution, REINFORCE) on your images.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Neural architecture search over cell search spaces (random, evolution, REINFORCE) on your images."""


from nas.commands import bench, export, final, pictures, predict, results, search, spaces

app.command("spaces")(spaces.spaces)
app.command("search")(search.search)
app.command("resume")(search.resume)
app.command("results")(results.results)
app.command("show")(pictures.show)
app.command("plot")(pictures.plot)
app.command("final")(final.final)
app.command("export")(export.export)
app.command("predict")(predict.predict)
app.command("benchmark")(bench.benchmark)
app.command("synthetic-table")(bench.synthetic_table)


def main() -> None:
    try:
        app()
    except UserError as e:  # raised outside a command (e.g. while parsing); same one-line form
        typer.echo("error: " + one_line(e), err=True)
        sys.exit(2)
