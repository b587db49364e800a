"""LeNet-5, AlexNet, VGG and the book's small MNIST/CIFAR CNNs (book §4.1–§4.4.2, §4.6–§4.7)."""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn as nn

from ...nn.conv import ConvNormAct, make_act
from .. import register_model
from ._base import ConvNet, FeatureInfo, mlp_head


# ---------------------------------------------------------------------------------------------
# LeNet-5 (LeCun et al. 1998)
@dataclass
class LeNetConfig:
    num_classes: int = 10
    in_chans: int = 1
    img_size: int = 28  # 28×28 MNIST is padded by 2 to the paper's 32×32 input
    act: str = "relu"  # the paper used scaled tanh; "tanh" reproduces it
    pool: str = "max"  # the paper's subsampling is a trainable average; "avg" is closest


@register_model("lenet5", config=LeNetConfig, family="cnn")
def lenet5(cfg: LeNetConfig) -> ConvNet:
    """LeNet-5: C1 6@5×5 → S2 → C3 16@5×5 → S4 → F5 120 → F6 84 → output (61,706 parameters on MNIST)."""
    pool = nn.MaxPool2d if cfg.pool == "max" else nn.AvgPool2d
    pad = (32 - cfg.img_size) // 2 if cfg.img_size < 32 else 0
    act = cfg.act
    stages = [
        nn.Sequential(nn.Conv2d(cfg.in_chans, 6, 5, padding=pad), make_act(act), pool(2)),
        nn.Sequential(nn.Conv2d(6, 16, 5), make_act(act), pool(2)),
    ]
    side = ((cfg.img_size + 2 * pad - 4) // 2 - 4) // 2
    head = nn.Sequential(nn.Flatten(1), nn.Linear(16 * side * side, 120), make_act(act), nn.Linear(120, 84), make_act(act))
    model = ConvNet(nn.Identity(), stages, head, 84, cfg.num_classes, cfg.in_chans, [FeatureInfo(6, 2), FeatureInfo(16, 4)])
    return model.set_input_defaults(cfg.img_size)


# ---------------------------------------------------------------------------------------------
# AlexNet (Krizhevsky et al. 2012; book §4.4.1)
@dataclass
class AlexNetConfig:
    num_classes: int = 1000
    in_chans: int = 3
    channels: tuple[int, ...] = (64, 192, 384, 256, 256)  # torchvision's one-GPU variant
    groups: tuple[int, ...] = (1, 1, 1, 1, 1)  # the paper splits conv2/4/5 over 2 GPUs: (1, 2, 1, 2, 2)
    dropout: float = 0.5


@register_model("alexnet", config=AlexNetConfig, family="cnn")
def alexnet(cfg: AlexNetConfig) -> ConvNet:
    """AlexNet: 5 convs (11×11/4, 5×5, 3×3 ×3), overlapping 3/2 max pools, FC 4096-4096.

    The book's text (lines 6237–6239) is inconsistent: a 227 input with pad 2 gives 56, not 55 (erratum 7).
    With pad 2 here, 224 → 55 → 27 → 13 → 6 and flatten 256·6·6 = 9216 (the book's PyTorch fc1 of 256·6·6·6 is wrong).
    """
    c, g = cfg.channels, cfg.groups
    stem = nn.Sequential(nn.Conv2d(cfg.in_chans, c[0], 11, 4, 2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2))
    stages = [
        nn.Sequential(nn.Conv2d(c[0], c[1], 5, padding=2, groups=g[1]), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2)),
        nn.Sequential(
            nn.Conv2d(c[1], c[2], 3, padding=1, groups=g[2]), nn.ReLU(inplace=True),
            nn.Conv2d(c[2], c[3], 3, padding=1, groups=g[3]), nn.ReLU(inplace=True),
            nn.Conv2d(c[3], c[4], 3, padding=1, groups=g[4]), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        ),
    ]
    head = mlp_head(c[4] * 36, (4096, 4096), cfg.dropout, pool=6, dropout_first=True)
    return ConvNet(stem, stages, head, 4096, cfg.num_classes, cfg.in_chans, [FeatureInfo(c[1], 16), FeatureInfo(c[4], 32)])


register_model("alexnet-book", config=AlexNetConfig, family="cnn", channels=(96, 256, 384, 384, 256),
               description="AlexNet with the book's/paper's channel widths 96-256-384-384-256 (no groups)")(alexnet)


# ---------------------------------------------------------------------------------------------
# VGG (Simonyan & Zisserman 2015; book §4.4.2)
VGG_CFGS = {
    "vgg11": (1, 1, 2, 2, 2),
    "vgg13": (2, 2, 2, 2, 2),
    "vgg16": (2, 2, 3, 3, 3),
    "vgg19": (2, 2, 4, 4, 4),
}


@dataclass
class VGGConfig:
    num_classes: int = 1000
    in_chans: int = 3
    depths: tuple[int, ...] = (2, 2, 3, 3, 3)  # convs per stage; VGG16
    widths: tuple[int, ...] = (64, 128, 256, 512, 512)
    batch_norm: bool = False
    dropout: float = 0.5
    hidden: tuple[int, ...] = (4096, 4096)
    pool_size: int = 7  # adaptive pool before the FCs (7 for 224 inputs; 1 for a compact CIFAR head)


