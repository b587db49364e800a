"""Optimisers of Chapter 3 by the book's names, and what torch lacks.

:func:`make_optimizer` maps the book's vocabulary onto ``torch.optim`` (the fast, fused kernels):

==================================  =================================================
book (§3.5)                         here
==================================  =================================================
batch / mini-batch / online SGD     ``"sgd"`` — the *batch size* makes the difference
                                    (full data, a mini-batch, one example; the
                                    scikit-learn estimators take ``batch_size=None/32/1``)
momentum (γ = 0.9)                  ``"momentum"`` = ``SGD(momentum=0.9)``
Nesterov                            ``"nesterov"`` = ``SGD(momentum=0.9, nesterov=True)``
Adagrad, Adadelta, RMSprop          ``"adagrad"``, ``"adadelta"``, ``"rmsprop"``
Adam, AMSGrad, AdamW                ``"adam"``, ``"amsgrad"``, ``"adamw"``
AdaMax, Nadam, RAdam                ``"adamax"``, ``"nadam"`` (torch: momentum schedule), ``"radam"``
Nadam without schedule              ``"nadam_dozat"`` → :class:`NAdamDozat` (ours)
L-BFGS                              ``"lbfgs"`` (``step(closure)``)
==================================  =================================================

This is the one optimiser table of the library: the Trainer's ``optimizer=`` setting, the recipes
and the scikit-learn estimators all build their optimisers with :func:`make_optimizer`.

The reference update equations are in :mod:`tensorprism.functional.optim_ref`;
:class:`ReferenceOptimizer` runs them and is tested equal to torch.optim over 100 steps.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from ..errors import ConfigError, suggest
from .reference import NAdamDozat, ReferenceOptimizer

_TABLE = {
    "sgd": (torch.optim.SGD, {}),
    "gd": (torch.optim.SGD, {}),
    "momentum": (torch.optim.SGD, {"momentum": 0.9}),
    "nesterov": (torch.optim.SGD, {"momentum": 0.9, "nesterov": True}),
    "adagrad": (torch.optim.Adagrad, {}),
    "adadelta": (torch.optim.Adadelta, {}),
    "rmsprop": (torch.optim.RMSprop, {}),
    "adam": (torch.optim.Adam, {}),
    "amsgrad": (torch.optim.Adam, {"amsgrad": True}),
    "adamw": (torch.optim.AdamW, {}),
    "adamax": (torch.optim.Adamax, {}),
    "nadam": (torch.optim.NAdam, {}),
    "radam": (torch.optim.RAdam, {}),
    "nadam_dozat": (NAdamDozat, {}),
    "lbfgs": (torch.optim.LBFGS, {}),
}
OPTIMIZER_NAMES = tuple(_TABLE)
#: name -> optimiser class (without the presets: ``"momentum"`` is plain ``SGD`` here; build with
#: :func:`make_optimizer` to get them).
OPTIMIZERS = {name: cls for name, (cls, _) in _TABLE.items()}


def resolve_optimizer(name: str) -> tuple[type[torch.optim.Optimizer], dict]:
    """``(optimiser class, preset keyword arguments)`` for a book name; unknown names raise
    :class:`ConfigError` with the closest names."""
    key = str(name).lower().replace("-", "_")
    if key not in _TABLE:
        close = suggest(key, _TABLE)
        raise ConfigError(f"unknown optimizer {name!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
                          + f"; choose one of {', '.join(OPTIMIZER_NAMES)}")
    cls, defaults = _TABLE[key]
    return cls, dict(defaults)


def make_optimizer(name: str, params: Iterable, *, lr: float | None = None, weight_decay: float | None = None,
                   **kwargs) -> torch.optim.Optimizer:
    """Build the optimiser the book calls ``name`` (see the module table) over ``params``.

    ``lr`` and ``weight_decay`` are passed when given (``None`` keeps the optimiser's default);
    other ``kwargs`` (``momentum``, ``betas``...) override the name's presets.
    """
    cls, defaults = resolve_optimizer(name)
    given = {k: v for k, v in (("lr", lr), ("weight_decay", weight_decay)) if v is not None}
    return cls(params, **{**defaults, **given, **kwargs})


__all__ = ["make_optimizer", "resolve_optimizer", "OPTIMIZERS", "OPTIMIZER_NAMES", "ReferenceOptimizer", "NAdamDozat"]
