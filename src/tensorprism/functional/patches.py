"""Cutting images into patches (book §6.5, eq. at line 13914): the ViT input as tensor algebra.

An image ``x (C, H, W)`` is cut into non-overlapping ``P_h × P_w`` patches, each flattened to a
vector, giving the matrix :math:`x_p \\in \\mathbb R^{(HW / P_h P_w) \\times (P_h P_w C)}` that ViT
projects with :math:`E \\in \\mathbb R^{(P_h P_w C) \\times D}`. The patch grid is read row by row
(patch ``(i, j)`` of the ``H/P_h × W/P_w`` grid is row ``i * W/P_w + j``).

The book's listing L6-9 writes this as ``x.reshape(B, num_patches, patch_dim)`` on a
``(B, C, H, W)`` tensor. That keeps the memory order, so "patch" 0 is the first ``P²C`` values of
channel 0's first rows: pixels of several image rows of one channel, not a ``P × P`` square of all
channels (erratum, catalogue §2 L6-9 (a)). A patch is a block of the 6-D view
``(B, C, H/P, P, W/P, P)``; bringing the grid axes forward is a permutation, then a reshape.

Two layouts of the patch vector are offered:

* ``"chw"`` (default): channel, then patch row, then patch column -- the order of
  ``torch.nn.functional.unfold`` and of a ``Conv2d`` weight ``(D, C, P, P)`` flattened, so
  ``patchify(x) @ W.flatten(1).T`` equals ``Conv2d(kernel=stride=P)`` (the fast path,
  :class:`tensorprism.nn.patch_embed.PatchEmbed`);
* ``"hwc"``: patch row, patch column, channel -- the book's ``Reshape(x, [HW/P², P²C])`` of a
  channels-last image, and MAE's pixel-target layout.

:func:`unpatchify` is the inverse (``fold`` for non-overlapping patches).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ..errors import ShapeError

__all__ = ["patchify", "patchify_unfold", "unpatchify", "patch_grid"]

_LAYOUTS = ("chw", "hwc")


def _pair(v: int | tuple[int, int], name: str) -> tuple[int, int]:
    p = (v, v) if isinstance(v, int) else tuple(v)
    if len(p) != 2 or not all(isinstance(i, int) and i > 0 for i in p):
        raise ShapeError(f"{name} must be a positive integer or a pair of them, got {v!r}")
    return p  # type: ignore[return-value]


def patch_grid(image_size: int | tuple[int, int], patch_size: int | tuple[int, int],
               what: str = "image") -> tuple[int, int]:
    """``(H / P_h, W / P_w)``; :class:`ShapeError` naming the nearest valid sizes when ``P`` does not
    divide the image."""
    H, W = _pair(image_size, "image size")
    ph, pw = _pair(patch_size, "patch size")
    if H % ph or W % pw:
        fix = (H // ph * ph or ph, W // pw * pw or pw)
        raise ShapeError(
            f"{what} of size {H}×{W} is not a multiple of the {ph}×{pw} patch: expected height a multiple "
            f"of {ph} and width a multiple of {pw}; resize or crop to e.g. {fix[0]}×{fix[1]}, or pad")
    return H // ph, W // pw


def _check_image(x: Tensor) -> None:
    if x.dim() != 4:
        raise ShapeError(f"patchify expects images (N, C, H, W), got shape {tuple(x.shape)}; "
                         "add a batch axis with x.unsqueeze(0) for one image")


def patchify(x: Tensor, patch_size: int | tuple[int, int], layout: str = "chw") -> Tensor:
    """``x (N, C, H, W)`` → patches ``(N, L, P_h·P_w·C)``, ``L = (H/P_h)(W/P_w)`` (reference path).

    Works for any channel count and non-square images; :class:`ShapeError` when the patch does not
    divide the image. ``layout`` orders each patch vector (``"chw"``: as ``unfold``/``Conv2d``;
    ``"hwc"``: channels last, the book's equation).
    """
    _check_image(x)
    if layout not in _LAYOUTS:
        raise ShapeError(f"layout must be one of {_LAYOUTS}, got {layout!r}")
    N, C, H, W = x.shape
    ph, pw = _pair(patch_size, "patch size")
    gh, gw = patch_grid((H, W), (ph, pw))
    x = x.reshape(N, C, gh, ph, gw, pw)  # split each spatial axis into (grid, within-patch)
    if layout == "chw":
        x = x.permute(0, 2, 4, 1, 3, 5)  # (N, gh, gw, C, ph, pw)
    else:
        x = x.permute(0, 2, 4, 3, 5, 1)  # (N, gh, gw, ph, pw, C)
    return x.reshape(N, gh * gw, C * ph * pw)


def patchify_unfold(x: Tensor, patch_size: int | tuple[int, int]) -> Tensor:
    """The same as ``patchify(x, P, "chw")`` through ``F.unfold`` (im2col with stride = kernel)."""
    _check_image(x)
    ph, pw = _pair(patch_size, "patch size")
    patch_grid(x.shape[-2:], (ph, pw))
    return F.unfold(x, kernel_size=(ph, pw), stride=(ph, pw)).transpose(1, 2)  # (N, C·P·P, L) -> (N, L, C·P·P)


def unpatchify(patches: Tensor, patch_size: int | tuple[int, int], image_size: int | tuple[int, int],
               channels: int, layout: str = "chw") -> Tensor:
    """Inverse of :func:`patchify`: ``(N, L, P_h·P_w·C)`` → ``(N, C, H, W)``."""
    if layout not in _LAYOUTS:
        raise ShapeError(f"layout must be one of {_LAYOUTS}, got {layout!r}")
    ph, pw = _pair(patch_size, "patch size")
    gh, gw = patch_grid(image_size, (ph, pw))
    C = channels
    if patches.dim() != 3 or patches.shape[1:] != (gh * gw, ph * pw * C):
        raise ShapeError(f"unpatchify expects patches (N, {gh * gw}, {ph * pw * C}) for a {C}-channel "
                         f"{gh * ph}×{gw * pw} image and {ph}×{pw} patches, got {tuple(patches.shape)}")
    N = patches.shape[0]
    if layout == "chw":
        x = patches.reshape(N, gh, gw, C, ph, pw).permute(0, 3, 1, 4, 2, 5)
    else:
        x = patches.reshape(N, gh, gw, ph, pw, C).permute(0, 5, 1, 3, 2, 4)
    return x.reshape(N, C, gh * ph, gw * pw)
