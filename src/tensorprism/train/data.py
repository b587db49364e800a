"""Data plumbing for the Trainer: a resumable distributed sampler, device transfer, batch sizes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch.utils.data import Dataset, DistributedSampler


class ResumableSampler(DistributedSampler):
    """:class:`~torch.utils.data.DistributedSampler` that can start part-way through an epoch.

    The order of epoch ``e`` is a permutation drawn from a generator seeded with ``seed + e``
    (exactly DistributedSampler's), so it depends on nothing but the seed and the epoch. A resumed
    run calls :meth:`set_position` with the number of samples this process had already consumed in
    the interrupted epoch and continues with the very next one. With ``num_replicas=1`` it is a
    plain seeded shuffler (no process group needed).
    """

    def __init__(self, dataset: Dataset, num_replicas: int = 1, rank: int = 0, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False):
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed,
                         drop_last=drop_last)
        self.start = 0

    def set_position(self, start: int) -> None:
        """Skip the first ``start`` indices of this process's share of the current epoch."""
        self.start = start

    def __iter__(self) -> Iterator[int]:
        indices = list(super().__iter__())
        return iter(indices[self.start:])

    def __len__(self) -> int:
        return self.num_samples - self.start


class FullBatch(Dataset):
    """A one-item dataset whose only batch is ``obj`` itself (full-batch graph learning).

    ``Trainer(train_data=FullBatch(graph))`` gives one optimiser step per epoch on the whole graph;
    the task selects nodes with the graph's train/val/test masks.
    """

    def __init__(self, obj: Any):
        self.obj = obj

    def __len__(self) -> int:
        return 1

    def __getitem__(self, i: int) -> Any:
        return self.obj

    @staticmethod
    def collate_fn(items: list[Any]) -> Any:
        return items[0]


def to_device(batch: Any, device: torch.device) -> Any:
    """Move tensors (and objects with ``.to``, e.g. PyG ``Data``) in nested containers to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # namedtuple
        return type(batch)(*(to_device(v, device) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    if hasattr(batch, "to") and callable(batch.to):
        return batch.to(device)
    return batch


def batch_size_of(batch: Any) -> int:
    """Number of examples in a batch: leading size of its first tensor (1 if there is none)."""
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0]) if batch.dim() else 1
    if isinstance(batch, Mapping):
        batch = list(batch.values())
    if isinstance(batch, (list, tuple)):
        for item in batch:
            if isinstance(item, torch.Tensor):
                return batch_size_of(item)
    n = getattr(batch, "num_graphs", None)
    return int(n) if n is not None else 1
