"""Plots of tensors and fields (§2.6.1): annotated heatmaps, slice-wise heatmaps of 3-way tensors,
quiver and streamline plots of 2-D vector fields, and principal-direction glyphs of symmetric
tensor fields. Every function returns the matplotlib ``Figure`` (no ``plt.show``), so it works
headless with ``MPLBACKEND=Agg``."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ..errors import ShapeError

__all__ = ["label_axes", "heatmap", "slice_heatmaps", "quiver", "streamlines", "tensor_field_quiver"]


def _np(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _axes(ax, **subplot_kw):
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(subplot_kw=subplot_kw or None)
    return fig, ax


def label_axes(ax, title: str | None = None, labels=("x", "y"), equal: bool = False) -> None:
    """Axis labels (two, or three for 3-D axes), optional equal aspect and title."""
    for setter, text in zip((ax.set_xlabel, ax.set_ylabel, getattr(ax, "set_zlabel", None)), labels, strict=False):
        setter(text)
    if equal:
        ax.set_aspect("equal")
    if title:
        ax.set_title(title)


def heatmap(matrix, ax=None, annot: bool = True, cmap: str = "coolwarm", fmt: str = ".3g", title: str | None = None):
    """Matrix heatmap with optional value annotations (Fig. 2.1: warm = high, cool = low)."""
    m = _np(matrix)
    if m.ndim != 2:
        raise ShapeError(f"heatmap expects a matrix, got shape {m.shape}; use slice_heatmaps for 3-way tensors")
    fig, ax = _axes(ax)
    im = ax.imshow(m, cmap=cmap)
    fig.colorbar(im, ax=ax)
    if annot:
        mid = (np.nanmax(m) + np.nanmin(m)) / 2
        for (i, j), v in np.ndenumerate(m):
            ax.text(j, i, format(v, fmt), ha="center", va="center", color="white" if abs(v - mid) > 0.3 * np.ptp(m) else "black")
    ax.set_xticks(range(m.shape[1]))
    ax.set_yticks(range(m.shape[0]))
    if title:
        ax.set_title(title)
    return fig


def slice_heatmaps(tensor, mode: int = 2, annot: bool = False, cmap: str = "coolwarm", max_slices: int = 16,
                   shared_scale: bool = True):
    """One heatmap per slice along ``mode`` (default: frontal slices :math:`\\mathcal T(:,:,k)`, l.1963).

    ``shared_scale`` uses one colour range for all slices so they can be compared.
    """
    import matplotlib.pyplot as plt

    t = _np(tensor)
    if t.ndim != 3:
        raise ShapeError(f"slice_heatmaps expects a 3-way tensor, got shape {t.shape}")
    slices = np.moveaxis(t, mode, 0)[:max_slices]
    n = len(slices)
    cols = min(n, 4)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3 * rows), squeeze=False)
    vmin, vmax = (t.min(), t.max()) if shared_scale else (None, None)
    names = ["(k,:,:)", "(:,k,:)", "(:,:,k)"]
    for k, ax in enumerate(axes.flat):
        if k >= n:
            ax.axis("off")
            continue
        im = ax.imshow(slices[k], cmap=cmap, vmin=vmin, vmax=vmax)
        ax.set_title(f"T{names[mode].replace('k', str(k + 1))}")
        if annot:
            for (i, j), v in np.ndenumerate(slices[k]):
                ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=8)
    fig.colorbar(im, ax=axes.ravel().tolist())
    return fig


def _grid(field: Callable, xlim, ylim, n: int):
    xs, ys = np.linspace(*xlim, n), np.linspace(*ylim, n)
    x, y = np.meshgrid(xs, ys)
    out = field(torch.as_tensor(x), torch.as_tensor(y))
    return x, y, [_np(o) for o in out]


def quiver(field: Callable, xlim=(-2, 2), ylim=(-2, 2), n: int = 10, ax=None, title: str | None = None):
    """Arrows of a vector field ``field(X, Y) -> (U, V)`` on an ``n x n`` grid (Fig. 2.2: ``V = (y, -x)``)."""
    x, y, (u, v) = _grid(field, xlim, ylim, n)
    fig, ax = _axes(ax)
    ax.quiver(x, y, u, v)
    label_axes(ax, title, equal=True)
    return fig


def streamlines(field: Callable, xlim=(-2, 2), ylim=(-2, 2), n: int = 100, ax=None, title: str | None = None,
                density: float = 1.0):
    """Streamlines of ``field(X, Y) -> (U, V)`` coloured by speed (Fig. 2.3)."""
    x, y, (u, v) = _grid(field, xlim, ylim, n)
    fig, ax = _axes(ax)
    ax.streamplot(x, y, u, v, color=np.hypot(u, v), density=density)
    label_axes(ax, title, equal=True)
    return fig


def tensor_field_quiver(field: Callable, xlim=(-2, 2), ylim=(-2, 2), n: int = 12, ax=None, title: str | None = None):
    """Principal directions of a symmetric 2x2 tensor field ``field(X, Y) -> (n, n, 2, 2)``.

    At each grid point both eigenvectors are drawn as headless line glyphs scaled by ``|eigenvalue|``
    (red: largest eigenvalue, blue: smallest), e.g. ``H(x, y) = [[x, y], [y, x]]`` of Ex 2.5.
    """
    xs, ys = np.linspace(*xlim, n), np.linspace(*ylim, n)
    x, y = np.meshgrid(xs, ys)
    h = torch.as_tensor(field(torch.as_tensor(x), torch.as_tensor(y)))
    if h.shape[-2:] != (2, 2):
        raise ShapeError(f"tensor_field_quiver expects field values (..., 2, 2), got {tuple(h.shape)}")
    vals, vecs = torch.linalg.eigh((h + h.transpose(-1, -2)) / 2)
    fig, ax = _axes(ax)
    for k, colour in ((1, "tab:red"), (0, "tab:blue")):
        s = _np(vals[..., k].abs())
        u, v = _np(vecs[..., 0, k]) * s, _np(vecs[..., 1, k]) * s
        ax.quiver(x, y, u, v, color=colour, pivot="middle", headwidth=0, headlength=0, headaxislength=0)
    label_axes(ax, title, equal=True)
    return fig
