r"""Unpaired translation (CycleGAN, book §10.6, I10.17): two generators and two discriminators on
batches ``(x_a, x_b)`` of images in [0, 1] from two domains that need not correspond.

.. math::
    \mathcal L_G = \ell_g(D_B(G(a))) + \ell_g(D_A(F(b)))
      + \lambda_{cyc}\big(\lVert F(G(a))-a\rVert_1+\lVert G(F(b))-b\rVert_1\big)
      + \lambda_{id}\lambda_{cyc}\big(\lVert G(b)-b\rVert_1+\lVert F(a)-a\rVert_1\big),

    \mathcal L_D = \tfrac12\big[\ell_d(D_B(b), D_B(G(a))) + \ell_d(D_A(a), D_A(F(b)))\big],

with the adversarial losses :math:`\ell_g, \ell_d` of :mod:`tensorprism.functional.adversarial`
on PatchGAN logits (means over patches). The book gives :math:`\mathcal L_{GAN}+\lambda\mathcal
L_{cyc}` without λ; Zhu et al. use :math:`\lambda_{cyc}=10` and an identity weight 0.5 (of
:math:`\lambda_{cyc}`), the defaults here. Each step: one generator update (discriminators frozen
by ``toggled``), then one discriminator update on fakes drawn through the model's image pools
(``pool_a``/``pool_b``: the paper's history of 50 past fakes; a model without pools, or with
``pool_size=0``, uses the newest fakes).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from ...errors import ConfigError
from ...functional.adversarial import GAN_LOSSES, discriminator_loss, generator_loss
from ...functional.generative import check_unit_interval
from . import Task, register_task


def _mean_metric():
    from torchmetrics import MeanMetric

    return MeanMetric()


class UnpairedImages(torch.utils.data.Dataset):
    """Two image sets as one dataset of ``(a_i, b_j)`` pairs, ``j = perm[i mod len(b)]`` with a
    fixed random permutation: the pairs carry no correspondence (the losses never compare them),
    and the length is that of the larger set. ``a``, ``b``: ``(N_a, C, H, W)``, ``(N_b, C, H, W)``."""

    def __init__(self, a: torch.Tensor, b: torch.Tensor, seed: int = 0):
        if a.shape[1:] != b.shape[1:]:
            raise ConfigError(f"both domains need images of one shape, got {tuple(a.shape[1:])} and {tuple(b.shape[1:])}")
        self.a, self.b = a, b
        self.perm_b = torch.randperm(len(b), generator=torch.Generator().manual_seed(seed))

    def __len__(self) -> int:
        return max(len(self.a), len(self.b))

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.a[i % len(self.a)], self.b[self.perm_b[i % len(self.b)]]


@register_task("cycle-adversarial")
class CycleAdversarialTask(Task):
    """CycleGAN training for a model with ``g_ab``, ``g_ba``, ``d_a``, ``d_b`` (models/generative/cyclegan.py).

    Args:
        loss: adversarial loss (``non-saturating`` by default; ``hinge``, ``saturating``, ``wasserstein``).
        cycle_weight: :math:`\\lambda_{cyc}` (10).
        identity_weight: :math:`\\lambda_{id}` as a fraction of ``cycle_weight`` (0.5; 0: no identity loss).

    Evaluation reports ``cycle_a``/``cycle_b`` (L1 of the round trips, images in [-1, 1]),
    ``identity`` and the two losses.
    """

    manual_optimization = True
    monitor = "val/cycle"
    mode = "min"

    def __init__(self, loss: str = "non-saturating", cycle_weight: float = 10.0, identity_weight: float = 0.5):
        if loss not in GAN_LOSSES:
            raise ConfigError(f"unknown GAN loss {loss!r}; choose one of {', '.join(GAN_LOSSES)}")
        if cycle_weight < 0 or identity_weight < 0:
            raise ConfigError("cycle_weight and identity_weight must be >= 0")
        self.loss, self.cycle_weight, self.identity_weight = loss, float(cycle_weight), float(identity_weight)

    def configure_optimizers(self, model: nn.Module, build):
        for name in ("g_ab", "g_ba", "d_a", "d_b"):
            if not isinstance(getattr(model, name, None), nn.Module):
                raise ConfigError(f"the cycle-adversarial task needs a model with a {name!r} sub-module (a CycleGAN "
                                  "from models/generative/cyclegan.py), got " + type(model).__name__)
        return [build([*model.g_ab.parameters(), *model.g_ba.parameters()]),
                build([*model.d_a.parameters(), *model.d_b.parameters()])]

    @staticmethod
    def _pair(batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise ConfigError("the cycle-adversarial task needs batches (x_a, x_b) — wrap the two image sets in "
                              "UnpairedImages(a, b)")
        a, b = batch[0], batch[1]
        check_unit_interval(a, "domain-A images")
        check_unit_interval(b, "domain-B images")
        return a * 2 - 1, b * 2 - 1

    def _losses(self, net: nn.Module, a: torch.Tensor, b: torch.Tensor) -> dict[str, torch.Tensor]:
        fake_b, fake_a = net.g_ab(a), net.g_ba(b)
        cyc_a, cyc_b = (net.g_ba(fake_b) - a).abs().mean(), (net.g_ab(fake_a) - b).abs().mean()
        out = {"fake_a": fake_a, "fake_b": fake_b, "cycle_a": cyc_a, "cycle_b": cyc_b,
               "adv": generator_loss(net.d_b(fake_b).flatten(), self.loss)
               + generator_loss(net.d_a(fake_a).flatten(), self.loss)}
        idt = torch.zeros_like(cyc_a)
        if self.identity_weight > 0:
            idt = (net.g_ab(b) - b).abs().mean() + (net.g_ba(a) - a).abs().mean()
        out["identity"] = idt
        out["g_loss"] = out["adv"] + self.cycle_weight * (cyc_a + cyc_b + self.identity_weight * idt)
        return out

    def _d_loss(self, net: nn.Module, a, b, fake_a, fake_b) -> torch.Tensor:
        return 0.5 * (discriminator_loss(net.d_b(b).flatten(), net.d_b(fake_b).flatten(), self.loss)
                      + discriminator_loss(net.d_a(a).flatten(), net.d_a(fake_a).flatten(), self.loss))

    def training_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        tr = self.trainer
        net = tr.model
        opt_g, opt_d = tr.optimizers
        a, b = self._pair(batch)
        with tr.toggled(opt_g):
            out = self._losses(net, a, b)
            tr.backward(out["g_loss"])
        tr.optimizer_step(opt_g)
        fake_a, fake_b = out["fake_a"].detach(), out["fake_b"].detach()
        if hasattr(net, "pool_a"):
            fake_a, fake_b = net.pool_a.query(fake_a), net.pool_b.query(fake_b)
        with tr.toggled(opt_d):
            d_loss = self._d_loss(net, a, b, fake_a, fake_b)
            tr.backward(d_loss)
        tr.optimizer_step(opt_d)
        g_loss = out["g_loss"].detach()
        return {"loss": g_loss + d_loss.detach(), "g_loss": g_loss, "d_loss": d_loss.detach(),
                "cycle": (out["cycle_a"] + out["cycle_b"]).detach(), "identity": out["identity"].detach()}

    def evaluation_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        net = self.trainer.model if self.trainer is not None else model
        a, b = self._pair(batch)
        out = self._losses(net, a, b)
        d_loss = self._d_loss(net, a, b, out["fake_a"], out["fake_b"])
        return {"loss": out["g_loss"] + d_loss, "g_loss": out["g_loss"], "d_loss": d_loss,
                "cycle": out["cycle_a"] + out["cycle_b"], "cycle_a": out["cycle_a"], "cycle_b": out["cycle_b"],
                "identity": out["identity"], "n": torch.tensor(a.shape[0])}

    def metrics(self):
        return {k: _mean_metric() for k in ("g_loss", "d_loss", "cycle", "cycle_a", "cycle_b", "identity")}

    def update_metrics(self, metrics, out) -> None:
        for k, m in metrics.items():
            m.update(out[k], weight=out["n"])

    def predict_step(self, model: nn.Module, batch: Any) -> torch.Tensor:
        """Domain-A images of the batch translated to B, in [0, 1]."""
        net = self.trainer.model if self.trainer is not None else model
        a = batch[0] if isinstance(batch, (tuple, list)) else batch
        return (net.g_ab(a * 2 - 1) + 1) / 2

    def __repr__(self) -> str:
        return (f"CycleAdversarialTask(loss={self.loss!r}, cycle_weight={self.cycle_weight}, "
                f"identity_weight={self.identity_weight})")


__all__ = ["CycleAdversarialTask", "UnpairedImages"]
