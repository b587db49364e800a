"""In-memory datasets: feature tensors and (compact uint8) image tensors with labels.

Both return ``(x, y)`` pairs, support the batched ``__getitems__`` fetch that
:class:`torch.utils.data.DataLoader` uses when present (one indexing call per batch instead of one
per sample), and expose ``tensors()`` for full-batch work.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.utils.data import Dataset


class ArrayDataset(Dataset):
    """Samples ``x[i]`` with targets ``y[i]``.

    Args:
        x: features ``(N, ...)``.
        y: targets ``(N,)`` (class indices) or ``(N, ...)``.
        classes: class names, when the task is classification.
        meta: anything else worth keeping (split seed, standardisation statistics...).
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, *, classes: Sequence[str] | None = None, name: str = "", **meta):
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} samples but y has {len(y)}; they must match")
        self.data, self.targets = x, y
        self.classes = list(classes) if classes is not None else None
        self.name = name
        self.meta = meta

    def __len__(self) -> int:
        return len(self.data)

    def _x(self, raw: torch.Tensor) -> torch.Tensor:
        """Turn stored samples (a batch or one) into what the dataset returns."""
        return raw

    def __getitem__(self, i):
        return self._x(self.data[i]), self.targets[i]

    def __getitems__(self, indices: list[int]):
        idx = torch.as_tensor(indices, dtype=torch.long)
        x, y = self._x(self.data[idx]), self.targets[idx]
        return list(zip(x.unbind(0), y.unbind(0), strict=True))

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All samples as one ``(x, y)`` batch."""
        return self._x(self.data), self.targets

    @property
    def num_classes(self) -> int | None:
        return len(self.classes) if self.classes is not None else None

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self._x(self.data[:1]).shape[1:])

    def __repr__(self) -> str:
        extra = f", classes={self.num_classes}" if self.classes is not None else ""
        return f"{type(self).__name__}({self.name!r}, n={len(self)}, x={self.sample_shape}{extra})"


class ImageDataset(ArrayDataset):
    """uint8 images ``(N, C, H, W)`` kept compact in memory, converted per batch on access.

    Args:
        images: ``uint8`` tensor ``(N, C, H, W)``.
        labels: ``int64`` tensor ``(N,)``.
        mean, std: per-channel statistics used when ``normalize`` (of images scaled to [0, 1]).
        raw: return the stored ``uint8`` tensors unchanged.
        normalize: with ``raw=False``, return ``(x / 255 - mean) / std``; otherwise ``x / 255``
            in [0, 1] (the range the augmentations in :mod:`tensorprism.data.augment` expect).
    """

    def __init__(
        self, images: torch.Tensor, labels: torch.Tensor, *, mean: Sequence[float], std: Sequence[float],
        raw: bool = False, normalize: bool = True, **kwargs,
    ):
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(f"images must be uint8 (N, C, H, W), got {images.dtype} {tuple(images.shape)}")
        super().__init__(images, labels, **kwargs)
        self.mean, self.std = tuple(mean), tuple(std)
        self.raw, self.normalize = raw, normalize
        c = images.shape[1]
        std_t = torch.tensor(self.std).view(c, 1, 1)
        self._scale = 255.0 * std_t  # (x / 255 - mean) / std == x / (255 std) - mean / std
        self._offset = torch.tensor(self.mean).view(c, 1, 1) / std_t

    def _x(self, raw: torch.Tensor) -> torch.Tensor:
        if self.raw:
            return raw
        if not self.normalize:
            return raw.float().div_(255.0)
        return raw.float().div_(self._scale).sub_(self._offset)
