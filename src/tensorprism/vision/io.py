"""Reading single images as tensors (content and style pictures, images to predict on)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import DatasetNotFoundError

__all__ = ["read_image"]


def _array(source: str | Path) -> np.ndarray:
    text = str(source)
    if text.startswith("skimage:"):  # pictures bundled with scikit-image, e.g. "skimage:chelsea"
        name = text.split(":", 1)[1]
        from ..optional import require

        skimage_data = require("skimage.data", feature=f"the picture {text!r} (or pass an image path)")
        if not callable(getattr(skimage_data, name, None)):
            raise DatasetNotFoundError(f"skimage.data has no picture {name!r}; try chelsea, astronaut, coffee or "
                                       "immunohistochemistry, or pass an image path")
        return np.asarray(getattr(skimage_data, name)())
    path = Path(source).expanduser()
    if not path.exists():
        raise DatasetNotFoundError(f"image {path} not found; pass a file path or 'skimage:<name>'")
    from PIL import Image

    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def read_image(source: str | Path, size: int | None = None) -> Tensor:
    """An RGB image as a ``(1, 3, H, W)`` float tensor in ``[0, 1]``.

    ``source`` is a file path (anything Pillow reads) or ``"skimage:<name>"`` for a picture bundled with
    scikit-image. Grey images are repeated to three channels and an alpha channel is dropped. With
    ``size`` the image is centre-cropped to a square and resized (bilinear, anti-aliased) to ``size × size``.
    """
    a = _array(source)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=-1)
    x = torch.from_numpy(np.array(a[..., :3], copy=True)).permute(2, 0, 1)[None]  # a writable copy
    x = x.float() / 255.0 if a.dtype == np.uint8 else x.float().clamp(0, 1)
    if size is not None:
        h, w = x.shape[-2:]
        s = min(h, w)
        top, left = (h - s) // 2, (w - s) // 2
        x = F.interpolate(x[..., top:top + s, left:left + s], size=(size, size), mode="bilinear", align_corners=False,
                          antialias=True).clamp(0, 1)
    return x
