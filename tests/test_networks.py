"""Built networks: every sampled architecture runs forward and backward; sizes match published figures."""

import numpy as np
import pytest
import torch

import search_spaces as S
from search_spaces.known_cells import DARTS_V2, KNOWN_CELLS
from search_spaces.nb201 import Nb201Arch
from search_spaces.ops import set_drop_path_rate
from search_spaces.stats import model_stats

TINY = S.ModelConfig(channels=4, cells_per_stage=1)


@pytest.mark.parametrize("name", sorted(S.SPACES))
def test_200_random_archs_train_a_step(name):
    space = S.make_space(name)
    rng = np.random.default_rng(1)
    x = torch.randn(2, 3, 32, 32)
    for _ in range(200):
        model = space.build(space.sample(rng), TINY)
        out = model(x)
        assert out.shape == (2, 10)
        out.sum().backward()
        # Not every weight gets a gradient: NB201 keeps edges that lead nowhere (as the benchmark counts them)
        # and a nasnet cell that ignores c_{k-1} leaves its predecessor unused. The stem always does.
        assert model.stem[0].weight.grad is not None and torch.isfinite(model.stem[0].weight.grad).all()


@pytest.mark.parametrize("name", sorted(S.SPACES))
def test_auxiliary_head_and_drop_path(name, rng):
    space = S.make_space(name)
    model = space.build(
        space.sample(rng), S.ModelConfig(channels=4, cells_per_stage=1, drop_path=0.2, auxiliary=True)
    )
    set_drop_path_rate(model, 0.2)
    logits, aux = model(torch.randn(2, 3, 32, 32))
    assert logits.shape == aux.shape == (2, 10)
    model.eval()
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_darts_v2_parameter_count_matches_paper():
    # Liu et al. 2019, table 1: DARTS (second order) 3.3M parameters at C=36, 20 cells.
    model = S.make_space("nasnet").build(DARTS_V2, S.ModelConfig(channels=36, cells_per_stage=6))
    assert 3.2e6 <= model_stats(model).params <= 3.4e6


def test_nb201_parameter_range_matches_benchmark():
    # Dong & Yang 2020, fig. 3: NAS-Bench-201 cells at C=16, N=5 have 0.07M to 1.53M parameters.
    space = S.make_space("nb201")
    config = S.ModelConfig(channels=16, cells_per_stage=5)
    largest = model_stats(space.build(Nb201Arch(("nor_conv_3x3",) * 6), config)).params
    smallest = model_stats(space.build(Nb201Arch(("none",) * 6), config)).params
    assert round(largest / 1e6, 2) == 1.53
    assert round(smallest / 1e6, 2) == 0.07


@pytest.mark.parametrize("name", sorted(KNOWN_CELLS))
def test_known_cells_build(name):
    model = S.make_space("nasnet").build(KNOWN_CELLS[name], S.ModelConfig(channels=8, cells_per_stage=1))
    stats = model_stats(model)
    assert stats.params > 0 and stats.flops > 0
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 10)


def test_flops_grow_with_width():
    space = S.make_space("nasnet")
    small = model_stats(space.build(DARTS_V2, S.ModelConfig(channels=8, cells_per_stage=1))).flops
    large = model_stats(space.build(DARTS_V2, S.ModelConfig(channels=16, cells_per_stage=1))).flops
    assert 3 < large / small < 4.5  # most cost is in convs whose cost scales with C^2


def test_model_config_is_validated():
    with pytest.raises(ValueError, match="drop_path=1.5 is out of range"):
        S.ModelConfig(drop_path=1.5)
    with pytest.raises(ValueError, match="channels=0"):
        S.ModelConfig(channels=0)
