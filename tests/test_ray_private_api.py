"""The ASHA replay of a resumed search (searching/tune_glue.py, EarlyStopping.prime) uses Ray Tune's private
attributes. Ray is pinned in pyproject.toml to the release this was written against; these tests say exactly
what broke when another Ray is installed."""

import inspect

import pytest
import ray
from ray.tune.schedulers import TrialScheduler
from ray.tune.schedulers import async_hyperband as asha

from nas.searching.tune_glue import EarlyStopping, _EarlierTrial

FIX = (
    f"Ray {ray.__version__} changed ASHA's private API that nas/searching/tune_glue.py "
    "EarlyStopping.prime uses; it was written against ray 2.60.x (pyproject.toml pins it): "
    "adapt prime() to the new Ray, or install 2.60.x"
)


def test_asha_keeps_its_brackets_and_metric_sign():
    scheduler = EarlyStopping(epochs=3)
    brackets = getattr(scheduler, "_brackets", None)
    assert isinstance(brackets, list) and len(brackets) == 1, f"{FIX}: no single-bracket `_brackets` list"
    assert getattr(scheduler, "_metric_op", None) == 1.0, f"{FIX}: `_metric_op` is not +1 for mode='max'"
    assert isinstance(brackets[0], getattr(asha, "_Bracket", ())), (
        f"{FIX}: the bracket is not an asha._Bracket"
    )


def test_bracket_on_result_takes_trial_iteration_and_reward():
    params = list(inspect.signature(asha._Bracket.on_result).parameters)
    assert params == ["self", "trial", "cur_iter", "cur_rew"], f"{FIX}: _Bracket.on_result{params}"


def test_priming_with_earlier_curves_makes_asha_stop_a_worse_candidate():
    scheduler = EarlyStopping(epochs=9)
    scheduler.prime([[0.9, 0.92, 0.95], [0.8, 0.85, 0.9], [0.7, 0.75, 0.8]])
    bracket = scheduler._brackets[0]
    try:
        worse = bracket.on_result(_EarlierTrial("new-worse"), 1, 0.1)
        better = bracket.on_result(_EarlierTrial("new-better"), 1, 0.99)
    except (AttributeError, TypeError) as e:
        pytest.fail(f"{FIX}: {type(e).__name__}: {e}")
    assert worse == TrialScheduler.STOP, f"{FIX}: primed rungs did not stop a candidate below their cutoff"
    assert better == TrialScheduler.CONTINUE, f"{FIX}: primed rungs stopped a candidate above their cutoff"
