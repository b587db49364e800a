"""Pooling layers that torch.nn lacks: global pooling with a flat output, RoI pool / RoI align.

Max/avg/adaptive/fractional pooling are ``nn.MaxPool2d``, ``nn.AvgPool2d``,
``nn.AdaptiveAvgPool2d`` and ``nn.FractionalMaxPool2d`` (tested equal to the references in
:mod:`tensorprism.functional.pooling`).
"""

from __future__ import annotations

import torch.nn as nn
from torch import Tensor

from ..functional.pooling import roi_align, roi_pool

__all__ = ["GlobalPool2d", "RoIPool", "RoIAlign"]


class GlobalPool2d(nn.Module):
    """``(N, C, H, W) → (N, C)`` (``flatten=True``, like Keras) or ``(N, C, 1, 1)``; ``mode`` 'avg' | 'max' | 'avgmax'."""

    def __init__(self, mode: str = "avg", flatten: bool = True):
        super().__init__()
        if mode not in ("avg", "max", "avgmax"):
            raise ValueError(f"mode={mode!r}; expected 'avg', 'max' or 'avgmax'")
        self.mode, self.flatten = mode, flatten

    def forward(self, x: Tensor) -> Tensor:
        if self.mode == "avg":
            y = x.mean((2, 3), keepdim=True)
        elif self.mode == "max":
            y = x.amax((2, 3), keepdim=True)
        else:
            y = 0.5 * (x.mean((2, 3), keepdim=True) + x.amax((2, 3), keepdim=True))
        return y.flatten(1) if self.flatten else y

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, flatten={self.flatten}"


class RoIPool(nn.Module):
    """RoI max pooling to a fixed ``output_size`` (see :func:`tensorprism.functional.pooling.roi_pool`)."""

    def __init__(self, output_size: int | tuple[int, int], spatial_scale: float = 1.0):
        super().__init__()
        self.output_size, self.spatial_scale = output_size, spatial_scale

    def forward(self, x: Tensor, boxes: Tensor) -> Tensor:
        return roi_pool(x, boxes, self.output_size, self.spatial_scale)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}, spatial_scale={self.spatial_scale}"


class RoIAlign(nn.Module):
    """RoI align with bilinear sampling (see :func:`tensorprism.functional.pooling.roi_align`)."""

    def __init__(self, output_size: int | tuple[int, int], spatial_scale: float = 1.0, sampling_ratio: int = -1,
                 aligned: bool = True):
        super().__init__()
        self.output_size, self.spatial_scale = output_size, spatial_scale
        self.sampling_ratio, self.aligned = sampling_ratio, aligned

    def forward(self, x: Tensor, boxes: Tensor) -> Tensor:
        return roi_align(x, boxes, self.output_size, self.spatial_scale, self.sampling_ratio, self.aligned)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}, spatial_scale={self.spatial_scale}, sampling_ratio={self.sampling_ratio}, aligned={self.aligned}"
