"""Behavioural errata of Chapter 4 not pinned elsewhere (catalogue ``book/ch04.md`` §5).

Entries 1, 2, 5, 7 and 21 are in ``test_conv_functional.py``, ``test_layers_blocks.py`` and
``test_model_zoo.py``; 25 in ``tests/data/test_data_augment.py``; 6 and 16 are the Ch. 3 dropout
and weight-decay errata (``tests/ch03``).
"""

import math

import pytest
import torch
import torch.nn.functional as F

from tensorprism.functional.conv import conv_macs, depthwise_separable_cost_ratio
from tensorprism.losses.triplet import triplet_loss
from tensorprism.nn.blocks.attention import SpatialSigmoidGate, SpatialSoftmaxAttention
from tensorprism.nn.blocks.residual import BasicBlock
from tensorprism.nn.capsule import squash


def test_erratum_4_residual_block_applies_relu_after_the_addition_l6507():
    """Erratum 4 (l.5999 vs 6499 vs 6507): l.5999 applies the final ReLU before adding x, l.6499 drops
    the second BN. The block follows l.6507 and every listing: y = ReLU(BN(conv(ReLU(BN(conv x)))) + x)."""
    torch.manual_seed(0)
    block = BasicBlock(4, 4).eval()
    x = torch.randn(2, 4, 6, 6)
    branch = block.branch(x)  # conv-BN-ReLU, conv-BN (no activation at its end)
    assert bool((branch < 0).any())  # so the branch itself is not rectified
    y = block(x)
    torch.testing.assert_close(y, F.relu(branch + x))
    assert not torch.allclose(y, F.relu(branch) + x)  # l.5999's order is a different function


def test_erratum_8_spatial_softmax_attention_and_sigmoid_gate_are_different_functions_l7000():
    """Erratum 8: the text's attention is a softmax over spatial positions with per-channel weights
    (a in R^{HxWxC}); the listings use a sigmoid gate from a 1x1 conv to one channel (a in R^{HxWx1}).
    Both exist, by name; the softmax maps sum to 1 over space per channel, the gate is shared by all
    channels and lies in (0, 1) per position."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 5, 5)
    soft = SpatialSoftmaxAttention(3)
    maps = soft.attention(x)
    torch.testing.assert_close(maps.flatten(2).sum(-1), torch.ones(2, 3))
    gate_module = SpatialSigmoidGate(3)
    gate = torch.sigmoid(gate_module.conv(x))
    assert gate.shape == (2, 1, 5, 5)
    torch.testing.assert_close(gate_module(x), x * gate)
    assert not torch.allclose(soft(x), gate_module(x))


def test_erratum_10_depthwise_separable_saving_grows_with_the_kernel_l6778():
    """Erratum 10 (l.6778): "significant reduction ... especially when k is small" is backwards. The cost
    ratio D_sep / D_std = 1/N + 1/k² falls as k grows, so the saving grows with k."""
    ratios = [depthwise_separable_cost_ratio(64, k) for k in (1, 3, 5, 7)]
    assert ratios == sorted(ratios, reverse=True)
    assert depthwise_separable_cost_ratio(64, 3) == pytest.approx(1 / 64 + 1 / 9)
    # the closed form is the ratio of the counted multiply-adds (stride 1, 'same' size)
    std = conv_macs((16, 16), 32, 64, 5)
    sep = conv_macs((16, 16), 32, 64, 5, depthwise_separable=True)
    assert sep / std == pytest.approx(depthwise_separable_cost_ratio(64, 5))


def test_erratum_12_squash_is_stable_at_the_zero_vector():
    """Erratum 12: squash divides by ||s||, NaN for an all-zero capsule; the library divides by
    sqrt(||s||² + eps). The zero vector maps to zero with a finite gradient; lengths stay below 1."""
    s = torch.zeros(1, 3, 8, requires_grad=True)
    v = squash(s)
    assert torch.equal(v, torch.zeros_like(v))
    v.sum().backward()
    assert torch.isfinite(s.grad).all()
    big = squash(torch.randn(4, 8) * 100)
    assert bool((big.norm(dim=-1) < 1).all())


def test_erratum_14_random_search_log_range_is_log_uniform_l7838():
    """Erratum 14 (l.7838 vs 7847/7865): the text draws the learning rate log-uniformly, the code
    uniformly. A ("log", lo, hi) range samples log-uniformly: as many draws per decade."""
    pytest.importorskip("optuna")
    from tensorprism.train.search import random_search

    seen = []
    random_search(lambda p: seen.append(p["lr"]) or 0.0, {"lr": ("log", 1e-4, 1e-1)}, n_trials=300, seed=0)
    decades = torch.histc(torch.log10(torch.tensor(seen)), bins=3, min=-4, max=-1)
    assert all(70 <= int(c) <= 130 for c in decades), decades  # uniform draws would put ~90 % in the top decade


def test_erratum_15_grid_search_can_minimise_a_loss_l7708():
    """Erratum 15 (l.7708-7710): the grid search is an arg max of "f = accuracy, loss"; a loss must be
    minimised. grid_search takes direction="minimize"."""
    pytest.importorskip("optuna")
    from tensorprism.train.search import grid_search

    def loss(p):
        return (p["x"] - 2) ** 2

    best = grid_search(loss, {"x": [0, 1, 2, 3, 5]}, direction="minimize")
    assert best.best_params == {"x": 2} and best.best_value == 0
    assert grid_search(loss, {"x": [0, 1, 2, 3, 5]}).best_params == {"x": 5}  # maximising a loss


def test_erratum_28_triplet_margin_depends_on_squared_or_plain_distance():
    """Erratum 28: the TF listing uses squared Euclidean distances, the PyTorch one plain distances, so
    the margin 0.2 means different things. Both are offered (squared=True is the Keras listing)."""
    a = torch.zeros(1, 2)
    p = torch.tensor([[0.5, 0.0]])
    n = torch.tensor([[0.6, 0.0]])
    plain = triplet_loss(a, p, n, margin=0.2)
    sq = triplet_loss(a, p, n, margin=0.2, squared=True)
    assert float(plain) == pytest.approx(0.5 - 0.6 + 0.2)
    assert float(sq) == pytest.approx(0.25 - 0.36 + 0.2)
    assert not math.isclose(float(plain), float(sq))


def test_erratum_22_srcnn_keeps_the_size_so_the_low_resolution_input_is_upsampled_first_l9001():
    """Erratum 22 (l.9001-9003): I_HR = SRCNN(I_LR) only works if I_LR is first interpolated to the
    target size; the network itself keeps the spatial size ('same' padding)."""
    from tensorprism import create_model

    model = create_model("srcnn", widths=(8, 4)).eval()
    low = torch.rand(1, 3, 12, 12)
    assert model(low).shape == low.shape  # no upsampling inside the network
    up = F.interpolate(low, scale_factor=2, mode="bicubic", align_corners=False)
    assert model(up).shape == (1, 3, 24, 24)
