"""The book's attention CNN for CIFAR-10 (§7.5.1 and case study §7.6.1, l. 16864-16886, 17366-17388;
catalogue C13, C14, C21, L7-27, L7-34).

``Conv2d(3, 64, 3, p=1) → ReLU → MaxPool(2) → attention → Conv2d(64, 128, 3, p=1) → ReLU →
MaxPool(2) → flatten → Linear(128·8·8, 256) → ReLU → Linear(256, classes)`` for 32×32 inputs.
The attention is :class:`~tensorprism.nn.visual_attention.PositionSoftmaxAttention` (one softmax
over the 16×16 positions, rescaled by their number; the book's ``Softmax(dim=2)`` on a 2-D tensor
raises IndexError). ``attention="none"`` is the same network without it (the baseline),
``"cbam"`` puts a CBAM gate there instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from ...errors import ConfigError
from ...nn.blocks import CBAM
from ...nn.visual_attention import PositionSoftmaxAttention
from .. import register_model
from ..contract import CIFAR10_MEAN, CIFAR10_STD
from ._base import ConvNet, FeatureInfo, mlp_head


@dataclass
class AttentionCNNConfig:
    num_classes: int = 10
    in_chans: int = 3
    img_size: int = 32
    widths: tuple[int, int] = (64, 128)
    hidden: int = 256
    attention: str = "position-softmax"  # "position-softmax" (the book's layer), "cbam" or "none"
    dropout: float = 0.0


def attention_layer(kind: str, channels: int) -> nn.Module:
    if kind == "position-softmax":
        return PositionSoftmaxAttention(channels)
    if kind == "cbam":
        return CBAM(channels, reduction=8)
    if kind == "none":
        return nn.Identity()
    raise ConfigError(f"attention must be 'position-softmax', 'cbam' or 'none', got {kind!r}")


def attention_cnn_net(cfg: AttentionCNNConfig) -> ConvNet:
    if cfg.img_size % 4:
        raise ConfigError(f"img_size must be a multiple of 4 (two 2x2 poolings), got {cfg.img_size}")
    c1, c2 = cfg.widths
    stem = nn.Sequential(nn.Conv2d(cfg.in_chans, c1, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2))
    stages = [attention_layer(cfg.attention, c1),
              nn.Sequential(nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2))]
    side = cfg.img_size // 4
    head = mlp_head(c2 * side * side, [cfg.hidden], cfg.dropout)
    info = [FeatureInfo(c1, 2), FeatureInfo(c2, 4)]
    model = ConvNet(stem, stages, head, cfg.hidden, cfg.num_classes, cfg.in_chans, info)
    return model.set_input_defaults(cfg.img_size, CIFAR10_MEAN, CIFAR10_STD)


def attention_map(model: ConvNet, x: Tensor) -> Tensor:
    """The attention of an attention CNN over the stem's positions: ``(N, 1, H/2, W/2)``
    (softmax weights, or the CBAM spatial gate)."""
    layer = model.stages[0]
    f = model.stem(x)
    if isinstance(layer, PositionSoftmaxAttention):
        return layer.attention(f)
    if isinstance(layer, CBAM):
        return layer[1].attention(layer[0](f))
    raise ConfigError("this model has no attention layer (attention='none')")


@register_model("attention-cnn", config=AttentionCNNConfig, family="cnn")
def attention_cnn(cfg: AttentionCNNConfig) -> ConvNet:
    """The book's AttentionCNN (§7.6.1) with its spatial softmax attention fixed."""
    return attention_cnn_net(cfg)


register_model("attention-cnn-plain", config=AttentionCNNConfig, family="cnn", attention="none",
               description="the §7.6.1 CNN without its attention layer (the baseline)")(attention_cnn)
