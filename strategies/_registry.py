"""The strategy registry: names to Strategy classes. Private, so that strategy modules register themselves by
importing this finished module rather than the `strategies` package while it is still being initialised."""

from __future__ import annotations

from typing import Any

from search_spaces.base import SearchSpace
from strategies.base import Strategy, UnknownStrategyError

STRATEGIES: dict[str, type[Strategy]] = {}


def register_strategy(name: str):
    """Class decorator: make a Strategy subclass available as `name`. Registering a name twice is an error."""

    def register(cls: type[Strategy]) -> type[Strategy]:
        if name in STRATEGIES:
            raise ValueError(f"strategy {name!r} is already registered by {STRATEGIES[name].__module__}")
        cls.name = name
        STRATEGIES[name] = cls
        return cls

    return register


def make_strategy(
    name: str, space: SearchSpace, *, seed: int, concurrency: int = 1, dedupe: bool = True, **options: Any
) -> Strategy:
    if name not in STRATEGIES:
        raise UnknownStrategyError(
            f"unknown strategy {name!r}; choose one of {', '.join(sorted(STRATEGIES))}"
        )
    return STRATEGIES[name](space, seed=seed, concurrency=concurrency, dedupe=dedupe, **options)
