"""Digit canvases: a real-image detection and segmentation set built from MNIST digits.

Each canvas is a black ``size × size`` image holding ``1 … max_digits`` MNIST digits pasted at
random positions (digits may not overlap by more than ``max_overlap`` of their boxes). The ground
truth is exact because the digits were placed: a tight box around each digit's ink (pixels above
``ink``), its class, and a per-pixel label map (0 = background, ``1 + digit`` = ink of that digit).
Test canvases use only MNIST test digits, training canvases only training digits.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.utils.data import Dataset

from .boxes import box_iou

__all__ = ["CanvasConfig", "DigitCanvases", "make_canvases", "collate_canvases"]


@dataclass
class CanvasConfig:
    size: int = 64
    max_digits: int = 3
    min_digits: int = 1
    max_overlap: float = 0.1  # IoU allowed between two digits' placement windows
    ink: float = 0.3  # pixels above this (images in [0, 1]) are the digit's mask
    scale_range: tuple[float, float] = (1.0, 1.0)  # resize digits by a random factor in this range


def make_canvases(digits: Tensor, labels: Tensor, n: int, cfg: CanvasConfig, seed: int = 0) -> dict[str, object]:
    """Build ``n`` canvases from ``digits`` ``(M, 1, 28, 28)`` in [0, 1] and their ``labels`` ``(M,)``.

    Returns ``images (n, 1, S, S)``, ``masks (n, S, S)`` long, and per-canvas lists ``boxes``
    ``[(k, 4)]`` (xyxy pixels, right/bottom exclusive) and ``labels`` ``[(k,)]``, and ``instances``
    ``(n, S, S)`` long: 0 = background, ``1 + i`` = ink of the ``i``-th digit of that canvas (a later
    digit's ink covers an earlier one's, as in ``masks``).
    """
    g = torch.Generator().manual_seed(seed)
    S = cfg.size
    images = torch.zeros(n, 1, S, S)
    masks = torch.zeros(n, S, S, dtype=torch.long)
    instances = torch.zeros(n, S, S, dtype=torch.long)
    all_boxes, all_labels = [], []
    for i in range(n):
        k = int(torch.randint(cfg.min_digits, cfg.max_digits + 1, (1,), generator=g))
        windows, boxes, cls = [], [], []
        for _ in range(k):
            j = int(torch.randint(len(digits), (1,), generator=g))
            lo, hi = cfg.scale_range
            side = int(round(28 * (lo + (hi - lo) * float(torch.rand(1, generator=g)))))
            d = digits[j]
            if side != 28:
                d = torch.nn.functional.interpolate(d[None], size=(side, side), mode="bilinear", align_corners=False)[0]
            for _attempt in range(20):
                y, x = (int(v) for v in torch.randint(0, S - side + 1, (2,), generator=g))
                win = torch.tensor([[x, y, x + side, y + side]], dtype=torch.float32)
                if not windows or box_iou(win, torch.cat(windows)).max() <= cfg.max_overlap:
                    break
            else:
                continue  # no free place: fewer digits on this canvas
            windows.append(win)
            region = images[i, 0, y : y + side, x : x + side]
            images[i, 0, y : y + side, x : x + side] = torch.maximum(region, d[0])
            ink = d[0] > cfg.ink
            masks[i, y : y + side, x : x + side][ink] = int(labels[j]) + 1
            instances[i, y : y + side, x : x + side][ink] = len(boxes) + 1
            rows, cols = ink.any(1).nonzero().flatten(), ink.any(0).nonzero().flatten()
            boxes.append([x + int(cols[0]), y + int(rows[0]), x + int(cols[-1]) + 1, y + int(rows[-1]) + 1])
            cls.append(int(labels[j]))
        all_boxes.append(torch.tensor(boxes, dtype=torch.float32).view(-1, 4))
        all_labels.append(torch.tensor(cls, dtype=torch.long))
    return {"images": images, "masks": masks, "instances": instances, "boxes": all_boxes, "labels": all_labels}


def collate_canvases(batch):
    """Stack images; keep targets as a list of dicts (the detection convention, book line 9359)."""
    images = torch.stack([b[0] for b in batch])
    return images, [b[1] for b in batch]


class DigitCanvases(Dataset):
    """Canvases as a dataset of ``(image (1, S, S), dict(boxes, labels, mask, masks))`` (``target="detection"``;
    ``mask`` the label map ``(S, S)``, ``masks`` the instance masks ``(k, S, S)`` bool, one per box)
    or ``(image, mask (S, S))`` (``target="segmentation"``, 11 classes: background + 10 digits).

    ``split`` picks the MNIST split the digits come from (``"train"``/``"trainval"``/``"val"``/``"test"``).
    """

    def __init__(self, n: int, split: str = "train", cfg: CanvasConfig | None = None, seed: int = 0, root=None,
                 target: str = "detection"):
        from ..data import load_dataset

        if target not in ("detection", "segmentation"):
            raise ValueError(f"target={target!r}; expected 'detection' (boxes, labels, mask dicts) or 'segmentation' (label maps)")
        self.cfg, self.target = cfg or CanvasConfig(), target
        digits, labels = load_dataset("mnist", root=root, split=split, normalize=False).tensors()
        self.data = make_canvases(digits, labels, n, self.cfg, seed)

    def __len__(self) -> int:
        return len(self.data["images"])

    def __getitem__(self, i: int):
        d = self.data
        if self.target == "segmentation":
            return d["images"][i], d["masks"][i]
        k = len(d["boxes"][i])
        instance_masks = d["instances"][i][None] == torch.arange(1, k + 1)[:, None, None]  # (k, S, S)
        return d["images"][i], {"boxes": d["boxes"][i], "labels": d["labels"][i], "mask": d["masks"][i], "masks": instance_masks}

    @property
    def collate_fn(self):
        return collate_canvases if self.target == "detection" else None
