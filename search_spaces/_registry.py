"""The space registry: names to SearchSpace classes. Private, so that space modules register themselves by
importing this finished module rather than the `search_spaces` package while it is still being initialised."""

from __future__ import annotations

import json
from typing import Any

from search_spaces.base import Architecture, ArchitectureError, SearchSpace

SPACES: dict[str, type[SearchSpace]] = {}


class UnknownSpaceError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


def register_space(name: str):
    """Class decorator: make a SearchSpace subclass available as `name`. Registering a name twice is an
    error."""

    def register(cls: type[SearchSpace]) -> type[SearchSpace]:
        if name in SPACES:
            raise ValueError(f"search space {name!r} is already registered by {SPACES[name].__module__}")
        cls.name = name
        SPACES[name] = cls
        return cls

    return register


def make_space(name: str, **options: Any) -> SearchSpace:
    if name not in SPACES:
        raise UnknownSpaceError(f"unknown search space {name!r}; choose one of {', '.join(sorted(SPACES))}")
    return SPACES[name](**options)


def arch_from_json(text_or_dict: str | dict[str, Any], **space_options: Any) -> Architecture:
    """Read an architecture saved by `to_json`; its "space" key says which space validates it."""
    try:
        data = json.loads(text_or_dict) if isinstance(text_or_dict, str) else dict(text_or_dict)
    except json.JSONDecodeError as e:
        raise ArchitectureError(f"architecture is not valid JSON: {e}") from None
    if not isinstance(data, dict) or "space" not in data:
        raise ArchitectureError('architecture JSON must be an object with a "space" key')
    try:
        space = make_space(data["space"], **space_options)
    except UnknownSpaceError as e:
        raise ArchitectureError(str(e)) from None
    return space.from_dict(data)
