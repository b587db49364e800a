"""Top-k accuracy (book Ch. 4, §4.6.1: the ImageNet "top-5" error of the architectures' tables).

A prediction counts as correct when the true class is among the ``k`` highest scores. Ties at the
k-th score count in favour of the true class (it counts when its score reaches the k-th largest);
``torch.topk`` alone would pick an arbitrary member of the tie. Without ties it equals
scikit-learn's ``top_k_accuracy_score`` and torchmetrics' ``MulticlassAccuracy(top_k=k)`` (tested).
"""

from __future__ import annotations

from torch import Tensor

from ..errors import ConfigError, ShapeError

__all__ = ["top_k_accuracy"]


def top_k_accuracy(scores: Tensor, target: Tensor, k: int = 5) -> float:
    """Share of rows of ``scores (N, C)`` whose ``target (N,)`` class is among the ``k`` best."""
    if scores.dim() != 2 or target.dim() != 1 or len(scores) != len(target):
        raise ShapeError(f"top_k_accuracy needs scores (N, C) and target (N,); got {tuple(scores.shape)} "
                         f"and {tuple(target.shape)}")
    if not 1 <= k <= scores.shape[1]:
        raise ConfigError(f"top_k_accuracy: k must be between 1 and the {scores.shape[1]} classes, got {k}")
    if len(target) == 0:
        raise ShapeError("top_k_accuracy of an empty batch is undefined")
    if bool(((target < 0) | (target >= scores.shape[1])).any()):
        raise ShapeError(f"targets must be class indices in [0, {scores.shape[1]})")
    true = scores.gather(1, target[:, None].long())  # (N, 1)
    kth = scores.topk(k, dim=1).values[:, -1:]  # (N, 1)
    return float((true >= kth).float().mean())
