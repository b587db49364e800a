"""Dropout layers beyond ``torch.nn.Dropout`` / ``nn.AlphaDropout`` (which the models use).

:class:`ClassicDropout` is the book's formulation (§3.6.1, L4113–4127): ``keep`` is the probability
of *keeping* a unit, no scaling in training, activations multiplied by ``keep`` at test time. It
computes the same expected activation as ``nn.Dropout(p=1-keep)`` but scales at a different
moment; models in this library use the inverted form (see :mod:`tensorprism.functional.dropout`).
"""

from __future__ import annotations

import torch.nn as nn
from torch import Tensor

from ..functional.dropout import classic_dropout


class ClassicDropout(nn.Module):
    """Dropout as the book writes it (§3.6.1): keep each unit with probability ``keep`` and scale
    at test time instead of training time; see the module docstring."""

    def __init__(self, keep: float = 0.5):
        super().__init__()
        self.keep = keep

    def forward(self, x: Tensor) -> Tensor:
        return classic_dropout(x, self.keep, self.training)

    def extra_repr(self) -> str:
        return f"keep={self.keep}"


__all__ = ["ClassicDropout"]
