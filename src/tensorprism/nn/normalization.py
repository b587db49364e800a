"""Normalisation layers by name, for model builders (fast torch kernels).

The reference equations (batch/layer/group/instance norm, with PyTorch's running-statistics
update) are in :mod:`tensorprism.functional.normalization`, tested equal to these layers.
"""

from __future__ import annotations

import torch.nn as nn

from ..errors import ConfigError

NORM_KINDS = ("batch", "layer", "group", "instance", "none")


def make_norm(kind: str | None, num_features: int, *, num_groups: int = 8, dims: int = 1, **kwargs) -> nn.Module:
    """A normalisation layer over ``num_features`` channels/features.

    ``kind``: ``"batch"`` (``BatchNorm{dims}d``), ``"layer"`` (``LayerNorm`` over the last axis),
    ``"group"`` (``GroupNorm(num_groups)``), ``"instance"`` (``InstanceNorm{dims}d``) or
    ``None``/``"none"`` (identity). ``dims`` = 1 for ``(N, C)``/``(N, C, L)``, 2 for ``(N, C, H, W)``.
    """
    key = "none" if kind is None else str(kind).lower()
    if key == "none":
        return nn.Identity()
    if dims not in (1, 2, 3):
        raise ConfigError(f"norm dims must be 1, 2 or 3, got {dims}")
    if key == "batch":
        return getattr(nn, f"BatchNorm{dims}d")(num_features, **kwargs)
    if key == "layer":
        return nn.LayerNorm(num_features, **kwargs)
    if key == "group":
        if num_features % num_groups:
            raise ConfigError(
                f"group norm needs num_features divisible by num_groups; got {num_features} and "
                f"{num_groups}. Pick num_groups among the divisors of {num_features}."
            )
        return nn.GroupNorm(num_groups, num_features, **kwargs)
    if key == "instance":
        return getattr(nn, f"InstanceNorm{dims}d")(num_features, **kwargs)
    raise ConfigError(f"unknown norm {kind!r}; expected one of {', '.join(NORM_KINDS)} or None")


__all__ = ["make_norm", "NORM_KINDS"]
