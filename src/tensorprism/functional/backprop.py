r"""Backpropagation by hand (book §3.1.1 L2553–2561, §3.4.1 L3327–3381; exercise 7).

Batch (row) form of the book's per-sample column equations. With ``X`` of shape ``(N, d)`` and
weights ``W^{(l)}`` of shape ``(n_l, n_{l-1})`` (as ``nn.Linear``):

.. math::
    Z^{(l)} = H^{(l-1)}W^{(l)\top} + \mathbf 1 b^{(l)\top},\qquad H^{(l)}=\sigma(Z^{(l)}),\qquad H^{(0)}=X

    \delta^{(l)} = \bigl(\delta^{(l+1)}W^{(l+1)}\bigr)\odot\sigma'(Z^{(l)}),\qquad
    \frac{\partial L}{\partial W^{(l)}}=\delta^{(l)\top}H^{(l-1)},\qquad
    \frac{\partial L}{\partial b^{(l)}}=\mathbf 1^\top\delta^{(l)}

which is the book's :math:`\delta^{(l)}=(W^{(l+1)\top}\delta^{(l+1)})\odot\sigma'(z^{(l)})`,
:math:`\partial L/\partial W^{(l)}=\delta^{(l)}h^{(l-1)\top}` stacked over samples.

The output layer is linear (logits ``Z^{(L)}``) and the output delta :math:`\delta^{(L)}=\partial
L/\partial Z^{(L)}` depends on the head (losses averaged as torch does):

* ``multiclass`` (softmax + cross-entropy): :math:`\delta^{(L)}=(\mathrm{softmax}(Z)-Y)/N`;
* ``binary``/``multilabel`` (sigmoid + BCE): :math:`\delta^{(L)}=(\sigma(Z)-Y)/(NK)`;
* ``regression`` (identity + MSE): :math:`\delta^{(L)}=2(Z-Y)/(NK)`.

The book writes :math:`\delta^{(L)}=\nabla_{\hat y}L\odot f'(z^{(L)})` (L2559, L3363). That holds
for elementwise ``f`` (sigmoid, identity), but softmax couples its outputs: the correct delta is
the Jacobian–vector product :math:`J_{\mathrm{softmax}}^\top\nabla_{\hat y}L`, which simplifies to
:math:`\hat y-y` (catalogue E15); :func:`output_delta_elementwise` reproduces the book's formula
so a test can show the difference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ..errors import ConfigError
from .activations import ACTIVATIONS, sigmoid, softmax

HEADS = ("multiclass", "binary", "multilabel", "regression")


@dataclass
class ForwardCache:
    """What the backward pass needs: the inputs ``H^{(l-1)}`` and pre-activations ``Z^{(l)}``."""

    inputs: list[Tensor]  # H^(0) = X, H^(1), ..., H^(L-1)
    preacts: list[Tensor]  # Z^(1), ..., Z^(L) (the last are the logits)

    @property
    def logits(self) -> Tensor:
        return self.preacts[-1]


def _spec(activation: str):
    if activation not in ACTIVATIONS:
        raise ConfigError(f"unknown activation {activation!r}; expected one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[activation]


def mlp_forward(x: Tensor, weights: Sequence[Tensor], biases: Sequence[Tensor], activation: str = "relu") -> ForwardCache:
    """Forward pass ``X (N, d)`` through ``len(weights)`` layers; the last layer is linear."""
    act = _spec(activation)
    inputs, preacts = [x], []
    h = x
    for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
        z = h @ w.T + b
        preacts.append(z)
        if i < len(weights) - 1:
            h = act.forward(z)
            inputs.append(h)
    return ForwardCache(inputs, preacts)


def _targets(y: Tensor, logits: Tensor, head: str) -> Tensor:
    if head == "multiclass" and y.dim() == 1:
        return torch.nn.functional.one_hot(y.long(), logits.shape[-1]).to(logits.dtype)
    return y.reshape(logits.shape).to(logits.dtype)


def loss_from_logits(logits: Tensor, y: Tensor, head: str) -> Tensor:
    """The head's loss (mean-reduced, as torch's defaults), written from its equation."""
    t = _targets(y, logits, head)
    if head == "multiclass":
        logp = logits - torch.logsumexp(logits, dim=-1, keepdim=True)
        return -(t * logp).sum(-1).mean()
    if head in ("binary", "multilabel"):  # -[t log σ(z) + (1-t) log(1-σ(z))], stably
        return (torch.clamp(logits, min=0) - logits * t + torch.log1p(torch.exp(-logits.abs()))).mean()
    if head == "regression":
        return ((logits - t) ** 2).mean()
    raise ConfigError(f"unknown head {head!r}; expected one of {', '.join(HEADS)}")


def output_delta(logits: Tensor, y: Tensor, head: str) -> Tensor:
    r""":math:`\delta^{(L)}=\partial L/\partial Z^{(L)}` for the head's loss (see module docstring)."""
    t = _targets(y, logits, head)
    n = logits.shape[0]
    if head == "multiclass":
        return (softmax(logits, -1) - t) / n
    if head in ("binary", "multilabel"):
        return (sigmoid(logits) - t) / logits.numel()
    if head == "regression":
        return 2.0 * (logits - t) / logits.numel()
    raise ConfigError(f"unknown head {head!r}; expected one of {', '.join(HEADS)}")


