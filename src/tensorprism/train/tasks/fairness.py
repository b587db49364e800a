r"""Fairness-aware binary classification (book I11.17-I11.18, L24882-24918).

Batches are ``(x, y, a)`` or ``(x, y, a, w)``: features, labels in {0, 1}, the protected group
index of each example, and optionally a per-example loss weight (e.g.
:func:`tensorprism.functional.fairness.reweighing_weights`: mitigation by re-weighting). With
``adversary_weight > 0`` the task also does **adversarial debiasing** (Zhang, Lemoine & Mitchell
2018), the book's :math:`\min_f\max_g\;\mathcal L_{main}(f)-\lambda\mathcal L_{adv}(g,f)`: an
adversary :math:`g` predicts the group from the classifier's logit (and, for equalised odds, the
true label), and the classifier is trained to make it fail. Zhang et al.'s extra projection term
is not used (the plain min-max form of the book).

Evaluation reports accuracy and the two gaps of :mod:`tensorprism.metrics.fairness`
(``dp_diff``: demographic parity difference, ``eo_diff``: equalised odds difference).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...errors import ConfigError, ShapeError
from . import Task, register_task


def _unpack(batch: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    if not isinstance(batch, (tuple, list)) or len(batch) not in (3, 4):
        raise ShapeError("fair classification needs batches (x, y, group) or (x, y, group, weight); build them with "
                         "TensorDataset(x, y, dataset.groups[, weights])")
    return batch[0], batch[1].long(), batch[2].long(), (batch[3] if len(batch) == 4 else None)


class _GapMetric:
    """Collects binary predictions, labels and groups over an evaluation; computes one gap."""

    def __init__(self, kind: str):
        from torchmetrics import Metric

        class Gap(Metric):
            full_state_update = False

            def __init__(self):
                super().__init__()
                for k in ("preds", "target", "groups"):
                    self.add_state(k, default=[], dist_reduce_fx="cat")

            def update(self, preds, target, groups):
                self.preds.append(preds)
                self.target.append(target)
                self.groups.append(groups)

            def compute(self):
                from ...metrics.fairness import (
                    demographic_parity_difference,
                    equalized_odds_difference,
                )

                p, t, g = (torch.cat(v).cpu() for v in (self.preds, self.target, self.groups))
                fn = demographic_parity_difference if kind == "dp" else equalized_odds_difference
                return torch.tensor(fn(t, p, g))

        self.metric = Gap()


@register_task("fair-classification")
class FairClassificationTask(Task):
    """Binary classification with optional re-weighting and adversarial debiasing.

    Args:
        adversary_weight: λ of the adversarial term (0: no adversary).
        criterion: what the adversary attacks: ``"demographic_parity"`` (it sees the logit) or
            ``"equalized_odds"`` (the logit and the true label).
        num_groups: number of protected groups ``G``.
        adversary_hidden: hidden width of the adversary (0: a logistic regression).
        adversary_lr_factor: the adversary's learning rate is the Trainer's ``lr`` times this.

    The model maps ``x`` to two logits ``(N, 2)``.
    """

    monitor = "val/acc"
    mode = "max"
    manual_optimization = True

    def __init__(self, adversary_weight: float = 0.0, criterion: str = "equalized_odds", num_groups: int = 2,
                 adversary_hidden: int = 16, adversary_lr_factor: float = 1.0, seed: int = 0):
        if adversary_weight < 0:
            raise ConfigError(f"adversary_weight must be >= 0, got {adversary_weight}")
        if criterion not in ("demographic_parity", "equalized_odds"):
            raise ConfigError(f"unknown fairness criterion {criterion!r}; expected 'demographic_parity' or "
                              "'equalized_odds'")
        if int(num_groups) < 2:
            raise ConfigError(f"num_groups must be >= 2, got {num_groups}")
        self.adversary_weight, self.criterion, self.num_groups = float(adversary_weight), criterion, int(num_groups)
        self.adversary_lr_factor = float(adversary_lr_factor)
        torch.manual_seed(seed)
        n_in = 2 if criterion == "equalized_odds" else 1
        self.adversary = (nn.Sequential(nn.Linear(n_in, adversary_hidden), nn.ReLU(),
                                        nn.Linear(adversary_hidden, self.num_groups))
                          if adversary_hidden else nn.Linear(n_in, self.num_groups))

    def configure_optimizers(self, model: nn.Module, build):
        device = next(model.parameters()).device
        self.adversary.to(device)
        opt_f = build(list(model.parameters()))
        if self.adversary_weight == 0:  # no adversary to train
            return [opt_f]
        opt_g = build(list(self.adversary.parameters()))
        for group in opt_g.param_groups:
            group["lr"] *= self.adversary_lr_factor
            if "initial_lr" in group:
                group["initial_lr"] *= self.adversary_lr_factor
        return [opt_f, opt_g]

    def _adv_input(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        s = (logits[:, 1] - logits[:, 0])[:, None]  # the classifier's log-odds of class 1
        return torch.cat([s, y[:, None].to(s.dtype)], 1) if self.criterion == "equalized_odds" else s

    def _main_loss(self, logits, y, w):
        if logits.dim() != 2 or logits.shape[1] != 2:
            raise ShapeError(f"fair classification expects two logits per example (N, 2), got {tuple(logits.shape)}")
        ce = F.cross_entropy(logits, y, reduction="none")
        return (ce * w.to(ce.dtype)).sum() / w.sum().clamp_min(1e-12) if w is not None else ce.mean()

    def training_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        tr = self.trainer
        x, y, a, w = _unpack(batch)
        opt_f = tr.optimizers[0]
        logits = model(x)
        main = self._main_loss(logits, y, w)
        out = {"main_loss": main.detach()}
        if self.adversary_weight > 0:
            # the adversary's step on the classifier's current (detached) outputs
            opt_g = tr.optimizers[1]
            with tr.toggled(opt_g):
                adv_loss = F.cross_entropy(self.adversary(self._adv_input(logits.detach(), y)), a)
                tr.backward(adv_loss)
            tr.optimizer_step(opt_g)
            with tr.toggled(opt_f):  # the classifier: fit the labels, and make the adversary fail
                fooled = F.cross_entropy(self.adversary(self._adv_input(logits, y)), a)
                loss = main - self.adversary_weight * fooled
                tr.backward(loss)
            tr.optimizer_step(opt_f)
            out["adv_loss"] = adv_loss.detach()
        else:
            tr.backward(main)
            tr.optimizer_step(opt_f)
            loss = main
        return {"loss": loss.detach(), **out}

    def evaluation_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        x, y, a, w = _unpack(batch)
        logits = model(x)
        return {"loss": self._main_loss(logits, y, None), "preds": logits, "target": y, "groups": a}

    def metrics(self):
        from torchmetrics.classification import MulticlassAccuracy

        return {"acc": MulticlassAccuracy(2, average="micro"), "dp_diff": _GapMetric("dp").metric,
                "eo_diff": _GapMetric("eo").metric}

    def update_metrics(self, metrics, out) -> None:
        hard = out["preds"].argmax(1)
        for k, m in metrics.items():
            if k == "acc":
                m.update(out["preds"], out["target"])
            else:
                m.update(hard, out["target"], out["groups"])

    def predict_step(self, model: nn.Module, batch: Any) -> torch.Tensor:
        return model(batch[0] if isinstance(batch, (tuple, list)) else batch).argmax(1)

    def state_dict(self) -> dict:
        return {"adversary": {k: v.tolist() for k, v in self.adversary.state_dict().items()}}

    def load_state_dict(self, state: dict) -> None:
        if "adversary" in state:
            self.adversary.load_state_dict({k: torch.tensor(v) for k, v in state["adversary"].items()})

    def __repr__(self) -> str:
        return (f"FairClassificationTask(adversary_weight={self.adversary_weight}, criterion={self.criterion!r}, "
                f"num_groups={self.num_groups})")
