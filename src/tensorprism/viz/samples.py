"""Sample grids of generative models saved as pictures (PNG), pixel for pixel.

Unlike :func:`~tensorprism.viz.images.plot_image_grid` (a matplotlib figure with titles), this
writes the images themselves tiled in a grid with a 1-pixel gap, each image shown at its true
range (values clamped to [0, 1], no per-image rescaling), the way sample sheets of generative
models are compared.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import ShapeError


def image_grid(images: torch.Tensor, nrow: int = 8, pad: int = 1, scale: int = 1) -> torch.Tensor:
    """Tile ``images (N, C, H, W)`` with values in [0, 1] into one ``(C, H', W')`` image, ``nrow``
    images per row, ``pad`` pixels of white between them, each pixel repeated ``scale`` times."""
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ShapeError(f"expected images (N, 1|3, H, W), got {tuple(images.shape)}")
    x = images.detach().float().cpu().clamp(0, 1)
    if scale > 1:
        x = x.repeat_interleave(scale, 2).repeat_interleave(scale, 3)
    n, c, h, w = x.shape
    rows = -(-n // nrow)
    grid = torch.ones(c, rows * (h + pad) + pad, nrow * (w + pad) + pad)
    for i in range(n):
        r, k = divmod(i, nrow)
        top, left = pad + r * (h + pad), pad + k * (w + pad)
        grid[:, top:top + h, left:left + w] = x[i]
    return grid


def save_image_grid(images: torch.Tensor, path: str | Path, nrow: int = 8, pad: int = 1, scale: int = 2) -> Path:
    """Write :func:`image_grid` of ``images`` as a PNG at ``path``; returns the path."""
    from PIL import Image

    grid = image_grid(images, nrow, pad, scale)
    arr = (grid * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr).save(path)
    return path


__all__ = ["image_grid", "save_image_grid"]
