r"""A cosine learning-rate schedule over a *time budget* (a callback).

A run capped by ``time_budget_s`` (the :class:`~tensorprism.train.callbacks.TimeLimit` callback) stops
after some unknown number of steps. A step-based cosine schedule planned over ``epochs`` then never
gets past its first part: the rate is still near its peak when the time runs out, and the final
weights are those of an undecayed run. :class:`BudgetCosineLR` follows the fraction of the budget
spent instead:

.. math:: \eta_t = \eta_0\,\big(f + (1-f)\tfrac12(1+\cos\pi p_t)\big),\qquad
          p_t = \min\!\Big(1,\ \max\big(\tfrac{\text{seconds spent}}{\text{budget}},\ \tfrac{t}{T}\big)\Big)

where ``T`` is the planned number of optimiser steps (so a run that finishes its epochs before the
budget still ends on the same schedule as a plain cosine). Use it with the Trainer's ``scheduler=None``.
Because wall time is not reproducible, two budgeted runs differ in their rates; a run resumed from a
checkpoint continues from the saved time spent and base rates (exact resume needs a step schedule).
"""

from __future__ import annotations

import math
import time
from typing import Any

from ..errors import ConfigError
from .callbacks import Callback


class BudgetCosineLR(Callback):
    """Set every optimiser's rate after each optimiser step from the fraction of ``seconds`` spent.

    Args:
        seconds: the time budget (the same as the run's ``TimeLimit``).
        min_factor: the final rate as a fraction of the initial one.
    """

    def __init__(self, seconds: float, min_factor: float = 0.0):
        if seconds <= 0:
            raise ConfigError(f"BudgetCosineLR needs a positive number of seconds, got {seconds}")
        if not 0 <= min_factor <= 1:
            raise ConfigError(f"min_factor must be in [0, 1], got {min_factor}")
        self.seconds, self.min_factor = float(seconds), float(min_factor)
        self.spent = 0.0
        self.base: list[list[float]] | None = None
        self._since: float | None = None
        self._last_step = -1

    def on_fit_start(self, trainer) -> None:
        if self.base is None:  # a resumed run keeps the saved base rates, not the decayed current ones
            self.base = [[g["lr"] for g in opt.param_groups] for opt in trainer.optimizers]
        self._since = time.perf_counter()

    def progress(self, trainer) -> float:
        """``p_t`` in [0, 1]: the larger of the time fraction and the step fraction."""
        total = trainer._schedule_length() if trainer.config.scheduler_interval == "step" else None
        by_steps = trainer.global_step / total if total else 0.0
        return min(1.0, max(self.spent / self.seconds, by_steps))

    def factor(self, p: float) -> float:
        return self.min_factor + (1 - self.min_factor) * 0.5 * (1 + math.cos(math.pi * p))

    def on_train_batch_end(self, trainer, outputs: dict[str, Any]) -> None:
        now = time.perf_counter()
        self.spent += now - self._since
        self._since = now
        if trainer.global_step == self._last_step:  # inside an accumulation group: no step yet
            return
        self._last_step = trainer.global_step
        f = self.factor(self.progress(trainer))
        for opt, base in zip(trainer.optimizers, self.base, strict=True):
            for g, lr in zip(opt.param_groups, base, strict=True):
                g["lr"] = lr * f

    def state_dict(self) -> dict[str, Any]:
        return {"spent": self.spent, "base": self.base}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.spent = float(state.get("spent", 0.0))
        self.base = state.get("base")


__all__ = ["BudgetCosineLR"]
