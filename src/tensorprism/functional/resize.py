r"""Resizing as tensor algebra: interpolation matrices and mode-n products (book P7, P8).

A separable resize of ``(N, C, H, W)`` to ``(N, C, H', W')`` is two mode-n products with
interpolation matrices ``A_h ∈ R^{H'×H}`` and ``A_w ∈ R^{W'×W}``::

    O[n, c, i, j] = Σ_h Σ_w A_h[i, h] · I[n, c, h, w] · A_w[j, w]

Each row of ``A`` holds the weights that output position ``i`` gives to the input positions,
from the source coordinate

* ``align_corners=True``:  ``x_src = i · (S − 1)/(O − 1)`` (corner pixels map to corner pixels),
* ``align_corners=False``: ``x_src = (i + 0.5) · S/O − 0.5`` (pixel *areas* are aligned; negative
  values are clamped to 0), the convention of ``F.interpolate`` and ``tf.image.resize``;

bilinear rows have two non-zeros ``(1 − t, t)``, nearest rows one ``1`` at ``⌊i · S/O⌋``.
The book's "fractional pooling" listing (4×4 → 3×3, lines 5631/5650) is this bilinear resize.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import ConfigError, ShapeError
from .conv import IntOrSeq, as_tuple

__all__ = ["interpolation_matrix", "resize_reference"]


def interpolation_matrix(in_size: int, out_size: int, mode: str = "bilinear", align_corners: bool = False,
                         dtype: torch.dtype = torch.float32) -> Tensor:
    """The ``(out_size, in_size)`` matrix ``A`` of a 1-D resize (see module docs)."""
    i = torch.arange(out_size, dtype=torch.float64)
    A = torch.zeros(out_size, in_size, dtype=torch.float64)
    rows = torch.arange(out_size)
    if mode == "nearest":
        src = torch.floor(i * (in_size / out_size)).long().clamp(max=in_size - 1)
        A[rows, src] = 1.0
        return A.to(dtype)
    if mode not in ("bilinear", "linear"):
        raise ConfigError(f"mode={mode!r} is not supported; expected 'nearest' or 'bilinear'")
    if align_corners:
        src = i * ((in_size - 1) / (out_size - 1)) if out_size > 1 else torch.zeros_like(i)
    else:
        src = ((i + 0.5) * (in_size / out_size) - 0.5).clamp(min=0)
    lo = src.floor().long().clamp(max=in_size - 1)
    hi = (lo + 1).clamp(max=in_size - 1)
    t = src - lo
    A.index_put_((rows, lo), 1 - t, accumulate=True)
    A.index_put_((rows, hi), t, accumulate=True)
    return A.to(dtype)


def resize_reference(x: Tensor, size: IntOrSeq, mode: str = "bilinear", align_corners: bool = False) -> Tensor:
    """Resize ``(N, C, H, W) → (N, C, *size)`` by two mode-n products (see module docs)."""
    if x.dim() != 4:
        raise ShapeError(f"resize expects (N, C, H, W), got {tuple(x.shape)}")
    if mode == "nearest" and align_corners:
        raise ConfigError("align_corners only applies to bilinear resizing; use align_corners=False with mode='nearest'")
    oh, ow = as_tuple(size, 2, "size")
    A_h = interpolation_matrix(x.shape[2], oh, mode, align_corners, x.dtype).to(x.device)
    A_w = interpolation_matrix(x.shape[3], ow, mode, align_corners, x.dtype).to(x.device)
    return torch.einsum("ih,nchw,jw->ncij", A_h, x, A_w)
