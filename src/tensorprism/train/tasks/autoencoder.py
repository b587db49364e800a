"""Reconstruction: the model maps inputs ``x`` back to ``x`` (autoencoders, denoising, sparse and
contractive autoencoders, book §10.1–10.4)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...errors import ConfigError
from ...functional.generative import jacobian_frobenius, kl_sparsity, l1_sparsity
from . import Task, register_task, split_batch
from .regression import match_prediction

NOISES = ("gaussian", "masking")
SPARSITY = ("kl", "l1")


@register_task("autoencoder")
class AutoencoderTask(Task):
    r"""Reconstruction loss between ``model(x̃)`` and ``x``, plus optional code penalties;
    targets in the batch are ignored.

    .. math:: \mathcal L = \frac1N\sum_i \ell(g(f(\tilde x_i)), x_i) + \beta\,\Omega_{\text{sparse}}
              + \lambda\,\frac1N\sum_i\lVert\partial f(x_i)/\partial x_i\rVert_F^2

    Args:
        loss: ``"mse"`` or ``"bce"`` (binary cross-entropy on logits, for inputs in ``[0, 1]``).
        noise_std: standard deviation of Gaussian input noise for a denoising autoencoder
            (``x̃ = x + ε``, training only); 0 disables it.
        noise: ``"gaussian"`` (``noise_std``) or ``"masking"`` (each input value set to 0 with
            probability ``mask_prob``, Vincent et al. 2008).
        mask_prob: masking probability of the ``"masking"`` noise.
        sparsity: ``None``, ``"kl"`` (KL towards the rate ``rho`` on sigmoid codes, book I10.05)
            or ``"l1"`` (mean L1 norm of the code).
        sparsity_weight: β of the sparsity penalty (the book's 3).
        rho: target mean activation of the KL penalty (the book's 0.05).
        contractive_weight: λ of the contractive penalty (Rifai et al. 2011), the squared
            Frobenius norm of the encoder's Jacobian at the clean input, computed exactly by
            autograd (one backward per code unit); 0 disables it.

    The penalties need the code: the model is called as ``model(x, return_code=True)`` and must
    return ``(reconstruction, code)`` (every model of ``models/generative/autoencoders.py`` does).
    """

    monitor = "val/loss"
    mode = "min"

    def __init__(self, loss: str = "mse", noise_std: float = 0.0, noise: str = "gaussian", mask_prob: float = 0.0,
                 sparsity: str | None = None, sparsity_weight: float = 3.0, rho: float = 0.05,
                 contractive_weight: float = 0.0):
        if loss not in ("mse", "bce"):
            raise ConfigError(f"unknown reconstruction loss {loss!r}; choose 'mse' or 'bce'")
        if noise not in NOISES:
            raise ConfigError(f"unknown input noise {noise!r}; choose one of {', '.join(NOISES)}")
        if sparsity is not None and sparsity not in SPARSITY:
            raise ConfigError(f"unknown sparsity penalty {sparsity!r}; choose 'kl', 'l1' or None")
        if not 0.0 <= mask_prob < 1.0:
            raise ConfigError(f"mask_prob must lie in [0, 1), got {mask_prob}")
        if noise_std < 0 or sparsity_weight < 0 or contractive_weight < 0:
            raise ConfigError("noise_std, sparsity_weight and contractive_weight must be >= 0")
        if sparsity == "kl" and not 0.0 < rho < 1.0:
            raise ConfigError(f"rho (the target activation rate) must lie in (0, 1), got {rho}")
        self.loss, self.noise_std, self.noise, self.mask_prob = loss, noise_std, noise, mask_prob
        self.sparsity, self.sparsity_weight, self.rho = sparsity, sparsity_weight, rho
        self.contractive_weight = contractive_weight

    @property
    def needs_code(self) -> bool:
        return self.sparsity is not None or self.contractive_weight > 0

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        """The noisy input x̃ of a denoising autoencoder (x itself when no noise is set)."""
        if self.noise == "masking" and self.mask_prob > 0:
            return x * (torch.rand_like(x) >= self.mask_prob).to(x.dtype)
        if self.noise == "gaussian" and self.noise_std > 0:
            return x + self.noise_std * torch.randn_like(x)
        return x

    def _recon_loss(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        out = match_prediction(out, x, "autoencoder reconstruction")
        if self.loss == "bce":
            return F.binary_cross_entropy_with_logits(out, x)
        return F.mse_loss(out, x)

    def _reconstruct(self, model: nn.Module, x: torch.Tensor, noisy: bool) -> dict[str, torch.Tensor]:
        inp = self.corrupt(x) if noisy else x
        out = match_prediction(model(inp), x, "autoencoder reconstruction")
        if self.loss == "bce":
            return {"loss": F.binary_cross_entropy_with_logits(out, x), "preds": torch.sigmoid(out), "target": x}
        return {"loss": F.mse_loss(out, x), "preds": out, "target": x}

    def training_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        x, _ = split_batch(batch)
        if not self.needs_code:
            return {"loss": self._reconstruct(model, x, noisy=True)["loss"]}
        inp = self.corrupt(x)
        if self.contractive_weight > 0:
            inp = inp.detach().requires_grad_(True)
        out, code = model(inp, return_code=True)
        recon = self._recon_loss(out, x)
        loss, logs = recon, {"recon": recon.detach()}
        if self.sparsity == "kl":
            pen = kl_sparsity(code, self.rho)
        elif self.sparsity == "l1":
            pen = l1_sparsity(code)
        if self.sparsity is not None:
            loss = loss + self.sparsity_weight * pen
            logs["sparsity"] = pen.detach()
        if self.contractive_weight > 0:
            jac = jacobian_frobenius(code, inp).mean()
            loss = loss + self.contractive_weight * jac
            logs["jacobian"] = jac.detach()
        return {"loss": loss, **logs}

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
        extra = "".join(f", {k}={getattr(self, k)!r}" for k in ("noise", "mask_prob", "sparsity", "contractive_weight")
                        if getattr(self, k) not in (None, 0.0, "gaussian"))
        return f"AutoencoderTask(loss={self.loss!r}, noise_std={self.noise_std}{extra})"
