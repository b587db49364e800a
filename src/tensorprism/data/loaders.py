"""Seeded, reproducible DataLoaders.

:func:`make_loader` builds a :class:`~torch.utils.data.DataLoader` whose shuffling comes from its
own ``torch.Generator`` seeded with ``seed`` (not from the global RNG), and whose workers seed
``random``, ``numpy`` and ``torch`` from that generator (:func:`seed_worker`). The same seed gives
the same batches in the same order, whatever else the program draws from the global RNGs and for
any ``num_workers``. Re-iterating the loader continues the generator, so epochs differ from each
other but the whole sequence of epochs is reproducible.
"""

from __future__ import annotations

import random

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset


def seed_worker(worker_id: int) -> None:
    """``worker_init_fn``: seed Python's and numpy's RNGs from the worker's torch seed.

    PyTorch already gives each worker ``base_seed + worker_id`` for torch (``base_seed`` drawn
    from the loader's generator); this extends it to ``random`` and ``numpy``.
    """
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)


def make_loader(
    dataset: Dataset, batch_size: int = 64, *, shuffle: bool = False, seed: int = 0,
    num_workers: int = 0, drop_last: bool = False, pin_memory: bool = False, **kwargs,
) -> DataLoader:
    """A DataLoader with seeded shuffling and worker seeding (same ``seed`` -> same batch order).

    Extra ``kwargs`` go to :class:`~torch.utils.data.DataLoader` (``sampler``, ``collate_fn``...).
    A custom ``sampler`` should draw from ``loader.generator`` to stay reproducible.
    """
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle, num_workers=num_workers, drop_last=drop_last,
        pin_memory=pin_memory, generator=generator, worker_init_fn=seed_worker, **kwargs,
    )


__all__ = ["make_loader", "seed_worker"]
