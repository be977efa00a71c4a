"""Built networks: every sampled architecture runs forward and backward; sizes match published figures."""

import dataclasses

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


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"drop_path": 1.5}, "drop_path=1.5 must be in [0, 1)"),
        ({"channels": 0}, "channels=0 must be at least 1"),
        ({"norm": "layer"}, "norm='layer' must be one of batch, none"),
        ({"norm": None}, "norm=None must be one of batch, none"),
        ({"dropout": 1.0}, "dropout=1.0 must be in [0, 1)"),
        ({"dropout": -0.1}, "dropout=-0.1 must be in [0, 1)"),
    ],
)
def test_model_config_is_validated_in_one_line(settings, message):
    with pytest.raises(ValueError) as error:
        S.ModelConfig(**settings)
    assert str(error.value) == f"model config: {message}"


def _batch_norms(model):
    return [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]


@pytest.mark.parametrize("name", sorted(S.SPACES))
@pytest.mark.parametrize("auxiliary", [False, True])
def test_norm_none_builds_no_batch_norm(name, auxiliary):
    space = S.make_space(name)
    arch = space.sample(np.random.default_rng(2))
    config = S.ModelConfig(channels=4, cells_per_stage=1, auxiliary=auxiliary)
    assert _batch_norms(space.build(arch, config))  # the default normalises
    model = space.build(arch, dataclasses.replace(config, norm="none"))
    assert not _batch_norms(model)
    out = model(torch.randn(2, 3, 32, 32))
    logits = out[0] if auxiliary else out
    assert logits.shape == (2, 10) and torch.isfinite(logits).all()


@pytest.mark.parametrize("name", sorted(S.SPACES))
def test_dropout_comes_before_the_classifier_and_is_a_no_op_in_eval(name):
    space = S.make_space(name)
    arch = space.sample(np.random.default_rng(4))
    config = S.ModelConfig(channels=4, cells_per_stage=1)
    torch.manual_seed(0)
    plain = space.build(arch, config)
    torch.manual_seed(0)
    model = space.build(arch, dataclasses.replace(config, dropout=0.5))
    assert not any(isinstance(m, torch.nn.Dropout) for m in plain.modules())
    dropouts = [m for m in model.modules() if isinstance(m, torch.nn.Dropout)]
    assert len(dropouts) == 1 and dropouts[0].p == 0.5
    # Same weights, no other change: in eval mode the two networks compute the same.
    assert model.state_dict().keys() == plain.state_dict().keys()
    x = torch.randn(4, 3, 32, 32)
    model.eval()
    plain.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(x), plain(x), rtol=0, atol=0)
    # In training it is what the classifier reads: its input, seen by a hook, is half zeros.
    seen = []
    model.classifier.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0]))
    model.train()
    model(x)
    assert (seen[-1] == 0).float().mean() > 0.2
