"""Knowledge distillation of a classifier (Hinton et al. 2015): the student learns from the labels
and from a frozen teacher's temperature-softened outputs, with the library's one distillation loss
(:func:`tensorprism.losses.distillation.distillation_loss`, also DistilBERT's)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from ...errors import ConfigError
from ...losses.distillation import distillation_loss
from . import register_task, split_batch
from .classification import ClassificationTask


@register_task("distillation")
class DistillationTask(ClassificationTask):
    """``alpha T^2 KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) CE(s, y)`` for training; evaluation
    is the student's plain classification (loss = cross-entropy, accuracy, F1).

    Args:
        teacher: the trained teacher (any module mapping the student's inputs to logits
            ``(N, C)``), or the path of its run directory/checkpoint (``load_model``). It is kept
            in eval mode, frozen, and moved to the batch's device.
        temperature: ``T > 0``; higher values expose more of the teacher's "dark knowledge".
        alpha: weight of the soft term in ``[0, 1]`` (``0`` = plain supervised training).
    """

    def __init__(self, teacher: nn.Module | str, temperature: float = 4.0, alpha: float = 0.9, **kw: Any):
        super().__init__(**kw)
        if isinstance(teacher, str):
            from ..checkpoint import load_model

            teacher = load_model(teacher)
        if not isinstance(teacher, nn.Module):
            raise ConfigError(f"teacher must be a module or a run directory, got {type(teacher).__name__}")
        if not temperature > 0:
            raise ConfigError(f"temperature must be > 0, got {temperature}")
        if not 0.0 <= alpha <= 1.0:
            raise ConfigError(f"alpha (the soft-target weight) must lie in [0, 1], got {alpha}")
        self.teacher = teacher.eval().requires_grad_(False)
        self.temperature, self.alpha = float(temperature), float(alpha)

    def training_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        x, y = split_batch(batch)
        logits = model(x)
        self._loss(logits, y)  # the label/shape checks of classification
        device = logits.device
        first = next(self.teacher.parameters(), None)
        if first is not None and first.device != device:
            self.teacher.to(device)
        with torch.no_grad():
            teacher_logits = self.teacher.eval()(x)
        loss = distillation_loss(logits, teacher_logits, y, temperature=self.temperature,
                                 alpha_soft=self.alpha, alpha_hard=1.0 - self.alpha)
        return {"loss": loss}

    def __repr__(self) -> str:
        return (f"DistillationTask(teacher={type(self.teacher).__name__}, temperature={self.temperature}, "
                f"alpha={self.alpha})")
