r"""Batched RoI Align as two small matrix products (the fast path of :func:`~tensorprism.functional.pooling.roi_align`).

RoI Align (He et al. 2017; the RoI features :math:`\mathbf f_i` of book §4.6.2, lines 8375–8377) averages
bilinear samples on a regular ``(oH·g) × (oW·g)`` grid inside each box. Bilinear interpolation is
separable and the grid is a product of a row grid and a column grid, so for box ``k`` on image ``b_k``

.. math::  \mathbf Y_k = \mathbf W^{y}_k\, \mathbf F_{b_k}\, \mathbf W^{x\top}_k,

with :math:`\mathbf W^{y}_k \in \mathbb R^{oH\times H}` holding, per output row, the mean over its ``g`` sample
rows of their two bilinear row weights (and :math:`\mathbf W^{x}_k` the same for columns). All boxes go in
one batched product with no Python loop and no scatter in the backward pass. The weights follow
:func:`~tensorprism.functional.pooling.roi_align` exactly (same sample points, same border rule: a point more
than one cell outside the map reads 0, the rest are clamped), which the tests check against it and against a
scalar bilinear loop.
"""

from __future__ import annotations

from torch import Tensor

from ..errors import ConfigError
from .conv import IntOrSeq, as_tuple
from .pooling import _check_boxes

__all__ = ["roi_align_fast", "bilinear_axis_weights", "paste_masks"]


def bilinear_axis_weights(start: Tensor, length: Tensor, bins: int, samples: int, size: int) -> Tensor:
    """Row (or column) weights ``(K, bins, size)`` of RoI Align along one axis.

    ``start``/``length`` ``(K,)`` are the box's first coordinate and extent in feature cells; sample ``s`` of
    bin ``i`` sits at ``start + (i + (s + 0.5)/samples)·length/bins``; each bin averages its samples' two
    linear-interpolation weights.
    """
    import torch

    K = start.shape[0]
    idx = (torch.arange(bins * samples, dtype=start.dtype, device=start.device) + 0.5) / samples  # in bin units
    pos = start[:, None] + idx[None] * (length[:, None] / bins)  # (K, bins·samples)
    valid = ((pos >= -1) & (pos <= size)).to(pos.dtype)
    pos = pos.clamp(min=0)
    lo = pos.floor().long().clamp(max=size - 1)
    pos = torch.where(lo >= size - 1, lo.to(pos.dtype), pos)  # at the last cell: all weight on it
    hi = (lo + 1).clamp(max=size - 1)
    frac = pos - lo
    w = pos.new_zeros(K, bins * samples, size)
    w.scatter_add_(2, lo[..., None], ((1 - frac) * valid)[..., None])
    w.scatter_add_(2, hi[..., None], (frac * valid)[..., None])
    return w.view(K, bins, samples, size).mean(2)


def roi_align_fast(x: Tensor, boxes: Tensor, output_size: IntOrSeq, spatial_scale: float = 1.0,
                   sampling_ratio: int = 2, aligned: bool = True) -> Tensor:
    """RoI Align ``(N, C, H, W)``, boxes ``(K, 5) = [batch_index, x1, y1, x2, y2]`` → ``(K, C, oH, oW)``.

    Same result as :func:`~tensorprism.functional.pooling.roi_align` with the same fixed ``sampling_ratio``
    (``g × g`` samples per bin), computed as :math:`\\mathbf W^y_k \\mathbf F_{b_k} \\mathbf W^{x\\top}_k`
    (see the module docstring). Differentiable in ``x``. The adaptive ``sampling_ratio ≤ 0`` of the
    reference (a different sample count per box) is not batched: use the reference for it.
    """
    import torch

    _check_boxes(x, boxes)
    if sampling_ratio <= 0:
        raise ConfigError(f"roi_align_fast needs a fixed sampling_ratio > 0, got {sampling_ratio}; the adaptive "
                          "per-box count (sampling_ratio <= 0) is in tensorprism.functional.pooling.roi_align")
    oh, ow = as_tuple(output_size, 2, "output_size")
    H, W = x.shape[-2:]
    if len(boxes) == 0:
        return x.new_zeros(0, x.shape[1], oh, ow)
    b = boxes[:, 0].long()
    offset = 0.5 if aligned else 0.0
    x1, y1, x2, y2 = (boxes[:, i].to(x.dtype) * spatial_scale - offset for i in range(1, 5))
    rw, rh = x2 - x1, y2 - y1
    if not aligned:  # the original convention: boxes at least one cell wide
        rw, rh = rw.clamp(min=1.0), rh.clamp(min=1.0)
    wy = bilinear_axis_weights(y1, rh, oh, sampling_ratio, H)  # (K, oH, H)
    wx = bilinear_axis_weights(x1, rw, ow, sampling_ratio, W)  # (K, oW, W)
    order = torch.argsort(b, stable=True)
    counts = torch.bincount(b, minlength=x.shape[0]).tolist()
    pieces = []
    # one batched product per image (boxes grouped by image): the image's map is read, not copied per box
    for img, (wy_i, wx_i) in enumerate(zip(wy[order].split(counts), wx[order].split(counts), strict=True)):
        if len(wy_i):
            pieces.append(torch.einsum("kciw,kjw->kcij", torch.einsum("kih,chw->kciw", wy_i, x[img]), wx_i))
    out = torch.cat(pieces)
    return out if bool((order[1:] > order[:-1]).all()) else out[torch.argsort(order)]  # back to the boxes' order


def paste_masks(masks: Tensor, boxes: Tensor, height: int, width: int) -> Tensor:
    """Paste per-box masks ``(K, M, M)`` back into the image: ``(K, height, width)``.

    The inverse of cutting a mask out with RoI Align: mask cell ``j`` covers ``[x1 + j·w/M, x1 + (j+1)·w/M)`` of its
    box ``(x1, y1, x2, y2)`` (``(K, 4)`` pixels); every image pixel whose centre lies in the box reads the mask
    bilinearly there (clamped to the edge cells), the others read 0.
    """
    import torch
    import torch.nn.functional as F

    K = masks.shape[0]
    if K == 0:
        return masks.new_zeros(0, height, width)
    x1, y1, x2, y2 = boxes.to(masks.dtype).unbind(1)
    px = torch.arange(width, dtype=masks.dtype, device=masks.device) + 0.5
    py = torch.arange(height, dtype=masks.dtype, device=masks.device) + 0.5
    # grid_sample with align_corners=False: -1 and 1 are the outer edges of the first and last mask cells
    u = 2 * (px[None] - x1[:, None]) / (x2 - x1).clamp(min=1e-6)[:, None] - 1  # (K, W)
    v = 2 * (py[None] - y1[:, None]) / (y2 - y1).clamp(min=1e-6)[:, None] - 1  # (K, H)
    grid = torch.stack([u[:, None, :].expand(K, height, width), v[:, :, None].expand(K, height, width)], -1)
    inside = ((u.abs() <= 1)[:, None, :] & (v.abs() <= 1)[:, :, None]).to(masks.dtype)
    # border padding: a pixel centre inside the box but beyond the last cell centre reads the edge cell, not a fade to 0
    return F.grid_sample(masks[:, None], grid, mode="bilinear", padding_mode="border", align_corners=False)[:, 0] * inside
