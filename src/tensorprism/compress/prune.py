r"""Pruning (book §11, I11.12, lines 24746–24756): zero or remove the least important weights.

The book states the goal :math:`\min_W \mathcal L(W) + \lambda\lVert W\rVert_0` and two practical
forms, both here:

* **unstructured magnitude pruning** — masks :math:`W \odot m`, :math:`m_i = [\,|W_i| > \tau\,]`,
  through ``torch.nn.utils.prune`` (the mask is a buffer and a forward pre-hook, so fine-tuning
  keeps pruned weights at zero): per layer (each layer loses ``amount`` of its weights) or global
  (one threshold over all layers, so layers with many small weights lose more — Han et al. 2015).
  The zeros save nothing by themselves on dense kernels; they pay off with sparse storage or kernels.
* **structured L1 filter pruning** (Li et al. 2017, "Pruning Filters for Efficient ConvNets"):
  the output filters of a convolution with the smallest :math:`\ell_1` norms are *removed*, with
  their BatchNorm channels and the matching input channels of the next layer, so the network
  really gets smaller and faster. :func:`prune_filters_l1` finds the convolutions whose output
  channels can be removed without breaking a shape: a conv followed (through BN, activations,
  pooling, dropout) by exactly one consumer conv, or by ``Flatten`` + ``Linear``, inside a
  sequential chain. Channels tied by a residual addition are left alone, so in a ResNet the first
  conv of every block is pruned, as in Li et al.'s ResNet-56/110 experiments.

:func:`sparsity_schedule` gives the targets of an iterative prune–fine-tune schedule (Zhu & Gupta
2017's cubic ramp); :func:`prune_magnitude` called with a higher target prunes the remaining
weights further.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator

import torch
from torch import nn
from torch.nn.utils import prune as torch_prune

from ..errors import ConfigError

__all__ = ["check_amount", "prune_magnitude", "remove_masks", "sparsity", "prunable_weights",
           "prune_filters_l1", "prunable_filter_pairs", "sparsity_schedule"]

DEFAULT_LAYERS = (nn.Linear, nn.Conv2d)


def check_amount(amount: float, what: str = "pruning amount") -> float:
    """``amount`` as a float in ``[0, 1]`` (the fraction to prune), else :class:`ConfigError`."""
    if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not 0.0 <= float(amount) <= 1.0:
        raise ConfigError(f"{what} is the fraction of weights to remove and must lie in [0, 1], got {amount!r}; "
                          "e.g. 0.5 removes half")
    return float(amount)


def prunable_weights(model: nn.Module, layers: Iterable[type] = DEFAULT_LAYERS) -> list[tuple[nn.Module, str]]:
    """``(module, "weight")`` for every layer of the given types (what ``torch.nn.utils.prune`` takes)."""
    layers = tuple(layers)
    return [(m, "weight") for m in model.modules() if isinstance(m, layers) and getattr(m, "weight", None) is not None]


def sparsity(model: nn.Module, layers: Iterable[type] = DEFAULT_LAYERS) -> float:
    """Fraction of zero weights over the prunable layers (masked or already made permanent)."""
    zeros = total = 0
    for m, name in prunable_weights(model, layers):
        w = getattr(m, name)
        zeros += int((w == 0).sum())
        total += w.numel()
    return zeros / max(total, 1)


def prune_magnitude(model: nn.Module, amount: float, *, scope: str = "layer",
                    layers: Iterable[type] = DEFAULT_LAYERS) -> nn.Module:
    """Mask the smallest-magnitude weights of ``model`` **in place** until ``amount`` of them are zero.

    ``amount`` is the *total* target sparsity of the prunable weights: called again with a larger
    target (iterative pruning), only the extra weights are pruned, among the surviving ones.

    Args:
        amount: target fraction of zero weights in ``[0, 1]``.
        scope: ``"layer"`` (each layer reaches ``amount``) or ``"global"`` (one magnitude threshold
            over all prunable layers together).
        layers: module types whose ``weight`` is pruned (biases and norms are never pruned).

    Returns:
        ``model``, with ``torch.nn.utils.prune`` masks; :func:`remove_masks` makes them permanent.
    """
    amount = check_amount(amount)
    if scope not in ("layer", "global"):
        raise ConfigError(f"scope must be 'layer' or 'global', got {scope!r}")
    params = prunable_weights(model, layers)
    if not params:
        raise ConfigError(f"the model has no {[t.__name__ for t in layers]} layers to prune")
    # what is already zero counts towards the target: prune the survivors by the remaining fraction
    if scope == "global":
        total = sum(getattr(m, n).numel() for m, n in params)
        zero = sum(int((getattr(m, n) == 0).sum()) for m, n in params)
        extra = max(0, round(amount * total) - zero)
        torch_prune.global_unstructured(params, pruning_method=torch_prune.L1Unstructured, amount=extra)
    else:
        for m, n in params:
            w = getattr(m, n)
            extra = max(0, round(amount * w.numel()) - int((w == 0).sum()))
            torch_prune.l1_unstructured(m, n, amount=extra)
    return model


def remove_masks(model: nn.Module) -> nn.Module:
    """Make every pruning mask permanent (``weight = weight_orig * mask``, hooks removed), in place."""
    for m in model.modules():
        for name in [k[: -len("_mask")] for k, _ in m.named_buffers(recurse=False) if k.endswith("_mask")]:
            torch_prune.remove(m, name)
    return model


def sparsity_schedule(final: float, steps: int, initial: float = 0.0) -> list[float]:
    """Targets of an iterative prune–fine-tune schedule: ``s_k = s_f + (s_i - s_f)(1 - k/n)^3``,
    ``k = 1..n`` (Zhu & Gupta 2017): large cuts first, gentle ones near the end."""
    final, initial = check_amount(final, "final sparsity"), check_amount(initial, "initial sparsity")
    if not isinstance(steps, int) or steps < 1:
        raise ConfigError(f"steps must be an integer >= 1, got {steps!r}")
    return [final + (initial - final) * (1 - k / steps) ** 3 for k in range(1, steps + 1)]


# ------------------------------------------------------------------ structured (filter) pruning
_PASS = (nn.BatchNorm2d, nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid,
         nn.Hardswish, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.Dropout,
         nn.Dropout2d, nn.Identity)


def _flatten(module: nn.Module, visited: set[int]) -> list[nn.Module]:
    """The leaves of nested ``nn.Sequential`` containers in execution order (their ids go into
    ``visited``); any other module with children is one opaque leaf (its internal channel ties are
    not ours to break; its own inner chains are visited separately)."""
    if isinstance(module, nn.Sequential):
        visited.add(id(module))
        return [leaf for child in module for leaf in _flatten(child, visited)]
    return [module]


def _chains(model: nn.Module) -> Iterator[list[nn.Module]]:
    """Every sequential chain of the model: each ``nn.Sequential`` not inside another one, and for
    the image classifiers of :mod:`tensorprism.models` the whole stem → stages → head → classifier."""
    visited: set[int] = set()
    if all(hasattr(model, a) for a in ("stem", "stages", "head", "classifier")):
        parts = [model.stem, *model.stages, model.head, getattr(model, "drop", nn.Identity()), model.classifier]
        yield [leaf for p in parts for leaf in _flatten(p, visited)]
    for m in model.modules():
        if isinstance(m, nn.Sequential) and id(m) not in visited:
            yield _flatten(m, visited)


def prunable_filter_pairs(model: nn.Module) -> list[tuple[nn.Conv2d, list[nn.BatchNorm2d], nn.Module]]:
    """``(conv, its BatchNorms, consumer)`` for every conv whose output filters can be removed:
    ``consumer`` is the next ``Conv2d`` (groups = 1) or the ``Linear`` after a ``Flatten``."""
    pairs = []
    for chain in _chains(model):
        for i, conv in enumerate(chain):
            if not (type(conv) is nn.Conv2d and conv.groups == 1):
                continue
            norms, j, flattened = [], i + 1, False
            while j < len(chain) and isinstance(chain[j], _PASS + (nn.Flatten,)):
                if isinstance(chain[j], nn.BatchNorm2d):
                    norms.append(chain[j])
                flattened |= isinstance(chain[j], nn.Flatten)
                j += 1
            if j == len(chain):
                continue
            nxt = chain[j]
            if not flattened and type(nxt) is nn.Conv2d and nxt.groups == 1 and nxt.in_channels == conv.out_channels:
                pairs.append((conv, norms, nxt))
            elif flattened and type(nxt) is nn.Linear and nxt.in_features % conv.out_channels == 0:
                pairs.append((conv, norms, nxt))
    return pairs


def _shrink(conv: nn.Conv2d, norms: list[nn.BatchNorm2d], consumer: nn.Module, keep: torch.Tensor) -> None:
    """Keep only the output channels ``keep`` of ``conv`` (and the matching inputs of ``consumer``)."""
    with torch.no_grad():
        conv.weight = nn.Parameter(conv.weight[keep].clone())
        if conv.bias is not None:
            conv.bias = nn.Parameter(conv.bias[keep].clone())
        old = conv.out_channels
        conv.out_channels = len(keep)
        for bn in norms:
            bn.num_features = len(keep)
            if bn.affine:
                bn.weight = nn.Parameter(bn.weight[keep].clone())
                bn.bias = nn.Parameter(bn.bias[keep].clone())
            if bn.track_running_stats:
                bn.running_mean = bn.running_mean[keep].clone()
                bn.running_var = bn.running_var[keep].clone()
        if isinstance(consumer, nn.Conv2d):
            consumer.weight = nn.Parameter(consumer.weight[:, keep].clone())
            consumer.in_channels = len(keep)
        else:  # Flatten of (N, C, h, w) puts channel c at columns [c*h*w, (c+1)*h*w)
            per = consumer.in_features // old
            cols = (keep[:, None] * per + torch.arange(per)).reshape(-1)
            consumer.weight = nn.Parameter(consumer.weight[:, cols].clone())
            consumer.in_features = len(cols)


def prune_filters_l1(model: nn.Module, amount: float, *, min_channels: int = 1) -> nn.Module:
    """A smaller copy of ``model``: each prunable conv (:func:`prunable_filter_pairs`) loses the
    ``round(amount * C_out)`` output filters with the smallest L1 norm ``sum |W[f]|``.

    Removing a filter removes its BatchNorm channel and the consumer's matching input channel, so
    parameters, FLOPs and CPU latency all drop; the output shape is unchanged. At least
    ``min_channels`` filters stay per layer. Fine-tune afterwards (a few hundred steps recover most
    of the accuracy at moderate amounts).
    """
    amount = check_amount(amount)
    out = copy.deepcopy(model)
    plan = []
    # every layer is scored on its full weights before any is shrunk (Li et al.'s "independent"
    # strategy), so the filters removed do not depend on the order the layers are visited in
    for conv, norms, consumer in prunable_filter_pairs(out):
        n = conv.out_channels
        keep_n = max(min_channels, n - round(amount * n))
        if keep_n < n:
            scores = conv.weight.detach().abs().sum(dim=(1, 2, 3))  # (C_out,) L1 norm of each filter
            plan.append((conv, norms, consumer, torch.sort(torch.topk(scores, keep_n).indices).values))
    for conv, norms, consumer, keep in plan:
        _shrink(conv, norms, consumer, keep)
    return out
