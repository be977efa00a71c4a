"""Python literals as `ruff format` writes them at 88 columns: what the exported model.py holds as constants
(the architecture, the model config, the op table, the spaces' module constants).

A value is written on one line when it fits; otherwise its brackets open and its items go on one indented
line, or, when that does not fit either, one item a line with a trailing comma (the layout of black and ruff
format). Values: None, bools, ints, floats, strings, tuples, lists, dicts, frozen dataclasses (written as
keyword calls) and `Ref`s (a name written as is).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

LINE_LENGTH = 88  # generated files are checked with ruff's default line length, not the engine's
INDENT = "    "


@dataclass(frozen=True)
class Ref:
    """A name in the generated file, such as a function in a table."""

    name: str


@dataclass(frozen=True)
class _Brackets:
    head: str  # "Cell(" or "(" or "{"
    items: tuple[tuple[str, Any], ...]  # (lead such as "ops=" or '"key": ', value)
    close: str
    one_tuple: bool = False  # a 1-tuple keeps its comma on one line: (x,)


def _node(value: Any) -> str | _Brackets:
    if isinstance(value, Ref):
        return value.name
    if value is None or isinstance(value, bool | int):
        return repr(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, tuple):
        return _Brackets("(", tuple(("", v) for v in value), ")", one_tuple=len(value) == 1)
    if isinstance(value, list):
        return _Brackets("[", tuple(("", v) for v in value), "]")
    if isinstance(value, dict):
        return _Brackets("{", tuple((f"{json.dumps(k)}: ", v) for k, v in value.items()), "}")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        return _Brackets(
            f"{type(value).__name__}(", tuple((f"{f.name}=", getattr(value, f.name)) for f in fields), ")"
        )
    raise TypeError(f"cannot write a {type(value).__name__} as a literal: {value!r}")


def _flat(node: str | _Brackets) -> str:
    if isinstance(node, str):
        return node
    inner = ", ".join(lead + _flat(_node(v)) for lead, v in node.items)
    return f"{node.head}{inner}{',' if node.one_tuple else ''}{node.close}"


def _lines(node: str | _Brackets, indent: str, lead: str, trail: str) -> list[str]:
    flat = f"{indent}{lead}{_flat(node)}{trail}"
    if len(flat) <= LINE_LENGTH or isinstance(node, str) or not node.items:
        return [flat]
    inner = indent + INDENT + ", ".join(lead_ + _flat(_node(v)) for lead_, v in node.items)
    if node.one_tuple:
        inner += ","
    opening, closing = f"{indent}{lead}{node.head}", f"{indent}{node.close}{trail}"
    if len(inner) <= LINE_LENGTH:
        return [opening, inner, closing]
    lines = [opening]
    for item_lead, value in node.items:
        lines += _lines(_node(value), indent + INDENT, item_lead, ",")
    return [*lines, closing]


def assignment(name: str, value: Any) -> str:
    """`name = value` as ruff format writes it, ending with a newline."""
    return "\n".join(_lines(_node(value), "", f"{name} = ", "")) + "\n"
