"""RBM: free energy and exact partition function against brute-force enumeration; CD-k and
persistent CD raise the exact log-likelihood of real binarised digits; PCD chains resume."""

import itertools

import pytest
import torch
from sklearn.datasets import load_digits
from torch.utils.data import TensorDataset

from tensorprism.errors import ConfigError, ShapeError
from tensorprism.models import create_model
from tensorprism.train import Trainer
from tensorprism.train.tasks import create_task

QUIET = {"progress": False, "tensorboard": False, "plots": False, "device": "cpu"}


def test_free_energy_and_exact_partition_function_equal_brute_force_sums():
    torch.manual_seed(0)
    m = create_model("rbm", data_shape=(4,), hidden=3).double()
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn_like(p))
    vs = torch.tensor(list(itertools.product((0.0, 1.0), repeat=4)), dtype=torch.float64)
    hs = torch.tensor(list(itertools.product((0.0, 1.0), repeat=3)), dtype=torch.float64)
    e = torch.stack([m.energy(vs, h.expand(16, 3)) for h in hs], 1)  # (16 v, 8 h)
    assert torch.allclose(m.free_energy(vs), -torch.logsumexp(-e, 1))
    assert torch.allclose(m.log_partition(), torch.logsumexp(-e.flatten(), 0))
    assert torch.allclose(torch.logsumexp(m.log_prob(vs), 0), torch.zeros((), dtype=torch.float64), atol=1e-10)
    with pytest.raises(ConfigError, match="AIS"):
        create_model("rbm", data_shape=(4,), hidden=30).log_partition()


@pytest.mark.parametrize("persistent", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["cd1", "pcd"])
def test_contrastive_divergence_raises_the_exact_log_likelihood_of_digits(persistent):
    d = load_digits()
    x = torch.bernoulli(torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16,
                        generator=torch.Generator().manual_seed(0))
    train, val = TensorDataset(x[:600], x[:600, 0, 0, 0]), TensorDataset(x[-200:], x[-200:, 0, 0, 0])
    torch.manual_seed(0)
    m = create_model("rbm", data_shape=(1, 8, 8), hidden=8, num_chains=32 if persistent else 0)
    task = create_task("energy", k=1, persistent=persistent)
    before = Trainer(m, task, val_data=val, **QUIET).evaluate("val")["val/nll"]
    t = Trainer(m, task, train_data=train, val_data=val, epochs=3, batch_size=32, lr=0.05, optimizer="sgd",
                **QUIET).fit()
    assert t.final_metrics["val/nll"] < before - 3
    if persistent:
        assert m.chains.shape == (32, 64) and set(m.chains.unique().tolist()) <= {0.0, 1.0}


def test_energy_task_checks_its_inputs():
    m = create_model("rbm", data_shape=(4,), hidden=2)
    with pytest.raises(ShapeError, match="0s and 1s"):
        create_task("energy").training_step(m, (torch.rand(3, 4), None))
    with pytest.raises(ConfigError, match="num_chains"):
        create_task("energy", persistent=True).training_step(m, (torch.ones(3, 4), None))
