"""`nas spaces`: the registered search spaces and ops."""

from __future__ import annotations

import typer


def spaces() -> None:
    """List the registered search spaces and the op registry."""
    import search_spaces
    from search_spaces.ops import OPS

    for name, cls in sorted(search_spaces.SPACES.items()):
        typer.echo(f"{name}: {cls.__doc__.strip().splitlines()[0] if cls.__doc__ else ''}")
    typer.echo(f"ops: {', '.join(sorted(OPS))}")
