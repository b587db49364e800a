"""Input validation and normalisation for image batches and feature tables.

* :func:`check_images` -- the one place that checks an image batch is ``(N, C, H, W)``; a
  channels-last batch gets "images look channels-last; call .permute(0,3,1,2)".
* :class:`Normalize` -- per-channel ``(x - mean) / std`` on a batch, on any device, invertible.
* :class:`Standardizer` -- per-feature standardisation fitted on training data only.
* Standard statistics of the image datasets (per channel, of pixels scaled to [0, 1], computed on
  each training set): :data:`MNIST_STATS`, :data:`FASHION_MNIST_STATS`, :data:`CIFAR10_STATS`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..errors import ShapeError

# (mean, std) per channel of the 60,000 / 50,000 training images scaled to [0, 1].
MNIST_STATS = ((0.1307,), (0.3081,))
FASHION_MNIST_STATS = ((0.2860,), (0.3530,))
CIFAR10_STATS = ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))

_CHANNELS = (1, 2, 3, 4)  # channel counts of ordinary images (grey, grey+alpha, RGB, RGBA)


def check_images(x: torch.Tensor, channels: int | None = None, *, floating: bool = False, name: str = "images") -> torch.Tensor:
    """Check that ``x`` is a batch of images ``(N, C, H, W)``; return it unchanged.

    Raises :class:`ShapeError` for a wrong rank, a channels-last layout ``(N, H, W, C)``, a
    channel count other than ``channels`` (when given) or, with ``floating``, an integer dtype.
    """
    if not isinstance(x, torch.Tensor):
        raise ShapeError(f"{name} must be a torch.Tensor (N, C, H, W), got {type(x).__name__}")
    if x.ndim != 4:
        hint = " (a single image? add the batch dimension with .unsqueeze(0))" if x.ndim == 3 else ""
        raise ShapeError(f"{name} must be (N, C, H, W) but got {x.ndim} dims {tuple(x.shape)}{hint}")
    c_first, c_last = x.shape[1], x.shape[3]
    expected = (channels,) if channels is not None else _CHANNELS
    if c_first not in expected and c_last in expected:
        want = f"(N, {channels}, H, W)" if channels is not None else "(N, C, H, W)"
        raise ShapeError(
            f"expected {name} {want} but got {tuple(x.shape)}: images look channels-last; "
            f"call .permute(0,3,1,2)"
        )
    if channels is not None and c_first != channels:
        raise ShapeError(f"expected {name} with {channels} channels (N, {channels}, H, W) but got {tuple(x.shape)}")
    if floating and not x.is_floating_point():
        raise ShapeError(f"{name} must be floating point in [0, 1], got {x.dtype}; convert with x.float() / 255")
    return x


class Normalize(nn.Module):
    """Per-channel normalisation ``y = (x - mean_c) / std_c`` of a batch ``(N, C, H, W)``.

    Works on any device and dtype (the statistics follow the input, or move with ``.to``); ``inverse``
    undoes it (e.g. to plot normalised images).
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        if len(mean) != len(std):
            raise ValueError(f"mean has {len(mean)} channels but std has {len(std)}")
        if min(std) <= 0:
            raise ValueError(f"std must be positive, got {tuple(std)}")
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, self.mean.shape[1], floating=True)
        return (x - self.mean.to(x.device, x.dtype)) / self.std.to(x.device, x.dtype)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return y * self.std.to(y.device, y.dtype) + self.mean.to(y.device, y.dtype)

    def extra_repr(self) -> str:
        fmt = lambda t: "(" + ", ".join(f"{v:.4f}" for v in t.flatten().tolist()) + ")"  # noqa: E731
        return f"mean={fmt(self.mean)}, std={fmt(self.std)}"


class Standardizer:
    """Per-feature standardisation ``(x - mean_) / scale_`` fitted on training rows only.

    Features with zero variance in the training data (e.g. always-blank pixels) get
    ``scale_ = 1`` so they map to 0 instead of dividing by zero.
    """

    def fit(self, x: torch.Tensor) -> Standardizer:
        x = torch.as_tensor(x, dtype=torch.float32)
        self.mean_ = x.mean(0)
        std = x.std(0, unbiased=False)
        self.scale_ = torch.where(std > 0, std, torch.ones_like(std))
        return self

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        return (torch.as_tensor(x, dtype=torch.float32) - self.mean_) / self.scale_

    def inverse_transform(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.scale_ + self.mean_


__all__ = ["CIFAR10_STATS", "FASHION_MNIST_STATS", "MNIST_STATS", "Normalize", "Standardizer", "check_images"]
