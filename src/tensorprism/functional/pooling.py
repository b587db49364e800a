r"""Pooling as tensor algebra (book §4.3.2, P1–P9): reference paths written on im2col patches.

* Max pooling :math:`O[i,j] = \max_{m,n<k} I[i s + m d,\; j s + n d]` with any window, stride,
  padding and dilation (the book's formulas assume stride = window, line 5486; AlexNet needs the
  overlapping 3/2 case, line 6235).
* Average pooling :math:`O[i,j] = \frac{1}{k^2}\sum_{m,n} I[i s + m,\; j s + n]` (line 5529).
* Global average / max pooling over all spatial positions (lines 5568–5581).
* Adaptive pooling: output bin ``i`` of ``O`` covers input rows ``⌊iH/O⌋ … ⌈(i+1)H/O⌉ − 1``.
* Fractional max pooling (Graham 2014), the real thing behind the book's "fractional pooling"
  (the book's listing is a bilinear resize, see :mod:`tensorprism.functional.resize`).
* RoI pooling and RoI align (Fast/Faster/Mask R-CNN, lines 8375–8377) for boxes
  ``(K, 5) = [batch_index, x1, y1, x2, y2]`` in input-image coordinates.

The fast paths are ``torch.nn.functional``'s pooling kernels; RoI ops have no torch kernel (no
torchvision here), so the vectorised functions below are used directly by :mod:`tensorprism.nn.pooling`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from ..errors import ConfigError, ShapeError
from .conv import IntOrSeq, _pad_spatial, as_tuple, extract_patches

__all__ = [
    "pool_output_size",
    "max_pool_reference",
    "avg_pool_reference",
    "global_avg_pool",
    "global_max_pool",
    "adaptive_pool_reference",
    "fractional_intervals",
    "fractional_max_pool2d_reference",
    "roi_pool",
    "roi_align",
    "boxes_with_batch_index",
]


def pool_output_size(size: int, kernel: int, stride: int, padding: int = 0, dilation: int = 1, ceil_mode: bool = False) -> int:
    """PyTorch's pooling output size; with ``ceil_mode`` the last window must start inside the input or left padding."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    if out < 1:
        raise ShapeError(f"pooling window {kernel} (dilation {dilation}) does not fit an input of size {size} with padding {padding}")
    return out


def _windows(x: Tensor, kernel_size: IntOrSeq, stride: IntOrSeq | None, padding: IntOrSeq, dilation: IntOrSeq,
             ceil_mode: bool, fill: float) -> tuple[Tensor, int]:
    n = x.dim() - 2
    k = as_tuple(kernel_size, n, "kernel_size")
    s = k if stride is None else as_tuple(stride, n, "stride")
    p, d = as_tuple(padding, n, "padding"), as_tuple(dilation, n, "dilation")
    if any(2 * p[i] > k[i] for i in range(n)):
        raise ConfigError(f"padding {p} must be at most half the window {k}")
    pads = []
    for i in range(n):
        out = pool_output_size(x.shape[2 + i], k[i], s[i], p[i], d[i], ceil_mode)
        needed = (out - 1) * s[i] + d[i] * (k[i] - 1) + 1  # extent the windows read
        pads.append((p[i], max(needed - x.shape[2 + i] - p[i], 0)))
    patches = extract_patches(_pad_spatial(x, pads, fill), k, s, d)
    return patches.flatten(-n), n


def max_pool_reference(x: Tensor, kernel_size: IntOrSeq, stride: IntOrSeq | None = None, padding: IntOrSeq = 0,
                       dilation: IntOrSeq = 1, ceil_mode: bool = False) -> Tensor:
    """N-d max pooling ``(N, C, *S) → (N, C, *O)``; padding counts as −∞ (never selected)."""
    patches, _ = _windows(x, kernel_size, stride, padding, dilation, ceil_mode, -math.inf)
    return patches.amax(-1)


def avg_pool_reference(x: Tensor, kernel_size: IntOrSeq, stride: IntOrSeq | None = None, padding: IntOrSeq = 0,
                       count_include_pad: bool = True) -> Tensor:
    """N-d average pooling ``(N, C, *S) → (N, C, *O)``; zero padding is counted unless ``count_include_pad=False``."""
    patches, n = _windows(x, kernel_size, stride, padding, 1, False, 0.0)
    if count_include_pad:
        return patches.mean(-1)
    ones = torch.ones(1, 1, *x.shape[2:], dtype=x.dtype, device=x.device)
    counts, _ = _windows(ones, kernel_size, stride, padding, 1, False, 0.0)
    return patches.sum(-1) / counts.sum(-1)


def global_avg_pool(x: Tensor) -> Tensor:
    """``(N, C, *S) → (N, C)``: mean over all spatial positions (Keras ``GlobalAveragePooling2D``)."""
    return x.flatten(2).mean(-1)


