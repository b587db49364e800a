"""Federated averaging: size-weighted averaging (not the book's plain mean), client splits, and a
few rounds on separable data."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from tensorprism.errors import ConfigError
from tensorprism.privacy.federated import (
    fedavg_weights,
    federated_averaging,
    split_iid,
    split_label_skew,
)


def test_erratum_fedavg_weights_clients_by_their_data_size():
    """Catalogue ch09-11 §5 item 26 (book L24559, L24968): theta = (1/n) sum_i theta_i is an
    unweighted mean; FedAvg (McMahan et al. 2017) weights client k by n_k / n. With one client of 10
    examples and one of 990, the average must sit near the large client."""
    small, large = {"w": torch.zeros(3), "n": torch.tensor(1)}, {"w": torch.ones(3), "n": torch.tensor(7)}
    avg = fedavg_weights([small, large], [10, 990])
    assert torch.allclose(avg["w"], torch.full((3,), 0.99))
    assert not torch.allclose(avg["w"], (small["w"] + large["w"]) / 2)  # the book's mean: 0.5
    assert int(avg["n"]) == 7  # integer buffers come from the largest client
    with pytest.raises(ConfigError):
        fedavg_weights([small], [1, 2])


def test_splits_cover_the_data_and_label_skew_is_skewed():
    labels = torch.arange(1000) % 10
    for parts in (split_iid(1000, 10), split_label_skew(labels, 10), split_label_skew(labels, 10, alpha=0.1)):
        flat = sorted(i for p in parts for i in p)
        assert flat == list(range(1000))
    iid = [len(set(labels[p].tolist())) for p in split_iid(1000, 10)]
    shards = [len(set(labels[p].tolist())) for p in split_label_skew(labels, 10, shards_per_client=2)]
    assert min(iid) == 10 and max(shards) <= 2
    with pytest.raises(ConfigError):
        split_iid(5, 10)


def test_federated_averaging_learns_from_skewed_clients():
    torch.manual_seed(0)
    x = torch.randn(600, 2)
    y = (x[:, 0] + x[:, 1] > 0).long()
    data = TensorDataset(x, y)

    def local_train(model, subset):
        opt = torch.optim.SGD(model.parameters(), lr=0.5)
        for xb, yb in DataLoader(subset, batch_size=50, shuffle=True):
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            opt.step()

    def evaluate(model):
        with torch.no_grad():
            return float((model(x).argmax(1) == y).float().mean())

    model = nn.Linear(2, 2)
    clients = split_label_skew(y, 6, shards_per_client=1)  # each client holds one class only
    history = federated_averaging(model, data, clients, rounds=5, local_train=local_train, evaluate=evaluate)
    assert len(history) == 5 and history[-1]["clients"] == 6
    assert history[-1]["acc"] > 0.9
