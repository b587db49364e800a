"""Padding, collating and length bucketing for variable-length sequences (book D4, D6, R12).

Batches are padded to their own longest sequence and carry the lengths, which the recurrent
layers of :mod:`tensorprism.nn.recurrent` take as ``lengths=`` (packed sequences) and the
attention modules turn into masks. :class:`BucketBatchSampler` groups sequences of similar length
(the book's ``BucketIterator``) so little compute is spent on padding.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

import torch
from torch import Tensor
from torch.utils.data import Sampler

from ...errors import ConfigError


def pad_sequences(seqs: Sequence[Sequence[int]], *, maxlen: int | None = None, padding: str = "post",
                  truncating: str = "post", value: int = 0) -> Tensor:
    """Stack integer sequences into ``(B, L)``, padding with ``value``.

    ``padding``/``truncating`` are ``"pre"`` or ``"post"`` as in Keras' ``pad_sequences`` (whose
    defaults are both ``"pre"``; the book's generators use ``truncating="pre"`` to keep the most
    recent characters, l. 11786). The default here is ``"post"``, which is what packing expects.
    """
    for name, v in (("padding", padding), ("truncating", truncating)):
        if v not in ("pre", "post"):
            raise ConfigError(f"{name} must be 'pre' or 'post', got {v!r}")
    L = maxlen if maxlen is not None else max((len(s) for s in seqs), default=0)
    out = torch.full((len(seqs), L), value, dtype=torch.long)
    for i, s in enumerate(seqs):
        s = list(s)
        if len(s) > L:
            s = s[-L:] if truncating == "pre" else s[:L]
        if not s:
            continue
        if padding == "post":
            out[i, : len(s)] = torch.as_tensor(s)
        else:
            out[i, L - len(s):] = torch.as_tensor(s)
    return out


class PadCollator:
    """Collate items that are tuples of sequences and scalars into a dict of tensors.

    ``names`` label the tuple's fields. A sequence field ``"src"`` becomes ``"src" (B, L)`` padded
    with ``pad_id`` (post) and ``"src_lengths" (B,)``; a scalar field becomes a ``(B,)`` tensor.
    Example: ``PadCollator(("x", "y"))`` for ``(token_ids, label)`` items.
    """

    def __init__(self, names: Sequence[str] = ("x", "y"), pad_id: int = 0):
        self.names, self.pad_id = tuple(names), pad_id

    def __call__(self, items: Sequence[tuple]) -> dict[str, Tensor]:
        if items and len(items[0]) != len(self.names):
            raise ConfigError(f"items have {len(items[0])} fields but names are {self.names}")
        out: dict[str, Tensor] = {}
        for k, name in enumerate(self.names):
            col = [it[k] for it in items]
            first = col[0]
            if isinstance(first, (list, tuple)) or (isinstance(first, Tensor) and first.dim() == 1):
                out[name] = pad_sequences(col, value=self.pad_id)
                out[name + "_lengths"] = torch.tensor([len(c) for c in col], dtype=torch.long)
            else:
                out[name] = torch.as_tensor(col)
        return out


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of indices whose sequences have similar lengths.

    Each epoch the indices are shuffled, cut into pools of ``batch_size * pool_factor``, each pool
    is sorted by length and cut into batches, and the batches are shuffled. ``shuffle=False`` gives
    deterministic length-sorted batches (for evaluation).
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, *, shuffle: bool = True,
                 pool_factor: int = 50, drop_last: bool = False, seed: int = 0):
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        self.lengths, self.batch_size, self.shuffle = list(lengths), batch_size, shuffle
        self.pool, self.drop_last, self.seed, self.epoch = batch_size * pool_factor, drop_last, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _batches(self) -> list[list[int]]:
        idx = list(range(len(self.lengths)))
        rng = random.Random(self.seed + self.epoch)
        if self.shuffle:
            rng.shuffle(idx)
            pools = [idx[i:i + self.pool] for i in range(0, len(idx), self.pool)]
        else:
            pools = [idx]
        batches = []
        for pool in pools:
            pool.sort(key=lambda i: self.lengths[i])
            for i in range(0, len(pool), self.batch_size):
                b = pool[i:i + self.batch_size]
                if len(b) == self.batch_size or not self.drop_last:
                    batches.append(b)
        if self.shuffle:
            rng.shuffle(batches)
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        yield from self._batches()
        self.epoch += 1

    def __len__(self) -> int:
        return len(self._batches())
