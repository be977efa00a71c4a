"""What produced a record: the versions of the engine, Python and the libraries that decide its numbers,
and the command line. A search's config.json and `nas final`'s final.json both carry it, so a figure can be
traced back to the software that made it."""

from __future__ import annotations

import importlib
import platform
import sys
from typing import Any

LIBRARIES = ("torch", "torchvision", "ray")


def versions() -> dict[str, str | None]:
    """Engine, Python, torch, torchvision and Ray versions (None for a library that is not installed). The
    modules' own `__version__`, not the package metadata: only the former names torch's build (`+cu130`)."""
    from nas._version import __version__

    found: dict[str, str | None] = {"nas": __version__, "python": platform.python_version()}
    for name in LIBRARIES:
        try:  # the callers (a search, a final run) have imported them already
            found[name] = str(importlib.import_module(name).__version__)
        except ImportError:
            found[name] = None
    return found


def command_line() -> str:
    return " ".join(sys.argv)


def provenance() -> dict[str, Any]:
    return {"versions": versions(), "command": command_line()}
