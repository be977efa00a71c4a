"""The `nas` command: thin wrappers over the library. Each command lives in its own module under
nas/commands/ and is registered here; user mistakes become one-line errors with exit code 2."""

from __future__ import annotations

import sys

import typer

from nas.errors import UserError

app = typer.Typer(
    name="nas",
    help="Neural architecture search over cell search spaces (random, evolution, REINFORCE) on CIFAR-10.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Neural architecture search over cell search spaces (random, evolution, REINFORCE) on CIFAR-10."""


@app.command()
def spaces() -> None:
    """List the registered search spaces and the op registry."""
    import search_spaces
    from search_spaces.ops import OPS

    for name, cls in sorted(search_spaces.SPACES.items()):
        typer.echo(f"{name}: {cls.__doc__.strip().splitlines()[0] if cls.__doc__ else ''}")
    typer.echo(f"ops: {', '.join(sorted(OPS))}")


from nas.commands.final import final  # noqa: E402

app.command("final")(final)


def main() -> None:
    try:
        app()
    except UserError as e:
        typer.echo(f"error: {e}", err=True)
        sys.exit(2)
