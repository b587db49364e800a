"""Convolution layers: conv + norm + activation, TF-style 'same' padding, and the reference layer.

Training layers use the fused kernel (``F.conv2d`` → oneDNN / cuDNN); :class:`ReferenceConv2d`
runs the book's im2col + einsum equation (:func:`tensorprism.functional.conv.convnd_reference`)
with the same parameters, so the two can be compared and timed side by side.
"""

from __future__ import annotations

from collections.abc import Callable

import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ..errors import ConfigError
from ..functional.conv import convnd_reference, resolve_padding

__all__ = ["ConvNormAct", "Conv2dSame", "ReferenceConv2d", "make_norm", "make_act"]


def make_norm(norm: str | Callable[[int], nn.Module] | None, channels: int) -> nn.Module:
    """``"bn"`` → ``BatchNorm2d``, ``"gn"`` → ``GroupNorm(32 or fewer groups)``, ``None`` → identity, or a factory."""
    if norm is None:
        return nn.Identity()
    if callable(norm):
        return norm(channels)
    if norm == "bn":
        return nn.BatchNorm2d(channels)
    if norm == "gn":
        groups = next(g for g in (32, 16, 8, 4, 2, 1) if channels % g == 0)
        return nn.GroupNorm(groups, channels)
    raise ValueError(f"unknown norm {norm!r}; expected 'bn', 'gn', None or a callable channels -> module")


_ACTS: dict[str, Callable[[], nn.Module]] = {
    "relu": lambda: nn.ReLU(inplace=True),
    "relu6": lambda: nn.ReLU6(inplace=True),
    "silu": lambda: nn.SiLU(inplace=True),
    "hardswish": lambda: nn.Hardswish(inplace=True),
    "gelu": nn.GELU,
    "sigmoid": nn.Sigmoid,
}


def make_act(act: str | Callable[[], nn.Module] | None) -> nn.Module:
    """Activation by name (``relu``, ``relu6``, ``silu``, ``hardswish``, ``gelu``, ``sigmoid``), factory, or ``None``."""
    if act is None:
        return nn.Identity()
    if callable(act):
        return act()
    if act not in _ACTS:
        raise ValueError(f"unknown activation {act!r}; expected one of {sorted(_ACTS)}")
    return _ACTS[act]()


class ConvNormAct(nn.Sequential):
    """``act(norm(conv(x)))``: the conv → BN → ReLU unit every CNN of the chapter is built from.

    Shapes ``(N, C_in, H, W) → (N, C_out, H_o, W_o)``. ``padding=None`` gives 'same'-style
    padding ``d(k−1)/2`` for odd kernels. The conv has no bias when a norm follows (the norm's
    shift β makes it redundant). ``norm_position="after"`` gives conv → act → norm instead, the order
    of the book's TF listing (lines 7467–7473) and §4.3.1 example, where the PyTorch listing
    (7500–7503) uses conv → BN → ReLU (erratum 20); the conv then keeps its bias.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int] = 3, stride: int = 1,
                 padding: int | tuple[int, int] | None = None, groups: int = 1, dilation: int = 1,
                 norm: str | Callable | None = "bn", act: str | Callable | None = "relu", bias: bool | None = None,
                 norm_position: str = "before"):
        if norm_position not in ("before", "after"):
            raise ConfigError(f"norm_position must be 'before' or 'after', got {norm_position!r}")
        ks = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        if padding is None:
            padding = tuple(dilation * (k - 1) // 2 for k in ks)
        conv = nn.Conv2d(in_channels, out_channels, ks, stride, padding, dilation, groups,
                         bias=(norm is None or norm_position == "after") if bias is None else bias)
        if norm_position == "before":
            super().__init__(conv, make_norm(norm, out_channels), make_act(act))
        else:
            super().__init__(conv, make_act(act), make_norm(norm, out_channels))
        self.out_channels = out_channels


class Conv2dSame(nn.Conv2d):
    """``nn.Conv2d`` with TensorFlow's ``padding='same'`` for any stride: output ``⌈H/s⌉ × ⌈W/s⌉``.

    The (possibly asymmetric) padding is computed from the input size at each call, with the
    extra pixel at the bottom/right, as Keras does; EfficientNet/MobileNet ports from TF need it.
    """

    def __init__(self, *args, **kwargs):
        kwargs["padding"] = 0
        super().__init__(*args, **kwargs)

    def forward(self, x: Tensor) -> Tensor:
        pads = resolve_padding("same", self.kernel_size, self.stride, self.dilation, tuple(x.shape[2:]))
        return super().forward(F.pad(x, [v for pair in reversed(pads) for v in pair]))


class ReferenceConv2d(nn.Conv2d):
    """``nn.Conv2d`` whose forward is the book's equation (im2col + einsum), for teaching and timing."""

    def forward(self, x: Tensor) -> Tensor:
        if self.padding_mode != "zeros":
            raise ConfigError(
                f"ReferenceConv2d computes the book's zero-padded convolution only, but padding_mode="
                f"{self.padding_mode!r}; use padding_mode='zeros', or nn.Conv2d for other padding modes"
            )
        return convnd_reference(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
