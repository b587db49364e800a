r"""Weight initialisers (book §3.4.3, L3600–3668) and ``init_weights(model, scheme)``.

For a weight of shape ``(fan_out, fan_in, *kernel)`` (``fan_in = in_features·∏kernel``):

==================  ===============================================  ===================================
scheme              distribution                                     variance
==================  ===============================================  ===================================
``xavier_uniform``  :math:`\mathcal U(\pm\sqrt{6/(n_{in}+n_{out})})` (L3604)   :math:`2/(n_{in}+n_{out})`
``xavier_normal``   :math:`\mathcal N(0, 2/(n_{in}+n_{out}))` (L3610)           :math:`2/(n_{in}+n_{out})`
``kaiming_uniform`` :math:`\mathcal U(\pm\sqrt{6/n})` (L3618)                    :math:`2/n`
``kaiming_normal``  :math:`\mathcal N(0, 2/n)` (L3622)                           :math:`2/n`
``lecun_uniform``   :math:`\mathcal U(\pm\sqrt{3/n_{in}})`                       :math:`1/n_{in}`
``lecun_normal``    :math:`\mathcal N(0, 1/n_{in})` (SELU networks)              :math:`1/n_{in}`
``orthogonal``      (semi-)orthogonal rows/columns × ``gain``                    :math:`\approx 1/\max(n_{in},n_{out})`
``normal``          :math:`\mathcal N(0,\mathrm{std}^2)` (exercise 10: std 0.1)  :math:`\mathrm{std}^2`
``constant``        every entry ``value``                                        0
==================  ===============================================  ===================================

``n`` is ``fan_in`` (default, the book's only mode) or ``fan_out`` (``mode="fan_out"``). The
Kaiming variants assume ReLU (gain √2); pass ``nonlinearity="leaky_relu", a=...`` otherwise.

Why (the book's prose at L3656–3668 is garbled, catalogue E12): for :math:`z=\sum_{j=1}^{n_{in}}
W_jx_j` with independent zero-mean terms, :math:`\mathrm{Var}(z)=n_{in}\mathrm{Var}(W)\mathrm{Var}(x)`,
so :math:`\mathrm{Var}(W)=1/n_{in}` (LeCun) preserves the variance of a linear layer; Glorot
averages the forward and backward conditions into :math:`2/(n_{in}+n_{out})`; ReLU zeroes half
the pre-activations, halving the second moment, so He doubles it to :math:`2/n_{in}`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn as nn
from torch import Tensor

from ..errors import ConfigError, suggest


def fans(weight: Tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight ``(out, in, *kernel)``, as torch computes them."""
    if weight.dim() < 2:
        raise ConfigError(f"fan-in/fan-out need a weight with ≥ 2 dims, got shape {tuple(weight.shape)}")
    receptive = math.prod(weight.shape[2:]) if weight.dim() > 2 else 1
    return weight.shape[1] * receptive, weight.shape[0] * receptive


def lecun_uniform_(w: Tensor) -> Tensor:
    """:math:`\\mathcal U(\\pm\\sqrt{3/n_{in}})` (variance 1/n_in)."""
    return nn.init.kaiming_uniform_(w, nonlinearity="linear")


def lecun_normal_(w: Tensor) -> Tensor:
    """:math:`\\mathcal N(0, 1/n_{in})`."""
    return nn.init.kaiming_normal_(w, nonlinearity="linear")


def _kaiming(fn: Callable) -> Callable:
    def init(w: Tensor, mode: str = "fan_in", nonlinearity: str = "relu", a: float = 0.0) -> Tensor:
        return fn(w, a=a, mode=mode, nonlinearity=nonlinearity)

    init.__name__ = fn.__name__
    return init


