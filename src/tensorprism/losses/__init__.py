"""Losses torch does not ship as such, and the head → loss mapping used by the model builders.

Everything else uses torch's losses directly (``nn.CrossEntropyLoss`` for logits with class
weights and label smoothing, ``nn.BCEWithLogitsLoss``, ``nn.MSELoss``, ``nn.L1Loss``,
``nn.HuberLoss``, ``nn.KLDivLoss``...). Their equations are written out in
:mod:`tensorprism.functional.losses` and tested equal to torch.
"""

from __future__ import annotations

import torch.nn as nn

from ..errors import ConfigError
from .hinge import BinaryHingeLoss, binary_hinge_loss
from .squared import SquaredErrorLoss


def head_loss(head: str, **kwargs) -> nn.Module:
    """The loss for an output head; every one takes **logits** (never softmax/sigmoid first).

    ``multiclass`` → ``CrossEntropyLoss``; ``binary``/``multilabel`` → ``BCEWithLogitsLoss``;
    ``regression`` → ``MSELoss``. ``kwargs`` go to the loss (``weight``, ``label_smoothing``...).
    """
    if head == "multiclass":
        return nn.CrossEntropyLoss(**kwargs)
    if head in ("binary", "multilabel"):
        return nn.BCEWithLogitsLoss(**kwargs)
    if head == "regression":
        return nn.MSELoss(**kwargs)
    raise ConfigError(f"unknown head {head!r}; expected multiclass, binary, multilabel or regression")


__all__ = ["head_loss", "BinaryHingeLoss", "SquaredErrorLoss", "binary_hinge_loss"]
