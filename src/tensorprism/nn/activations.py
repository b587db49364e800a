"""Activation layers (fast torch kernels) and a by-name factory used by every model builder.

``make_activation("relu")`` returns a fresh ``nn.Module``; names follow
:data:`tensorprism.functional.activations.ACTIVATIONS` plus ``prelu`` and ``softmax``.
Any callable ``f(tensor) -> tensor`` is also accepted (the book's custom Swish/Mish, L3221,
L3266) and wrapped in :class:`Lambda`. The reference equations and analytic derivatives live in
:mod:`tensorprism.functional.activations`; tests prove the two agree.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn
from torch import Tensor

from ..errors import ConfigError, suggest
from ..functional.activations import ACTIVATIONS

_heaviside = ACTIVATIONS["heaviside"].analytic()


class Swish(nn.Module):
    r"""Swish :math:`z\,\sigma(\beta z)` (Ramachandran et al. 2017), optionally with a learnable β.

    β = 1 (the book's form, L3192) uses torch's fused SiLU kernel.
    """

    def __init__(self, beta: float = 1.0, learnable: bool = False):
        super().__init__()
        self.learnable = learnable
        if learnable:
            self.beta = nn.Parameter(torch.tensor(float(beta)))
        else:
            self.register_buffer("beta", torch.tensor(float(beta)), persistent=False)

    def forward(self, z: Tensor) -> Tensor:
        if not self.learnable and float(self.beta) == 1.0:
            return nn.functional.silu(z)
        return z * torch.sigmoid(self.beta * z)

    def extra_repr(self) -> str:
        return f"beta={float(self.beta):g}, learnable={self.learnable}"


class Lambda(nn.Module):
    """Wrap a plain function ``f(tensor) -> tensor`` as a layer (a user-defined activation)."""

    def __init__(self, fn: Callable[[Tensor], Tensor]):
        super().__init__()
        self.fn = fn

    def forward(self, z: Tensor) -> Tensor:
        return self.fn(z)

    def extra_repr(self) -> str:
        return getattr(self.fn, "__name__", repr(self.fn))


class Heaviside(nn.Module):
    """Step function (1 for z > 0, else 0); backpropagates its a.e. derivative, zero.

    (``torch.heaviside`` has no derivative at all, so a network using it could not call backward.)
    """

    def forward(self, z: Tensor) -> Tensor:
        return _heaviside(z)


_FACTORIES: dict[str, Callable[..., nn.Module]] = {
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "leaky_relu": lambda negative_slope=0.01: nn.LeakyReLU(negative_slope),
    "prelu": lambda num_parameters=1, init=0.25: nn.PReLU(num_parameters, init),
    "elu": lambda alpha=1.0: nn.ELU(alpha),
    "selu": nn.SELU,
    "gelu": nn.GELU,
    "gelu_tanh": lambda: nn.GELU(approximate="tanh"),
    "swish": Swish,
    "silu": nn.SiLU,
    "mish": nn.Mish,
    "softplus": lambda beta=1.0, threshold=20.0: nn.Softplus(beta, threshold),
    "hardsigmoid": nn.Hardsigmoid,
    "hardtanh": lambda min_val=-1.0, max_val=1.0: nn.Hardtanh(min_val, max_val),
    "heaviside": Heaviside,
    "softmax": lambda dim=-1: nn.Softmax(dim=dim),
    "log_softmax": lambda dim=-1: nn.LogSoftmax(dim=dim),
    "identity": nn.Identity,
    "linear": nn.Identity,
}

ACTIVATION_NAMES = tuple(sorted(_FACTORIES))


def make_activation(activation: str | Callable[[Tensor], Tensor] | nn.Module, **kwargs) -> nn.Module:
    """A fresh activation layer from a name (``"relu"``, ``"leaky_relu"``...), a module or a callable.

    ``kwargs`` go to the layer (``negative_slope`` for leaky ReLU, ``alpha`` for ELU, ``beta`` for
    Swish, ``num_parameters`` for PReLU...).
    """
    if isinstance(activation, nn.Module):
        return activation
    if callable(activation):
        return Lambda(activation)
    key = str(activation).lower().replace("-", "_")
    if key not in _FACTORIES:
        close = suggest(key, _FACTORIES)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"unknown activation {activation!r}.{hint} Expected one of {', '.join(ACTIVATION_NAMES)}, "
            "an nn.Module, or a callable tensor -> tensor."
        )
    return _FACTORIES[key](**kwargs)


__all__ = ["Swish", "Lambda", "Heaviside", "make_activation", "ACTIVATION_NAMES"]
