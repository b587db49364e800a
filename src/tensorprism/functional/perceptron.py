"""Rosenblatt's perceptron learning rule (book Ch. 1, l.572-592) and its failure on XOR (l.594-606).

.. math:: \\hat y_i = H(w^\\top x_i + b),\\qquad
          w \\leftarrow w + \\eta\\,(y_i-\\hat y_i)\\,x_i,\\qquad b \\leftarrow b + \\eta\\,(y_i-\\hat y_i)

with labels :math:`y_i\\in\\{0,1\\}` and the Heaviside step :math:`H(s)=1` for :math:`s\\ge 0`
(the book leaves :math:`H(0)` open; this choice makes the rule the same as scikit-learn's
``Perceptron``, which updates when :math:`y^\\pm_i s_i\\le 0`, except at :math:`s_i=0` for a
positive sample). The update is zero on correctly classified samples, so the rule changes the
weights only on mistakes. Samples are visited in order, one at a time; training stops after the
first epoch without a mistake. By the perceptron convergence theorem that epoch comes for every
linearly separable set; XOR is not separable, so every epoch has at least one mistake.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from ..errors import DataError, ShapeError

__all__ = ["PerceptronResult", "heaviside", "perceptron_fit", "perceptron_predict"]


def heaviside(s: Tensor) -> Tensor:
    """:math:`H(s)=1` for :math:`s\\ge0`, else 0, in the dtype of ``s``."""
    return (s >= 0).to(s.dtype)


@dataclass
class PerceptronResult:
    """``weight (F,)``, ``bias ()``, mistakes per epoch and whether an epoch was mistake-free."""

    weight: Tensor
    bias: Tensor
    mistakes: list[int] = field(default_factory=list)
    converged: bool = False


def perceptron_predict(x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """``x (N, F)`` -> labels ``(N,)`` in {0, 1}."""
    return heaviside(x @ weight + bias)


def perceptron_fit(x: Tensor, y: Tensor, lr: float = 1.0, epochs: int = 100,
                   weight: Tensor | None = None, bias: Tensor | float | None = None) -> PerceptronResult:
    """Run the perceptron rule on ``x (N, F)`` with labels ``y (N,)`` in {0, 1}.

    ``weight``/``bias`` start at zero unless given. Returns after the first epoch with no mistake
    (``converged=True``) or after ``epochs`` epochs.
    """
    if x.dim() != 2 or y.dim() != 1 or len(x) != len(y):
        raise ShapeError(f"perceptron_fit needs x (N, F) and y (N,); got {tuple(x.shape)} and {tuple(y.shape)}")
    if len(x) == 0:
        raise DataError("perceptron_fit needs at least one sample")
    if not bool(((y == 0) | (y == 1)).all()):
        raise DataError("perceptron labels must be 0 or 1 (the book's convention); map -1/+1 labels with (y + 1) / 2")
    if lr <= 0 or epochs < 1:
        raise DataError(f"perceptron_fit needs lr > 0 and epochs >= 1, got lr={lr}, epochs={epochs}")
    x = x.double()
    y = y.double()
    w = torch.zeros(x.shape[1], dtype=torch.float64) if weight is None else weight.detach().double().clone()
    b = torch.zeros((), dtype=torch.float64) if bias is None else torch.as_tensor(bias, dtype=torch.float64).clone()
    if w.shape != (x.shape[1],):
        raise ShapeError(f"initial weight must be ({x.shape[1]},), got {tuple(w.shape)}")
    result = PerceptronResult(w, b)
    for _ in range(epochs):
        mistakes = 0
        for xi, yi in zip(x, y, strict=True):
            delta = lr * (yi - heaviside(xi @ w + b))
            if delta != 0:
                w += delta * xi
                b += delta
                mistakes += 1
        result.mistakes.append(mistakes)
        if mistakes == 0:
            result.converged = True
            break
    return result