def output_delta_elementwise(logits: Tensor, y: Tensor) -> Tensor:
    r"""The book's :math:`\nabla_{\hat y}L\odot f'(z)` applied to softmax + cross-entropy, with
    :math:`f'` taken as the diagonal :math:`\hat y(1-\hat y)` — wrong, kept for the erratum test."""
    t = _targets(y, logits, "multiclass")
    p = softmax(logits, -1)
    dl_dp = -t / p / logits.shape[0]
    return dl_dp * p * (1 - p)


def mlp_backward(
    cache: ForwardCache, y: Tensor, weights: Sequence[Tensor], activation: str = "relu", head: str = "multiclass"
) -> tuple[list[Tensor], list[Tensor]]:
    """Gradients ``(dW, db)`` of every layer by the δ-recursion (no autograd)."""
    act = _spec(activation)
    delta = output_delta(cache.logits, y, head)
    grads_w: list[Tensor] = []
    grads_b: list[Tensor] = []
    for layer in range(len(weights) - 1, -1, -1):
        grads_w.append(delta.T @ cache.inputs[layer])  # (n_l, N) @ (N, n_{l-1})
        grads_b.append(delta.sum(0))
        if layer > 0:
            delta = (delta @ weights[layer]) * act.derivative(cache.preacts[layer - 1])
    return grads_w[::-1], grads_b[::-1]


def sgd_update(params: Sequence[Tensor], grads: Sequence[Tensor], lr: float = 0.01) -> list[Tensor]:
    r""":math:`\theta\leftarrow\theta-\eta\,\partial L/\partial\theta` (book L3387–3393), out of place."""
    return [p - lr * g for p, g in zip(params, grads, strict=True)]


def train_step(
    x: Tensor,
    y: Tensor,
    weights: Sequence[Tensor],
    biases: Sequence[Tensor],
    lr: float = 0.01,
    activation: str = "relu",
    head: str = "multiclass",
) -> tuple[list[Tensor], list[Tensor], Tensor]:
    """Exercise 7: forward, loss, backward by hand and one gradient-descent update.

    Returns the updated ``(weights, biases)`` and the loss before the update.
    """
    cache = mlp_forward(x, weights, biases, activation)
    loss = loss_from_logits(cache.logits, y, head)
    gw, gb = mlp_backward(cache, y, weights, activation, head)
    return sgd_update(weights, gw, lr), sgd_update(biases, gb, lr), loss


__all__ = [
    "ForwardCache", "mlp_forward", "mlp_backward", "loss_from_logits", "output_delta",
    "output_delta_elementwise", "sgd_update", "train_step",
]
