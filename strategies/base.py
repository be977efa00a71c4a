"""The ask/tell protocol every strategy follows, and the bookkeeping they share.

A strategy hands out `Proposal`s numbered 0, 1, 2, ... and learns from results that may come back in any
order, from many trials running at once. Two rules make a search reproducible and resumable regardless of
that order:

* **Determinism window.** Proposal k is made from exactly the results of proposals j <= k - concurrency,
  applied in proposal order. If one of those is still missing, `ask()` returns None. So the same seed gives
  the same proposals whatever order parallel results arrive in; with concurrency 1 every proposal sees every
  earlier result.
* **Everything is state.** `state_dict()` is plain JSON data (the RNG, the proposals, the results, the
  subclass's learned state); `load_state_dict` on a fresh object with the same arguments continues exactly.

Dedupe (on by default): a candidate whose canonical hash is already proposed is never proposed again. If that
earlier proposal's result is visible in the window, the strategy consumes the cached result as if it had just
evaluated the candidate (evolution ages its population, the controller learns from it) and draws again; if it
is still in flight, it simply draws again. After `max_retries` draws in a row that are all duplicates, `ask()`
raises `SpaceExhaustedError` and keeps raising it: the search is over, nothing duplicate is ever proposed.

Goal (optional, strategies/objectives.py): with limits, a drawn candidate whose cost (from the `costs`
function passed in) exceeds one is drawn again, so no proposal ever breaks a limit; after `max_infeasible`
such draws in a row `ask()` raises `InfeasibleError` (a SpaceExhaustedError) and keeps raising it. Costs
are a function of the architecture, so determinism and resume stay exact. Without a goal nothing changes.

Warm start (optional): `warm_start=[arch, ...]`, best first, is proposed before anything the strategy draws
itself, so its results are what the strategy learns from first: evolution's first population, REINFORCE's
first batch, random search's first proposals in that order. A strategy takes as many as its
`warm_start_size()` says (all by default). The list and how far it got are part of `state_dict()`; without a
warm start the state is exactly what it was before warm starts existed. Under a goal, warm-start architectures
outside the limits are skipped.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

import search_spaces
from search_spaces.base import Architecture, SearchSpace
from strategies.objectives import Goal

STATE_FORMAT = 1
DEFAULT_MAX_RETRIES = 1000  # duplicate draws in a row before ask() declares the space exhausted
DEFAULT_MAX_INFEASIBLE = 1000  # draws in a row outside the limits before ask() declares the limits too tight


@functools.lru_cache(maxsize=1 << 16)
def arch_hash(arch: Architecture) -> str:
    """`canonical_hash`, remembered: architectures are immutable values, and a tabular benchmark hashes the
    same few thousand cells over and over (NB201's networkx pruning is most of a random search's time
    otherwise)."""
    return search_spaces.canonical_hash(arch)


class StrategyError(ValueError):
    """A misuse of a strategy: bad option, unknown proposal id, mismatched saved state."""


class UnknownStrategyError(StrategyError):
    pass


class ResultError(StrategyError):
    """A result for a proposal that does not exist, was already told, or carries a non-finite reward."""


class StateError(StrategyError):
    """A state_dict that does not belong to this strategy as constructed."""


class SpaceExhaustedError(StrategyError):
    """Dedupe found no architecture that was not proposed before within the retry bound."""


class InfeasibleError(SpaceExhaustedError):
    """The goal's limits rejected `max_infeasible` draws in a row: they admit (almost) no architecture."""


@dataclass(frozen=True)
class Proposal:
    id: int  # 0, 1, 2, ... in the order proposals were asked for
    arch: Architecture


@dataclass(frozen=True)
class Result:
    reward: float | None  # None: the trial failed
    error: str | None = None


