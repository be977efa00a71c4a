"""The `nas` command: thin wrappers over the library. Each command lives in its own module under
nas/commands/ and is registered here; user mistakes become one-line errors with exit code 2."""

from __future__ import annotations

import sys
from typing import Annotated

import click
import typer
from typer.core import TyperGroup

from nas.api_calls import command_line
from nas.commands.options import rename_args
from nas.errors import SearchStopped, UserError, one_line

try:  # typer 0.2x carries its own copy of click; older ones use click itself
    from typer._click.exceptions import BadParameter, MissingParameter, UsageError
except ImportError:
    from click.exceptions import BadParameter, MissingParameter, UsageError


class _Commands(TyperGroup):
    """Every command's user mistakes end as one line on stderr and exit code 2, also when the app is invoked
    in-process (tests) rather than through `main`: UserError from the library, and click's usage errors (a
    value of the wrong type such as `--trials abc`, an unknown option or command, a missing argument)."""

    def invoke(self, ctx: click.Context):
        try:
            with command_line():  # the library's messages keep their flags (nas.api_calls)
                return super().invoke(ctx)
        except UserError as e:
            _fail(str(e))
        except UsageError as e:
            _fail(_usage_message(e))
        except SearchStopped as e:  # the search's own error, its run saved: one line, exit code 1
            typer.echo("error: " + one_line(e), err=True)
            raise typer.Exit(1) from None

    def make_context(self, info_name, args, parent=None, **extra):
        if not args and parent is None:  # bare `nas`: the help, as `nas --help` prints it
            args = ["--help"]
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except UsageError as e:  # options of `nas` itself
            _fail(_usage_message(e))

    def resolve_command(self, ctx: click.Context, args: list[str]):
        name, command, rest = super().resolve_command(ctx, args)
        rest, warnings = rename_args(name, rest) if name is not None else (rest, [])
        for warning in warnings:
            typer.echo(warning, err=True)
        return name, command, rest


def _usage_message(e: UsageError) -> str:
    if isinstance(e, BadParameter) and e.param is not None and not isinstance(e, MissingParameter):
        what = "/".join(e.param.opts) if e.param.param_type_name == "option" else e.param.human_readable_name
        message = f"{what}: {e.message.removeprefix('Value error, ')}"  # typer's pydantic check adds it
    else:
        message = e.format_message()
    path = e.ctx.command_path if e.ctx is not None else "nas"
    message = message.rstrip(".")
    return f"{message}{' ' if message.endswith('?') else '; '}see `{path} --help`"


def _fail(message: str):
    typer.echo("error: " + one_line(message), err=True)
    raise typer.Exit(2) from None


app = typer.Typer(
    cls=_Commands,
    name="nas",
    help="Neural architecture search over cell search spaces (random, evolution, REINFORCE) on your images.",
    add_completion=True,  # --install-completion / --show-completion; choices complete from the registries
    pretty_exceptions_enable=False,
)


def _print_version(wanted: bool) -> None:
    if wanted:
        from nas._version import __version__

        typer.echo(f"nas {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Neural architecture search over cell search spaces (random, evolution, REINFORCE) on your images."""


from nas.commands import bench, export, final, pictures, predict, results, score, search, spaces, tune

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
app.command("score")(score.score)
app.command("tune")(tune.tune)


def main() -> None:
    try:
        app()
    except UserError as e:  # raised outside a command (e.g. while parsing); same one-line form
        typer.echo("error: " + one_line(e), err=True)
        sys.exit(2)
