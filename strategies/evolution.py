"""Regularized (aging) evolution, Real et al. 2019, "Regularized Evolution for Image Classifier Architecture
Search", Algorithm 1.

The population is a queue of the last P evaluated architectures. Until it holds P members, candidates are
uniform samples. After that each candidate is a mutation of the best of S members drawn uniformly without
replacement; every new result joins the queue and the oldest member dies, whatever its reward.

Defaults: P = 10, S = 3, the settings NAS-Bench-201 (Dong & Yang 2020, sec. 5) and NATS-Bench use for their
REA baseline on the 15,625-cell space with a few hundred queries. The paper's own CIFAR-10 run used P = 100,
S = 25 over 20,000 models; with a budget of 100-200 queries, P = 100 would leave almost nothing for
evolution.

With several objectives (a `Goal` with cost objectives), the tournament winner is the member of best
Pareto rank within the population, ties broken by the larger crowding distance (NSGA-II's crowded
comparison, Deb et al. 2002), instead of the most accurate one; aging is unchanged.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from strategies._registry import register_strategy
from strategies.base import Strategy, StrategyError

MUTATION_TRIES = 20  # mutations of one parent tried before it is given up as used up


@dataclass(frozen=True)
class EvolutionConfig:
    population: int = 10  # P: members alive at once; the first P results are random samples
    sample_size: int = 3  # S: tournament size; larger S exploits more

    def __post_init__(self) -> None:
        if not isinstance(self.population, int) or self.population < 2:
            raise StrategyError(f"evolution: population must be an integer >= 2, got {self.population!r}")
        if not isinstance(self.sample_size, int) or not 1 <= self.sample_size <= self.population:
            raise StrategyError(
                f"evolution: sample_size must be an integer in [1, population={self.population}], "
                f"got {self.sample_size!r}"
            )


@register_strategy("evolution")
class RegularizedEvolution(Strategy):
    """Aging evolution: tournament of S among the last P results, mutate the winner, the oldest dies.
    A failed trial never joins the population (it has no fitness to compete with)."""

    config_class = EvolutionConfig

    def warm_start_size(self) -> int:
        return self.config.population  # the first population; later members come from mutation

    def __init__(self, space, **kwargs: Any) -> None:
        super().__init__(space, **kwargs)
        self.population: deque = deque(maxlen=self.config.population)  # (arch, reward), oldest first

    def _candidate(self):
        if len(self.population) < self.config.population:
            return self.space.sample(self.rng)
        picks = self.rng.choice(len(self.population), size=self.config.sample_size, replace=False)
        # Ties go to the first drawn, so the choice depends only on the RNG and the population.
        if self.goal is not None and self.goal.multi:
            order = self._pareto_order(list(self.population))
            parent = self.population[int(min(picks, key=lambda i: order[int(i)]))]
        else:
            parent = max((self.population[int(i)] for i in picks), key=lambda member: member[1])
        for _ in range(MUTATION_TRIES):
            child = self.space.mutate(parent[0], self.rng)
            if not self.dedupe or self._fresh(child):
                return child
        # The parent's neighbourhood is used up (within the limits): a uniform sample brings new blood.
        return self.space.sample(self.rng)

    def _fresh(self, arch) -> bool:
        """Not proposed before and within the limits (costs are a function of the architecture, so asking
        here changes nothing the base would decide)."""
        if self._hash(arch) in self._proposed:
            return False
        return self.goal is None or not self.goal.limits or self.goal.feasible(self.costs(arch))

    def _observe(self, arch, reward) -> None:
        if reward is not None:
            self.population.append((arch, reward))  # maxlen drops the oldest

    def _observe_cached(self, arch, reward) -> None:
        # A repeat must not join the population again: copies of the best member would crowd out the rest,
        # and their mutations repeat more and more (the collapse seen under tight limits).
        pass

    def _extra_state(self) -> dict[str, Any]:
        return {"population": [[arch.to_dict(), reward] for arch, reward in self.population]}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self.population.clear()
        for data, reward in state["population"]:
            self.population.append((self.space.from_dict(data), float(reward)))