class Strategy:
    """Base class: subclasses implement `_candidate()` (draw one architecture from the current state) and
    `_observe(arch, reward)` (learn from one result; reward None means the trial failed), and keep any learned
    state in `_extra_state()` / `_load_extra_state()` as plain data."""

    name: ClassVar[str]
    config_class: ClassVar[type | None] = None  # a frozen dataclass of the strategy's own options
    uses_scores: ClassVar[bool] = False  # takes `scores=`: training-free score records (strategies/bo.py)

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int,
        concurrency: int = 1,
        dedupe: bool = True,
        max_retries: int = DEFAULT_MAX_RETRIES,
        goal: Goal | None = None,
        costs: Callable[[Architecture], Mapping[str, float]] | None = None,
        max_infeasible: int = DEFAULT_MAX_INFEASIBLE,
        warm_start: Sequence[Architecture] = (),
        **options: Any,
    ) -> None:
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
            raise StrategyError(f"{self.name}: seed must be an integer, got {seed!r}")
        if not isinstance(concurrency, int) or concurrency < 1:
            raise StrategyError(f"{self.name}: concurrency must be an integer >= 1, got {concurrency!r}")
        if not isinstance(max_retries, int) or max_retries < 1:
            raise StrategyError(f"{self.name}: max_retries must be an integer >= 1, got {max_retries!r}")
        self.space = space
        self.seed = int(seed)
        self.concurrency = concurrency
        self.dedupe = bool(dedupe)
        self.max_retries = max_retries
        self.config = self._make_config(options)
        self._set_goal(goal, costs, max_infeasible)
        self.rng = np.random.default_rng(self.seed)
        self._archs: list[Architecture] = []
        self._hashes: list[str] = []
        self._results: dict[int, Result] = {}
        self._applied = 0  # results of proposals 0.._applied-1 have been consumed, in order
        self._proposed: set[str] = set()
        self._cache: dict[str, float | None] = {}  # hash -> reward of consumed results: the visible window
        self._cache_hits = 0
        self._exhausted: str | None = None
        self._warm: list[Architecture] = []
        self._warm_next = 0  # warm-start architectures 0.._warm_next-1 have been taken
        for arch in warm_start:
            space.validate(arch)
            self._warm.append(arch)
        size = self.warm_start_size()
        if size is not None:
            del self._warm[size:]

    # -- options --

    def _make_config(self, options: dict[str, Any]):
        if self.config_class is None:
            if options:
                raise StrategyError(f"{self.name}: takes no options, got {', '.join(sorted(options))}")
            return None
        known = self.config_class.__dataclass_fields__
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise StrategyError(
                f"{self.name}: unknown option {', '.join(unknown)}; options: {', '.join(known)}"
            )
        return self.config_class(**options)

    def options(self) -> dict[str, Any]:
        """The strategy's own options, resolved (defaults filled in)."""
        return {} if self.config is None else dict(vars(self.config))

    def warm_start_size(self) -> int | None:
        """How many warm-start architectures this strategy uses (None: all of them)."""
        return None

    @property
    def warm_start(self) -> list[Architecture]:
        """The warm-start architectures this strategy proposes first, in order."""
        return list(self._warm)

    # -- the protocol --

    def ask(self) -> Proposal | None:
        if self._exhausted:
            raise (InfeasibleError if self._over_limits else SpaceExhaustedError)(self._exhausted)
        k = len(self._archs)
        while self._applied <= k - self.concurrency:
            result = self._results.get(self._applied)
            if result is None:
                return None
            self._consume(self._applied, result)
            self._applied += 1
        arch = self._fresh_candidate()
        h = self._hash(arch)
        self._archs.append(arch)
        self._hashes.append(h)
        self._proposed.add(h)
        return Proposal(k, arch)

    def tell(self, proposal_id: int, reward: float) -> None:
        proposal_id = self._check_open(proposal_id)
        try:
            reward = float(reward)
        except (TypeError, ValueError):
            raise ResultError(f"reward for proposal {proposal_id} must be a number, got {reward!r}") from None
        if not math.isfinite(reward):
            raise ResultError(
                f"reward for proposal {proposal_id} is {reward}; report a failed trial with tell_failure"
            )
        self._results[proposal_id] = Result(reward)

    def tell_failure(self, proposal_id: int, error: str) -> None:
        proposal_id = self._check_open(proposal_id)
        self._results[proposal_id] = Result(None, str(error))

    def pending(self) -> list[Proposal]:
        return [Proposal(i, a) for i, a in enumerate(self._archs) if i not in self._results]

    @property
    def num_proposed(self) -> int:
        return len(self._archs)

    @property
    def cache_hits(self) -> int:
        """How many drawn candidates were answered from the dedupe cache instead of being proposed."""
        return self._cache_hits

    # -- internals --

    def _check_open(self, proposal_id: int) -> int:
        if not isinstance(proposal_id, (int, np.integer)) or not 0 <= proposal_id < len(self._archs):
            asked = f"0..{len(self._archs) - 1}" if self._archs else "none"
            raise ResultError(f"unknown proposal id {proposal_id!r}; proposals asked so far: {asked}")
        if proposal_id in self._results:
            raise ResultError(f"proposal {proposal_id} already has a result; each proposal is told once")
        return int(proposal_id)  # numpy integers would not survive json.dumps in state_dict

    def _hash(self, arch: Architecture) -> str:
        return arch_hash(arch)

    def _consume(self, proposal_id: int, result: Result) -> None:
        self._cache.setdefault(self._hashes[proposal_id], result.reward)
        self._observe(self._archs[proposal_id], result.reward)

    def _fresh_candidate(self) -> Architecture:
        while self._warm_next < len(self._warm):
            arch = self._warm[self._warm_next]
            self._warm_next += 1
            if not self.dedupe or self._hash(arch) not in self._proposed:
                if self.goal is None or self.goal.feasible(self.costs(arch)):
                    return arch
        if not self.dedupe:
            while True:
                arch = self._candidate()
                if self._feasible(arch):
                    return arch
        draws = 0
        while draws < self.max_retries:
            arch = self._candidate()
            h = self._hash(arch)
            if h not in self._proposed:
                if self._feasible(arch):
                    return arch
                continue  # outside the limits: not a duplicate draw (counted by _feasible)
            draws += 1
            if h in self._cache:
                self._cache_hits += 1
                self._observe_cached(arch, self._cache[h])
        self._exhausted = (
            f"{self.name}: {self.max_retries} draws in a row were all architectures proposed before "
            f"({len(self._proposed)} distinct so far): the space looks exhausted; raise max_retries or "
            "turn dedupe off to allow repeats"
        )
        raise SpaceExhaustedError(self._exhausted)

    # -- goal: limits and objectives --

    def _set_goal(self, goal: Goal | None, costs, max_infeasible: int) -> None:
        if goal is not None and not isinstance(goal, Goal):
            raise StrategyError(f"{self.name}: goal must be a strategies.objectives.Goal, got {goal!r}")
        self.goal = None if goal is None or goal.trivial else goal
        if self.goal is not None and costs is None:
            raise StrategyError(f"{self.name}: a goal with limits or cost objectives needs a costs function")
        if not isinstance(max_infeasible, int) or max_infeasible < 1:
            raise StrategyError(
                f"{self.name}: max_infeasible must be an integer >= 1, got {max_infeasible!r}"
            )
        self._cost_of = costs
        self.max_infeasible = max_infeasible
        self._infeasible_streak = 0
        self._over_limits = False  # the search ended because the limits rejected max_infeasible draws
        self.infeasible_draws = 0  # candidates drawn outside the limits and drawn again

    def costs(self, arch: Architecture) -> Mapping[str, float]:
        return self._cost_of(arch)

    def _feasible(self, arch: Architecture) -> bool:
        if self.goal is None or not self.goal.limits:
            return True
        if self.goal.feasible(self.costs(arch)):
            self._infeasible_streak = 0
            return True
        self.infeasible_draws += 1
        self._infeasible_streak += 1
        if self._infeasible_streak >= self.max_infeasible:
            limits = ", ".join(f"{k} <= {v:g}" for k, v in sorted(self.goal.limits.items()))
            self._exhausted = (
                f"{self.name}: {self.max_infeasible} draws in a row were all outside the limits ({limits}): "
                "they admit (almost) no architecture of this space; raise them"
            )
            self._over_limits = True
            raise InfeasibleError(self._exhausted)
        return False

    def _fitness(self, arch: Architecture, reward: float) -> float:
        """The reward a single-number learner uses: MnasNet's scalarisation with cost objectives, else the
        accuracy itself."""
        if self.goal is None or not self.goal.multi:
            return reward
        return self.goal.reward(reward, self.costs(arch))

    def _pareto_order(self, members: list[tuple[Architecture, float]]) -> list[tuple[int, float]]:
        """(Pareto rank, -crowding distance) of each (arch, accuracy): smaller is better (NSGA-II)."""
        from strategies.objectives import crowding_distances, pareto_ranks

        points = [self.goal.point(reward, self.costs(arch)) for arch, reward in members]
        ranks = pareto_ranks(points)
        crowding = crowding_distances(points, ranks)
        return [(int(r), -float(c)) for r, c in zip(ranks, crowding)]

    def _candidate(self) -> Architecture:
        raise NotImplementedError

    def _observe(self, arch: Architecture, reward: float | None) -> None:
        raise NotImplementedError

    def _observe_cached(self, arch: Architecture, reward: float | None) -> None:
        """A drawn candidate was proposed before and its result is visible: by default the strategy learns
        from it again as if it had just been evaluated."""
        self._observe(arch, reward)

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        pass

    # -- save / restore --

    def _identity(self) -> dict[str, Any]:
        return {
            "strategy": self.name,
            "space": self.space.name,
            "space_options": self.space.options(),
            "seed": self.seed,
            "concurrency": self.concurrency,
            "dedupe": self.dedupe,
            "max_retries": self.max_retries,
            "options": self.options(),
            **({"goal": self.goal.to_dict(), "max_infeasible": self.max_infeasible} if self.goal else {}),
        }

    def state_dict(self) -> dict[str, Any]:
        warm = (
            {"warm_start": [a.to_dict() for a in self._warm], "warm_next": self._warm_next}
            if self._warm
            else {}
        )
        state = {
            "format": STATE_FORMAT,
            **self._identity(),
            "proposals": [a.to_dict() for a in self._archs],
            "results": [[i, r.reward, r.error] for i, r in sorted(self._results.items())],
            "applied": self._applied,
            "cache_hits": self._cache_hits,
            "exhausted": self._exhausted,
            "rng": self.rng.bit_generator.state,
            "extra": self._extra_state(),
            **warm,
        }
        if self.goal is not None:
            state["infeasible"] = [self.infeasible_draws, self._infeasible_streak, self._over_limits]
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a fresh strategy (nothing asked yet) built with the same arguments as the saved one."""
        if self._archs:
            raise StateError(f"{self.name}: load_state_dict needs a fresh strategy; this one has proposals")
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise StateError(f"{self.name}: not a strategy state of format {STATE_FORMAT}")
        mine = self._identity()
        # JSON turns tuples into lists; compare through the same round trip.
        mismatched = [k for k in mine if json.loads(json.dumps(mine[k])) != state.get(k)]
        if mismatched:
            k = mismatched[0]
            raise StateError(
                f"saved strategy state has {k}={state.get(k)!r} but this strategy was made with {mine[k]!r}; "
                "make it with the saved arguments"
            )
        self._load_warm_start(state)
        for data in state["proposals"]:
            arch = self.space.from_dict(data)
            h = self._hash(arch)
            self._archs.append(arch)
            self._hashes.append(h)
            self._proposed.add(h)
        self._results = {int(i): Result(None if r is None else float(r), e) for i, r, e in state["results"]}
        self._applied = int(state["applied"])
        for j in range(self._applied):
            self._cache.setdefault(self._hashes[j], self._results[j].reward)
        self._cache_hits = int(state["cache_hits"])
        self._exhausted = state["exhausted"]
        self.rng.bit_generator.state = state["rng"]
        if self.goal is not None:
            draws, streak, over = state["infeasible"]
            self.infeasible_draws, self._infeasible_streak, self._over_limits = (
                int(draws),
                int(streak),
                bool(over),
            )
        self._load_extra_state(state["extra"])

    def _load_warm_start(self, state: dict[str, Any]) -> None:
        """A saved warm start is restored as it was (a resumed search need not score again); one given to the
        constructor must be the saved one."""
        saved = [self.space.from_dict(d) for d in state.get("warm_start", [])]
        if self._warm and saved != self._warm:
            raise StateError(
                f"{self.name}: the saved state has a different warm start ({len(saved)} architectures) from "
                f"the one this strategy was made with ({len(self._warm)}); make it with the saved one or none"
            )
        self._warm = saved
        self._warm_next = int(state.get("warm_next", 0))
