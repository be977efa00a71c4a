import pytest
import torch
from torch import nn

from search_spaces.op_names import OP_NAMES
from search_spaces.ops import OPS, register_op


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("stride", [1, 2])
def test_op_output_shape(name, stride):
    op = OPS[name](8, stride, "batch")
    x = torch.randn(2, 8, 16, 16)
    assert op(x).shape == (2, 8, 16 // stride, 16 // stride)


@pytest.mark.parametrize("name", sorted(OPS))
def test_ops_honour_norm_none(name):
    for stride in (1, 2):
        with_norm = OPS[name](8, stride, "batch")
        without = OPS[name](8, stride, "none")
        assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in without.modules())
        # The same op otherwise: what batch norm brought, and nothing else, is gone.
        norm_params = sum(
            p.numel() for m in with_norm.modules() if isinstance(m, nn.BatchNorm2d) for p in m.parameters()
        )
        params = sum(p.numel() for p in with_norm.parameters())
        assert sum(p.numel() for p in without.parameters()) == params - norm_params


def test_op_names_without_torch_match_the_registry():
    assert list(OPS) == OP_NAMES


def test_registering_a_name_twice_is_an_error():
    with pytest.raises(ValueError, match="already registered"):
        register_op("identity")(lambda c, stride, norm: None)
