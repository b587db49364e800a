"""CapsNet for MNIST (Sabour et al. 2017; book B10): conv → primary capsules → digit capsules (+ decoder)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
from torch import Tensor

from ...errors import ConfigError
from ...nn.capsule import CapsuleLayer, PrimaryCapsules
from .. import register_model
from ..contract import ImageClassifierMixin


@dataclass
class CapsNetConfig:
    num_classes: int = 10
    in_chans: int = 1
    img_size: int = 28
    routing_iterations: int = 3
    reconstruction: bool = True  # the 512-1024-784 decoder used as a regulariser


class CapsNet(ImageClassifierMixin, nn.Module):
    """Image-classifier contract on capsules:

    * ``forward_features(x (N, C, H, W))`` → primary capsules ``(N, P, 8)`` (``P = 32·6·6`` on MNIST);
    * ``forward_head(u, pre_logits=False)`` → digit-capsule lengths ``(N, num_classes)`` in [0, 1)
      (class scores for the margin loss); ``pre_logits=True`` gives ``u`` flattened, ``(N, P·8)``;
    * ``reconstruct(x, labels)`` → ``(N, C·H·W)`` from the masked digit capsules.

    The digit-capsule layer is the classifier: ``reset_classifier(k)`` rebuilds it (and the
    decoder, which reads its output) for ``k`` classes; ``k = 0`` leaves the pre-logits.
    """

    def __init__(self, cfg: CapsNetConfig):
        super().__init__()
        self.cfg = cfg
        self.in_chans = cfg.in_chans
        self.conv = nn.Sequential(nn.Conv2d(cfg.in_chans, 256, 9), nn.ReLU(inplace=True))
        self.primary = PrimaryCapsules(256, 32, 8, 9, 2)
        side = ((cfg.img_size - 8) - 9) // 2 + 1
        self.num_primary = 32 * side * side
        self.num_features = self.num_primary * 8
        self.set_input_defaults(cfg.img_size)
        self._build_classifier(cfg.num_classes)

    def _build_classifier(self, num_classes: int) -> None:
        cfg, self.num_classes = self.cfg, num_classes
        self.digits = CapsuleLayer(self.num_primary, 8, num_classes, 16, cfg.routing_iterations) if num_classes else None
        out = cfg.in_chans * cfg.img_size**2
        self.decoder = nn.Sequential(
            nn.Linear(16 * num_classes, 512), nn.ReLU(inplace=True), nn.Linear(512, 1024), nn.ReLU(inplace=True),
            nn.Linear(1024, out), nn.Sigmoid(),
        ) if cfg.reconstruction and num_classes else None

    def reset_classifier(self, num_classes: int) -> None:
        """Fresh digit capsules (and decoder) for ``num_classes`` classes; 0 removes them."""
        device = next(self.parameters()).device
        self._build_classifier(num_classes)
        self.to(device)

    def get_classifier(self) -> nn.Module:
        return self.digits if self.digits is not None else nn.Identity()

    def forward_features(self, x: Tensor) -> Tensor:
        self.check_image_input(x)
        return self.primary(self.conv(x))  # (N, P, 8)

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        if pre_logits or self.digits is None:
            return x.flatten(1)
        return self.digits(x).norm(dim=-1)

    def capsules(self, x: Tensor) -> Tensor:
        """Digit capsules ``(N, num_classes, 16)``."""
        if self.digits is None:
            raise ConfigError("this CapsNet has no digit capsules (reset_classifier(0)); call reset_classifier(k)")
        return self.digits(self.forward_features(x))

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))

    def reconstruct(self, x: Tensor, labels: Tensor) -> Tensor:
        if self.decoder is None:
            raise ConfigError("this CapsNet has no reconstruction decoder: build it with reconstruction=True "
                              "and num_classes > 0")
        v = self.capsules(x)
        mask = torch.nn.functional.one_hot(labels, v.shape[1]).to(v.dtype)[..., None]
        return self.decoder((v * mask).flatten(1))


@register_model("capsnet", config=CapsNetConfig, family="cnn")
def capsnet(cfg: CapsNetConfig) -> nn.Module:
    """CapsNet (8,215,568 parameters with the reconstruction decoder on MNIST)."""
    return CapsNet(cfg)
