"""Supervised regression: predictions ``(N, D)`` against real-valued targets of the same shape."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...errors import ConfigError, ShapeError
from . import Task, check_target, register_task, split_batch

LOSSES = {"mse": F.mse_loss, "l1": F.l1_loss, "huber": F.huber_loss, "smooth_l1": F.smooth_l1_loss}


def match_prediction(pred: torch.Tensor, target: torch.Tensor, what: str) -> torch.Tensor:
    """``pred`` viewed like ``target`` (a trailing unit axis is dropped); one-line error otherwise."""
    if pred.shape != target.shape and pred.shape[-1:] == (1,) and pred.shape[:-1] == target.shape:
        pred = pred.squeeze(-1)
    if pred.shape != target.shape:
        raise ShapeError(
            f"{what} expects predictions shaped like the targets {tuple(target.shape)} but the model "
            f"returned {tuple(pred.shape)}; set the model's output size to match"
        )
    return pred


@register_task("regression")
class RegressionTask(Task):
    """Mean-squared (or L1/Huber) error; reports MSE, MAE and R².

    .. math:: \\mathcal L = \\frac1N\\sum_i \\lVert f(x_i) - y_i \\rVert_2^2

    Args:
        loss: ``"mse"`` (default), ``"l1"``, ``"huber"`` or ``"smooth_l1"``.
    """

    monitor = "val/mse"
    mode = "min"

    def __init__(self, loss: str = "mse"):
        if loss not in LOSSES:
            raise ConfigError(f"unknown regression loss {loss!r}; choose one of {', '.join(LOSSES)}")
        self.loss = loss

    def _step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        x, y = split_batch(batch)
        if y is None:
            raise ShapeError("regression needs (inputs, targets) batches but the batch has no targets")
        check_target(y, dtype_kind="float", what="regression")
        pred = match_prediction(model(x), y, "regression")
        return {"loss": LOSSES[self.loss](pred, y), "preds": pred, "target": y}

    def training_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        return {"loss": self._step(model, batch)["loss"]}

    def evaluation_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        return self._step(model, batch)

    def metrics(self):
        from torchmetrics import MeanAbsoluteError, MeanSquaredError, R2Score

        return {"mse": MeanSquaredError(), "mae": MeanAbsoluteError(), "r2": R2Score()}

    def update_metrics(self, metrics, out) -> None:
        # R² wants (N,) or (N, D); flatten any trailing structure into D.
        preds, target = out["preds"], out["target"]
        if preds.dim() > 2:
            preds, target = preds.flatten(1), target.flatten(1)
        for metric in metrics.values():
            metric.update(preds, target)

    def __repr__(self) -> str:
        return f"RegressionTask(loss={self.loss!r})"
