"""Losses torch does not ship as such, and (re-exported from :mod:`tensorprism.nn.mlp`) the
head → loss mapping used by the model builders.

Everything else uses torch's losses directly (``nn.CrossEntropyLoss`` for logits with class
weights and label smoothing, ``nn.BCEWithLogitsLoss``, ``nn.MSELoss``, ``nn.L1Loss``,
``nn.HuberLoss``, ``nn.KLDivLoss``...). Their equations are written out in
:mod:`tensorprism.functional.losses` and tested equal to torch.
"""

from __future__ import annotations

from ..nn.mlp import head_loss
from .hinge import BinaryHingeLoss, binary_hinge_loss
from .squared import SquaredErrorLoss

__all__ = ["head_loss", "BinaryHingeLoss", "SquaredErrorLoss", "binary_hinge_loss"]
