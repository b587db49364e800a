import os

import pytest
import torch

from tensorprism.testing import SHARED_DATA

# Tests find the shared real data beside the repository unless told otherwise.
if "TENSORPRISM_DATA" not in os.environ and SHARED_DATA.exists():
    os.environ["TENSORPRISM_DATA"] = str(SHARED_DATA.resolve())
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    yield
