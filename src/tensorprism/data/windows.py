r"""Sliding windows over a time series for direct multi-horizon forecasting.

Item ``i`` of :class:`SlidingWindows` is the pair

.. math::
    x_i = z_{s:s+L} \in \mathbb R^{L \times F}, \qquad y_i = z_{s+L:s+L+H} \in \mathbb R^{H}
    \ \text{(or } \mathbb R^{H \times F_y}\text{)}, \qquad s = i \cdot \text{stride},

for a series :math:`z \in \mathbb R^{T \times F}`, look-back ``window`` :math:`L` and
``horizon`` :math:`H`: the batches the ``"forecasting"`` task and the ``rnn-forecaster`` model
expect. Windows never reach past the end of the series, so there are
:math:`\lfloor (T - L - H) / \text{stride} \rfloor + 1` of them.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from ..errors import ConfigError, ShapeError

__all__ = ["SlidingWindows"]


class SlidingWindows(Dataset):
    """``(x (window, F), y)`` windows over a series ``(T,)`` or ``(T, F)`` (float32).

    Args:
        series: the values, ``(T,)`` (univariate, read as ``F = 1``) or ``(T, F)``; NumPy or torch.
        window: look-back length :math:`L \\ge 1`.
        horizon: number of future values :math:`H \\ge 1` per target.
        stride: step between the starts of consecutive windows.
        target_features: ``None`` (default): targets ``(horizon,)`` of feature 0 (what
            ``rnn-forecaster`` predicts); an integer ``k``: targets ``(horizon, k)`` of the first
            ``k`` features.
    """

    def __init__(self, series, window: int, horizon: int, *, stride: int = 1,
                 target_features: int | None = None):
        z = torch.as_tensor(np.asarray(series) if not isinstance(series, Tensor) else series,
                            dtype=torch.float32)
        if z.dim() == 1:
            z = z[:, None]
        if z.dim() != 2:
            raise ShapeError(f"SlidingWindows expects a series of shape (T,) or (T, F) but got "
                             f"{tuple(z.shape)}; stack several series along the last axis")
        for name, v in (("window", window), ("horizon", horizon), ("stride", stride)):
            if not isinstance(v, int) or v < 1:
                raise ConfigError(f"{name} must be an integer >= 1, got {v!r}")
        if target_features is not None and not 1 <= target_features <= z.shape[1]:
            raise ConfigError(f"target_features must be None or in 1..{z.shape[1]} (the series' "
                              f"features), got {target_features!r}")
        if len(z) < window + horizon:
            raise ConfigError(f"a series of {len(z)} values is too short for window={window} + "
                              f"horizon={horizon}; use a shorter window or horizon")
        self.series, self.window, self.horizon, self.stride = z, window, horizon, stride
        self.target_features = target_features

    def __len__(self) -> int:
        return (len(self.series) - self.window - self.horizon) // self.stride + 1

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"window {i} out of range for {len(self)} windows")
        s = (i % len(self)) * self.stride
        x = self.series[s:s + self.window]
        future = self.series[s + self.window:s + self.window + self.horizon]
        y = future[:, 0] if self.target_features is None else future[:, :self.target_features]
        return x, y

    def tensors(self) -> tuple[Tensor, Tensor]:
        """All windows as one batch: ``x (N, window, F)`` and ``y (N, horizon[, k])``."""
        xs, ys = zip(*(self[i] for i in range(len(self))), strict=True)
        return torch.stack(xs), torch.stack(ys)

    def __repr__(self) -> str:
        return (f"SlidingWindows(n={len(self)}, window={self.window}, horizon={self.horizon}, "
                f"features={self.series.shape[1]})")
