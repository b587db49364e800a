r"""Adversarial training (book I11.23, L24994-24998; Madry et al. 2018): the min-max objective
:math:`\min_\theta\mathbb E[\max_{\lVert\delta\rVert\le\epsilon}\mathcal L(f_\theta(x+\delta),y)]`,
its inner maximum approximated by PGD (:func:`tensorprism.functional.attacks.pgd`).

It is classification with a different batch: each training batch is replaced by its PGD
adversarial examples (optionally mixed with the clean batch), so the Trainer's automatic
optimisation, precision, clipping and checkpoints apply unchanged.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from ...errors import ConfigError
from ...functional.attacks import check_budget, check_norm, pgd
from . import register_task, split_batch
from .classification import ClassificationTask


@register_task("adversarial-training")
class AdversarialTrainingTask(ClassificationTask):
    """Cross-entropy on PGD adversarial examples; evaluation also reports PGD accuracy.

    Args:
        eps: the budget ε (0.3 for MNIST in [0, 1] under L∞, Madry et al.).
        alpha: PGD step size (default ``2.5 * eps / steps``).
        steps: PGD steps per training batch (Madry et al.: 40 on MNIST; fewer is cheaper).
        norm: ``"inf"`` or ``"2"``.
        random_init: PGD's random start.
        clean_weight: weight of the clean loss, ``(1 - w) * L_adv + w * L_clean`` (0: Madry's
            objective; 0.5: Goodfellow et al.'s mix).
        clamp: the valid input range ``(low, high)`` (``None``: unbounded).
        eval_eps, eval_steps, eval_alpha: the attack evaluation reports as ``adv_acc`` (defaults:
            the training ``eps``; ``eval_steps=0`` evaluates clean accuracy only).
        seed: seed of the random starts.

    The attack runs with the model in eval mode (BatchNorm statistics and dropout are those of
    inference while the examples are searched), then the update is taken in training mode.
    """

    def __init__(self, eps: float = 0.3, alpha: float | None = None, steps: int = 7, norm: str = "inf",
                 random_init: bool = True, clean_weight: float = 0.0, clamp: tuple[float, float] | None = (0.0, 1.0),
                 eval_eps: float | None = None, eval_steps: int = 0, eval_alpha: float | None = None, seed: int = 0,
                 **kw: Any):
        super().__init__(**kw)
        self.norm = check_norm(norm)
        check_budget(eps, alpha, steps)
        if not 0.0 <= clean_weight <= 1.0:
            raise ConfigError(f"clean_weight must lie in [0, 1], got {clean_weight}")
        if int(eval_steps) != eval_steps or eval_steps < 0:
            raise ConfigError(f"eval_steps must be an integer >= 0 (0: clean evaluation only), got {eval_steps}")
        self.eval_eps = float(eps if eval_eps is None else eval_eps)
        check_budget(self.eval_eps, eval_alpha, eval_steps or None)
        self.eps, self.alpha, self.steps, self.random_init = float(eps), alpha, int(steps), bool(random_init)
        self.clean_weight, self.clamp = float(clean_weight), None if clamp is None else tuple(clamp)
        self.eval_steps, self.eval_alpha = int(eval_steps), eval_alpha
        self.generator = torch.Generator().manual_seed(int(seed))

    def attack(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float, steps: int,
               alpha: float | None) -> torch.Tensor:
        """PGD examples of ``(x, y)`` with the plain module switched to eval mode meanwhile."""
        net = self.trainer.model if self.trainer is not None else model
        was = net.training
        net.eval()
        try:
            return pgd(model, x, y, eps, alpha=alpha, steps=steps, norm=self.norm, random_init=self.random_init,
                       clamp=self.clamp, generator=self.generator)
        finally:
            net.train(was)

    def training_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        x, y = split_batch(batch)
        adv = self.attack(model, x, y, eps=self.eps, steps=self.steps, alpha=self.alpha)
        adv_loss = self._loss(model(adv), y)
        out = {"adv_loss": adv_loss.detach()}
        loss = adv_loss
        if self.clean_weight > 0:
            clean = self._loss(model(x), y)
            loss = (1 - self.clean_weight) * adv_loss + self.clean_weight * clean
            out["clean_loss"] = clean.detach()
        return {"loss": loss, **out}

    def evaluation_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        out = super().evaluation_step(model, batch)
        if self.eval_steps:
            x, y = split_batch(batch)
            adv = self.attack(model, x, y, eps=self.eval_eps, steps=self.eval_steps, alpha=self.eval_alpha)
            out["adv_preds"] = model(adv)
        return out

    def metrics(self):
        ms = super().metrics()
        if self.eval_steps:
            from torchmetrics.classification import MulticlassAccuracy

            ms["adv_acc"] = MulticlassAccuracy(self.num_classes, average="micro")
        return ms

    def update_metrics(self, metrics, out) -> None:
        for k, m in metrics.items():
            m.update(out["adv_preds"] if k == "adv_acc" else out["preds"], out["target"])

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state().tolist()}

    def load_state_dict(self, state: dict) -> None:
        if "generator" in state:
            self.generator.set_state(torch.tensor(state["generator"], dtype=torch.uint8))

    def __repr__(self) -> str:
        return (f"AdversarialTrainingTask(eps={self.eps}, steps={self.steps}, norm={self.norm!r}, "
                f"clean_weight={self.clean_weight}, eval_steps={self.eval_steps})")
