r"""Bias mitigation by re-weighting (book I11.18, L24888-24902): the weighted loss
:math:`\sum_i w_i\mathcal L_i` with Kamiran & Calders' (2012) *reweighing* weights

.. math:: w(a, y)=\frac{P(A=a)\,P(Y=y)}{P(A=a, Y=y)},

which make the label statistically independent of the protected attribute in the weighted
training data (each cell's weighted share becomes :math:`P(a)P(y)`). The book names the weighted
loss but not how to choose the weights.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import ShapeError


def reweighing_table(y: Tensor, groups: Tensor, num_groups: int | None = None,
                     num_classes: int | None = None) -> Tensor:
    """``w (G, K)``: the weight of every (group, label) cell, from labels ``y (N,)`` and group
    indices ``groups (N,)`` (both integers from 0). An empty cell gets weight 0."""
    y, groups = torch.as_tensor(y).long().reshape(-1), torch.as_tensor(groups).long().reshape(-1)
    if len(y) != len(groups) or len(y) == 0 or y.min() < 0 or groups.min() < 0:
        raise ShapeError(f"reweighing needs labels and group indices (N,) >= 0 of one length, got {len(y)} and "
                         f"{len(groups)}")
    G = num_groups or int(groups.max()) + 1
    K = num_classes or int(y.max()) + 1
    joint = torch.zeros(G, K, dtype=torch.float64).index_put_((groups, y), torch.ones(len(y), dtype=torch.float64),
                                                              accumulate=True) / len(y)
    expected = joint.sum(1, keepdim=True) * joint.sum(0, keepdim=True)
    return torch.where(joint > 0, expected / joint.clamp_min(1e-300), torch.zeros_like(joint))


def reweighing_weights(y: Tensor, groups: Tensor) -> Tensor:
    """Each example's weight ``(N,)``: :func:`reweighing_table` looked up at its (group, label)."""
    y, groups = torch.as_tensor(y).long().reshape(-1), torch.as_tensor(groups).long().reshape(-1)
    return reweighing_table(y, groups)[groups, y]


__all__ = ["reweighing_table", "reweighing_weights"]
