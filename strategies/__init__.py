"""Search strategies behind one ask/tell interface (see strategies/base.py for the protocol).

`make_strategy(name, space, seed=..., concurrency=..., dedupe=...)` builds one by name; strategies know only
the space interface, so every strategy runs on every registered space.
"""

from __future__ import annotations

# Built-in strategies register themselves on import.
from strategies import bo, evolution, grid, random_search, reinforce  # noqa: F401
from strategies._registry import STRATEGIES, make_strategy, register_strategy
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
