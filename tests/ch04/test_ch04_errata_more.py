"""More Chapter 4 errata pinned (catalogue ../shared/book/ch04.md §5, entries 9, 19 and 26)."""

import pytest
import torch
from torch import nn

from tensorprism.functional.normalization import layer_norm
from tensorprism.nn.blocks import DepthwiseSeparable, Inception

G = torch.Generator().manual_seed(0)


def test_erratum_9_inception_formulas_have_a_relu_on_every_conv_and_the_listings_none():
    """Catalogue ch04 §5 entry 9 (book lines 6627–6639 vs 6109–6135, 6684–6717): the formulas put a
    ReLU after every convolution, the PyTorch listings have no activation. ``act="relu"`` (default)
    is the formulas: every branch's output is non-negative; ``act=None`` is the listings."""
    x = torch.randn(2, 3, 8, 8, generator=G)
    with_relu = Inception(3, 4, 4, 4, 4, c3_reduce=2, c5_reduce=2)
    listing = Inception(3, 4, 4, 4, 4, c3_reduce=2, c5_reduce=2, act=None)
    assert (with_relu(x) >= 0).all()
    assert (listing(x) < 0).any()
    relus = [m for m in with_relu.modules() if isinstance(m, nn.ReLU)]
    assert len(relus) == 6  # 1×1, 3×3 reduce + 3×3, 5×5 reduce + 5×5, pool projection
    assert not [m for m in listing.modules() if isinstance(m, nn.ReLU)]


def test_erratum_19_layer_norm_axes_and_eps_differ_between_the_listings():
    """Catalogue ch04 §5 entry 19 (book lines 5868 vs 5886): the TF listing normalises over the
    channels only (``axis=-1``, ε = 1e-3); the PyTorch listing over (C, H, W) (ε = 1e-5). The two
    are different functions: both are available here through ``normalized_shape``."""
    x = torch.randn(2, 4, 5, 5, generator=G) * 3 + 1
    over_chw = layer_norm(x, (4, 5, 5))
    assert torch.allclose(over_chw, nn.LayerNorm([4, 5, 5], elementwise_affine=False)(x), atol=1e-5)
    nhwc = x.permute(0, 2, 3, 1)
    over_c = layer_norm(nhwc, 4, eps=1e-3).permute(0, 3, 1, 2)
    mu, var = x.mean(1, keepdim=True), x.var(1, unbiased=False, keepdim=True)
    assert torch.allclose(over_c, (x - mu) / torch.sqrt(var + 1e-3), atol=1e-5)  # Keras LayerNormalization(axis=-1)
    assert not torch.allclose(over_c, over_chw, atol=1e-2)
    # the default ε matters for inputs of small variance
    small = torch.randn(1, 4, generator=G) * 0.01
    assert not torch.allclose(layer_norm(small, 4, eps=1e-3), layer_norm(small, 4, eps=1e-5), atol=1e-2)


def test_erratum_26_depthwise_convolution_cannot_have_32_filters_on_3_channels():
    """Catalogue ch04 §5 entry 26 (book line 6786): "depthwise convolution with 32 filters" on a
    3-channel input is not a depthwise operation (it needs a depth multiplier, and 32 is not a
    multiple of 3). A depthwise convolution has one filter per input channel; the 32 output channels
    come from the 1×1 pointwise convolution that follows it."""
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 32, 3, groups=3)
    block = DepthwiseSeparable(3, 32)
    depthwise, pointwise = block[0][0], block[1][0]  # the conv of each ConvNormAct
    assert depthwise.groups == 3 and depthwise.weight.shape == (3, 1, 3, 3)
    assert pointwise.weight.shape == (32, 3, 1, 1)
    assert block(torch.randn(1, 3, 8, 8)).shape == (1, 32, 8, 8)
