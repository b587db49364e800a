"""The shared CNN interface (after timm): stem → stages → head (pooling + hidden FCs) → classifier.

:class:`ConvNet` implements the image-classifier contract of :mod:`tensorprism.models.contract`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch.nn as nn
from torch import Tensor

from ..contract import ImageClassifierMixin


@dataclass
class FeatureInfo:
    """What :meth:`ConvNet.feature_maps` returns for one stage: its channels and total stride."""

    channels: int
    reduction: int


class ConvNet(ImageClassifierMixin, nn.Module):
    """``forward = forward_head(forward_features(x))``.

    Builders record the input the network was designed for with
    ``set_input_defaults(img_size, mean, std)`` (defaults: 224 and ImageNet/MNIST statistics by
    channel count), which ``default_cfg`` and ``example_input`` report.

    Args:
        stem: the first layers, ``(N, in_chans, H, W) → (N, C_0, H/r_0, W/r_0)``.
        stages: modules applied in order; each stage's output is a feature map for dense tasks.
        head: features ``(N, C, h, w)`` → pre-logits ``(N, num_features)`` (pooling, flatten, hidden FCs).
        num_features: size of the pre-logits vector.
        num_classes: classifier outputs (0 → no classifier, ``forward`` returns pre-logits).
        feature_info: channels and reduction of each stage output.
        drop_rate: dropout before the classifier.
    """

    def __init__(self, stem: nn.Module, stages: Sequence[nn.Module], head: nn.Module, num_features: int,
                 num_classes: int, in_chans: int, feature_info: Sequence[FeatureInfo] = (), drop_rate: float = 0.0):
        super().__init__()
        self.in_chans, self.num_features, self.num_classes = in_chans, num_features, num_classes
        self.stem = stem
        self.stages = nn.ModuleList(stages)
        self.head = head
        self.drop = nn.Dropout(drop_rate) if drop_rate > 0 else nn.Identity()
        self.classifier = self._make_classifier(num_classes)
        self.feature_info = list(feature_info)

    def _make_classifier(self, num_classes: int) -> nn.Module:
        return nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the classifier with a freshly initialised one for ``num_classes`` (0 removes it)."""
        self.num_classes = num_classes
        device = next(self.parameters()).device
        self.classifier = self._make_classifier(num_classes).to(device)

    def feature_maps(self, x: Tensor) -> list[Tensor]:
        """Every stage's output ``[(N, C_i, H/r_i, W/r_i), …]`` (see ``feature_info``)."""
        self.check_image_input(x)
        x = self.stem(x)
        out = []
        for stage in self.stages:
            x = stage(x)
            out.append(x)
        return out

    def forward_features(self, x: Tensor) -> Tensor:
        """Last stage's feature map ``(N, C, h, w)``."""
        self.check_image_input(x)
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return x

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """Features ``(N, C, h, w)`` → logits ``(N, num_classes)`` (pre-logits ``(N, num_features)``)."""
        x = self.head(x)
        return x if pre_logits else self.classifier(self.drop(x))

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))


def pool_flatten() -> nn.Sequential:
    """Global average pooling to a vector: ``(N, C, H, W) → (N, C)``."""
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1))


def mlp_head(in_features: int, hidden: Sequence[int], dropout: float, pool: int | None = None,
             dropout_first: bool = False) -> nn.Sequential:
    """[adaptive avg pool to ``pool×pool``] → flatten → (Linear → ReLU → Dropout)* for the hidden sizes.

    ``dropout_first`` puts each dropout *before* its linear layer (torchvision AlexNet order).
    """
    layers: list[nn.Module] = [nn.AdaptiveAvgPool2d(pool)] if pool else []
    layers.append(nn.Flatten(1))
    for h in hidden:
        drop = [nn.Dropout(dropout)] if dropout > 0 else []
        lin = [nn.Linear(in_features, h), nn.ReLU(inplace=True)]
        layers += drop + lin if dropout_first else lin + drop
        in_features = h
    return nn.Sequential(*layers)