def global_max_pool(x: Tensor) -> Tensor:
    """``(N, C, *S) → (N, C)``: max over all spatial positions."""
    return x.flatten(2).amax(-1)


def adaptive_pool_reference(x: Tensor, output_size: IntOrSeq, mode: str = "avg") -> Tensor:
    """Adaptive avg/max pooling: bin ``i`` of ``O`` covers ``[⌊iS/O⌋, ⌈(i+1)S/O⌉)`` along each spatial dim."""
    if mode not in ("avg", "max"):
        raise ConfigError(f"mode={mode!r}; expected 'avg' or 'max'")
    n = x.dim() - 2
    out = as_tuple(output_size, n, "output_size")
    for i in range(n):  # separable: pool one spatial dim at a time (exact for both mean and max)
        dim, size = 2 + i, x.shape[2 + i]
        pieces = []
        for o in range(out[i]):
            a, b = (o * size) // out[i], -(-((o + 1) * size) // out[i])
            window = x.narrow(dim, a, b - a)
            pieces.append(window.mean(dim, keepdim=True) if mode == "avg" else window.amax(dim, keepdim=True))
        x = torch.cat(pieces, dim)
    return x


def fractional_intervals(in_size: int, out_size: int, pool_size: int, sample: Tensor) -> Tensor:
    """Pseudo-random window starts of fractional max pooling (Graham 2014), as PyTorch draws them.

    With ``α = (S − k)/(O − 1)`` and a uniform ``u`` per (sample, channel): start ``i`` is
    ``⌊(i + u)α⌋ − ⌊uα⌋`` and the last start is ``S − k``, so the windows tile the input with
    increments of ``⌊α⌋`` or ``⌈α⌉`` (a non-integer reduction ratio).
    """
    if out_size == 1:
        return torch.full((*sample.shape, 1), in_size - pool_size, dtype=torch.long)
    alpha = (in_size - pool_size) / (out_size - 1)
    i = torch.arange(out_size - 1, dtype=sample.dtype)
    starts = ((i + sample[..., None]) * alpha).long() - (sample[..., None] * alpha).long()
    last = torch.full((*sample.shape, 1), in_size - pool_size, dtype=torch.long)
    return torch.cat([starts, last], -1)


def fractional_max_pool2d_reference(x: Tensor, kernel_size: IntOrSeq, output_size: IntOrSeq, samples: Tensor) -> Tensor:
    """Fractional max pooling ``(N, C, H, W) → (N, C, oH, oW)`` given ``samples`` ``(N, C, 2)`` in [0, 1)
    (``[..., 0]`` drives the width intervals, ``[..., 1]`` the height ones, as in PyTorch)."""
    kh, kw = as_tuple(kernel_size, 2, "kernel_size")
    oh, ow = as_tuple(output_size, 2, "output_size")
    N, C, H, W = x.shape
    rows = fractional_intervals(H, oh, kh, samples[..., 1])  # (N, C, oH)
    cols = fractional_intervals(W, ow, kw, samples[..., 0])  # (N, C, oW)
    r = (rows[..., :, None] + torch.arange(kh)).reshape(N, C, oh * kh)  # rows each window reads
    c = (cols[..., :, None] + torch.arange(kw)).reshape(N, C, ow * kw)
    g = torch.gather(x, 2, r[..., None].expand(N, C, oh * kh, W))
    g = torch.gather(g, 3, c[:, :, None, :].expand(N, C, oh * kh, ow * kw))
    return g.view(N, C, oh, kh, ow, kw).amax(dim=(3, 5))


def _check_boxes(x: Tensor, boxes: Tensor) -> None:
    if x.dim() != 4:
        raise ShapeError(f"RoI ops expect features (N, C, H, W), got {tuple(x.shape)}")
    if boxes.dim() != 2 or boxes.shape[1] != 5:
        raise ShapeError(f"boxes must be (K, 5) = [batch_index, x1, y1, x2, y2], got {tuple(boxes.shape)}")


