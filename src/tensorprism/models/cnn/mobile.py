"""Mobile CNNs (book §4.4.5): MobileNetV1/V2/V3 and EfficientNet-B0…B7 with compound scaling."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch.nn as nn

from ...nn.blocks import DepthwiseSeparable, InvertedResidual, make_divisible
from ...nn.conv import ConvNormAct
from .. import register_model
from ._base import ConvNet, FeatureInfo, pool_flatten


def _stages(blocks: list[tuple[int, nn.Module]], stem_reduction: int) -> tuple[list[nn.Module], list[FeatureInfo]]:
    """Group ``(stride, block)`` pairs into stages that end where the next stride-2 block starts."""
    stages, info, current, reduction, channels = [], [], [], stem_reduction, 0
    for stride, block in blocks:
        if stride == 2 and current:
            stages.append(nn.Sequential(*current))
            info.append(FeatureInfo(channels, reduction))
            current = []
        reduction *= stride
        current.append(block)
        channels = block.out_channels
    stages.append(nn.Sequential(*current))
    info.append(FeatureInfo(channels, reduction))
    return stages, info


def _with_out(block: nn.Module, out: int) -> nn.Module:
    block.out_channels = out
    return block


# ---------------------------------------------------------------------------------------------
@dataclass
class MobileNetV1Config:
    num_classes: int = 1000
    in_chans: int = 3
    width: float = 1.0  # the paper's width multiplier α
    dropout: float = 0.0


_V1 = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]


@register_model("mobilenet_v1", config=MobileNetV1Config, family="cnn")
def mobilenet_v1(cfg: MobileNetV1Config) -> ConvNet:
    """MobileNetV1 (Howard et al. 2017): 3×3/2 conv then 13 depthwise-separable blocks (≈4.2 M parameters)."""
    c = make_divisible(32 * cfg.width)
    stem = ConvNormAct(cfg.in_chans, c, 3, 2)
    blocks = []
    for out, stride in _V1:
        out = make_divisible(out * cfg.width)
        blocks.append((stride, _with_out(DepthwiseSeparable(c, out, stride), out)))
        c = out
    stages, info = _stages(blocks, 2)
    return ConvNet(stem, stages, pool_flatten(), c, cfg.num_classes, cfg.in_chans, info, cfg.dropout)


# ---------------------------------------------------------------------------------------------
@dataclass
class MobileNetV2Config:
    num_classes: int = 1000
    in_chans: int = 3
    width: float = 1.0
    dropout: float = 0.2


_V2 = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


@register_model("mobilenet_v2", config=MobileNetV2Config, family="cnn")
def mobilenet_v2(cfg: MobileNetV2Config) -> ConvNet:
    """MobileNetV2 (Sandler et al. 2018): inverted residuals with linear bottlenecks, ReLU6."""
    c = make_divisible(32 * cfg.width)
    stem = ConvNormAct(cfg.in_chans, c, 3, 2, act="relu6")
    blocks = []
    for t, out, n, s in _V2:
        out = make_divisible(out * cfg.width)
        for i in range(n):
            stride = s if i == 0 else 1
            blocks.append((stride, _with_out(InvertedResidual(c, out, stride, t), out)))
            c = out
    last = make_divisible(1280 * max(1.0, cfg.width))
    blocks.append((1, _with_out(ConvNormAct(c, last, 1, act="relu6"), last)))
    stages, info = _stages(blocks, 2)
    return ConvNet(stem, stages, pool_flatten(), last, cfg.num_classes, cfg.in_chans, info, cfg.dropout)


# ---------------------------------------------------------------------------------------------
@dataclass
class MobileNetV3Config:
    num_classes: int = 1000
    in_chans: int = 3
    arch: str = "large"  # "large" | "small"
    width: float = 1.0
    dropout: float = 0.2


# (kernel, expanded, out, use_se, activation, stride) — Howard et al. 2019, Tables 1 and 2
_V3 = {
    "large": ([
        (3, 16, 16, 0, "relu", 1), (3, 64, 24, 0, "relu", 2), (3, 72, 24, 0, "relu", 1),
        (5, 72, 40, 1, "relu", 2), (5, 120, 40, 1, "relu", 1), (5, 120, 40, 1, "relu", 1),
        (3, 240, 80, 0, "hardswish", 2), (3, 200, 80, 0, "hardswish", 1), (3, 184, 80, 0, "hardswish", 1),
        (3, 184, 80, 0, "hardswish", 1), (3, 480, 112, 1, "hardswish", 1), (3, 672, 112, 1, "hardswish", 1),
        (5, 672, 160, 1, "hardswish", 2), (5, 960, 160, 1, "hardswish", 1), (5, 960, 160, 1, "hardswish", 1),
    ], 1280),
    "small": ([
        (3, 16, 16, 1, "relu", 2), (3, 72, 24, 0, "relu", 2), (3, 88, 24, 0, "relu", 1),
        (5, 96, 40, 1, "hardswish", 2), (5, 240, 40, 1, "hardswish", 1), (5, 240, 40, 1, "hardswish", 1),
        (5, 120, 48, 1, "hardswish", 1), (5, 144, 48, 1, "hardswish", 1), (5, 288, 96, 1, "hardswish", 2),
        (5, 576, 96, 1, "hardswish", 1), (5, 576, 96, 1, "hardswish", 1),
    ], 1024),
}


@register_model("mobilenet_v3", config=MobileNetV3Config, family="cnn")
def mobilenet_v3(cfg: MobileNetV3Config) -> ConvNet:
    """MobileNetV3 (Howard et al. 2019): bnecks with SE (hard-sigmoid gate) and hard-swish."""
    table, last_hidden = _V3[cfg.arch]
    c = make_divisible(16 * cfg.width)
    stem = ConvNormAct(cfg.in_chans, c, 3, 2, act="hardswish")
    blocks = []
    for k, exp, out, se, act, s in table:
        exp, out = make_divisible(exp * cfg.width), make_divisible(out * cfg.width)
        se_ch = make_divisible(exp // 4) if se else 0
        blk = InvertedResidual(c, out, s, kernel_size=k, act=act, se_channels=se_ch, se_gate="hardsigmoid", expanded_channels=exp)
        blocks.append((s, _with_out(blk, out)))
        c = out
    last_conv = 6 * c
    blocks.append((1, _with_out(ConvNormAct(c, last_conv, 1, act="hardswish"), last_conv)))
    stages, info = _stages(blocks, 2)
    hidden = make_divisible(last_hidden * cfg.width)
    head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1), nn.Linear(last_conv, hidden), nn.Hardswish(inplace=True))
    return ConvNet(stem, stages, head, hidden, cfg.num_classes, cfg.in_chans, info, cfg.dropout)


register_model("mobilenet_v3_large", config=MobileNetV3Config, family="cnn", arch="large")(mobilenet_v3)
register_model("mobilenet_v3_small", config=MobileNetV3Config, family="cnn", arch="small")(mobilenet_v3)


# ---------------------------------------------------------------------------------------------
def compound_scaling(phi: float, alpha: float = 1.2, beta: float = 1.1, gamma: float = 1.15) -> tuple[float, float, float]:
    """EfficientNet compound scaling (book line 6849): depth ``α^φ``, width ``β^φ``, resolution ``γ^φ``.

    Tan & Le (2019) chose α=1.2, β=1.1, γ=1.15 under α·β²·γ² ≈ 2 (so FLOPs grow ≈ 2^φ; the constraint
    is not in the book, and the book calls these "B1 multipliers", erratum 11). The released B1–B7 use
    the rounded table :data:`EFFICIENTNET_PARAMS`, not exact powers.
    """
    return alpha**phi, beta**phi, gamma**phi


# name: (width multiplier, depth multiplier, resolution, dropout), Tan & Le 2019
EFFICIENTNET_PARAMS = {
    "b0": (1.0, 1.0, 224, 0.2), "b1": (1.0, 1.1, 240, 0.2), "b2": (1.1, 1.2, 260, 0.3), "b3": (1.2, 1.4, 300, 0.3),
    "b4": (1.4, 1.8, 380, 0.4), "b5": (1.6, 2.2, 456, 0.4), "b6": (1.8, 2.6, 528, 0.5), "b7": (2.0, 3.1, 600, 0.5),
}
# (expand, kernel, stride, in, out, repeats) of the B0 baseline
_B0 = [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
       (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1)]


@dataclass
class EfficientNetConfig:
    num_classes: int = 1000
    in_chans: int = 3
    width: float = 1.0
    depth: float = 1.0
    dropout: float = 0.2
    drop_path: float = 0.2  # stochastic depth, linearly increasing over the blocks
    img_size: int = 224  # the resolution of the variant (compound scaling); reported by default_cfg


@register_model("efficientnet", config=EfficientNetConfig, family="cnn")
def efficientnet(cfg: EfficientNetConfig) -> ConvNet:
    """EfficientNet (Tan & Le 2019): MBConv blocks (inverted residual + SE + SiLU) scaled in width and depth."""
    def ch(c: int) -> int:
        return make_divisible(c * cfg.width)

    repeats = [math.ceil(r * cfg.depth) for *_, r in _B0]
    total, k = sum(repeats), 0
    c = ch(32)
    stem = ConvNormAct(cfg.in_chans, c, 3, 2, act="silu")
    blocks = []
    for (t, ks, s, _, out, _), n in zip(_B0, repeats, strict=True):
        out = ch(out)
        for i in range(n):
            stride = s if i == 0 else 1
            blk = InvertedResidual(c, out, stride, t, ks, act="silu", se_channels=max(1, c // 4), se_act="silu",
                                   drop_path=cfg.drop_path * k / total)
            blocks.append((stride, _with_out(blk, out)))
            c, k = out, k + 1
    last = 4 * c
    blocks.append((1, _with_out(ConvNormAct(c, last, 1, act="silu"), last)))
    stages, info = _stages(blocks, 2)
    model = ConvNet(stem, stages, pool_flatten(), last, cfg.num_classes, cfg.in_chans, info, cfg.dropout)
    return model.set_input_defaults(cfg.img_size)


for _v, (_w, _d, _res, _drop) in EFFICIENTNET_PARAMS.items():
    register_model(f"efficientnet_{_v}", config=EfficientNetConfig, family="cnn", width=_w, depth=_d, dropout=_drop, img_size=_res,
                   description=f"EfficientNet-{_v.upper()} (width ×{_w}, depth ×{_d}, {_res}px)")(efficientnet)
