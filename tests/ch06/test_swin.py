"""Swin Transformer: windows, the shifted-window mask, relative position bias (book §6.5, L6-11;
catalogue §1.6 VT3-VT7, erratum 5.1.7)."""

from __future__ import annotations

import pytest
import torch

from tensorprism.errors import ConfigError, ShapeError
from tensorprism.functional.windows import (
    relative_position_index,
    shifted_window_mask,
    window_partition,
    window_reverse,
)
from tensorprism.models import count_parameters, create_model
from tensorprism.models.vit.swin import PatchMerging, SwinBlock, WindowAttention, stage_windows


def test_canonical_parameter_counts_on_the_meta_device():
    with torch.device("meta"):
        counts = {n: count_parameters(create_model(n)) for n in ("swin-tiny", "swin-small", "swin-base")}
    # timm swin_{tiny,small,base}_patch4_window7_224
    assert counts == {"swin-tiny": 28_288_354, "swin-small": 49_606_258, "swin-base": 87_768_224}


def test_window_partition_round_trip_and_order():
    x = torch.randn(2, 8, 12, 5)
    w = window_partition(x, 4)
    assert w.shape == (2 * 2 * 3, 16, 5)
    assert torch.equal(w[1], x[0, 0:4, 4:8].reshape(16, 5))  # second window: first row of windows, second column
    assert torch.equal(window_reverse(w, 4, 8, 12), x)
    with pytest.raises(ShapeError, match=r"window_size=5 does not divide the 8×12 feature map"):
        window_partition(x, 5)


def test_relative_position_index_depends_only_on_the_offset():
    M = 3
    idx = relative_position_index(M)
    assert idx.shape == (9, 9) and int(idx.min()) == 0 and int(idx.max()) == (2 * M - 1) ** 2 - 1
    pos = [(r, c) for r in range(M) for c in range(M)]
    for p, (r1, c1) in enumerate(pos):
        for q, (r2, c2) in enumerate(pos):
            assert idx[p, q] == (r1 - r2 + M - 1) * (2 * M - 1) + (c1 - c2 + M - 1)


def test_shifted_window_mask_regions():
    m = shifted_window_mask(8, 8, 4, 2)
    assert m.shape == (4, 16, 16) and m.dtype == torch.bool
    assert m[0].all()  # the top-left window holds one region only
    assert not m[3].all() and m[3].diagonal().all()  # the bottom-right window mixes four regions
    assert int(m[3].sum()) == 4 * 4 * 4  # four regions of 4 tokens each
    assert shifted_window_mask(8, 8, 4, 0).all()


def _block(shift: int) -> SwinBlock:
    torch.manual_seed(0)
    return SwinBlock(8, (8, 8), 2, 4, shift).eval()


def test_erratum_shifted_windows_without_the_mask_mix_opposite_borders():
    """Book §6.5, line 14080 and listing L6-11 (catalogue VT6, erratum 5.1.7): SW-MSA is
    ``roll → W-MSA → roll back`` with no attention mask. After the cyclic shift the bottom-right
    window holds the image's top-left corner too, so without the mask the bottom-right pixel attends
    to the top-left one. With the region mask it cannot: its output does not depend on that pixel."""
    blk = _block(shift=2)
    x = torch.randn(1, 64, 8, requires_grad=True)
    for use_mask, depends in ((True, False), (False, True)):
        out = blk(x, use_mask=use_mask)
        (g,) = torch.autograd.grad(out[0, 63].sum(), x)  # bottom-right token
        assert (g[0, 0].abs().sum() > 0) == depends  # top-left token


def test_window_attention_fast_path_equals_the_reference():
    torch.manual_seed(0)
    attn = WindowAttention(12, 3, 4).eval()
    x = torch.randn(2 * 4, 16, 12)
    mask = shifted_window_mask(8, 8, 4, 2)
    for m in (None, mask):
        fast, _ = attn(x, m)
        ref, w = attn(x, m, reference=True)
        torch.testing.assert_close(fast, ref, rtol=1e-5, atol=1e-5)
    assert w.shape == (2, 4, 3, 16, 16)
    assert (w[:, 3][mask[3].expand_as(w[:, 3]) == 0] == 0).all()  # masked pairs get no weight


def test_swin_reference_path_equals_fast_path_on_the_whole_model():
    torch.manual_seed(0)
    m = create_model("swin-cifar").eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(m.forward_features(x), m.forward_features(x, reference=True), rtol=1e-5,
                                   atol=1e-5)
    assert m(x).shape == (2, 10)


def test_block_is_pre_ln_and_sequential():
    """Catalogue VT7 / erratum 5.1.7: the book's block equation adds two parallel branches; the
    block is ``z = z + MSA(LN(z)); z = z + MLP(LN(z))``. Zeroing both output projections makes it
    the identity, which the parallel form (``LN(z + ...) + LN(z + ...)``) is not."""
    blk = _block(shift=0)
    with torch.no_grad():
        for lin in (blk.attn.proj, blk.mlp.linear2):
            lin.weight.zero_()
            lin.bias.zero_()
    x = torch.randn(2, 64, 8)
    torch.testing.assert_close(blk(x), x)


def test_patch_merging_concatenates_2x2_neighbourhoods():
    pm = PatchMerging(2, (4, 4))
    with torch.no_grad():
        pm.norm.weight.fill_(1.0)
        pm.reduction.weight.copy_(torch.eye(4, 8))
    x = torch.arange(32, dtype=torch.float32).view(1, 16, 2)
    assert pm(x).shape == (1, 4, 4)
    with pytest.raises(ConfigError, match="even sides"):
        PatchMerging(2, (5, 4))


def test_small_maps_use_one_window_and_no_shift():
    assert stage_windows((7, 7), 7, 3) == (7, 0)
    assert stage_windows((4, 8), 7, 3) == (4, 0)
    assert stage_windows((14, 14), 7, 3) == (7, 3)


def test_window_that_does_not_divide_a_stage_is_a_clear_error():
    with pytest.raises(ConfigError, match=r"window_size=7 does not divide the 50×50 feature map"):
        create_model("swin-tiny", img_size=200, depths=(1, 1), num_heads=(3, 6))
    with pytest.raises(ShapeError, match="not a multiple of the 4×4 patch"):
        create_model("swin-tiny", img_size=30)


def test_wrong_input_is_named():
    m = create_model("swin-cifar")
    with pytest.raises(ShapeError, match=r"\(N, 3, H, W\).*channels-last"):
        m(torch.randn(1, 32, 32, 3))
    with pytest.raises(ShapeError, match="built for 32×32"):
        m(torch.randn(1, 3, 64, 64))
    with pytest.raises(ShapeError, match="build a new model"):
        m.set_input_defaults(64)


def test_feature_maps_per_stage():
    m = create_model("swin-cifar").eval()
    maps = m.feature_maps(torch.randn(1, 3, 32, 32))
    assert [tuple(t.shape) for t in maps] == [(1, 64, 16, 16), (1, 128, 8, 8), (1, 256, 4, 4)]