def roi_pool(x: Tensor, boxes: Tensor, output_size: IntOrSeq, spatial_scale: float = 1.0) -> Tensor:
    """RoI max pooling (Girshick 2015): ``(N, C, H, W)``, boxes ``(K, 5)`` → ``(K, C, oH, oW)``.

    Box corners are scaled by ``spatial_scale`` and rounded to feature cells; the box (inclusive of
    both corners) is cut into ``oH × oW`` bins whose edges are ``⌊i·h/oH⌋`` and ``⌈(i+1)·h/oH⌉``;
    each bin takes the max of its cells (0 for a bin that lies outside the map).
    """
    _check_boxes(x, boxes)
    oh, ow = as_tuple(output_size, 2, "output_size")
    H, W = x.shape[2:]
    out = []
    for box in boxes:
        b = int(box[0])
        x1, y1, x2, y2 = (int(torch.round(v * spatial_scale)) for v in box[1:])
        h, w = max(y2 - y1 + 1, 1), max(x2 - x1 + 1, 1)

        def bin_mask(o: int, length: int, start: int, size: int) -> Tensor:
            i = torch.arange(o, dtype=torch.float64)[:, None]
            lo = (torch.floor(i * length / o) + start).clamp(0, size)
            hi = (torch.ceil((i + 1) * length / o) + start).clamp(0, size)
            pos = torch.arange(size)[None, :]
            return (pos >= lo) & (pos < hi)  # (o, size)

        mh, mw = bin_mask(oh, h, y1, H), bin_mask(ow, w, x1, W)
        mask = mh[:, None, :, None] & mw[None, :, None, :]  # (oH, oW, H, W)
        vals = x[b][:, None, None].masked_fill(~mask, -math.inf).amax(dim=(-2, -1))  # (C, oH, oW)
        out.append(torch.where(mask.any(dim=(-2, -1)), vals, torch.zeros_like(vals)))
    return torch.stack(out) if out else x.new_zeros(0, x.shape[1], oh, ow)


def _bilinear(feat: Tensor, y: Tensor, x: Tensor) -> Tensor:
    """Bilinear samples of ``feat`` ``(C, H, W)`` at points ``y``, ``x`` (same shape ``P``) → ``(C, *P)``;
    points more than one cell outside the map read 0, the rest are clamped to the border."""
    H, W = feat.shape[-2:]
    valid = (y >= -1) & (y <= H) & (x >= -1) & (x <= W)
    y, x = y.clamp(min=0), x.clamp(min=0)
    y0, x0 = y.floor().long().clamp(max=H - 1), x.floor().long().clamp(max=W - 1)
    y = torch.where(y0 >= H - 1, y0.to(y.dtype), y)
    x = torch.where(x0 >= W - 1, x0.to(x.dtype), x)
    y1, x1 = (y0 + 1).clamp(max=H - 1), (x0 + 1).clamp(max=W - 1)
    ly, lx = y - y0, x - x0
    hy, hx = 1 - ly, 1 - lx
    v = (feat[:, y0, x0] * (hy * hx) + feat[:, y0, x1] * (hy * lx) + feat[:, y1, x0] * (ly * hx) + feat[:, y1, x1] * (ly * lx))
    return v * valid


def roi_align(x: Tensor, boxes: Tensor, output_size: IntOrSeq, spatial_scale: float = 1.0,
              sampling_ratio: int = -1, aligned: bool = True) -> Tensor:
    """RoI align (He et al. 2017): ``(N, C, H, W)``, boxes ``(K, 5)`` → ``(K, C, oH, oW)``, differentiable.

    No rounding: each of the ``oH × oW`` bins averages ``g_h × g_w`` bilinear samples placed at the
    centres of a regular sub-grid (``g = sampling_ratio``, or ``⌈bin size⌉`` when it is ≤ 0).
    ``aligned=True`` shifts boxes by −0.5 so that pixel ``i`` has its centre at ``i + 0.5``
    (the corrected convention of Detectron2 / torchvision ``aligned=True``).
    """
    _check_boxes(x, boxes)
    oh, ow = as_tuple(output_size, 2, "output_size")
    offset = 0.5 if aligned else 0.0
    out = []
    for box in boxes:
        b = int(box[0])
        x1, y1, x2, y2 = (v * spatial_scale - offset for v in box[1:])
        rw, rh = x2 - x1, y2 - y1
        if not aligned:
            rw, rh = rw.clamp(min=1.0), rh.clamp(min=1.0)
        gh = sampling_ratio if sampling_ratio > 0 else max(math.ceil(float(rh) / oh), 1)
        gw = sampling_ratio if sampling_ratio > 0 else max(math.ceil(float(rw) / ow), 1)
        iy = (torch.arange(oh * gh, dtype=x.dtype, device=x.device) + 0.5) / gh  # in bin units
        ix = (torch.arange(ow * gw, dtype=x.dtype, device=x.device) + 0.5) / gw
        ys, xs = y1 + iy * (rh / oh), x1 + ix * (rw / ow)
        yy, xx = torch.meshgrid(ys, xs, indexing="ij")
        v = _bilinear(x[b], yy, xx)  # (C, oH*gh, oW*gw)
        out.append(v.view(-1, oh, gh, ow, gw).mean(dim=(2, 4)))
    return torch.stack(out) if out else x.new_zeros(0, x.shape[1], oh, ow)


def boxes_with_batch_index(boxes: Sequence[Tensor]) -> Tensor:
    """``[(K_0, 4), (K_1, 4), …]`` per image → ``(ΣK, 5)`` with the image index in column 0."""
    return torch.cat([torch.cat([torch.full((len(b), 1), i, dtype=b.dtype, device=b.device), b], 1) for i, b in enumerate(boxes)])
