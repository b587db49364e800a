"""Exact maximum likelihood (book I10.10): normalising flows and autoregressive models."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...errors import ConfigError, ShapeError
from ...functional.flows import bits_per_dim
from ...functional.generative import check_unit_interval, log_normal_diag
from . import Task, register_task, split_batch


def _mean_metric():
    from torchmetrics import MeanMetric

    return MeanMetric()


@register_task("density")
class DensityTask(Task):
    r"""Minimise :math:`-\frac1N\sum_n\log p_\theta(x_n)` (nats per example) for models with an
    exact likelihood: ``flow`` models (``model(x) → (z, logdet)``, standard normal prior) and
    ``autoregressive`` binary models (``model(x) → logits``, one Bernoulli per pixel) and multi-level
    ones with a ``to_index`` method (the colour PixelCNN: ``model(x) → (N, C, levels, H, W)`` logits,
    one softmax per sub-pixel; ``bits_per_dim`` then is that of the discrete images).

    Args:
        dequantize: for flows on 8-bit images scaled to [0, 1]: ``x ← (255·x + u) / 256`` with
            ``u ~ U[0, 1)`` (uniform dequantisation, Theis et al. 2016), training and evaluation;
            ``bits_per_dim`` then refers to the discrete images (adds :math:`D\log 256` nats).
        bins: number of levels of the quantised data (256 for 8-bit images).

    Evaluation reports ``nll`` (nats per example) and ``bits_per_dim``.
    """

    monitor = "val/nll"
    mode = "min"

    def __init__(self, dequantize: bool = False, bins: int = 256):
        if bins < 2:
            raise ConfigError(f"bins must be >= 2, got {bins}")
        self.dequantize, self.bins = dequantize, int(bins)

    def _kind(self, model: nn.Module) -> str:
        net = self.trainer.model if self.trainer is not None else model
        kind = getattr(net, "kind", "")
        if kind not in ("flow", "autoregressive"):
            raise ConfigError(f"the density task needs a flow or autoregressive model, got {type(net).__name__} "
                              f"(kind {kind!r}); VAEs train with task 'vae'")
        return kind

    def log_prob(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """:math:`\\log p(x)` per example ``(N,)`` through ``model``'s forward (DDP-safe)."""
        kind = self._kind(model)
        if kind == "flow":
            check_unit_interval(x, "flow on [0, 1] data")
            if self.dequantize:
                x = (x * (self.bins - 1) + torch.rand_like(x)) / self.bins
            z, logdet = model(x)
            lp = log_normal_diag(z.flatten(1)) + logdet
        elif hasattr(self.trainer.model if self.trainer is not None else model, "to_index"):
            # a multi-level (colour) autoregressive model: one softmax over the levels per sub-pixel
            from ...models.generative.pixelcnn_colour import categorical_log_prob

            net = self.trainer.model if self.trainer is not None else model
            lp = categorical_log_prob(model(x), net.to_index(x))
        else:
            if not bool(((x == 0) | (x == 1)).all()):
                raise ShapeError("an autoregressive binary model needs data of 0s and 1s: use 'binarized-mnist' "
                                 "or binarise the images (torch.bernoulli)")
            logits = model(x)
            lp = -F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
        return lp

    def training_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        x, _ = split_batch(batch)
        return {"loss": -self.log_prob(model, x).mean()}

    def evaluation_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        x, _ = split_batch(batch)
        nll = -self.log_prob(model, x)
        dims = x[0].numel()
        bins = self.bins if (self.dequantize and self._kind(model) == "flow") else None
        return {"loss": nll.mean(), "nll": nll.mean(), "bits_per_dim": bits_per_dim(nll.mean(), dims, bins),
                "n": torch.tensor(x.shape[0])}

    def metrics(self):
        return {"nll": _mean_metric(), "bits_per_dim": _mean_metric()}

    def update_metrics(self, metrics, out) -> None:
        for k, m in metrics.items():
            m.update(out[k], weight=out["n"])

    def predict_step(self, model: nn.Module, batch: Any) -> torch.Tensor:
        """Per-example log-likelihoods (nats)."""
        x, _ = split_batch(batch)
        return self.log_prob(model, x)

    def __repr__(self) -> str:
        return f"DensityTask(dequantize={self.dequantize}, bins={self.bins})"


__all__ = ["DensityTask"]
