import pytest
import torch

# One thread per test process: torch's spinning worker threads make tiny ops slow when processes share 2
# cores.
torch.set_num_threads(1)


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(0)
