"""Adversarial training (GANs, book §10.5–10.6): generator and discriminator updated in turn with
the Trainer's manual optimisation (docs/training.md, "GAN")."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from ...errors import ConfigError
from ...functional.adversarial import (
    GAN_LOSSES,
    discriminator_loss,
    generator_loss,
    gradient_penalty,
    path_length_penalty,
    r1_penalty,
)
from ...functional.generative import check_unit_interval
from . import Task, register_task, split_batch


def _mean_metric():
    from torchmetrics import MeanMetric

    return MeanMetric()


@register_task("adversarial")
class AdversarialTask(Task):
    r"""One adversarial task for every GAN of ``models/generative/gan.py``.

    Each training step: one discriminator (critic) update on the batch's real images and fresh
    fakes; every ``n_critic``-th step also one generator update on the same fakes, then the EMA of
    the generator. Both use :mod:`tensorprism.functional.adversarial`'s losses on logits.

    Args:
        loss: ``"non-saturating"`` (default), ``"saturating"`` (the minimax loss), ``"wasserstein"``
            (WGAN critic, minimised — erratum §5.13) or ``"hinge"``.
        n_critic: discriminator updates per generator update (5 for WGAN).
        gp_weight: λ of the WGAN-GP gradient penalty (10 in Gulrajani et al. 2017); 0: none.
        r1_weight: γ of the R1 penalty :math:`\tfrac\gamma2\,\mathbb E\lVert\nabla D(x_{real})\rVert^2`
            (Mescheder et al. 2018; StyleGAN's regulariser); 0: none.
        r1_interval: apply R1 every this many discriminator steps, scaled by it (StyleGAN2's lazy
            regularisation uses 16); 1: every step.
        pl_weight: weight of StyleGAN2's path-length penalty on the generator
            (:func:`~tensorprism.functional.adversarial.path_length_penalty`; Karras et al. 2020 use 2);
            0: none. Needs a style-based generator (``styles`` and ``synthesis``), unconditional.
        pl_interval: apply it every this many generator steps, scaled by it (StyleGAN2: 4).
        pl_decay: decay of the running mean path length (0.01). The mean is task state: it is saved in
            checkpoints and restored on resume.
        pl_batch_shrink: the penalty is computed on ``batch // pl_batch_shrink`` fresh latents (2).
        clip_value: WGAN weight clipping — every critic parameter is clamped to
            ``[-clip_value, clip_value]`` after each critic step (0.01 in Arjovsky et al. 2017).
        ema_decay: decay of the EMA of the generator's weights (e.g. 0.999), kept in the model's
            ``generator_ema`` (build the model with ``ema=True``); ``None``: no EMA.
        d_lr_factor: the discriminator's learning rate is the Trainer's ``lr`` times this (TTUR).
        rescale: the data are images in [0, 1] (checked), mapped to the generator's [-1, 1].

    The model follows the ``gan`` contract (``generator``, ``discriminator``, ``discriminate``,
    ``latent_dim``; conditional models get the batch's labels). Evaluation reports the two losses on
    held-out real images and ``d_real_acc`` / ``d_fake_acc``, the share of real and generated images
    the discriminator classifies correctly (logit > 0 = real). A model with ``set_progress(step)``
    (the progressive GAN) is told the global step before each training step, and one with
    ``prepare_real(x)`` gets to show its discriminator the real images at its current resolution. Sample quality (FID with our
    classifier, precision/recall) is measured by :mod:`tensorprism.metrics.generative`.
    """

    manual_optimization = True
    monitor = "val/loss"
    mode = "min"

    def __init__(self, loss: str = "non-saturating", n_critic: int = 1, gp_weight: float = 0.0,
                 clip_value: float | None = None, ema_decay: float | None = None, d_lr_factor: float = 1.0,
                 rescale: bool = True, r1_weight: float = 0.0, r1_interval: int = 1, pl_weight: float = 0.0,
                 pl_interval: int = 4, pl_decay: float = 0.01, pl_batch_shrink: int = 2):
        if loss not in GAN_LOSSES:
            raise ConfigError(f"unknown GAN loss {loss!r}; choose one of {', '.join(GAN_LOSSES)}")
        if int(n_critic) < 1:
            raise ConfigError(f"n_critic must be an integer >= 1, got {n_critic}")
        if gp_weight < 0 or (clip_value is not None and clip_value <= 0) or d_lr_factor <= 0:
            raise ConfigError("gp_weight must be >= 0, clip_value > 0 (or None) and d_lr_factor > 0")
        if r1_weight < 0 or int(r1_interval) < 1:
            raise ConfigError(f"r1_weight must be >= 0 and r1_interval an integer >= 1, got {r1_weight} and {r1_interval}")
        if pl_weight < 0 or int(pl_interval) < 1 or not 0.0 < pl_decay <= 1.0 or int(pl_batch_shrink) < 1:
            raise ConfigError(f"pl_weight must be >= 0, pl_interval and pl_batch_shrink integers >= 1 and pl_decay "
                              f"in (0, 1]; got {pl_weight}, {pl_interval}, {pl_batch_shrink} and {pl_decay}")
        if ema_decay is not None and not 0.0 < ema_decay < 1.0:
            raise ConfigError(f"ema_decay must lie in (0, 1) (e.g. 0.999), got {ema_decay}")
        self.loss, self.n_critic, self.gp_weight, self.clip_value = loss, int(n_critic), float(gp_weight), clip_value
        self.ema_decay, self.d_lr_factor, self.rescale = ema_decay, float(d_lr_factor), rescale
        self.r1_weight, self.r1_interval = float(r1_weight), int(r1_interval)
        self.pl_weight, self.pl_interval, self.pl_decay = float(pl_weight), int(pl_interval), float(pl_decay)
        self.pl_batch_shrink, self.pl_mean = int(pl_batch_shrink), 0.0

    # --- set-up -------------------------------------------------------------------------------
    def configure_optimizers(self, model: nn.Module, build):
        for name in ("generator", "discriminator"):
            if not isinstance(getattr(model, name, None), nn.Module):
                raise ConfigError(f"the adversarial task needs a model with a {name!r} sub-module (a GAN from "
                                  "models/generative/gan.py), got " + type(model).__name__)
        if self.pl_weight > 0 and not (hasattr(model.generator, "styles") and hasattr(model.generator, "synthesis")):
            raise ConfigError("pl_weight > 0 needs a style-based generator with styles(z) and synthesis(ws) "
                              f"(e.g. stylegan-small), got {type(model.generator).__name__}")
        if self.pl_weight > 0 and getattr(model, "num_classes", 0):
            raise ConfigError("the path-length penalty is implemented for unconditional generators only")
        if self.ema_decay is not None and not hasattr(model, "generator_ema"):
            raise ConfigError("ema_decay is set but the model keeps no generator_ema: build it with ema=True")
        opt_g = build(list(model.generator.parameters()))
        opt_d = build(list(model.discriminator.parameters()))
        for group in opt_d.param_groups:
            group["lr"] *= self.d_lr_factor
            if "initial_lr" in group:
                group["initial_lr"] *= self.d_lr_factor
        return [opt_g, opt_d]

    def _real(self, x: torch.Tensor) -> torch.Tensor:
        if not self.rescale:
            return x
        check_unit_interval(x, "GAN trained on images in [0, 1] (rescale=True)")
        return x * 2 - 1

    def _prepare(self, net: nn.Module, real: torch.Tensor) -> torch.Tensor:
        # progressive GANs show the discriminator real images at the current resolution / fade-in
        return net.prepare_real(real) if hasattr(net, "prepare_real") else real

    def _cond(self, net: nn.Module, y: Any) -> Any:
        return y if getattr(net, "num_classes", 0) else None

    def _latent(self, net: nn.Module, n: int, like: torch.Tensor) -> torch.Tensor:
        return torch.randn(n, net.latent_dim, device=like.device, dtype=like.dtype)

    # --- training -----------------------------------------------------------------------------
    def training_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        tr = self.trainer
        net = tr.model
        opt_g, opt_d = tr.optimizers
        if hasattr(net, "set_progress"):  # growth schedule of a progressive GAN: a function of the step
            net.set_progress(tr.global_step)
        x, y = split_batch(batch)
        real, cond = self._prepare(net, self._real(x)), self._cond(net, y)
        z = self._latent(net, real.shape[0], real)
        fake = net(z, cond) if cond is not None else net(z)

        with tr.toggled(opt_d):
            d_real, d_fake = net.discriminate(real, cond), net.discriminate(fake.detach(), cond)
            d_loss = discriminator_loss(d_real, d_fake, self.loss)
            out = {"d_loss": d_loss.detach()}
            if self.gp_weight > 0:
                gp = gradient_penalty(lambda t: net.discriminate(t, cond), real, fake)
                d_loss = d_loss + self.gp_weight * gp
                out["gp"] = gp.detach()
            if self.r1_weight > 0 and tr.global_step % self.r1_interval == 0:
                r1 = r1_penalty(lambda t: net.discriminate(t, cond), real)
                d_loss = d_loss + 0.5 * self.r1_weight * self.r1_interval * r1
                out["r1"] = r1.detach()
            tr.backward(d_loss)
        tr.optimizer_step(opt_d)
        if self.clip_value is not None:
            with torch.no_grad():
                for p in net.discriminator.parameters():
                    p.clamp_(-self.clip_value, self.clip_value)

        if tr.global_step % self.n_critic == 0:
            with tr.toggled(opt_g):
                g_loss = generator_loss(net.discriminate(fake, cond), self.loss)
                total = g_loss
                if self.pl_weight > 0 and (tr.global_step // self.n_critic) % self.pl_interval == 0:
                    n = max(1, real.shape[0] // self.pl_batch_shrink)
                    ws = net.generator.styles(self._latent(net, n, real))
                    pl, _, self.pl_mean = path_length_penalty(net.generator.synthesis, ws, self.pl_mean, self.pl_decay)
                    total = g_loss + self.pl_weight * self.pl_interval * pl
                    out["pl"], out["pl_mean"] = pl.detach(), torch.tensor(self.pl_mean)
                tr.backward(total)
            tr.optimizer_step(opt_g)
            self._update_ema(net)
            out["g_loss"] = g_loss.detach()
        loss = out["d_loss"] + out.get("g_loss", torch.zeros_like(out["d_loss"]))
        return {"loss": loss, **out}

    def state_dict(self) -> dict[str, Any]:
        return {"pl_mean": self.pl_mean}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.pl_mean = float(state.get("pl_mean", 0.0))

    @torch.no_grad()
    def _update_ema(self, net: nn.Module) -> None:
        if self.ema_decay is None:
            return
        for e, p in zip(net.generator_ema.parameters(), net.generator.parameters(), strict=True):
            e.lerp_(p, 1.0 - self.ema_decay)
        for e, b in zip(net.generator_ema.buffers(), net.generator.buffers(), strict=True):
            e.copy_(b)

    # --- evaluation ---------------------------------------------------------------------------
    def evaluation_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        net = self.trainer.model if self.trainer is not None else model
        x, y = split_batch(batch)
        real, cond = self._prepare(net, self._real(x)), self._cond(net, y)
        fake = net(self._latent(net, real.shape[0], real), cond) if cond is not None else \
            net(self._latent(net, real.shape[0], real))
        d_real, d_fake = net.discriminate(real, cond), net.discriminate(fake, cond)
        d_loss, g_loss = discriminator_loss(d_real, d_fake, self.loss), generator_loss(d_fake, self.loss)
        return {"loss": d_loss + g_loss, "d_loss": d_loss, "g_loss": g_loss,
                "d_real_acc": (d_real > 0).float().mean(), "d_fake_acc": (d_fake <= 0).float().mean(),
                "n": torch.tensor(real.shape[0])}

    def metrics(self):
        return {k: _mean_metric() for k in ("d_loss", "g_loss", "d_real_acc", "d_fake_acc")}

    def update_metrics(self, metrics, out) -> None:
        for k, m in metrics.items():
            m.update(out[k], weight=out["n"])

    def predict_step(self, model: nn.Module, batch: Any) -> torch.Tensor:
        """Discriminator logits of the batch's images (real-vs-fake scores)."""
        net = self.trainer.model if self.trainer is not None else model
        x, y = split_batch(batch)
        return net.discriminate(self._real(x), self._cond(net, y))

    def __repr__(self) -> str:
        return (f"AdversarialTask(loss={self.loss!r}, n_critic={self.n_critic}, gp_weight={self.gp_weight}, "
                f"clip_value={self.clip_value}, ema_decay={self.ema_decay}, r1_weight={self.r1_weight}, "
                f"pl_weight={self.pl_weight})")
