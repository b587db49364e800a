"""Classification from several inputs (an image and a question, book §7.3.2 VQA).

Batches are ``((input_1, input_2, ...), labels)``; the model is called as ``model(*inputs)``.
Loss and metrics are :class:`~tensorprism.train.tasks.classification.ClassificationTask`'s.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from . import register_task, split_batch
from .classification import ClassificationTask


def _call(model: nn.Module, x: Any) -> torch.Tensor:
    return model(*x) if isinstance(x, (tuple, list)) else model(x)


@register_task("multi-input-classification")
class MultiInputClassificationTask(ClassificationTask):
    """Cross-entropy over ``model(*inputs)``; accuracy, macro-F1, confusion matrix."""

    def training_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        x, y = split_batch(batch)
        return {"loss": self._loss(_call(model, x), y)}

    def evaluation_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        x, y = split_batch(batch)
        logits = _call(model, x)
        return {"loss": self._loss(logits, y), "preds": logits, "target": y}

    def predict_step(self, model: nn.Module, batch: Any) -> torch.Tensor:
        x, _ = split_batch(batch)
        return _call(model, x).argmax(dim=1)
