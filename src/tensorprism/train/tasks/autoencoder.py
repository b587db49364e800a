"""Reconstruction: the model maps inputs ``x`` back to ``x`` (autoencoders, denoising autoencoders)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...errors import ConfigError
from . import Task, register_task, split_batch
from .regression import match_prediction


@register_task("autoencoder")
class AutoencoderTask(Task):
    """Reconstruction loss between ``model(x̃)`` and ``x``; targets in the batch are ignored.

    .. math:: \\mathcal L = \\frac1N\\sum_i \\lVert g(f(\\tilde x_i)) - x_i \\rVert_2^2

    Args:
        loss: ``"mse"`` or ``"bce"`` (binary cross-entropy on logits, for inputs in ``[0, 1]``).
        noise_std: standard deviation of Gaussian input noise for a denoising autoencoder
            (``x̃ = x + ε``, training only); 0 disables it.
    """

    monitor = "val/loss"
    mode = "min"

    def __init__(self, loss: str = "mse", noise_std: float = 0.0):
        if loss not in ("mse", "bce"):
            raise ConfigError(f"unknown reconstruction loss {loss!r}; choose 'mse' or 'bce'")
        self.loss, self.noise_std = loss, noise_std

    def _reconstruct(self, model: nn.Module, x: torch.Tensor, noisy: bool) -> dict[str, torch.Tensor]:
        inp = x + self.noise_std * torch.randn_like(x) if noisy and self.noise_std > 0 else x
        out = match_prediction(model(inp), x, "autoencoder reconstruction")
        if self.loss == "bce":
            return {"loss": F.binary_cross_entropy_with_logits(out, x), "preds": torch.sigmoid(out), "target": x}
        return {"loss": F.mse_loss(out, x), "preds": out, "target": x}

    def training_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        x, _ = split_batch(batch)
        return {"loss": self._reconstruct(model, x, noisy=True)["loss"]}

    def evaluation_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        x, _ = split_batch(batch)
        return self._reconstruct(model, x, noisy=False)

    def metrics(self):
        from torchmetrics import MeanSquaredError

        return {"mse": MeanSquaredError()}

    def update_metrics(self, metrics, out) -> None:
        metrics["mse"].update(out["preds"].flatten(), out["target"].flatten())

    def predict_step(self, model: nn.Module, batch: Any) -> torch.Tensor:
        x, _ = split_batch(batch)
        out = model(x)
        return torch.sigmoid(out) if self.loss == "bce" else out

    def __repr__(self) -> str:
        return f"AutoencoderTask(loss={self.loss!r}, noise_std={self.noise_std})"
