import random

import numpy as np
import pytest
import torch

from tensorprism.data import load_dataset
from tensorprism.data.arrays import ArrayDataset
from tensorprism.data.loaders import make_loader
from tensorprism.data.splits import holdout, stratified_split
from tensorprism.errors import ConfigError


class _Noisy(torch.utils.data.Dataset):
    """Returns random numbers drawn inside the (worker) process, to check worker seeding."""

    def __len__(self):
        return 8

    def __getitem__(self, i):
        return torch.tensor([i, random.random(), float(np.random.rand()), torch.rand(()).item()])


def _batches(loader):
    return [b if isinstance(b, torch.Tensor) else b[1] for b in loader]


def test_same_seed_gives_same_batch_order_regardless_of_global_rng():
    ds = ArrayDataset(torch.randn(500, 4), torch.arange(500) % 3)
    torch.manual_seed(1)
    a = _batches(make_loader(ds, 64, shuffle=True, seed=7))
    torch.manual_seed(2)
    torch.rand(10)
    b = _batches(make_loader(ds, 64, shuffle=True, seed=7))
    c = _batches(make_loader(ds, 64, shuffle=True, seed=8))
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(torch.equal(x, y) for x, y in zip(a, c, strict=True))


def test_epochs_differ_but_sequence_of_epochs_is_reproducible():
    ds = ArrayDataset(torch.arange(20.0).unsqueeze(1), torch.arange(20))
    l1, l2 = make_loader(ds, 5, shuffle=True, seed=3), make_loader(ds, 5, shuffle=True, seed=3)
    e1 = [torch.cat(_batches(l1)) for _ in range(2)]
    e2 = [torch.cat(_batches(l2)) for _ in range(2)]
    assert torch.equal(e1[0], e2[0]) and torch.equal(e1[1], e2[1]) and not torch.equal(e1[0], e1[1])


@pytest.mark.timeout(60)
def test_workers_seed_python_numpy_and_torch_reproducibly():
    a = torch.cat(list(make_loader(_Noisy(), 2, num_workers=2, seed=5)))
    b = torch.cat(list(make_loader(_Noisy(), 2, num_workers=2, seed=5)))
    torch.testing.assert_close(a, b)
    assert len(set(a[:, 1].tolist())) == 8  # the two workers do not share a stream


def test_batched_getitems_matches_per_sample_indexing():
    ds = load_dataset("iris", split="train")
    idx = [3, 1, 4, 1, 5]
    for (xa, ya), (xb, yb) in zip(ds.__getitems__(idx), [ds[i] for i in idx], strict=True):
        assert torch.equal(xa, xb) and ya == yb


def test_holdout_and_stratified_split_validate_their_arguments():
    keep, held = holdout(10, 3, seed=0)
    assert len(held) == 3 and sorted([*keep, *held]) == list(range(10))
    with pytest.raises(ConfigError, match="validation size"):
        holdout(10, 10)
    with pytest.raises(ConfigError, match="summing to 1"):
        stratified_split([0, 1] * 10, (0.5, 0.2, 0.2))
