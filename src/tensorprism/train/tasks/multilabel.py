"""Binary and multi-label classification: one logit per label, independent sigmoids + BCE."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import Task, register_task, split_batch


@register_task("multilabel")
class SigmoidTask(Task):
    """Binary and multi-label classification: one logit per label, independent sigmoids.

    .. math:: \\mathcal L=-\\frac1{NK}\\sum_{i,k}\\bigl[y_{ik}\\ln\\sigma(z_{ik})+(1-y_{ik})\\ln(1-\\sigma(z_{ik}))\\bigr]

    Logits ``(N, K)`` (``K = 1`` for binary) against 0/1 targets of the same shape. Reports the
    per-label accuracy (``acc``), exact-match ratio (``exact``) and micro-F1 (``f1``).
    """

    monitor = "val/acc"
    mode = "max"

    def __init__(self, num_labels: int = 1):
        self.num_labels = num_labels

    def _step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        x, y = split_batch(batch)
        logits = model(x).reshape(y.shape[0], self.num_labels)
        y = y.reshape(logits.shape).to(logits.dtype)
        return {"loss": F.binary_cross_entropy_with_logits(logits, y), "preds": logits, "target": y.long()}

    def training_step(self, model, batch):
        return {"loss": self._step(model, batch)["loss"]}

    def evaluation_step(self, model, batch):
        return self._step(model, batch)

    def metrics(self):
        from torchmetrics.classification import (
            MultilabelAccuracy,
            MultilabelExactMatch,
            MultilabelF1Score,
        )

        k = self.num_labels
        return {"acc": MultilabelAccuracy(k, average="micro"), "exact": MultilabelExactMatch(k),
                "f1": MultilabelF1Score(k, average="micro")}

    def update_metrics(self, metrics, out) -> None:
        probs = torch.sigmoid(out["preds"])
        for metric in metrics.values():
            metric.update(probs, out["target"])

    def predict_step(self, model, batch):
        x, _ = split_batch(batch)
        return (model(x) > 0).long()
