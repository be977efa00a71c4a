"""Search strategies behind one ask/tell interface (see strategies/base.py for the protocol).

`make_strategy(name, space, seed=..., concurrency=..., dedupe=...)` builds one by name; strategies know only
the space interface, so every strategy runs on every registered space.
"""

from __future__ import annotations

from typing import Any

from search_spaces.base import SearchSpace
from strategies.base import (
    InfeasibleError,
    Proposal,
    ResultError,
    SpaceExhaustedError,
    StateError,
    Strategy,
    StrategyError,
    UnknownStrategyError,
)

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


# Built-in strategies register themselves on import.
from strategies import evolution, random_search, reinforce  # noqa: F401

__all__ = [
    "STRATEGIES",
    "InfeasibleError",
    "Proposal",
    "ResultError",
    "SpaceExhaustedError",
    "StateError",
    "Strategy",
    "StrategyError",
    "UnknownStrategyError",
    "make_strategy",
    "register_strategy",
]
