"""Stochastically binarised MNIST, the benchmark of likelihood models (VAE, IWAE, PixelCNN).

Each pixel becomes 1 with probability equal to its grey level in [0, 1] (Salakhutdinov & Murray
2008). The splits are MNIST's (``train`` 55,000 / ``val`` 5,000 held out of the 60,000 training
images, ``trainval`` all 60,000, ``test`` the 10,000 test images), the split of the published
IWAE numbers (Burda et al. 2016: 60,000 / 10,000). Training images are binarised **afresh at every
access** (``dynamic=True``, the default for ``train``/``trainval``: it draws from torch's global
generator, so a seeded, resumed run draws the same pixels); evaluation splits are binarised once
with a seeded generator, so every evaluation sees the same binary test set.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .. import DatasetInfo, register_dataset
from ..arrays import ImageDataset
from .mnist import FILES, MNIST, load_idx_dataset, places


class BinarizedImages(ImageDataset):
    """Images ``(N, 1, H, W)`` with values 0 or 1: binarised per access (``dynamic``) or once."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, *, dynamic: bool, seed: int, **kwargs):
        if not dynamic:
            g = torch.Generator().manual_seed(seed)
            images = (torch.bernoulli(images.float() / 255.0, generator=g) * 255).to(torch.uint8)
        super().__init__(images, labels, normalize=False, **kwargs)
        self.dynamic = dynamic

    def _x(self, raw: torch.Tensor) -> torch.Tensor:
        x = raw.float().div_(255.0)
        return torch.bernoulli(x) if self.dynamic else x


def load_binarized_mnist(root: Path, split: str = "train", *, dynamic: bool | None = None, seed: int = 0,
                         **kwargs) -> BinarizedImages:
    """Split ``split`` of stochastically binarised MNIST (see the module docstring)."""
    base = load_idx_dataset(MNIST, root, split, raw=True, **kwargs)
    dyn = split in ("train", "trainval") if dynamic is None else dynamic
    return BinarizedImages(base.data, base.targets, dynamic=dyn, seed=seed, mean=base.mean, std=base.std,
                           classes=base.classes, name="binarized-mnist", split=split, binarization_seed=seed)


register_dataset(
    "binarized-mnist",
    info=DatasetInfo(
        name="binarized-mnist", task="vae", modality="image", model="vae-mlp",
        size="55,000 train / 5,000 val / 10,000 test binary 28x28 digits (stochastic binarisation)",
        source=f"MNIST's IDX files, binarised on the fly; {MNIST.obtain}",
        extra={"shape": (1, 28, 28), "num_classes": 10},
    ),
    available=lambda root: load_available(root),
)(load_binarized_mnist)


def load_available(root: Path) -> bool:
    from ..download import find_first

    return find_first(FILES, places(MNIST, root)) is not None
