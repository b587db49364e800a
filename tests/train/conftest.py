import pytest
from torch.utils.data import TensorDataset
from train_helpers import make_blobs


@pytest.fixture
def blobs() -> TensorDataset:
    return make_blobs()
