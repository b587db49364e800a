r"""Binary hinge loss :math:`\max(0, 1 - y\,f(x))` with labels ±1 (or 0/1, mapped to ±1).

torch has the multi-class hinge (``nn.MultiMarginLoss``) and ``nn.HingeEmbeddingLoss`` (a
different loss, on distances); this is the SVM hinge on raw scores.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from torch import Tensor

from ..errors import ShapeError


def binary_hinge_loss(scores: Tensor, target: Tensor, margin: float = 1.0, reduction: str = "mean") -> Tensor:
    """``scores (N,)`` or ``(N, 1)``; ``target`` in {−1, +1} or {0, 1} of the same length."""
    scores = scores.reshape(-1)
    target = target.reshape(-1).to(scores.dtype)
    if scores.shape != target.shape:
        raise ShapeError(f"hinge loss needs one score per target, got {scores.numel()} and {target.numel()}")
    if bool(((target == 0) | (target == 1)).all()):
        target = 2.0 * target - 1.0
    loss = torch.clamp(margin - target * scores, min=0.0)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


class BinaryHingeLoss(nn.Module):
    """Module form of :func:`binary_hinge_loss`."""

    def __init__(self, margin: float = 1.0, reduction: str = "mean"):
        super().__init__()
        self.margin, self.reduction = margin, reduction

    def forward(self, scores: Tensor, target: Tensor) -> Tensor:
        return binary_hinge_loss(scores, target, self.margin, self.reduction)

    def extra_repr(self) -> str:
        return f"margin={self.margin}, reduction={self.reduction!r}"
