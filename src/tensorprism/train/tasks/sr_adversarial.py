r"""Adversarial super-resolution (SRGAN, book §10.8.3, I10.31) on batches ``(lr, hr)`` of images
in [0, 1]: the generator minimises

.. math:: \mathcal L_G = \lVert G(I_{LR}) - I_{HR}\rVert^2 + \lambda_{adv}\,\ell_g(D(G(I_{LR})))
          \;[+\;\lambda_{feat}\lVert\phi(G(I_{LR}))-\phi(I_{HR})\rVert^2],

the discriminator :math:`\ell_d(D(I_{HR}), D(G(I_{LR})))` (losses of
:mod:`tensorprism.functional.adversarial`, non-saturating by default). During the first
``pretrain_steps`` only the pixel loss trains the generator (SRResNet initialisation, as Ledig et
al. do) and the discriminator waits. ``feature_net`` (a frozen module on images in [0, 1]) adds the
book's perceptual term; Ledig et al. use VGG-19 features with ImageNet weights, which are not
available offline here: :class:`ClassifierFeatures` turns an image classifier trained here into
such a network (its convolutional feature maps, inputs standardised as in its training). Without
one the task is Ledig et al.'s "SRGAN-MSE" variant.

Evaluation: ``mse``, per-image ``psnr`` (dB) and ``ssim`` (Gaussian window 11, σ = 1.5) of the
clamped output.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from ...errors import ConfigError
from ...functional.adversarial import GAN_LOSSES, discriminator_loss, generator_loss
from ...functional.generative import check_unit_interval
from . import Task, register_task, split_batch


def _mean_metric():
    from torchmetrics import MeanMetric

    return MeanMetric()


def image_quality(pred: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-image ``psnr`` (dB) and ``ssim`` ``(N,)`` of ``pred`` (clamped) against ``target``, both
    ``(N, C, H, W)`` in [0, 1]."""
    from torchmetrics.functional.image import structural_similarity_index_measure

    pred = pred.clamp(0, 1)
    mse = (pred - target).pow(2).flatten(1).mean(1)
    psnr = 10 * torch.log10(1.0 / mse.clamp(min=1e-12))
    ssim = structural_similarity_index_measure(pred, target, data_range=1.0, reduction="none")
    return {"psnr": psnr, "ssim": ssim.reshape(-1), "mse": mse}


class ClassifierFeatures(nn.Module):
    r"""A frozen feature network :math:`\phi` for the perceptual loss: ``classifier.forward_features``
    (an image classifier under the image contract) on images ``(N, C, H, W)`` in [0, 1], first
    standardised by the per-channel ``mean`` / ``std`` the classifier was trained with. Returns its
    feature maps ``(N, C', H', W')``."""

    def __init__(self, classifier: nn.Module, mean: tuple[float, ...], std: tuple[float, ...]):
        super().__init__()
        if not hasattr(classifier, "forward_features"):
            raise ConfigError(f"the feature network needs an image classifier with forward_features, got "
                              f"{type(classifier).__name__}")
        self.classifier = classifier.requires_grad_(False).eval()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)

    def train(self, mode: bool = True) -> ClassifierFeatures:
        super().train(mode)
        self.classifier.eval()  # BatchNorm statistics and dropout stay frozen
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier.forward_features((x - self.mean) / self.std)


