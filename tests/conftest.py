import os

import pytest
import torch

from tensorprism.testing import SHARED_DATA

# Tests find the shared real data beside the repository unless told otherwise.
if "TENSORPRISM_DATA" not in os.environ and SHARED_DATA.exists():
    os.environ["TENSORPRISM_DATA"] = str(SHARED_DATA.resolve())
os.environ.setdefault("MPLBACKEND", "Agg")

# Under pytest-xdist (`make test` runs two workers on the two cores) each worker keeps to one
# intra-op thread: two workers with torch's default of one thread per core would oversubscribe
# the machine and run slower than the serial suite.
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    yield