@register_model("vgg", config=VGGConfig, family="cnn")
def vgg(cfg: VGGConfig) -> ConvNet:
    """VGG: stages of 3×3 convs (pad 1) each ended by a 2×2 max pool; FC head 4096-4096."""
    stages, cin = [], cfg.in_chans
    for depth, width in zip(cfg.depths, cfg.widths, strict=True):
        layers: list[nn.Module] = []
        for _ in range(depth):
            layers.append(ConvNormAct(cin, width, 3, norm="bn" if cfg.batch_norm else None, bias=True))  # torchvision keeps the bias
            cin = width
        layers.append(nn.MaxPool2d(2, 2))
        stages.append(nn.Sequential(*layers))
    head = mlp_head(cin * cfg.pool_size**2, cfg.hidden, cfg.dropout, pool=cfg.pool_size)
    info = [FeatureInfo(w, 2 ** (i + 1)) for i, w in enumerate(cfg.widths)]
    num_features = cfg.hidden[-1] if cfg.hidden else cin * cfg.pool_size**2
    return ConvNet(nn.Identity(), stages, head, num_features, cfg.num_classes, cfg.in_chans, info)


for _name, _depths in VGG_CFGS.items():
    register_model(_name, config=VGGConfig, family="cnn", depths=_depths, description=f"{_name.upper()} (Simonyan & Zisserman 2015)")(vgg)
    register_model(f"{_name}_bn", config=VGGConfig, family="cnn", depths=_depths, batch_norm=True,
                   description=f"{_name.upper()} with batch norm after every conv")(vgg)


# ---------------------------------------------------------------------------------------------
# The book's small CNNs and a small modern CNN
@dataclass
class SimpleCNNConfig:
    num_classes: int = 10
    in_chans: int = 1
    img_size: int = 28
    channels: tuple[int, ...] = (32,)  # one stage per entry
    convs_per_stage: int = 1
    padding: str = "valid"  # "valid" or "same" 3×3 convs
    pool: bool = True  # 2×2 max pool closing each stage
    norm: str | None = None  # "bn" → conv-BN-ReLU
    hidden: tuple[int, ...] = (128,)
    dropout: float = 0.0
    global_pool: bool = False  # global average pool instead of flatten


@register_model("simple-cnn", config=SimpleCNNConfig, family="cnn")
def simple_cnn(cfg: SimpleCNNConfig) -> ConvNet:
    """Stages of 3×3 conv(-BN)-ReLU (×``convs_per_stage``) + 2×2 max pool, then flatten/GAP → FCs.

    The defaults are the book's Keras MNIST CNN (L3, 693,962 parameters).
    """
    stages, info, cin, side = [], [], cfg.in_chans, cfg.img_size
    for i, width in enumerate(cfg.channels):
        layers: list[nn.Module] = []
        for _ in range(cfg.convs_per_stage):
            layers.append(ConvNormAct(cin, width, 3, padding=1 if cfg.padding == "same" else 0, norm=cfg.norm))
            cin, side = width, side if cfg.padding == "same" else side - 2
        if cfg.pool:
            layers.append(nn.MaxPool2d(2))
            side //= 2
        stages.append(nn.Sequential(*layers))
        info.append(FeatureInfo(width, 2 ** (i + 1) if cfg.pool else 1))
    flat = cin if cfg.global_pool else cin * side * side
    head = mlp_head(flat, cfg.hidden, cfg.dropout, pool=1 if cfg.global_pool else None)
    num_features = cfg.hidden[-1] if cfg.hidden else flat
    model = ConvNet(nn.Identity(), stages, head, num_features, cfg.num_classes, cfg.in_chans, info, cfg.dropout)
    return model.set_input_defaults(cfg.img_size)


_BOOK_CNNS = {
    "mnist-cnn-book": ({}, "book L3 (Keras): Conv32 valid → MP2 → D128 → D10"),
    "mnist-cnn-book-torch": (dict(padding="same"), "book L6 (PyTorch): Conv32 pad 1 → MP2 → FC128 → FC10 (returns logits; the listing's extra softmax is a bug)"),
    "hpo-cnn-book": (dict(pool=False, hidden=()), "book L59/L60: Conv32-3 → Flatten → D10"),
    "cifar-cnn-book": (dict(in_chans=3, img_size=32, channels=(32, 64)), "book L70/L71: two valid conv+pool stages, D128"),
    "cifar-cnn-book-same": (dict(in_chans=3, img_size=32, channels=(32, 64), padding="same"), "book L88/L94: two padded conv+pool stages, D128"),
    "embedding-cnn-book": (dict(in_chans=3, img_size=96, channels=(64, 128), padding="same", hidden=(), num_classes=128),
                           "book L82/L83 face-embedding base CNN (96×96×3 → 128-d)"),
    "mnist-cnn-modern": (dict(channels=(32, 64), convs_per_stage=2, padding="same", norm="bn", hidden=(), global_pool=True, dropout=0.1),
                         "small modern MNIST CNN: 2×(conv-BN-ReLU ×2 + max pool) → GAP → FC"),
}
for _name, (_kw, _desc) in _BOOK_CNNS.items():
    register_model(_name, config=SimpleCNNConfig, family="cnn", description=_desc, **_kw)(simple_cnn)
