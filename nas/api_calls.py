"""How the Python API meets its callers: argument names checked with close-match suggestions, values checked
against the annotations, and the library's messages (written for the command line: `--time-budget`,
`nas search --resume RUN`) phrased for Python (`time_budget_s`, `nas.open_run("RUN").resume()`).

The commands call the same functions inside `command_line()`, where messages keep their flags.
"""

from __future__ import annotations

import contextlib
import contextvars
import difflib
import functools
import inspect
import os
import re
import warnings
from pathlib import Path
from typing import Any

from nas.errors import SearchStopped, UserError

_FROM_COMMAND_LINE = contextvars.ContextVar("nas_from_command_line", default=False)


@contextlib.contextmanager
def command_line():
    """Calls made by the `nas` command: errors keep the command line's wording."""
    token = _FROM_COMMAND_LINE.set(True)
    try:
        yield
    finally:
        _FROM_COMMAND_LINE.reset(token)


class UnknownSetting(UserError, TypeError):
    """A keyword the function does not take; a TypeError as Python raises it, and a UserError like every
    other bad setting."""


def suggestion(word: str, choices) -> str:
    """'; did you mean X?' for the closest of `choices`, else ''."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if not close and "_" not in word:  # time_budget vs time_budget_s: a missing unit suffix
        close = [c for c in choices if c.startswith(word + "_")][:1]
    close = close or [c for c in choices if c.startswith(word)][:1]
    return f"; did you mean {close[0]}?" if close else ""


# -- annotations, read without evaluating them (they name types imported only for type checkers) -------------

_KINDS: dict[str, tuple[tuple[type, ...], str]] = {
    "str": ((str,), "a string"),
    "int": ((int,), "a whole number"),
    "float": ((int, float), "a number"),
    "bool": ((bool,), "True or False"),
    "os.PathLike": ((os.PathLike,), "a path"),
    "Path": ((Path,), "a path"),
    "dict": ((dict,), "a dict"),
    "list": ((list, tuple), "a list"),
    "tuple": ((tuple, list), "a tuple"),
}


def _alternatives(annotation: str) -> list[str] | None:
    """The top-level alternatives of `A | B[...] | None` without their parameters; None when one of them is a
    type this check does not know (it then accepts anything)."""
    depth, parts, current = 0, [], ""
    for ch in annotation:
        depth += ch == "["
        depth -= ch == "]"
        if ch == "|" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    names = [p.strip().split("[", 1)[0] for p in [*parts, current]]
    return names if all(n in _KINDS or n == "None" for n in names) else None


def check_value(name: str, value: Any, annotation: Any) -> None:
    """`value` against a string annotation such as "int | None", as a one-line UserError naming `name`."""
    if not isinstance(annotation, str):
        return
    names = _alternatives(annotation)
    if names is None:
        return
    if value is None:
        if "None" not in names:
            raise UserError(f"{name}: needs a value, not None")
        return
    kinds = [n for n in names if n != "None"]
    ok = any(isinstance(value, _KINDS[k][0]) for k in kinds)
    if isinstance(value, bool) and "bool" not in kinds:
        ok = False  # True is an int to Python, never a count or a size here
    if not ok:
        wanted = " or ".join(dict.fromkeys(_KINDS[k][1] for k in kinds))
        raise UserError(f"{name}: {value!r} ({type(value).__name__}) must be {wanted}")


# -- messages written for the command line, phrased for Python ---------------------------------------------

_FLAG_NAMES = {  # flag -> keyword where they differ by more than '-' for '_'
    "time-budget": "time_budget_s",
    "format": "formats",
    "model-format": "formats",
    "config": "config_file",
    "out": "output",
}
_COMMANDS = (  # `nas ...` advice -> its Python spelling
    (re.compile(r"`nas (?:search --resume|resume) ([^`\s]+)[^`]*`"), r'`nas.open_run("\1").resume()`'),
    (re.compile(r"`nas final RUN`"), "`Run.final()`"),
    (re.compile(r"`nas results RUN --pareto`"), "`Run.pareto`"),
    (re.compile(r"`nas export[^`]*`"), "`Run.export(...)`"),
)
_FLAG = re.compile(
    r"(?<![\w-])(?:--([a-z][a-z0-9-]*)|-o)(?: (\d[\w.:]*|[A-Z][A-Z_.]*[A-Z](?:\.\w+)?)(?=[\s,;)]|$))?"
)
_SPAN = re.compile(r"(`[^`]*`)")


def for_python(message: str) -> str:
    """A library message with its flags as keyword names (`--gpus-per-trial 0` -> `gpus_per_trial=0`) and its
    `nas` commands as calls; other quoted commands (`ray start --head`) are kept."""
    for pattern, replacement in _COMMANDS:
        message = pattern.sub(replacement, message)

    def keyword(match: re.Match) -> str:
        flag = match.group(1) or "out"
        name = _FLAG_NAMES.get(flag, flag.replace("-", "_"))
        return f"{name}={match.group(2)}" if match.group(2) else name

    parts = _SPAN.split(message)  # odd parts are quoted: left as they are
    return "".join(part if i % 2 else _FLAG.sub(keyword, part) for i, part in enumerate(parts))


def python_api(renamed: dict[str, str] | None = None):
    """Decorate a public API function: unknown keywords raise UnknownSetting with a suggestion, `renamed` old
    keywords still work with a DeprecationWarning, values are checked against the annotations, and UserError
    and SearchStopped messages are phrased for Python (outside `command_line()`)."""
    renamed = renamed or {}

    def decorate(func):
        signature = inspect.signature(func)
        names = [n for n in signature.parameters if n not in ("self", "cls")]

        @functools.wraps(func)
        def call(*args, **kwargs):
            for old, new in renamed.items():
                if old in kwargs:
                    warnings.warn(
                        f"{func.__qualname__}({old}=...) is now {new}=...", DeprecationWarning, stacklevel=2
                    )
                    kwargs[new] = kwargs.pop(old)
            unknown = [k for k in kwargs if k not in signature.parameters]
            if unknown:
                raise UnknownSetting(
                    f"{func.__qualname__}() got an unexpected keyword argument {unknown[0]!r}"
                    f"{suggestion(unknown[0], names)}"
                )
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError:
                return func(*args, **kwargs)  # Python's own message (missing or extra positional arguments)
            for name, given in bound.arguments.items():
                if name not in ("self", "cls"):
                    check_value(name, given, signature.parameters[name].annotation)
            if _FROM_COMMAND_LINE.get():
                return func(*args, **kwargs)
            try:
                return func(*args, **kwargs)
            except (UserError, SearchStopped) as e:
                e.args = (for_python(str(e)),)
                raise

        return call

    return decorate
