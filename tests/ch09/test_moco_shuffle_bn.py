"""MoCo's shuffled BatchNorm simulated on one device: keys are normalised in BN groups of a permuted
batch, so a key's BatchNorm statistics come from other samples than its query's."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from tensorprism.errors import ConfigError
from tensorprism.models import create_model
from tensorprism.train.tasks import create_task
from tensorprism.train.tasks.ssl import grouped_forward, shuffled_grouped_forward


def _groups_seen(fn_wrapper, n, groups):
    """Which samples share each sample's forward chunk (its BN batch)."""
    seen = {}

    def record(chunk):
        ids = chunk[:, 0].long().tolist()
        for i in ids:
            seen[i] = set(ids)
        return chunk

    fn_wrapper(record, torch.arange(n, dtype=torch.float32)[:, None], groups)
    return seen


def test_keys_and_queries_are_normalised_with_different_samples():
    n, g = 64, 4
    gen = torch.Generator().manual_seed(0)
    query = _groups_seen(grouped_forward, n, g)
    key = _groups_seen(lambda f, x, k: shuffled_grouped_forward(f, x, k, gen), n, g)
    assert all(len(query[i]) == len(key[i]) == n // g for i in range(n))
    overlap = [len(query[i] & key[i]) - 1 for i in range(n)]  # other samples in both BN batches
    assert sum(overlap) / n < 2 * (n // g - 1) / g  # ~ chance (15/4 here), far from all 15
    assert sum(query[i] == key[i] for i in range(n)) == 0


def test_shuffled_forward_returns_each_samples_own_output():
    x = torch.randn(12, 5)
    f = nn.Linear(5, 3)
    torch.testing.assert_close(shuffled_grouped_forward(f, x, 3, torch.Generator().manual_seed(1)), f(x))


def test_a_keys_bn_statistics_do_not_come_from_its_query_group():
    """With BatchNorm in train mode: changing a sample that is in i's query group but not in its key
    group changes the query of i and leaves the key of i as it was (no leakage through statistics)."""
    torch.manual_seed(0)
    bn_net = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4)).train()
    n, g = 16, 4
    x = torch.randn(n, 4)
    gen_state = torch.Generator().manual_seed(3).get_state()
    key = shuffled_grouped_forward(bn_net, x, g, torch.Generator().set_state(gen_state))
    key_groups = _groups_seen(lambda f, xx, k: shuffled_grouped_forward(f, xx, k, torch.Generator().set_state(gen_state)),
                              n, g)
    query_groups = _groups_seen(grouped_forward, n, g)
    i = next(i for i in range(n) if (query_groups[i] - key_groups[i]))
    j = next(iter(query_groups[i] - key_groups[i]))
    x2 = x.clone()
    x2[j] += 10.0
    key2 = shuffled_grouped_forward(bn_net, x2, g, torch.Generator().set_state(gen_state))
    q, q2 = grouped_forward(bn_net, x, g), grouped_forward(bn_net, x2, g)
    assert not torch.allclose(q[i], q2[i])  # the query saw j's statistics
    torch.testing.assert_close(key2[i], key[i])  # the key did not


def test_moco_with_shuffled_bn_trains_and_refuses_tiny_batches():
    net = create_model("ssl-net", encoder_config={"in_chans": 1, "layers": [1, 1, 1]}, method="moco", proj_dim=8,
                       proj_hidden=16, queue_size=32)
    task = create_task("moco", shuffle_bn_groups=4)
    x = torch.rand(8, 1, 16, 16)
    loss = task.loss(net, [x, x.flip(-1)])["loss"]
    loss.backward()
    assert math.isfinite(float(loss.detach()))
    with pytest.raises(ConfigError, match="at least 8"):
        task.loss(net, [x[:6], x[:6]])
    with pytest.raises(ConfigError):
        create_task("moco", shuffle_bn_groups=-1)
