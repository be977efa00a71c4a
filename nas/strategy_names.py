"""The strategy registry's names, without torch: `nas --help`, shell completion and the choices of
`--strategy` name them without importing the strategies (REINFORCE's policy is a torch module).

strategies/ registers one class for each name here; tests/test_cli_vocabulary.py fails when the two differ,
so a strategy added to the registry is added here too.
"""

from __future__ import annotations

STRATEGY_NAMES: tuple[str, ...] = ("bo", "evolution", "grid", "random", "rl")
