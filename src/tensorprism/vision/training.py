"""Classification training with augmentation applied to whole batches on the training device.

The batch augmentations of :mod:`tensorprism.data.augment` work on ``[0, 1]`` images; this
task applies them to each training batch, then the normalisation, and only the normalisation at
evaluation. Batch-mixing transforms (mixup, cutmix) return soft targets, handled by
``F.cross_entropy`` with class probabilities.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..train.tasks import split_batch
from ..train.tasks.classification import ClassificationTask


class AugmentedClassificationTask(ClassificationTask):
    """Cross-entropy classification with ``augment`` (training only) and ``preprocess`` (always).

    Args:
        augment: a module ``x -> x`` or, for mixing pipelines, ``(x, y) -> (x, soft_y)`` (e.g. ``Compose``).
        preprocess: applied after augmentation and at evaluation (e.g. ``Normalize(mean, std)``).
        num_classes, label_smoothing: as :class:`ClassificationTask`.
    """

    def __init__(self, augment: nn.Module | None = None, preprocess: nn.Module | None = None,
                 num_classes: int | None = None, label_smoothing: float = 0.0):
        super().__init__(num_classes, label_smoothing)
        self.augment, self.preprocess = augment, preprocess
        self.mixes = augment is not None and any(getattr(m, "mixes_targets", False) for m in augment.modules())

    def _prep(self, x: torch.Tensor) -> torch.Tensor:
        return self.preprocess.to(x.device)(x) if self.preprocess is not None else x

    def training_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        x, y = split_batch(batch)
        if self.augment is None:
            return super().training_step(model, (self._prep(x), y))
        if self.mixes:
            x, soft = self.augment(x, y)
            logits = model(self._prep(x))
            return {"loss": F.cross_entropy(logits, soft.to(logits.dtype), label_smoothing=self.label_smoothing)}
        return super().training_step(model, (self._prep(self.augment(x)), y))

    def evaluation_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        x, y = split_batch(batch)
        return super().evaluation_step(model, (self._prep(x), y))

    def predict_step(self, model: nn.Module, batch: Any) -> torch.Tensor:
        x, y = split_batch(batch)
        return super().predict_step(model, (self._prep(x), y))
