"""GoogLeNet / Inception-v1 (Szegedy et al. 2015) and Inception-v3 (Szegedy et al. 2016) (book §4.4.4)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
from torch import Tensor

from ...nn.blocks import Inception
from ...nn.conv import ConvNormAct
from .. import register_model
from ._base import ConvNet, FeatureInfo, pool_flatten


@dataclass
class GoogLeNetConfig:
    num_classes: int = 1000
    in_chans: int = 3
    branch5_kernel: int = 3  # 3 reproduces torchvision's weights layout (its "5×5" branch is 3×3); 5 = paper
    dropout: float = 0.2


# (c1, c3_reduce, c3, c5_reduce, c5, pool_proj), Szegedy et al. 2015, Table 1
_GOOGLENET = {
    "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64), "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64), "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128), "5b": (384, 192, 384, 48, 128, 128),
}


@register_model("googlenet", config=GoogLeNetConfig, family="cnn")
def googlenet(cfg: GoogLeNetConfig) -> ConvNet:
    """GoogLeNet with BN units (no auxiliary heads): 9 Inception modules, GAP, dropout, FC."""
    stem = nn.Sequential(
        ConvNormAct(cfg.in_chans, 64, 7, 2, 3), nn.MaxPool2d(3, 2, ceil_mode=True),
        ConvNormAct(64, 64, 1), ConvNormAct(64, 192, 3), nn.MaxPool2d(3, 2, ceil_mode=True),
    )
    c = 192

    def modules(names: str) -> list[nn.Module]:
        nonlocal c
        out = []
        for name in names.split():
            c1, c3r, c3, c5r, c5, pp = _GOOGLENET[name]
            out.append(Inception(c, c1, c3, c5, pp, c3r, c5r, cfg.branch5_kernel, norm="bn"))
            c = out[-1].out_channels
        return out

    s3 = nn.Sequential(*modules("3a 3b"))
    c3 = c
    s4 = nn.Sequential(nn.MaxPool2d(3, 2, ceil_mode=True), *modules("4a 4b 4c 4d 4e"))
    c4 = c
    s5 = nn.Sequential(nn.MaxPool2d(2, 2, ceil_mode=True), *modules("5a 5b"))
    info = [FeatureInfo(c3, 8), FeatureInfo(c4, 16), FeatureInfo(c, 32)]
    return ConvNet(stem, [s3, s4, s5], pool_flatten(), c, cfg.num_classes, cfg.in_chans, info, cfg.dropout)


# ---------------------------------------------------------------------------------------------
class Concat(nn.ModuleList):
    """Apply every branch to the same input and concatenate on channels."""

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([branch(x) for branch in self], 1)


def _u(cin: int, cout: int, k: int | tuple[int, int] = 1, s: int = 1, p: int | tuple[int, int] | None = None) -> nn.Module:
    return ConvNormAct(cin, cout, k, s, p)


def _seq(*units: nn.Module) -> nn.Sequential:
    return nn.Sequential(*units)


def _avg_branch(cin: int, cout: int) -> nn.Module:
    return _seq(nn.AvgPool2d(3, 1, 1), _u(cin, cout))


def inception_a(c: int, pool: int) -> nn.Module:  # 35×35, out 224 + pool
    return Concat([_u(c, 64), _seq(_u(c, 48), _u(48, 64, 5)), _seq(_u(c, 64), _u(64, 96, 3), _u(96, 96, 3)), _avg_branch(c, pool)])


def inception_b(c: int) -> nn.Module:  # 35 → 17, out 480 + c
    return Concat([_u(c, 384, 3, 2, 0), _seq(_u(c, 64), _u(64, 96, 3), _u(96, 96, 3, 2, 0)), nn.MaxPool2d(3, 2)])


def inception_c(c: int, c7: int) -> nn.Module:  # 17×17 with factorised 7×7 convs, out 768
    return Concat([
        _u(c, 192),
        _seq(_u(c, c7), _u(c7, c7, (1, 7)), _u(c7, 192, (7, 1))),
        _seq(_u(c, c7), _u(c7, c7, (7, 1)), _u(c7, c7, (1, 7)), _u(c7, c7, (7, 1)), _u(c7, 192, (1, 7))),
        _avg_branch(c, 192),
    ])


def inception_d(c: int) -> nn.Module:  # 17 → 8, out 512 + c
    return Concat([_seq(_u(c, 192), _u(192, 320, 3, 2, 0)),
                   _seq(_u(c, 192), _u(192, 192, (1, 7)), _u(192, 192, (7, 1)), _u(192, 192, 3, 2, 0)), nn.MaxPool2d(3, 2)])


def inception_e(c: int) -> nn.Module:  # 8×8 with expanded filter banks, out 2048
    def split(cin: int) -> nn.Module:
        return Concat([_u(cin, 384, (1, 3)), _u(cin, 384, (3, 1))])

    return Concat([_u(c, 320), _seq(_u(c, 384), split(384)), _seq(_u(c, 448), _u(448, 384, 3), split(384)), _avg_branch(c, 192)])


@dataclass
class InceptionV3Config:
    num_classes: int = 1000
    in_chans: int = 3
    aux_logits: bool = True
    dropout: float = 0.5


class InceptionV3(ConvNet):
    """Inception-v3; in training mode with ``aux_logits`` it returns ``(logits, aux_logits)``."""

    def __init__(self, *args, aux: nn.Module | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.aux = aux

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        if not (self.training and self.aux is not None):
            return super().forward(x)
        self.check_image_input(x)
        x = self.stem(x)
        aux = None
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i == 2:  # after Mixed_6e (17×17×768)
                aux = self.aux(x)
        return self.forward_head(x), aux


@register_model("inception_v3", config=InceptionV3Config, family="cnn")
def inception_v3(cfg: InceptionV3Config) -> ConvNet:
    """Inception-v3 for 299×299 inputs: factorised convs, grid-reduction modules, auxiliary classifier."""
    stem = _seq(_u(cfg.in_chans, 32, 3, 2, 0), _u(32, 32, 3, 1, 0), _u(32, 64, 3), nn.MaxPool2d(3, 2))
    stages = [
        _seq(_u(64, 80), _u(80, 192, 3, 1, 0), nn.MaxPool2d(3, 2)),
        _seq(inception_a(192, 32), inception_a(256, 64), inception_a(288, 64)),
        _seq(inception_b(288), inception_c(768, 128), inception_c(768, 160), inception_c(768, 160), inception_c(768, 192)),
        _seq(inception_d(768), inception_e(1280), inception_e(2048)),
    ]
    aux = None
    if cfg.aux_logits and cfg.num_classes > 0:
        aux = _seq(nn.AvgPool2d(5, 3), _u(768, 128), _u(128, 768, 5, 1, 0), *pool_flatten(), nn.Linear(768, cfg.num_classes))
    info = [FeatureInfo(192, 8), FeatureInfo(288, 8), FeatureInfo(768, 16), FeatureInfo(2048, 32)]
    model = InceptionV3(stem, stages, pool_flatten(), 2048, cfg.num_classes, cfg.in_chans, info, cfg.dropout, aux=aux)
    return model.set_input_defaults(299)
