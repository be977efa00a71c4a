"""What a space's export twin returns and the line wrapping they share (no torch here).

A space writes its network as standalone PyTorch code through `SearchSpace.export_code` (the cells spelled
out, one module per op) and renames the engine's weights to match through `SearchSpace.export_key`; `nas
export` (nas/export/codegen.py) adds the imports and the source of every engine class the code names.
"""

from __future__ import annotations

from dataclasses import dataclass

# Generated files are checked with ruff's default line length, not the engine's.
GENERATED_LINE_LENGTH = 88


@dataclass(frozen=True)
class ExportCode:
    """The classes of the cells and the network as source text, and the engine classes that text names
    (ops' helper classes such as SepConv); export copies those classes' own source above it."""

    body: str
    classes: frozenset[type]


def assign(target: str, expr: str) -> str:
    """`self.target = expr` at method indentation, wrapped the way ruff format wraps a long call."""
    line = f"        self.{target} = {expr}"
    if len(line) <= GENERATED_LINE_LENGTH:
        return line
    head, _, args = expr.partition("(")
    return f"        self.{target} = {head}(\n            {args[:-1]}\n        )"
