"""A search's goal beyond accuracy: the limits and objectives of its config, checked before anything is
written, and the costs the strategy and the trial rows see.

Costs are those of the network each candidate is trained as (the preset's model size), computed by the builder
without training (search_spaces/cost.py); latency, when a limit or objective needs it, is measured at batch
1 on the machine running `nas search` (its GPU if it has one, else its CPU), once per architecture. Every
computed cost is kept in RUN/costs.json, so a resumed search sees the same latencies and proposes exactly what
the uninterrupted one would have.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nas.errors import UserError
from strategies.objectives import ACCURACY, COSTS, Goal, GoalError

COSTS_FILE = "costs.json"
CHECK_DRAWS = 200  # uniform draws that must find one architecture within the limits before a run starts
TARGET_SAMPLES = 20  # uniform draws whose median cost is the reward target of a cost without a limit
LIMIT_FIELDS = {"params": "max_params", "flops": "max_flops", "latency_ms": "max_latency_ms"}

log = logging.getLogger(__name__)


def parse_objectives(value: Any) -> list[str]:
    """'val_accuracy,params' or a list -> ['val_accuracy', 'params']; accuracy first even when left out."""
    names = value.split(",") if isinstance(value, str) else list(value or [])
    names = [str(n).strip() for n in names if str(n).strip()]
    return names if names and names[0] == ACCURACY else [ACCURACY, *names]


def goal_of(config) -> Goal | None:
    """The config's Goal, or None for plain accuracy search; a mistake is one UserError naming the setting."""
    limits = {}
    for cost, field_name in LIMIT_FIELDS.items():
        value = getattr(config, field_name)
        if value is None:
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or value <= 0
        ):
            raise UserError(f"{field_name}: {value!r} must be a positive number")
        limits[cost] = value
    try:
        goal = Goal(tuple(config.objectives), limits, dict(config.cost_targets))
    except GoalError as e:
        raise UserError(f"objectives: {e}") from None
    return None if goal.trivial else goal


def validate(config) -> None:
    """The checks make_config runs (no network is built)."""
    unknown = [o for o in config.objectives if o != ACCURACY and o not in COSTS]
    if unknown:
        raise UserError(
            f"objectives: unknown objective {', '.join(unknown)}; "
            f"choose {ACCURACY} and any of {', '.join(COSTS)}"
        )
    extra = sorted(set(config.cost_targets) - set(COSTS))
    if extra:
        raise UserError(f"cost_targets: unknown cost {', '.join(extra)}; costs are {', '.join(COSTS)}")
    goal_of(config)


@dataclass
class GoalPlan:
    """What a search under a goal needs at run time: the goal, with its reward targets resolved, and the "
    "costs."""

    config: Any  # SearchConfig with cost_targets filled in
    goal: Goal | None
    costs: Any  # search_spaces.cost.CostModel, or None without a goal

    def strategy_options(self) -> dict[str, Any]:
        return {} if self.goal is None else {"goal": self.goal, "costs": self.costs}

    def keep_costs_in(self, run_path: Path) -> None:
        """Persist every newly computed cost to RUN/costs.json (new-then-rename)."""
        if self.costs is None:
            return
        from nas import atomic

        path = Path(run_path) / COSTS_FILE
        self.costs.on_new = lambda: atomic.write_json(path, {"format": 1, "costs": self.costs.entries()})
        self.costs.on_new()

    def row_costs(self, arch, row: dict[str, Any]) -> dict[str, Any]:
        """Cost fields for a trial row: latency when measured, params/flops when the evaluator gave none."""
        if self.costs is None:
            return {}
        known = self.costs.known(arch) or {}
        out = {"latency_ms": known.get("latency_ms")}
        for name in ("params", "flops"):
            if row.get(name) is None and name in known:
                out[name] = known[name]
        return out


def plan(config, model, *, run_path: Path | None = None) -> GoalPlan:
    """Check that the limits admit an architecture and resolve the reward targets, before a run is written.
    `model`: the ModelConfig each candidate is trained as (the run's preset fitted to its data);
    `run_path`: a resumed run's folder, whose costs.json is read first."""
    goal = goal_of(config)
    if goal is None:
        return GoalPlan(config, None, None)
    import search_spaces
    from search_spaces.cost import CostModel

    space = search_spaces.make_space(config.space, **config.space_options)
    device = None
    if "latency_ms" in goal.costs_needed:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    costs = CostModel(space, model, latency_device=device)
    saved = Path(run_path) / COSTS_FILE if run_path is not None else None
    if saved is not None and saved.is_file():
        try:
            costs.load(json.loads(saved.read_text())["costs"])
        except (ValueError, KeyError, TypeError) as e:
            raise UserError(
                f"{saved} is corrupt ({e}); the run cannot be resumed with the same costs"
            ) from None

    rng = np.random.default_rng(config.seed)
    samples, feasible = [], False
    need_targets = [c for c in goal.cost_objectives if c not in goal.targets and c not in goal.limits]
    for _ in range(CHECK_DRAWS):
        sample = costs(space.sample(rng))
        samples.append(sample)
        feasible = feasible or goal.feasible(sample)
        if feasible and (not need_targets or len(samples) >= TARGET_SAMPLES):
            break
    if not feasible:
        smallest = ", ".join(
            f"the smallest {name} seen was {min(s[name] for s in samples):,.6g}"
            for name in sorted(goal.limits)
        )
        flags = " / ".join(f"--{LIMIT_FIELDS[n].replace('_', '-')}" for n in sorted(goal.limits))
        raise UserError(
            f"no architecture among {CHECK_DRAWS} drawn from {config.space} at preset {config.preset} meets "
            f"the limits ({smallest}); raise {flags}"
        )
    if any(c not in goal.targets for c in goal.cost_objectives):
        goal = goal.with_default_targets(samples[:TARGET_SAMPLES])
        config = dataclasses.replace(config, cost_targets={**config.cost_targets, **goal.targets})
        log.info("reward targets (limits, else medians of uniform samples): %s", goal.targets)
    return GoalPlan(config, goal, costs)