INITIALIZERS: dict[str, Callable[..., Tensor]] = {
    "xavier_uniform": nn.init.xavier_uniform_,
    "xavier_normal": nn.init.xavier_normal_,
    "kaiming_uniform": _kaiming(nn.init.kaiming_uniform_),
    "kaiming_normal": _kaiming(nn.init.kaiming_normal_),
    "lecun_uniform": lecun_uniform_,
    "lecun_normal": lecun_normal_,
    "orthogonal": nn.init.orthogonal_,
    "normal": lambda w, std=0.01, mean=0.0: nn.init.normal_(w, mean, std),
    "uniform": lambda w, a=0.05: nn.init.uniform_(w, -a, a),
    "constant": lambda w, value=0.0: nn.init.constant_(w, value),
    "zeros": nn.init.zeros_,
}
INITIALIZERS |= {"glorot_uniform": INITIALIZERS["xavier_uniform"], "glorot_normal": INITIALIZERS["xavier_normal"],
                 "he_uniform": INITIALIZERS["kaiming_uniform"], "he_normal": INITIALIZERS["kaiming_normal"]}


def expected_variance(scheme: str, fan_in: int, fan_out: int, **kwargs) -> float:
    """The variance ``scheme`` gives each weight entry (the table above)."""
    if scheme in ("xavier_uniform", "xavier_normal", "glorot_uniform", "glorot_normal"):
        return kwargs.get("gain", 1.0) ** 2 * 2.0 / (fan_in + fan_out)
    if scheme in ("kaiming_uniform", "kaiming_normal", "he_uniform", "he_normal"):
        n = fan_in if kwargs.get("mode", "fan_in") == "fan_in" else fan_out
        gain2 = 2.0 / (1 + kwargs.get("a", 0.0) ** 2) if kwargs.get("nonlinearity", "relu") in ("relu", "leaky_relu") else 1.0
        return gain2 / n
    if scheme in ("lecun_uniform", "lecun_normal"):
        return 1.0 / fan_in
    if scheme == "normal":
        return kwargs.get("std", 0.01) ** 2
    if scheme == "uniform":
        return kwargs.get("a", 0.05) ** 2 / 3.0
    if scheme == "orthogonal":
        return kwargs.get("gain", 1.0) ** 2 / max(fan_in, fan_out)
    if scheme in ("constant", "zeros"):
        return 0.0
    raise ConfigError(f"no variance formula for scheme {scheme!r}")


def get_initializer(scheme: str | Callable[[Tensor], Tensor]) -> Callable[..., Tensor]:
    """The initialiser function named ``scheme`` (or ``scheme`` itself when it is callable)."""
    if callable(scheme):
        return scheme
    key = scheme.lower()
    if key not in INITIALIZERS:
        close = suggest(key, INITIALIZERS)
        raise ConfigError(
            f"unknown initialiser {scheme!r}." + (f" Did you mean {close[0]!r}?" if close else "")
            + f" Expected one of {', '.join(sorted(INITIALIZERS))} or a callable tensor -> tensor."
        )
    return INITIALIZERS[key]


@torch.no_grad()
def init_weights(model: nn.Module, scheme: str | Callable = "kaiming_uniform", bias: float | None = 0.0, **kwargs) -> nn.Module:
    """Re-initialise every ``Linear``/``Conv``/``Embedding`` weight of ``model`` with ``scheme``.

    Biases are set to ``bias`` (``None`` leaves them alone); normalisation layers are untouched.
    ``kwargs`` go to the initialiser (``std=`` for ``normal``, ``mode=``/``nonlinearity=`` for
    Kaiming, ``gain=`` for Xavier/orthogonal). Returns ``model``.
    """
    init = get_initializer(scheme)
    layers = (nn.Linear, nn.Bilinear, nn.Embedding, nn.modules.conv._ConvNd)
    touched = 0
    for m in model.modules():
        if isinstance(m, layers):
            init(m.weight, **kwargs)
            touched += 1
            if bias is not None and getattr(m, "bias", None) is not None:
                nn.init.constant_(m.bias, bias)
    if touched == 0:
        raise ConfigError(f"init_weights found no Linear/Conv/Embedding layer in {type(model).__name__}")
    return model


__all__ = ["INITIALIZERS", "init_weights", "get_initializer", "expected_variance", "fans", "lecun_uniform_", "lecun_normal_"]
