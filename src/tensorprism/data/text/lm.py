"""Language-modelling datasets: sliding windows (book D5) and contiguous streams for truncated BPTT.

* :class:`SlidingWindowDataset`: windows of ``block`` tokens; the target is either the next token
  after the window (the book's ``x = seq[i:i+L]``, ``y = seq[i+L]``, l. 11757-11764) or the window
  shifted by one (every position predicts its successor, which trains on ``block`` times more
  targets per forward pass).
* :func:`batchify_stream` + :func:`tbptt_segments`: cut one long token stream into ``B`` parallel
  rows and walk them in consecutive segments of ``k`` steps, so a recurrent model can carry its
  hidden state from one segment to the next (truncated BPTT, T1).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import Tensor
from torch.utils.data import Dataset

from ...errors import ConfigError


class SlidingWindowDataset(Dataset):
    """Windows over a token sequence ``ids``: item ``i`` is ``(x (block,), y)`` with
    ``x = ids[s:s+block]``, ``s = i * stride``. ``target="shifted"`` gives ``y = ids[s+1:s+block+1]``,
    ``target="next"`` gives the single token ``y = ids[s+block]``."""

    def __init__(self, ids: Sequence[int] | Tensor, block: int, *, stride: int = 1, target: str = "shifted"):
        self.ids = torch.as_tensor(ids, dtype=torch.long)
        if target not in ("shifted", "next"):
            raise ConfigError(f"target must be 'shifted' or 'next', got {target!r}")
        if block < 1 or stride < 1:
            raise ConfigError("block and stride must be >= 1")
        if len(self.ids) <= block:
            raise ConfigError(f"sequence of {len(self.ids)} tokens is too short for block={block}")
        self.block, self.stride, self.target = block, stride, target

    def __len__(self) -> int:
        return (len(self.ids) - self.block - 1) // self.stride + 1

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        if not 0 <= i < len(self):
            raise IndexError(i)
        s = i * self.stride
        x = self.ids[s:s + self.block]
        y = self.ids[s + 1:s + self.block + 1] if self.target == "shifted" else self.ids[s + self.block]
        return x, y


def batchify_stream(ids: Sequence[int] | Tensor, batch_size: int) -> Tensor:
    """Cut a stream into ``batch_size`` contiguous rows ``(B, N)`` (the tail that does not fill a
    row is dropped). Row ``b`` continues in the next segment where it stopped in this one."""
    ids = torch.as_tensor(ids, dtype=torch.long)
    n = len(ids) // batch_size
    if n < 2:
        raise ConfigError(f"{len(ids)} tokens are too few for batch_size={batch_size}")
    return ids[: n * batch_size].view(batch_size, n)


def tbptt_segments(rows: Tensor, k: int) -> Iterator[tuple[Tensor, Tensor]]:
    """Consecutive ``(x (B, ≤k), y (B, ≤k))`` segments of a batchified stream, ``y`` shifted by one.

    Segments do not overlap (the book's segments ``[t_k, t_{k+1}]`` share their end points and so
    count boundary steps twice, erratum E4)."""
    N = rows.shape[1]
    for s in range(0, N - 1, k):
        e = min(s + k, N - 1)
        yield rows[:, s:e], rows[:, s + 1:e + 1]
