"""The chapter's building blocks, written once and composed by every CNN in the model zoo."""

from .attention import (
    CBAM,
    ChannelAttention,
    SpatialAttention,
    SpatialSigmoidGate,
    SpatialSoftmaxAttention,
)
from .dense import DenseBlock, DenseLayer, Transition
from .fire import Fire
from .inception import Inception
from .mobile import DepthwiseSeparable, InvertedResidual, SqueezeExcite, make_divisible
from .residual import BasicBlock, Bottleneck

__all__ = [
    "BasicBlock", "Bottleneck", "Inception", "DepthwiseSeparable", "InvertedResidual", "SqueezeExcite",
    "make_divisible", "DenseLayer", "DenseBlock", "Transition", "Fire", "ChannelAttention", "SpatialAttention",
    "CBAM", "SpatialSigmoidGate", "SpatialSoftmaxAttention",
]
