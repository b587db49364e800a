"""Grids of sample images with labels and predictions (book L4681–4696, with ``next(iter)``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from ..errors import ShapeError
from .training import _figure


def plot_image_grid(images: torch.Tensor, labels: Sequence | torch.Tensor | None = None,
                    preds: Sequence | torch.Tensor | None = None, path: str | Path | None = None,
                    cols: int = 6, class_names: Sequence[str] | None = None):
    """Show ``images`` ``(N, 1, H, W)``, ``(N, H, W)`` or ``(N, 3, H, W)`` in a grid (the book uses
    one row of 6, ``figsize=(12, 2)``). Titles read ``label`` or ``label→pred``, red when wrong."""
    if images.dim() == 4 and images.shape[1] in (1, 3):
        images = images.permute(0, 2, 3, 1)
    elif images.dim() != 3:
        raise ShapeError(f"expected images (N, 1|3, H, W) or (N, H, W), got {tuple(images.shape)}")
    images = images.detach().float().cpu()
    n = images.shape[0]
    rows = -(-n // cols)
    name = (lambda k: class_names[int(k)]) if class_names else (lambda k: str(int(k)))
    plt = _figure()
    fig, axes = plt.subplots(rows, cols, figsize=(2 * cols, 2 * rows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        img = images[i].squeeze(-1) if images.shape[-1] == 1 else images[i]
        lo, hi = img.min(), img.max()
        ax.imshow((img - lo) / (hi - lo + 1e-12), cmap="gray")
        if labels is not None:
            title, colour = f"Label: {name(labels[i])}", "black"
            if preds is not None:
                title += f"→{name(preds[i])}"
                colour = "black" if int(labels[i]) == int(preds[i]) else "red"
            ax.set_title(title, fontsize=9, color=colour)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig
