"""CapsNet for MNIST (Sabour et al. 2017; book B10): conv → primary capsules → digit capsules (+ decoder)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
from torch import Tensor

from ...nn.capsule import CapsuleLayer, PrimaryCapsules
from .. import register_model


@dataclass
class CapsNetConfig:
    num_classes: int = 10
    in_chans: int = 1
    img_size: int = 28
    routing_iterations: int = 3
    reconstruction: bool = True  # the 512-1024-784 decoder used as a regulariser


class CapsNet(nn.Module):
    """``forward(x) → (N, num_classes)`` capsule lengths (class scores in [0, 1));
    ``reconstruct(x, labels)`` → ``(N, C·H·W)`` from the masked digit capsules."""

    def __init__(self, cfg: CapsNetConfig):
        super().__init__()
        self.cfg = cfg
        self.conv = nn.Sequential(nn.Conv2d(cfg.in_chans, 256, 9), nn.ReLU(inplace=True))
        self.primary = PrimaryCapsules(256, 32, 8, 9, 2)
        side = ((cfg.img_size - 8) - 9) // 2 + 1
        self.digits = CapsuleLayer(32 * side * side, 8, cfg.num_classes, 16, cfg.routing_iterations)
        out = cfg.in_chans * cfg.img_size**2
        self.decoder = nn.Sequential(
            nn.Linear(16 * cfg.num_classes, 512), nn.ReLU(inplace=True), nn.Linear(512, 1024), nn.ReLU(inplace=True),
            nn.Linear(1024, out), nn.Sigmoid(),
        ) if cfg.reconstruction else None

    def capsules(self, x: Tensor) -> Tensor:
        return self.digits(self.primary(self.conv(x)))  # (N, classes, 16)

    def forward(self, x: Tensor) -> Tensor:
        return self.capsules(x).norm(dim=-1)

    def reconstruct(self, x: Tensor, labels: Tensor) -> Tensor:
        if self.decoder is None:
            raise RuntimeError("this CapsNet was built with reconstruction=False")
        v = self.capsules(x)
        mask = torch.nn.functional.one_hot(labels, v.shape[1]).to(v.dtype)[..., None]
        return self.decoder((v * mask).flatten(1))


@register_model("capsnet", config=CapsNetConfig, family="cnn")
def capsnet(cfg: CapsNetConfig) -> nn.Module:
    """CapsNet (8,215,568 parameters with the reconstruction decoder on MNIST)."""
    return CapsNet(cfg)
