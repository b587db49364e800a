import pytest
import torch
from torch.utils.data import TensorDataset
from train_helpers import make_blobs


@pytest.fixture
def blobs() -> TensorDataset:
    return make_blobs()


_THREADS = torch.get_num_threads()


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    """Some jobs pin torch to one thread (for bitwise comparisons); do not leak that to other tests."""
    yield
    torch.set_num_threads(_THREADS)
