"""Registered MLPs (Chapter 3): ``mlp`` and the book's MNIST networks.

==================  ==============================================================  ========
name                architecture                                                    params
==================  ==============================================================  ========
``mlp``             64-128-64-10 ReLU (defaults fit scikit-learn digits, 8×8)        17,226
``mlp-mnist``       784-128-64-10 ReLU, logits (book §3.7.1–3.7.2, L4474, L4581)    109,386
``mlp-mnist-bn``    784-128-64-10, Linear→BatchNorm→ReLU→Dropout(0.2) (L4276, L4149)  109,770
``mlp-xor``         2-2-1 tanh, binary head (XOR)                                         9
==================  ==============================================================  ========

Every model returns logits; see :mod:`tensorprism.nn.mlp` for the heads and matching losses.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..nn.mlp import MLP
from . import register_model
from .contract import TabularMixin


class MLPModel(TabularMixin, MLP):
    """:class:`~tensorprism.nn.mlp.MLP` under the tabular contract: ``(N, in_features) → (N, num_classes)``."""


@dataclass
class MLPConfig:
    """Configuration of :class:`~tensorprism.nn.mlp.MLP`.

    ``num_classes`` is the number of output units: classes (``multiclass``), labels
    (``multilabel``), regression targets (``regression``) or 1 (``binary``).
    """

    in_features: int = 64
    hidden: tuple[int, ...] = (128, 64)
    num_classes: int = 10
    activation: str = "relu"
    dropout: float = 0.0
    input_dropout: float = 0.0
    norm: str | None = None  # "batch", "layer" or None
    norm_position: str = "before"  # "before" (Linear→Norm→σ, PyTorch listing) or "after" (Keras listing)
    head: str = "multiclass"  # "multiclass", "binary", "multilabel", "regression"


def build_mlp(cfg: MLPConfig) -> MLP:
    return MLPModel(
        cfg.in_features,
        cfg.hidden,
        cfg.num_classes,
        activation=cfg.activation,
        dropout=cfg.dropout,
        input_dropout=cfg.input_dropout,
        norm=cfg.norm,
        norm_position=cfg.norm_position,
        head=cfg.head,
    )


register_model("mlp", config=MLPConfig, family="mlp", description="MLP with configurable head (defaults: digits 64-128-64-10)")(build_mlp)


@register_model("mlp-mnist", config=MLPConfig, family="mlp", in_features=784, hidden=(128, 64))
def mlp_mnist(cfg: MLPConfig) -> MLP:
    """The book's MNIST MLP 784-128-64-10 (§3.7), returning logits."""
    return build_mlp(cfg)


@register_model("mlp-mnist-bn", config=MLPConfig, family="mlp", in_features=784, hidden=(128, 64), norm="batch", dropout=0.2)
def mlp_mnist_bn(cfg: MLPConfig) -> MLP:
    """MNIST MLP 784-128-64-10 with batch norm before ReLU and dropout (book L4149, L4276)."""
    return build_mlp(cfg)


@register_model("mlp-xor", config=MLPConfig, family="mlp", in_features=2, hidden=(2,), num_classes=1, activation="tanh", head="binary")
def mlp_xor(cfg: MLPConfig) -> MLP:
    """The 2-2-1 network that solves XOR (one logit)."""
    return build_mlp(cfg)
