"""Learning-rate schedules (book §3.5.4, L3958–3984; Noam: Vaswani et al. 2017; one-cycle: Smith 2018).

Each schedule is written first as the book's formula: a pure function of the step ``t`` (counted
in optimiser steps or in epochs, see ``interval``) returning the factor that multiplies the base
learning rate ``η₀``. :func:`build_scheduler` wraps it in a :class:`torch.optim.lr_scheduler.LambdaLR`
(whose state is a few numbers, so checkpoints store it as JSON). One-cycle uses PyTorch's
:class:`~torch.optim.lr_scheduler.OneCycleLR`, which also cycles momentum.

Corrections to the book (pinned by ``tests/train/test_schedules.py``):

* the listing's "step decay" (L3994) counts optimiser steps while the formula counts epochs:
  here the unit is explicit (``interval="step"`` or ``"epoch"``);
* polynomial decay (L3972) decays to 0 while the listing (L4000) has a floor: ``min_factor``;
* cosine annealing (L3984) is a single half-cosine although the text speaks of "periodic
  decreases": ``min_factor`` (η_min) and ``cycle`` (warm restarts, Loshchilov & Hutter 2017) are
  offered.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from ..errors import ConfigError


def step_decay(t: int, *, step_size: int, gamma: float = 0.1) -> float:
    """η_t / η₀ = γ^⌊t / step_size⌋ (book S1, "drop" = γ)."""
    return gamma ** (t // step_size)


def exponential_decay(t: int, *, gamma: float | None = None, rate: float | None = None) -> float:
    """η_t / η₀ = e^{-λt} (book S2) with ``rate`` = λ, or equivalently γ^t with ``gamma`` = e^{-λ}."""
    if (gamma is None) == (rate is None):
        raise ConfigError("exponential schedule needs exactly one of gamma (per-step factor) or rate (λ)")
    return math.exp(-rate * t) if rate is not None else gamma**t


def polynomial_decay(t: int, *, total: int, power: float = 1.0, min_factor: float = 0.0) -> float:
    """η_t / η₀ = (1 − f)(1 − t/T)^p + f, f = ``min_factor`` (book S3 is f = 0); constant after T."""
    frac = min(t, total) / max(total, 1)
    return (1.0 - min_factor) * (1.0 - frac) ** power + min_factor


def cosine_annealing(t: int, *, total: int, min_factor: float = 0.0, cycle: int | None = None) -> float:
    """η_t / η₀ = f + (1 − f)·½(1 + cos(π t / T)) (book S4 is f = 0, no restarts).

    With ``cycle`` = C the cosine restarts every C steps (SGDR, T_mult = 1): t → t mod C, T → C.
    """
    period = cycle or total
    tt = t % period if cycle else min(t, period)
    return min_factor + (1.0 - min_factor) * 0.5 * (1.0 + math.cos(math.pi * tt / max(period, 1)))


def noam(t: int, *, d_model: int, warmup: int) -> float:
    """η_t / η₀ = d_model^{-1/2} · min(s^{-1/2}, s · warmup^{-3/2}) with s = t + 1 (Vaswani et al. 2017)."""
    s = t + 1
    return d_model**-0.5 * min(s**-0.5, s * warmup**-1.5)


def linear_warmup(t: int, *, warmup: int, start_factor: float = 0.0) -> float:
    """Linear ramp of the factor from ``start_factor`` at t = 0 to 1 at t = ``warmup``."""
    if t >= warmup:
        return 1.0
    return start_factor + (1.0 - start_factor) * t / warmup


def constant(t: int) -> float:
    del t
    return 1.0


# name -> (formula, whether it needs the total length T)
SCHEDULES: dict[str, tuple[Callable[..., float], bool]] = {
    "constant": (constant, False),
    "step": (step_decay, False),
    "exponential": (exponential_decay, False),
    "polynomial": (polynomial_decay, True),
    "cosine": (cosine_annealing, True),
    "noam": (noam, False),
    "warmup": (constant, False),  # linear warm-up followed by a constant rate
}
ALL_SCHEDULES = (*SCHEDULES, "onecycle")


def _need_total(name: str, total: int | None) -> int:
    if total is None:
        raise ConfigError(f"LR schedule {name!r} needs the total number of optimiser steps, but the "
                          f"training data has no length (an IterableDataset or unsized loader); set "
                          f"max_steps, use scheduler_interval='epoch', or a schedule without a total "
                          f"(step, exponential, noam, warmup)")
    return total


def schedule_factor(name: str, *, total: int | None, warmup: int = 0, warmup_start: float = 0.0,
                    **kwargs: Any) -> Callable[[int], float]:
    """``t -> η_t/η₀`` for schedule ``name``, optionally after ``warmup`` steps of linear warm-up.

    With warm-up the main schedule starts at t = ``warmup`` and runs over the remaining
    ``total - warmup`` steps. (Noam has its own warm-up and ignores ``warmup``.)
    """
    if name not in SCHEDULES:
        from ..errors import suggest

        close = suggest(name, ALL_SCHEDULES)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown LR schedule {name!r}{hint}; choose one of {', '.join(ALL_SCHEDULES)}")
    fn, needs_total = SCHEDULES[name]
    if name == "noam":
        kwargs.setdefault("warmup", warmup or 4000)
        return lambda t: fn(t, **kwargs)
    if needs_total:
        kwargs["total"] = max(_need_total(name, total) - warmup, 1)
    try:
        fn(0, **kwargs)  # validate the arguments once, with a readable error
    except TypeError as exc:
        raise ConfigError(f"bad options for LR schedule {name!r}: {exc}") from exc
    if warmup <= 0:
        return lambda t: fn(t, **kwargs)
    return lambda t: (linear_warmup(t, warmup=warmup, start_factor=warmup_start) if t < warmup
                      else fn(t - warmup, **kwargs))


def build_scheduler(optimizer: torch.optim.Optimizer, spec: str | dict | None, *, total: int | None):
    """A PyTorch LR scheduler for ``spec`` over ``total`` units (steps or epochs).

    ``total`` is ``None`` when it is unknown (unsized training data); schedules that need it then
    raise :class:`ConfigError`.

    ``spec`` is a schedule name or a dict ``{"name": ..., **options}`` where options are the
    formula's keyword arguments plus ``warmup``/``warmup_start``; ``interval`` (``"step"`` or
    ``"epoch"``) is read by the Trainer, not here. Returns ``None`` for no schedule.
    """
    if spec is None:
        return None
    options = {"name": spec} if isinstance(spec, str) else dict(spec)
    options.pop("interval", None)
    name = str(options.pop("name", "")).lower()
    if name in ("", "none"):
        return None
    if name == "onecycle":
        max_lr = [g["lr"] for g in optimizer.param_groups]
        try:
            return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr,
                                                       total_steps=_need_total(name, total), **options)
        except TypeError as exc:
            raise ConfigError(f"bad options for LR schedule 'onecycle': {exc}") from exc
    return torch.optim.lr_scheduler.LambdaLR(optimizer, schedule_factor(name, total=total, **options))


__all__ = [
    "step_decay", "exponential_decay", "polynomial_decay", "cosine_annealing", "noam", "linear_warmup",
    "schedule_factor", "build_scheduler", "SCHEDULES", "ALL_SCHEDULES",
]
