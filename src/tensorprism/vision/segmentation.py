r"""Semantic segmentation (book §4.6.3): per-pixel classification trained with the Trainer.

Label map :math:`L(i, j) = \arg\max_c P(c \mid I)` (conditioned on the whole receptive field, not on
the pixel value as book line 8574 says, erratum 23). Metrics (book lines 8698–8714):
:math:`\text{IoU}_c = |P_c \cap G_c| / |P_c \cup G_c|`, :math:`\text{mIoU} = \frac1C\sum_c \text{IoU}_c`
and pixel accuracy :math:`\frac{1}{HW}\sum_{i,j} \mathbf 1(L = \hat L)`; both via torchmetrics.
"""

from __future__ import annotations

from torch import Tensor

from ..train.tasks.vision import SegmentationTask

__all__ = ["SegmentationTask", "confusion_iou"]


def confusion_iou(pred: Tensor, target: Tensor, num_classes: int) -> Tensor:
    """Per-class IoU from the confusion matrix ``M`` (reference): ``M_cc / (Σ_j M_cj + Σ_i M_ic − M_cc)``."""
    m = (target.flatten() * num_classes + pred.flatten()).bincount(minlength=num_classes**2).view(num_classes, num_classes)
    tp = m.diag().double()
    return tp / (m.sum(0) + m.sum(1) - m.diag()).double().clamp(min=1)
