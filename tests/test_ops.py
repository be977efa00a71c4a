import pytest
import torch

from search_spaces.ops import OPS, register_op


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("stride", [1, 2])
def test_op_output_shape(name, stride):
    op = OPS[name](8, stride)
    x = torch.randn(2, 8, 16, 16)
    assert op(x).shape == (2, 8, 16 // stride, 16 // stride)


def test_registering_a_name_twice_is_an_error():
    with pytest.raises(ValueError, match="already registered"):
        register_op("identity")(lambda C, stride: None)
