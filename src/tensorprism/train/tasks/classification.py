"""Supervised classification: logits ``(N, C)`` (or ``(N, C, d1, ...)``) against labels ``(N, ...)``."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...errors import ShapeError
from . import Task, check_target, register_task, split_batch


@register_task("classification")
class ClassificationTask(Task):
    """Cross-entropy on class logits; reports accuracy, macro-F1 and the confusion matrix.

    .. math:: \\mathcal L = -\\frac1N\\sum_i \\log \\operatorname{softmax}(z_i)_{y_i}

    Args:
        num_classes: number of classes ``C``; inferred from the logits when left ``None``.
        label_smoothing: passed to :func:`torch.nn.functional.cross_entropy`.
        class_weights: optional per-class loss weights (length ``C``).
    """

    monitor = "val/acc"
    mode = "max"

    def __init__(self, num_classes: int | None = None, label_smoothing: float = 0.0,
                 class_weights: list[float] | None = None):
        self.num_classes = num_classes
        self.label_smoothing = label_smoothing
        self.class_weights = None if class_weights is None else torch.tensor(class_weights)

    def _loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if y is None:
            raise ShapeError("classification needs (inputs, labels) batches but the batch has no labels")
        check_target(y, dtype_kind="int", what="classification")
        if logits.dim() < 2 or logits.shape[0] != y.shape[0] or logits.shape[2:] != y.shape[1:]:
            raise ShapeError(
                f"classification expects logits (N, C, ...) matching labels (N, ...) but got logits "
                f"{tuple(logits.shape)} and labels {tuple(y.shape)}; the model's output layer should "
                f"have one unit per class"
            )
        if self.num_classes is None:
            self.num_classes = int(logits.shape[1])
        weight = None if self.class_weights is None else self.class_weights.to(logits.device)
        return F.cross_entropy(logits, y, weight=weight, label_smoothing=self.label_smoothing)

    def training_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        x, y = split_batch(batch)
        return {"loss": self._loss(model(x), y)}

    def evaluation_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        x, y = split_batch(batch)
        logits = model(x)
        return {"loss": self._loss(logits, y), "preds": logits, "target": y}

    def metrics(self):
        from torchmetrics.classification import (
            MulticlassAccuracy,
            MulticlassConfusionMatrix,
            MulticlassF1Score,
        )

        c = self.num_classes
        return {
            "acc": MulticlassAccuracy(c, average="micro"),
            "f1": MulticlassF1Score(c, average="macro"),
            "confusion_matrix": MulticlassConfusionMatrix(c),
        }

    def predict_step(self, model: nn.Module, batch: Any) -> torch.Tensor:
        x, _ = split_batch(batch)
        return model(x).argmax(dim=1)

    def __repr__(self) -> str:
        return f"ClassificationTask(num_classes={self.num_classes}, label_smoothing={self.label_smoothing})"
