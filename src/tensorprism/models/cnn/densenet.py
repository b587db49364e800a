"""DenseNet (Huang et al. 2017; book B8) and SqueezeNet (Iandola et al. 2016; book B9)."""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn as nn

from ...nn.blocks import DenseBlock, Fire, Transition
from ...nn.conv import ConvNormAct
from .. import register_model
from ._base import ConvNet, FeatureInfo, pool_flatten


@dataclass
class DenseNetConfig:
    num_classes: int = 1000
    in_chans: int = 3
    growth_rate: int = 32
    block_config: tuple[int, ...] = (6, 12, 24, 16)
    init_features: int = 64
    bn_size: int = 4
    compression: float = 0.5  # θ of the transition layers
    drop_rate: float = 0.0


@register_model("densenet", config=DenseNetConfig, family="cnn")
def densenet(cfg: DenseNetConfig) -> ConvNet:
    """DenseNet-BC: 7×7/2 conv + 3×3/2 pool, dense blocks separated by compressing transitions."""
    stem = nn.Sequential(ConvNormAct(cfg.in_chans, cfg.init_features, 7, 2, 3), nn.MaxPool2d(3, 2, 1))
    c, reduction, stages, info = cfg.init_features, 4, [], []
    for i, n in enumerate(cfg.block_config):
        block = DenseBlock(n, c, cfg.growth_rate, cfg.bn_size, cfg.drop_rate)
        c = block.out_channels
        layers: list[nn.Module] = [block]
        if i < len(cfg.block_config) - 1:
            layers.append(Transition(c, int(c * cfg.compression)))
            c, reduction = int(c * cfg.compression), reduction * 2
        stages.append(nn.Sequential(*layers))
        info.append(FeatureInfo(c, reduction))
    head = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=True), *pool_flatten())
    return ConvNet(stem, stages, head, c, cfg.num_classes, cfg.in_chans, info)


for _name, (_k, _blocks, _init) in {
    "densenet121": (32, (6, 12, 24, 16), 64), "densenet161": (48, (6, 12, 36, 24), 96),
    "densenet169": (32, (6, 12, 32, 32), 64), "densenet201": (32, (6, 12, 48, 32), 64),
}.items():
    register_model(_name, config=DenseNetConfig, family="cnn", growth_rate=_k, block_config=_blocks, init_features=_init)(densenet)


# ---------------------------------------------------------------------------------------------
@dataclass
class SqueezeNetConfig:
    num_classes: int = 1000
    in_chans: int = 3
    version: str = "1.0"  # "1.0" (7×7 stem, late pooling) or "1.1" (3×3 stem, 2.4× fewer FLOPs)
    dropout: float = 0.5


class SqueezeNet(ConvNet):
    """The classifier is a 1×1 conv + ReLU + global average pool (no FC); ``pre_logits`` is the last map."""

    def _make_classifier(self, num_classes: int) -> nn.Module:
        if num_classes <= 0:
            return nn.Identity()
        return nn.Sequential(nn.Conv2d(self.num_features, num_classes, 1), nn.ReLU(inplace=True), *pool_flatten())


@register_model("squeezenet", config=SqueezeNetConfig, family="cnn")
def squeezenet(cfg: SqueezeNetConfig) -> ConvNet:
    """SqueezeNet: Fire modules (1×1 squeeze → 1×1 ‖ 3×3 expand) with max pools (ceil mode)."""
    def pool() -> nn.Module:
        return nn.MaxPool2d(3, 2, ceil_mode=True)

    if cfg.version == "1.0":
        stem = nn.Sequential(ConvNormAct(cfg.in_chans, 96, 7, 2, 0, norm=None), pool())
        stages = [
            nn.Sequential(Fire(96, 16, 64), Fire(128, 16, 64), Fire(128, 32, 128)),
            nn.Sequential(pool(), Fire(256, 32, 128), Fire(256, 48, 192), Fire(384, 48, 192), Fire(384, 64, 256)),
            nn.Sequential(pool(), Fire(512, 64, 256)),
        ]
        info = [FeatureInfo(256, 4), FeatureInfo(512, 8), FeatureInfo(512, 16)]
    elif cfg.version == "1.1":
        stem = nn.Sequential(ConvNormAct(cfg.in_chans, 64, 3, 2, 0, norm=None), pool())
        stages = [
            nn.Sequential(Fire(64, 16, 64), Fire(128, 16, 64)),
            nn.Sequential(pool(), Fire(128, 32, 128), Fire(256, 32, 128)),
            nn.Sequential(pool(), Fire(256, 48, 192), Fire(384, 48, 192), Fire(384, 64, 256), Fire(512, 64, 256)),
        ]
        info = [FeatureInfo(128, 4), FeatureInfo(256, 8), FeatureInfo(512, 16)]
    else:
        raise ValueError(f"SqueezeNet version {cfg.version!r}; expected '1.0' or '1.1'")
    return SqueezeNet(stem, stages, nn.Identity(), 512, cfg.num_classes, cfg.in_chans, info, cfg.dropout)


register_model("squeezenet1_0", config=SqueezeNetConfig, family="cnn", version="1.0")(squeezenet)
register_model("squeezenet1_1", config=SqueezeNetConfig, family="cnn", version="1.1")(squeezenet)