@register_task("sr-adversarial")
class SRAdversarialTask(Task):
    """SRGAN training for a model with ``generator``, ``discriminator`` and ``discriminate``.

    Args:
        adv_weight: :math:`\\lambda_{adv}` (10⁻³ in Ledig et al.).
        loss: adversarial loss.
        pretrain_steps: steps of pixel loss only before the adversarial game starts.
        feature_net: optional frozen network ``phi`` for a feature (perceptual) loss.
        feature_weight: its weight.
    """

    manual_optimization = True
    monitor = "val/psnr"
    mode = "max"

    def __init__(self, adv_weight: float = 1e-3, loss: str = "non-saturating", pretrain_steps: int = 0,
                 feature_net: nn.Module | None = None, feature_weight: float = 0.0):
        if loss not in GAN_LOSSES:
            raise ConfigError(f"unknown GAN loss {loss!r}; choose one of {', '.join(GAN_LOSSES)}")
        if adv_weight < 0 or pretrain_steps < 0 or feature_weight < 0:
            raise ConfigError("adv_weight, pretrain_steps and feature_weight must be >= 0")
        if feature_weight > 0 and feature_net is None:
            raise ConfigError("feature_weight > 0 needs a feature_net (a frozen network on images in [0, 1])")
        self.adv_weight, self.loss, self.pretrain_steps = float(adv_weight), loss, int(pretrain_steps)
        self.feature_net, self.feature_weight = feature_net, float(feature_weight)
        if feature_net is not None:
            feature_net.requires_grad_(False).eval()

    def configure_optimizers(self, model: nn.Module, build):
        for name in ("generator", "discriminator"):
            if not isinstance(getattr(model, name, None), nn.Module):
                raise ConfigError(f"the sr-adversarial task needs a model with a {name!r} sub-module (an SRGAN from "
                                  "models/generative/srgan.py), got " + type(model).__name__)
        return [build(list(model.generator.parameters())), build(list(model.discriminator.parameters()))]

    @staticmethod
    def _pair(batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        lr, hr = split_batch(batch)
        if hr is None:
            raise ConfigError("the sr-adversarial task needs batches (low-resolution, high-resolution)")
        check_unit_interval(lr, "low-resolution images")
        check_unit_interval(hr, "high-resolution images")
        return lr, hr

    def _g_loss(self, net: nn.Module, sr: torch.Tensor, hr: torch.Tensor, adversarial: bool) -> dict[str, torch.Tensor]:
        pixel = (sr - hr).pow(2).mean()
        out = {"pixel": pixel, "g_loss": pixel}
        if adversarial and self.adv_weight > 0:
            out["adv"] = generator_loss(net.discriminate(sr), self.loss)
            out["g_loss"] = out["g_loss"] + self.adv_weight * out["adv"]
        if self.feature_net is not None and self.feature_weight > 0:
            fn = self.feature_net.to(sr.device)
            out["feature"] = (fn(sr.clamp(0, 1)) - fn(hr)).pow(2).mean()
            out["g_loss"] = out["g_loss"] + self.feature_weight * out["feature"]
        return out

    def training_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        tr = self.trainer
        net = tr.model
        opt_g, opt_d = tr.optimizers
        lr, hr = self._pair(batch)
        adversarial = tr.global_step >= self.pretrain_steps
        with tr.toggled(opt_g):
            sr = net.generator(lr)
            out = self._g_loss(net, sr, hr, adversarial)
            tr.backward(out["g_loss"])
        tr.optimizer_step(opt_g)
        logs = {k: v.detach() for k, v in out.items()}
        if adversarial and self.adv_weight > 0:
            with tr.toggled(opt_d):
                d_loss = discriminator_loss(net.discriminate(hr), net.discriminate(sr.detach()), self.loss)
                tr.backward(d_loss)
            tr.optimizer_step(opt_d)
            logs["d_loss"] = d_loss.detach()
        return {"loss": logs["g_loss"], **logs}

    def evaluation_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        net = self.trainer.model if self.trainer is not None else model
        lr, hr = self._pair(batch)
        sr = net.generator(lr)
        q = image_quality(sr, hr)
        return {"loss": q["mse"].mean(), **{k: v.mean() for k, v in q.items()}, "n": torch.tensor(hr.shape[0])}

    def metrics(self):
        return {k: _mean_metric() for k in ("mse", "psnr", "ssim")}

    def update_metrics(self, metrics, out) -> None:
        for k, m in metrics.items():
            m.update(out[k], weight=out["n"])

    def predict_step(self, model: nn.Module, batch: Any) -> torch.Tensor:
        """Super-resolved images of the batch's low-resolution inputs, clamped to [0, 1]."""
        net = self.trainer.model if self.trainer is not None else model
        lr, _ = split_batch(batch)
        return net.generator(lr).clamp(0, 1)

    def __repr__(self) -> str:
        return (f"SRAdversarialTask(adv_weight={self.adv_weight}, loss={self.loss!r}, "
                f"pretrain_steps={self.pretrain_steps}, feature_weight={self.feature_weight})")


__all__ = ["ClassifierFeatures", "SRAdversarialTask", "image_quality"]
