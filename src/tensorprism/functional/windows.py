"""Window attention bookkeeping of the Swin Transformer (book §6.5, lines 14060-14090; Liu et al. 2021).

* :func:`window_partition` / :func:`window_reverse` — a feature map ``(N, H, W, C)`` as
  ``(N·nW, M·M, C)`` tokens of non-overlapping ``M × M`` windows, and back.
* :func:`shifted_window_mask` — after the cyclic shift ``roll(x, (-s, -s))`` a window at the
  bottom/right border holds pixels from opposite borders of the image; they must not attend to each
  other. The map is cut into the 3 × 3 regions ``[0, H-M) ∪ [H-M, H-s) ∪ [H-s, H)`` (and the same
  for columns); a token may attend only to tokens of its own region. The book's SW-MSA
  (line 14080, L6-11) rolls but has no mask, so wrapped-around pixels attend across the border
  (erratum 5.1.7, tested).
* :func:`relative_position_index` — index of the learned bias ``B̂ ((2M-1)², h)`` for each pair of
  positions in a window: the bias depends on ``(Δrow, Δcol)`` only,
  ``index = (Δrow + M - 1)(2M - 1) + (Δcol + M - 1)``.

Masks follow the library's convention: boolean, True = may attend.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import ShapeError

__all__ = ["window_partition", "window_reverse", "shifted_window_mask", "relative_position_index"]


def _check_divisible(H: int, W: int, window: int) -> None:
    if H % window or W % window:
        raise ShapeError(f"window_size={window} does not divide the {H}×{W} feature map: expected height and "
                         f"width multiples of {window}; change the window size or the image size")


def window_partition(x: Tensor, window: int) -> Tensor:
    """``(N, H, W, C)`` → ``(N · H/M · W/M, M·M, C)``, windows in raster order within each image."""
    if x.dim() != 4:
        raise ShapeError(f"window_partition expects a channels-last map (N, H, W, C), got {tuple(x.shape)}")
    N, H, W, C = x.shape
    _check_divisible(H, W, window)
    x = x.view(N, H // window, window, W // window, window, C)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window * window, C)


def window_reverse(windows: Tensor, window: int, H: int, W: int) -> Tensor:
    """Inverse of :func:`window_partition`: ``(N·nW, M·M, C)`` → ``(N, H, W, C)``."""
    _check_divisible(H, W, window)
    nw = (H // window) * (W // window)
    if windows.dim() != 3 or windows.shape[1] != window * window or windows.shape[0] % nw:
        raise ShapeError(f"window_reverse expects (N*{nw}, {window * window}, C) for a {H}×{W} map, "
                         f"got {tuple(windows.shape)}")
    N, C = windows.shape[0] // nw, windows.shape[-1]
    x = windows.view(N, H // window, W // window, window, window, C)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(N, H, W, C)


def shifted_window_mask(H: int, W: int, window: int, shift: int, device=None) -> Tensor:
    """``(nW, M·M, M·M)`` boolean: True where two tokens of a shifted window come from the same region
    of the unshifted map (all True for ``shift = 0``)."""
    _check_divisible(H, W, window)
    if not 0 <= shift < window:
        raise ShapeError(f"shift must lie in [0, window_size={window}), got {shift}")
    region = torch.zeros(1, H, W, 1, device=device)
    if shift:
        cuts = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
        label = 0
        for hs in cuts:
            for ws in cuts:
                region[:, hs, ws, :] = label
                label += 1
    ids = window_partition(region, window).squeeze(-1)  # (nW, M·M)
    return ids[:, :, None] == ids[:, None, :]


def relative_position_index(window: int, device=None) -> Tensor:
    """``(M·M, M·M)`` long: row of the bias table for each (query, key) pair of a window."""
    coords = torch.stack(torch.meshgrid(torch.arange(window, device=device), torch.arange(window, device=device),
                                        indexing="ij")).flatten(1)  # (2, M·M)
    rel = coords[:, :, None] - coords[:, None, :] + (window - 1)  # (2, M·M, M·M), shifted to >= 0
    return rel[0] * (2 * window - 1) + rel[1]
