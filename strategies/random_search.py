"""Random search: every candidate drawn uniformly by the space (the baseline of Li & Talwalkar 2019 and of
every tabular benchmark)."""

from __future__ import annotations

from strategies._registry import register_strategy
from strategies.base import Strategy


@register_strategy("random")
class RandomSearch(Strategy):
    """Uniform samples from the space; results are ignored (dedupe still skips repeats)."""

    def _candidate(self):
        return self.space.sample(self.rng)

    def _observe(self, arch, reward) -> None:
        pass
