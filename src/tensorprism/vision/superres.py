r"""Single-image super-resolution (book §4.6.4, SRCNN): pairs, bicubic baseline and PSNR.

SRCNN keeps the spatial size, so the low-resolution image is first upsampled (bicubic) to the target
size (the book omits this step, erratum 22): ``x = up(down(y))``, the network learns ``x → y``.
:math:`\text{PSNR} = 10\log_{10}(1/\text{MSE})` for images in [0, 1], averaged per image.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..train.tasks.vision import SuperResolutionTask

__all__ = ["degrade", "psnr", "SuperResolutionTask"]


def degrade(hr: Tensor, scale: int) -> Tensor:
    """Bicubic (antialiased) down-sampling by ``scale`` and bicubic up-sampling back: the SRCNN input."""
    h, w = hr.shape[-2:]
    lr = F.interpolate(hr, size=(h // scale, w // scale), mode="bicubic", align_corners=False, antialias=True)
    return F.interpolate(lr, size=(h, w), mode="bicubic", align_corners=False).clamp(0, 1)


def psnr(pred: Tensor, target: Tensor, border: int = 0) -> Tensor:
    """Per-image PSNR in dB of ``(N, C, H, W)`` images in [0, 1] (``border`` pixels ignored), → ``(N,)``."""
    if border:
        pred, target = pred[..., border:-border, border:-border], target[..., border:-border, border:-border]
    mse = (pred.clamp(0, 1) - target).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(1.0 / mse.clamp(min=1e-12))
