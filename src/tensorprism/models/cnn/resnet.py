"""ResNets (He et al. 2016; book §4.3.5 and §4.4.3): ImageNet ResNet-18…152 and CIFAR ResNet-20…110."""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn as nn

from ...errors import ConfigError
from ...nn.blocks import CBAM, BasicBlock, Bottleneck
from ...nn.conv import ConvNormAct
from .. import register_model
from ._base import ConvNet, FeatureInfo, pool_flatten


@dataclass
class ResNetConfig:
    num_classes: int = 1000
    in_chans: int = 3
    block: str = "basic"  # "basic" (two 3×3) or "bottleneck" (1×1-3×3-1×1, ×4 expansion)
    layers: tuple[int, ...] = (2, 2, 2, 2)
    widths: tuple[int, ...] = (64, 128, 256, 512)
    stem: str = "imagenet"  # "imagenet": 7×7/2 conv + 3×3/2 max pool; "cifar": one 3×3 conv
    stem_width: int = 64
    shortcut: str = "auto"  # "auto" (projection when the shape changes) or "pad" (CIFAR option A)
    drop_path: float = 0.0  # stochastic depth, linearly increasing to this value
    zero_init_last: bool = False
    attention: str = "none"  # basic blocks: "none", "cbam" (Woo et al. 2018) or "book" (spatial, then SE channel)
    attention_reduction: int = 16


def _block_attention(cfg: ResNetConfig, channels: int):
    """The gate a basic block applies to its branch (book §7.3.1, C7), or ``None``."""
    if cfg.attention == "none":
        return None
    if cfg.attention == "cbam":
        return CBAM(channels, cfg.attention_reduction)
    if cfg.attention == "book":
        return CBAM(channels, cfg.attention_reduction, order="spatial-channel", pool="avg")
    raise ConfigError(f"attention must be 'none', 'cbam' or 'book', got {cfg.attention!r}")


@register_model("resnet", config=ResNetConfig, family="cnn")
def resnet(cfg: ResNetConfig) -> ConvNet:
    """Stem → 4 (ImageNet) or 3 (CIFAR) stages of residual blocks → GAP → FC."""
    block = BasicBlock if cfg.block == "basic" else Bottleneck
    if cfg.stem == "imagenet":
        stem = nn.Sequential(ConvNormAct(cfg.in_chans, cfg.stem_width, 7, 2, 3), nn.MaxPool2d(3, 2, 1))
        reduction = 4
    else:
        stem = ConvNormAct(cfg.in_chans, cfg.stem_width, 3)
        reduction = 1
    total, k = sum(cfg.layers), 0
    stages, info, cin = [], [], cfg.stem_width
    for i, (n, width) in enumerate(zip(cfg.layers, cfg.widths, strict=True)):
        blocks = []
        for j in range(n):
            stride = 2 if (i > 0 and j == 0) else 1
            extra = {"attention": _block_attention(cfg, width)} if cfg.attention != "none" else {}
            if extra and block is not BasicBlock:
                raise ConfigError("attention is available for block='basic' only")
            blocks.append(block(cin, width, stride, shortcut=cfg.shortcut, drop_path=cfg.drop_path * k / max(total - 1, 1),
                                **extra))
            cin, k = width * block.expansion, k + 1
        reduction *= 2 if i > 0 else 1
        stages.append(nn.Sequential(*blocks))
        info.append(FeatureInfo(cin, reduction))
    model = ConvNet(stem, stages, pool_flatten(), cin, cfg.num_classes, cfg.in_chans, info)
    model.fsdp_blocks = (block,)  # FSDP units / checkpointed blocks: the residual blocks
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        if cfg.zero_init_last and isinstance(m, BasicBlock | Bottleneck):
            m.zero_init_last()
    return model.set_input_defaults(32 if cfg.stem == "cifar" else 224)


_IMAGENET = {
    "resnet18": ("basic", (2, 2, 2, 2)),
    "resnet34": ("basic", (3, 4, 6, 3)),
    "resnet50": ("bottleneck", (3, 4, 6, 3)),
    "resnet101": ("bottleneck", (3, 4, 23, 3)),
    "resnet152": ("bottleneck", (3, 8, 36, 3)),
}
for _name, (_block, _layers) in _IMAGENET.items():
    register_model(_name, config=ResNetConfig, family="cnn", block=_block, layers=_layers,
                   description=f"{_name} (ImageNet, He et al. 2016)")(resnet)

# ResNet-18 with the CIFAR stem (one 3x3 conv, no max pool): the encoder of the SimCLR/MoCo/BYOL/SwAV
# CIFAR-10 benchmarks (lightly, solo-learn); 11,173,962 parameters with 10 classes
register_model("resnet18-cifar", config=ResNetConfig, family="cnn", num_classes=10, layers=(2, 2, 2, 2),
               stem="cifar", description="ResNet-18 with a 3x3 CIFAR stem (SSL benchmarks' encoder)")(resnet)

# CIFAR ResNet-6n+2 (He et al. 2016 §4.2): 16-32-64 channels, n blocks per stage, option-A shortcuts
for _depth in (20, 32, 44, 56, 110):
    _n = (_depth - 2) // 6
    register_model(f"resnet{_depth}-cifar", config=ResNetConfig, family="cnn", num_classes=10, layers=(_n, _n, _n),
                   widths=(16, 32, 64), stem="cifar", stem_width=16, shortcut="pad",
                   description=f"CIFAR ResNet-{_depth} (He et al. 2016, option-A shortcuts)")(resnet)

# the same with a CBAM gate in every block (book §7.3.1 residual block with attention; Woo et al. 2018);
# reduction 4 because the 16-channel stage would keep a single hidden unit at the usual 16
register_model("cbam-resnet20-cifar", config=ResNetConfig, family="cnn", num_classes=10, layers=(3, 3, 3),
               widths=(16, 32, 64), stem="cifar", stem_width=16, shortcut="pad", attention="cbam",
               attention_reduction=4, description="CIFAR ResNet-20 with CBAM in every residual block")(resnet)
