"""``compress(model, method, rank)``: replace a trained model's Linear/Conv2d layers by factorised ones."""

from __future__ import annotations

import copy
from collections.abc import Iterable

from torch import nn

from ..errors import ConfigError
from ..models import count_parameters
from .layers import CPConv2d, CPLinear, TTConv2d, TTLinear, TuckerConv2d, TuckerLinear

__all__ = ["compress", "METHODS", "parameter_ratio", "rank_for_ratio"]

METHODS: dict[str, tuple[type, type]] = {
    "cp": (CPLinear, CPConv2d),
    "tucker": (TuckerLinear, TuckerConv2d),
    "tt": (TTLinear, TTConv2d),
}


def parameter_ratio(compressed: nn.Module, original: nn.Module) -> float:
    """``#params(compressed) / #params(original)``."""
    return count_parameters(compressed) / count_parameters(original)


def _meta_layer(cls: type, module: nn.Module, rank: int) -> nn.Module:
    """Build the factorised layer on the meta device (no memory, no compute) to count its parameters."""
    import torch

    with torch.device("meta"):
        if isinstance(module, nn.Linear):
            return cls(module.in_features, module.out_features, rank, bias=module.bias is not None)
        return cls(module.in_channels, module.out_channels, module.kernel_size, rank, bias=module.bias is not None)


def rank_for_ratio(module: nn.Module, method: str, ratio: float) -> int:
    """Largest integer rank whose factorised layer keeps at most ``ratio`` of ``module``'s parameters."""
    cls = METHODS[method][0 if isinstance(module, nn.Linear) else 1]
    budget = ratio * count_parameters(module)
    best, r = 1, 1
    limit = max(module.weight.shape)
    while r <= limit and count_parameters(_meta_layer(cls, module, r)) <= budget:
        best, r = r, r + 1
    return best


def compress(model: nn.Module, method: str, rank: int | float, *, layers: Iterable[type] = (nn.Linear, nn.Conv2d),
             exclude: Iterable[str] = (), min_params: int = 0, min_saving: float = 0.0,
             **decomp_kwargs) -> nn.Module:
    """A copy of ``model`` whose Linear/Conv2d layers are replaced by CP, Tucker or TT factorisations
    of their trained weights (``method`` in ``"cp"``, ``"tucker"``, ``"tt"``).

    ``rank``: an int used for every layer, or a float in ``(0, 1)`` = the parameter fraction each
    layer may keep (:func:`rank_for_ratio` picks the rank per layer). Layers whose qualified name
    is in ``exclude``, layers with fewer than ``min_params`` parameters (e.g. a tiny first conv or
    classifier, where a low rank costs accuracy and saves little), grouped convolutions, and layers
    that would not shrink by more than
    ``min_saving`` (fraction of their parameters) keep their dense weights. ``decomp_kwargs`` go to
    the decomposition (e.g. ``n_iter_max``). The result is usually fine-tuned for an epoch or two.
    """
    if method not in METHODS:
        raise ConfigError(f"unknown compression method {method!r}; expected one of {sorted(METHODS)}")
    if isinstance(rank, float) and not 0 < rank < 1:
        raise ConfigError(f"a float rank is a parameter fraction and must lie in (0, 1), got {rank}")
    layers, exclude = tuple(layers), set(exclude)
    out = copy.deepcopy(model)
    for name, module in list(out.named_modules()):
        if (name in exclude or type(module) not in layers or count_parameters(module) < min_params
                or (isinstance(module, nn.Conv2d) and module.groups != 1)):
            continue
        linear_cls, conv_cls = METHODS[method]
        r = rank if isinstance(rank, int) else rank_for_ratio(module, method, rank)
        if isinstance(module, nn.Linear):
            new = linear_cls.from_linear(module, r, **decomp_kwargs)
        else:
            new = conv_cls.from_conv2d(module, r, **decomp_kwargs)
        if count_parameters(new) > (1 - min_saving) * count_parameters(module):
            continue
        parent_name, _, child = name.rpartition(".")
        setattr(out.get_submodule(parent_name) if parent_name else out, child, new)
    return out
