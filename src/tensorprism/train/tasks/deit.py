"""DeiT training (Touvron et al. 2021): a vision transformer with a distillation token learns from the
labels through its class head and from a frozen CNN teacher through its distillation head, on the
same augmented batch (:func:`tensorprism.losses.distillation.deit_distillation_loss`)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from ...errors import ConfigError
from ...losses.distillation import deit_distillation_loss
from . import register_task, split_batch
from .vision import AugmentedClassificationTask

__all__ = ["DeiTDistillationTask"]


@register_task("deit-distillation")
class DeiTDistillationTask(AugmentedClassificationTask):
    """Hard or soft DeiT distillation with batch augmentation; evaluation is plain classification
    of ``model(x)`` (the average of the two heads).

    Args:
        teacher: a trained classifier (module) or its run directory/checkpoint; frozen, eval mode.
        kind: ``"hard"`` (teacher's argmax as label) or ``"soft"`` (temperature KL).
        alpha: weight of the distillation term in ``[0, 1]``.
        temperature: ``T`` of the soft kind.
        augment, preprocess, num_classes, label_smoothing: as :class:`AugmentedClassificationTask`
            (the teacher sees the same augmented, preprocessed images as the student).

    A model with ``forward_distill`` (a DeiT) returns both heads; any other classifier is
    distilled through its one head.
    """

    def __init__(self, teacher: nn.Module | str, kind: str = "hard", alpha: float = 0.5, temperature: float = 3.0,
                 **kw: Any):
        super().__init__(**kw)
        if isinstance(teacher, str):
            from ..checkpoint import load_model

            teacher = load_model(teacher)
        if not isinstance(teacher, nn.Module):
            raise ConfigError(f"teacher must be a module or a run directory, got {type(teacher).__name__}")
        if kind not in ("hard", "soft"):
            raise ConfigError(f"kind must be 'hard' or 'soft', got {kind!r}")
        if not 0.0 <= alpha <= 1.0 or not temperature > 0:
            raise ConfigError(f"alpha must lie in [0, 1] and temperature be > 0, got {alpha} and {temperature}")
        self.teacher = teacher.eval().requires_grad_(False)
        self.kind, self.alpha, self.temperature = kind, float(alpha), float(temperature)

    def training_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        x, y = split_batch(batch)
        if self.augment is not None:
            if self.mixes:
                x, y = self.augment(x, y)
            else:
                x = self.augment(x)
        x = self._prep(x)
        first = next(self.teacher.parameters(), None)
        if first is not None and first.device != x.device:
            self.teacher.to(x.device)
        with torch.no_grad():
            t = self.teacher.eval()(x)
        if hasattr(model, "forward_distill") and getattr(model, "head_dist", None) is not None:
            cls, dist = model.forward_distill(x)
        else:
            cls = dist = model(x)
        loss = deit_distillation_loss(cls, dist, y, t, kind=self.kind, alpha=self.alpha,
                                      temperature=self.temperature, label_smoothing=self.label_smoothing)
        return {"loss": loss}

    def __repr__(self) -> str:
        return f"DeiTDistillationTask(teacher={type(self.teacher).__name__}, kind={self.kind!r}, alpha={self.alpha})"
