r"""Squared error with the three normalisations found in textbooks, named explicitly.

* ``"mean"``:     :math:`\frac1{n}\sum_i (\hat y_i-y_i)^2` — ``nn.MSELoss()``, the book's MSE (L4893);
* ``"sum"``:      :math:`\sum_i (\hat y_i-y_i)^2`;
* ``"half_sum"``: :math:`\frac12\sum_i (\hat y_i-y_i)^2` — gradient :math:`\hat y-y`, common in
  backprop derivations.

The learning rate that gives the same step differs by these factors (×n, ×2).
"""

from __future__ import annotations

import torch.nn as nn
from torch import Tensor

from ..errors import ConfigError

REDUCTIONS = ("mean", "sum", "half_sum", "none")


class SquaredErrorLoss(nn.Module):
    def __init__(self, reduction: str = "mean"):
        super().__init__()
        if reduction not in REDUCTIONS:
            raise ConfigError(f"reduction must be one of {', '.join(REDUCTIONS)}, got {reduction!r}")
        self.reduction = reduction

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        sq = (pred - target) ** 2
        if self.reduction == "mean":
            return sq.mean()
        if self.reduction == "sum":
            return sq.sum()
        if self.reduction == "half_sum":
            return 0.5 * sq.sum()
        return sq

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"
