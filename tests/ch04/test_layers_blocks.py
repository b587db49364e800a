"""Layers and blocks of Chapter 4: fast path == reference, book shapes and parameter counts."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from tensorprism.functional.conv import conv2d_reference
from tensorprism.functional.normalization import batch_norm, group_norm
from tensorprism.models import count_parameters
from tensorprism.nn.blocks import (
    CBAM,
    BasicBlock,
    Bottleneck,
    DenseBlock,
    DepthwiseSeparable,
    Fire,
    Inception,
    InvertedResidual,
    SpatialSigmoidGate,
    SpatialSoftmaxAttention,
    Transition,
)
from tensorprism.nn.capsule import (
    CapsuleLayer,
    PrimaryCapsules,
    dynamic_routing,
    margin_loss,
    squash,
)
from tensorprism.nn.conv import Conv2dSame, ConvNormAct, ReferenceConv2d
from tensorprism.nn.drop_path import DropPath, drop_path, spatial_dropout
from tensorprism.nn.pooling import GlobalPool2d, RoIAlign, RoIPool


def _bn_buffers(m: nn.Module) -> int:
    return sum(b.numel() for n, b in m.named_buffers() if n.endswith(("running_mean", "running_var")))


def _conv_biases_before_bn(m: nn.Module) -> int:
    return sum(c.out_channels for c in m.modules() if isinstance(c, nn.Conv2d) and c.bias is None)


def test_reference_conv_layer_equals_fused_conv_forward_and_backward():
    ref = ReferenceConv2d(4, 6, 3, stride=2, padding=1, groups=2).double()
    fast = nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2).double()
    fast.load_state_dict(ref.state_dict())
    x = torch.randn(2, 4, 9, 9, dtype=torch.float64, requires_grad=True)
    y1, y2 = ref(x), fast(x)
    torch.testing.assert_close(y1, y2)
    g1 = torch.autograd.grad(y1.square().sum(), [x, ref.weight])
    g2 = torch.autograd.grad(y2.square().sum(), [x, fast.weight])
    for a, b in zip(g1, g2, strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("size,stride", [(7, 2), (8, 2), (9, 3), (224, 2)])
def test_conv2d_same_gives_ceil_of_size_over_stride(size, stride):
    assert Conv2dSame(3, 4, 3, stride=stride)(torch.randn(1, 3, size, size)).shape[-1] == -(-size // stride)


def test_exercise10_residual_with_laplacian_kernel():
    """Book Exercise 10 (lines 9598–9607): same-padded Laplacian, then + Y."""
    y = torch.arange(1.0, 10.0).view(1, 1, 3, 3)
    k = torch.tensor([[[[0.0, 1, 0], [1, -4, 1], [0, 1, 0]]]])
    conv = conv2d_reference(y, k, padding="same")
    assert conv[0, 0].tolist() == [[2, 1, -4], [-3, 0, -7], [-16, -11, -22]]
    assert (conv + y)[0, 0].tolist() == [[3, 3, -1], [1, 5, -1], [-9, -3, -13]]


def test_erratum_batchnorm_example_2_line_7457():
    """Book line 7457: for h=[0.5,0.2,0.8,0.4] σ² is 0.046875 (not 0.045) and x̂[0] is +0.1155 (not −0.078)."""
    h = torch.tensor([0.5, 0.2, 0.8, 0.4], dtype=torch.float64).view(4, 1)
    assert h.var(unbiased=False).item() == pytest.approx(0.046875)
    xhat = batch_norm(h, None, None, eps=0.0)
    torch.testing.assert_close(xhat.flatten(), torch.tensor([0.1155, -1.2702, 1.5011, -0.3464], dtype=torch.float64), atol=2e-4, rtol=0)


def test_exercise9_group_norm_two_groups():
    x = torch.arange(1.0, 10.0).view(3, 3)
    img = torch.stack([x, 10 - x, x + 5, 15 - x])[None]  # group means 5 and 10, as in the exercise
    out = group_norm(img, 2)
    torch.testing.assert_close(out[0, 0, 0], torch.tensor([-1.5492, -1.1619, -0.7746]), atol=1e-4, rtol=0)
    torch.testing.assert_close(out[0, 1], -out[0, 0])
    torch.testing.assert_close(F.group_norm(img, 2), out)


def test_drop_path_drops_whole_samples_and_keeps_expectation():
    x = torch.ones(4000, 3, 2, 2)
    y = drop_path(x, 0.25, training=True)
    per_sample = y.flatten(1)
    assert ((per_sample == 0).all(1) | (per_sample == 1 / 0.75).all(1)).all()
    assert y.mean().item() == pytest.approx(1.0, abs=0.05)
    m = DropPath(0.5).eval()
    assert torch.equal(m(x), x)


def test_spatial_dropout_equals_torch_dropout2d_with_same_seed():
    x = torch.randn(8, 16, 5, 5)
    torch.manual_seed(3)
    a = spatial_dropout(x, 0.3)
    torch.manual_seed(3)
    b = F.dropout2d(x, 0.3, training=True)
    torch.testing.assert_close(a, b)


def test_global_pool_and_roi_modules():
    x = torch.randn(2, 5, 8, 8)
    assert GlobalPool2d()(x).shape == (2, 5) and GlobalPool2d("max", flatten=False)(x).shape == (2, 5, 1, 1)
    boxes = torch.tensor([[0, 0.0, 0.0, 7.0, 7.0], [1, 2.0, 2.0, 6.0, 5.0]])
    assert RoIPool(2)(x, boxes).shape == (2, 5, 2, 2)
    assert RoIAlign((3, 3), 0.5)(x, boxes).shape == (2, 5, 3, 3)


def test_residual_block_counts_match_book_keras_derivation():
    """Book B1 (lines 6005–6067): 64→64 block has 74,368 Keras parameters (+4,416 with projection).

    Keras counts the conv biases (redundant before BN; we drop them) and BN's moving mean/variance.
    """
    block = BasicBlock(64, 64)
    assert count_parameters(block) + _conv_biases_before_bn(block) + _bn_buffers(block) == 74_368
    proj = BasicBlock(64, 64, shortcut="projection")
    extra = proj.shortcut
    assert count_parameters(extra) + _conv_biases_before_bn(extra) + _bn_buffers(extra) == 4_416
    x = torch.randn(1, 64, 32, 32)
    assert block(x).shape == x.shape and BasicBlock(64, 128, stride=2)(x).shape == (1, 128, 16, 16)
    with pytest.raises(ValueError, match="shortcut='projection'"):
        BasicBlock(64, 128, shortcut="identity")
    pad = BasicBlock(16, 32, stride=2, shortcut="pad")  # CIFAR option A: no shortcut parameters
    assert count_parameters(pad.shortcut) == 0 and pad(torch.randn(1, 16, 8, 8)).shape == (1, 32, 4, 4)


def test_residual_block_is_post_activation_v1():
    """Book line 6507 (used by all listings): y = ReLU(F(x) + x), so outputs are non-negative."""
    block = BasicBlock(8, 8).eval()
    block.zero_init_last()
    x = torch.randn(2, 8, 6, 6)
    torch.testing.assert_close(block(x), F.relu(x))
    assert Bottleneck(64, 64, stride=2)(torch.randn(1, 64, 8, 8)).shape == (1, 256, 4, 4)


def test_inception_modules_book_counts_and_shapes():
    naive = Inception(64, 32, 32, 32, 32)  # book L27: filters=32 in every branch
    assert count_parameters(naive) == 73_856
    assert naive(torch.randn(1, 64, 32, 32)).shape == (1, 128, 32, 32)
    reduced = Inception(256, 64, 64, 64, 64, c3_reduce=64, c5_reduce=64)  # book L37
    assert count_parameters(reduced) == 205_184
    assert reduced(torch.randn(1, 256, 28, 28)).shape == (1, 256, 28, 28)
    listing = Inception(64, 32, 32, 32, 32, act=None)  # book PyTorch listing L28 has no ReLU
    assert (listing(torch.randn(1, 64, 8, 8)) < 0).any()


def test_mobile_blocks_shapes_and_erratum_shared_bn_line_6833():
    """Book L40 (line 6833) shares one BatchNorm2d(out) after the depthwise conv (3 channels): it crashes.
    Each stage needs its own BN."""
    block = DepthwiseSeparable(3, 64, stride=2)
    assert block(torch.randn(1, 3, 224, 224)).shape == (1, 64, 112, 112)
    bns = [m for m in block.modules() if isinstance(m, nn.BatchNorm2d)]
    assert [b.num_features for b in bns] == [3, 64]
    with pytest.raises(RuntimeError):
        nn.Sequential(nn.Conv2d(3, 3, 3, 2, 1, groups=3), nn.BatchNorm2d(64))(torch.randn(1, 3, 8, 8))
    ir = InvertedResidual(16, 16, 1, 6, se_channels=4)
    assert ir.use_residual and ir(torch.randn(2, 16, 8, 8)).shape == (2, 16, 8, 8)
    assert InvertedResidual(16, 24, 2, 6)(torch.randn(2, 16, 8, 8)).shape == (2, 24, 4, 4)


def test_dense_block_and_transition_book_example():
    block = DenseBlock(4, 64, 32)
    y = block(torch.randn(1, 64, 32, 32))
    assert y.shape == (1, 192, 32, 32)
    assert Transition(192, 96)(y).shape == (1, 96, 16, 16)


def test_fire_module_book_count():
    fire = Fire(64, 16, 32)
    assert count_parameters(fire) == 6_224
    assert fire(torch.randn(1, 64, 20, 20)).shape == (1, 64, 20, 20)


def test_attention_variants_of_erratum_8_lines_6147_6211():
    """Text: softmax over H·W per channel (a ∈ R^{H×W×C}); listings: sigmoid gate (a ∈ R^{H×W×1})."""
    x = torch.randn(2, 3, 4, 4)
    att = SpatialSoftmaxAttention(3)
    a = att.attention(x)
    torch.testing.assert_close(a.sum((2, 3)), torch.ones(2, 3))
    assert SpatialSigmoidGate(3)(x).shape == x.shape
    assert CBAM(32, 8)(torch.randn(2, 32, 6, 6)).shape == (2, 32, 6, 6)


def test_squash_and_routing():
    s = torch.randn(5, 16) * 3
    v = squash(s)
    n = s.norm(dim=-1)
    torch.testing.assert_close(v.norm(dim=-1), n**2 / (1 + n**2), atol=1e-5, rtol=1e-5)
    u_hat = torch.randn(2, 7, 3, 4)
    # one iteration: uniform coupling c = 1/J, so v = squash(Σ_i u_hat / J)
    torch.testing.assert_close(dynamic_routing(u_hat, 1), squash(u_hat.sum(1) / 3))
    # routing increases the agreement of the chosen outputs
    v3 = dynamic_routing(u_hat, 3)
    assert v3.shape == (2, 3, 4)


def test_capsule_layer_book_config_and_both_weight_forms():
    """Book L47/L48: 1152 × 8-D input capsules → 10 × 16-D, 3 iterations; W [10, 8, 16] when shared."""
    u = squash(torch.randn(2, 1152, 8))
    shared = CapsuleLayer(1152, 8, 10, 16, shared_weights=True)
    assert shared.weight.shape == (10, 8, 16) and shared(u).shape == (2, 10, 16)
    full = CapsuleLayer(1152, 8, 10, 16)
    out = full(u)
    assert out.shape == (2, 10, 16) and (out.norm(dim=-1) < 1).all()
    prim = PrimaryCapsules(256)(torch.randn(2, 256, 20, 20))
    assert prim.shape == (2, 1152, 8)
    loss = margin_loss(out.norm(dim=-1), torch.tensor([1, 2]))
    loss.backward()
    assert full.weight.grad is not None


def test_conv_norm_act_drops_bias_before_norm():
    assert ConvNormAct(3, 8).__getitem__(0).bias is None
    assert ConvNormAct(3, 8, norm=None).__getitem__(0).bias is not None


def test_reference_conv2d_rejects_non_zero_padding_with_a_clear_error():
    import pytest
    import torch

    from tensorprism.errors import ConfigError
    from tensorprism.nn.conv import ReferenceConv2d

    layer = ReferenceConv2d(1, 1, 3, padding=1, padding_mode="reflect")
    with pytest.raises(ConfigError, match="padding_mode='zeros'"):
        layer(torch.zeros(1, 1, 5, 5))
