"""Efficient and sparse attention (book §6.6.2, §7.4.2; catalogue §1.7 E1-E8): each fast path
equals its reference, the errata are pinned, and every kind plugs into the Transformer blocks."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

from tensorprism.errors import ConfigError, ShapeError
from tensorprism.functional import efficient_attention as EA
from tensorprism.functional.attention import (
    attention_reference,
    block_sparse_mask,
    sliding_window_mask,
)
from tensorprism.models import create_model
from tensorprism.nn.efficient_attention import (
    ATTENTION_KINDS,
    PerformerAttention,
    SoftSparseAttention,
    SparseAttention,
    fixed_layout,
    make_attention,
)
from tensorprism.nn.transformer import TransformerEncoderLayer


def _qkv(N=2, h=2, L=37, E=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(N, h, L, E, generator=g) for _ in range(3))


def _tril(L):
    return torch.ones(L, L, dtype=torch.bool).tril()


# ----------------------------------------------------------------------------- sliding window
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("window", [1, 2, 5, 16, 64])
def test_blocked_sliding_window_equals_the_masked_reference(window, causal):
    q, k, v = _qkv()
    kpm = torch.ones(2, 37, dtype=torch.bool)
    kpm[1, 30:] = False
    for pad in (None, kpm):
        m = sliding_window_mask(37, window, causal)
        if pad is not None:
            m = m & pad[:, None, None, :]
        ref, _ = attention_reference(q, k, v, m)
        fast = EA.sliding_window_attention(q, k, v, window, causal, pad)
        torch.testing.assert_close(fast, ref, rtol=1e-5, atol=1e-5)


class _LargestTensor(TorchDispatchMode):
    """Records the largest number of elements of any tensor an operation returns."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor):
                self.largest = max(self.largest, t.numel())
        return out


def test_sliding_window_never_materialises_the_full_score_matrix():
    L, w = 1024, 16
    q, k, v = _qkv(1, 1, L, 8)
    with _LargestTensor() as rec:
        EA.sliding_window_attention(q, k, v, w, causal=True)
    assert rec.largest <= 2 * L * w  # blocks of w queries x 2w keys; L*L would be 1M
    with _LargestTensor() as full:
        attention_reference(q, k, v, sliding_window_mask(L, w, True))
    assert full.largest >= L * L


# ----------------------------------------------------------------------------- linear attention
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("chunk", [1, 8, 128])
def test_linear_attention_fast_equals_reference(causal, chunk):
    q, k, v = _qkv()
    fq, fk = EA.elu_feature_map(q), EA.elu_feature_map(k)
    kpm = torch.ones(2, 37, dtype=torch.bool)
    kpm[0, :3] = False
    for pad in (kpm, None):  # the weights checked below are those without padding
        ref, w = EA.linear_attention_reference(fq, fk, v, causal, pad)
        fast = EA.linear_attention(fq, fk, v, causal, pad, chunk=chunk)
        torch.testing.assert_close(fast, ref, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 2, 37))
    if causal:
        assert (w.triu(1) == 0).all()


def test_erratum_linear_attention_without_normaliser_grows_with_length():
    """Book eq. at line 14370 and listing L6-15 (catalogue E1, erratum 5.1.8) compute
    ``φ(Q)(φ(K)^T V) / √d`` with no row normaliser ``φ(q_i)·Σ_j φ(k_j)``: the output is a sum over
    the keys, so it grows with the sequence length. With the normaliser each output is a convex
    combination of values and stays within their range."""
    torch.manual_seed(0)
    sizes, book, ours = (16, 256), [], []
    for L in sizes:
        q, k = torch.randn(2, L, 32).unbind(0)
        v = torch.rand(L, 32)
        fq, fk = EA.elu_feature_map(q), EA.elu_feature_map(k)
        book.append((fq @ (fk.t() @ v) / math.sqrt(32)).abs().mean().item())
        out = EA.linear_attention(fq[None, None], fk[None, None], v[None, None])
        ours.append(out.abs().mean().item())
        assert out.max() <= v.max() + 1e-5 and out.min() >= v.min() - 1e-5
    assert book[1] / book[0] > 8  # ~16x more keys -> ~16x larger
    assert ours[1] / ours[0] == pytest.approx(1.0, abs=0.2)


# ----------------------------------------------------------------------------- Performer
def test_orthogonal_features_are_orthogonal_within_blocks():
    w = EA.orthogonal_random_features(16, 8, torch.Generator().manual_seed(0))
    block = w[:8] / w[:8].norm(dim=1, keepdim=True)
    torch.testing.assert_close(block @ block.t(), torch.eye(8), atol=1e-5, rtol=0)


def test_performer_approximates_softmax_better_with_more_features():
    q, k, v = (0.5 * t for t in _qkv(1, 2, 64, 16, seed=1))
    exact, _ = attention_reference(q, k, v)
    err = {}
    for m in (8, 512):
        errs = []
        for seed in range(4):
            proj = EA.orthogonal_random_features(m, 16, torch.Generator().manual_seed(seed))
            errs.append((EA.performer_attention(q, k, v, proj) - exact).abs().mean().item())
        err[m] = sum(errs) / len(errs)
    assert err[512] < err[8] / 2
    assert err[512] < 0.05


def test_performer_causal_matches_its_reference_and_redraws_in_training():
    q, k, v = _qkv()
    proj = EA.orthogonal_random_features(24, 8, torch.Generator().manual_seed(0))
    fq, fk = EA.favor_features(q, proj, True), EA.favor_features(k, proj, False)
    ref, _ = EA.linear_attention_reference(fq, fk, v, causal=True)
    torch.testing.assert_close(EA.performer_attention(q, k, v, proj, causal=True), ref, rtol=1e-4, atol=1e-5)
    layer = PerformerAttention(16, 2, num_features=8, redraw_interval=2)
    x = torch.randn(1, 5, 16)
    first = layer.proj.clone()
    layer(x)
    layer(x)
    assert torch.equal(layer.proj, first)
    layer(x)  # third call in training: redrawn
    assert not torch.equal(layer.proj, first)
    layer.eval()
    frozen = layer.proj.clone()
    for _ in range(3):
        layer(x)
    assert torch.equal(layer.proj, frozen)


# ----------------------------------------------------------------------------- Linformer
def test_linformer_with_identity_projections_is_full_attention():
    q, k, v = _qkv(L=12)
    eye = torch.eye(12)
    ref, _ = attention_reference(q, k, v)
    torch.testing.assert_close(EA.linformer_attention(q, k, v, eye, eye), ref, rtol=1e-5, atol=1e-5)


def test_linformer_refuses_causal_use_and_long_sequences():
    layer = make_attention("linformer", 16, 2, max_len=8, k=4)
    with pytest.raises(ConfigError, match="no causal form"):
        layer(torch.randn(1, 8, 16), is_causal=True)
    with pytest.raises(ShapeError, match="max_len=8"):
        layer(torch.randn(1, 9, 16))


# ----------------------------------------------------------------------------- block sparse
@pytest.mark.parametrize("causal", [False, True])
def test_block_sparse_on_gathered_blocks_equals_the_masked_reference(causal):
    q, k, v = _qkv()
    g = torch.Generator().manual_seed(0)
    layout = (torch.rand(5, 5, generator=g) > 0.5) | torch.eye(5, dtype=torch.bool)
    m = block_sparse_mask(layout, 8, 37)
    if causal:
        m = m & _tril(37)
    ref, _ = attention_reference(q, k, v, m)
    torch.testing.assert_close(EA.block_sparse_attention(q, k, v, layout, 8, causal), ref, rtol=1e-5, atol=1e-5)
    with pytest.raises(ShapeError, match=r"\(5, 5\) block matrix"):
        EA.block_sparse_attention(q, k, v, layout[:4, :4], 8)


@pytest.mark.parametrize("pattern", ["fixed", "strided"])
def test_sparse_attention_layer_equals_its_token_mask(pattern):
    torch.manual_seed(0)
    layer = SparseAttention(16, 2, pattern=pattern, block=4, stride=3).eval()
    x = torch.randn(2, 21, 16)
    for causal in (False, True):
        out, _ = layer(x, is_causal=causal)
        ref, w = layer(x, is_causal=causal, need_weights=True)
        torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
        assert (w[..., ~layer.token_mask(21, causal, x.device)] == 0).all()
    assert fixed_layout(4, 2)[0].tolist() == [True, True, False, True]


# ----------------------------------------------------------------------------- learnable soft mask
def test_erratum_thresholded_sparse_mask_has_no_gradient_the_soft_one_does():
    """Listing L6-16 (catalogue E5, lines 14465-14528) keeps ``sigmoid(W) > sparsity``: a boolean,
    so ``W`` receives no gradient and never learns. Here ``log σ(W)`` is added to the scores."""
    W = torch.zeros(6, 6, requires_grad=True)
    book_mask = torch.sigmoid(W) > 0.1
    assert not book_mask.requires_grad
    torch.manual_seed(0)
    layer = SoftSparseAttention(8, 2, max_len=6)
    out, _ = layer(torch.randn(2, 6, 8))
    out.square().sum().backward()
    assert layer.mask_logits.grad is not None and layer.mask_logits.grad.abs().sum() > 0
    assert layer.hard_mask(0.5).all()  # initialised nearly dense (σ(3) ≈ 0.95)


def test_soft_mask_near_one_is_full_attention_and_near_zero_removes_a_key():
    q, k, v = _qkv(L=6)
    logits = torch.full((2, 8, 8), 30.0)
    bias = EA.soft_sparse_bias(logits, 6, 6)
    ref, _ = attention_reference(q, k, v)
    out, _ = attention_reference(q, k, v, bias=bias)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    logits[:, :, 2] = -30.0
    _, w = attention_reference(q, k, v, bias=EA.soft_sparse_bias(logits, 6, 6))
    assert w[..., 2].max() < 1e-10
    with pytest.raises(ShapeError, match="larger max_len"):
        EA.soft_sparse_bias(logits, 9, 9)


# ----------------------------------------------------------------------------- dynamic convolution
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("K", [1, 3, 4])
def test_dynamic_conv_fast_equals_band_matrix(causal, K):
    _, _, v = _qkv()
    w = torch.softmax(torch.randn(2, 2, 37, K), -1)
    out, band = EA.dynamic_conv_reference(v, w, causal)
    torch.testing.assert_close(EA.dynamic_conv(v, w, causal), out, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(band.sum(-1)[..., K:-K], torch.ones(2, 2, 37 - 2 * K))  # interior rows
    if causal:
        assert (band.triu(1) == 0).all()


# ----------------------------------------------------------------------------- one interface
@pytest.mark.parametrize("kind", ATTENTION_KINDS)
def test_every_kind_is_a_drop_in_self_attention(kind):
    torch.manual_seed(0)
    kw = {"linformer": dict(max_len=16, k=4), "local": dict(window=4), "sparse": dict(block=4),
          "soft-sparse": dict(max_len=16), "dynamic-conv": dict(kernel_size=3)}.get(kind, {})
    layer = TransformerEncoderLayer(16, 2, 32, 0.0, "gelu", norm_first=True,
                                    self_attn=make_attention(kind, 16, 2, **kw)).eval()
    x = torch.randn(2, 12, 16)
    y, _ = layer(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    kpm = torch.ones(2, 12, dtype=torch.bool)
    kpm[0, -3:] = False
    y_pad, _ = layer(x, key_padding_mask=kpm)
    assert torch.isfinite(y_pad).all()
    if kind != "linformer":  # causal: changing the last token leaves the earlier outputs unchanged
        x2 = x.clone()
        x2[:, -1] += 1.0
        a, _ = layer(x, is_causal=True)
        b, _ = layer(x2, is_causal=True)
        torch.testing.assert_close(a[:, :-1], b[:, :-1], rtol=1e-5, atol=1e-5)


def test_factory_and_masks_are_checked():
    with pytest.raises(ConfigError, match="unknown attention 'flash'.*local"):
        make_attention("flash", 16, 2)
    with pytest.raises(ConfigError, match="no setting windw.*window"):
        make_attention("local", 16, 2, windw=3)
    layer = make_attention("linear", 16, 2)
    x = torch.randn(2, 5, 16)
    with pytest.raises(ShapeError, match="cannot apply an attention `mask`.*key_padding_mask"):
        layer(x, None, torch.ones(5, 5, dtype=torch.bool))
    with pytest.raises(ShapeError, match=r"key_padding_mask must be a boolean \(N, S\) = \(2, 5\)"):
        layer(x, key_padding_mask=torch.ones(2, 5))
    with pytest.raises(ShapeError, match=r"key_padding_mask must be a boolean \(N, S\) = \(2, 5\)"):
        layer(x, key_padding_mask=torch.ones(5, 2, dtype=torch.bool))
    with pytest.raises(ConfigError, match="no KV cache"):
        layer(x, cache=object())
    with pytest.raises(ShapeError, match=r"\(N, L, 16\)"):
        layer(torch.randn(5, 16))


def test_gpt_and_vit_switch_attention_by_config():
    torch.manual_seed(0)
    for kind, kw in (("local", {"window": 8}), ("linear", {}), ("performer", {"num_features": 16})):
        gpt = create_model("gpt-char", vocab_size=20, block_size=32, n_layer=1, n_head=2, n_embd=16,
                           attention=kind, attention_kwargs=kw).eval()
        ids = torch.randint(0, 20, (2, 32))
        assert gpt(ids).shape == (2, 32, 20)
        assert gpt.generate(ids[:, :3], max_new_tokens=2).shape == (2, 5)
        loss = gpt.loss(ids)
        loss.backward()
    vit = create_model("vit-cifar", depth=1, attention="local", attention_kwargs={"window": 16}).eval()
    assert vit(torch.randn(1, 3, 32, 32)).shape == (1, 10)
    with pytest.raises(ConfigError, match="position='rotary'"):
        create_model("gpt-char", position="rotary", attention="linear")


def test_full_attention_weights_load_into_an_efficient_model():
    """The efficient layers keep ``in_proj``/``out_proj``: a model trained with full attention is
    evaluated with local attention, and a window covering the sequence gives the same outputs."""
    torch.manual_seed(0)
    full = create_model("gpt-char", vocab_size=20, block_size=16, n_layer=2, n_head=2, n_embd=16).eval()
    local = create_model("gpt-char", vocab_size=20, block_size=16, n_layer=2, n_head=2, n_embd=16,
                         attention="local", attention_kwargs={"window": 16}).eval()
    local.load_state_dict(full.state_dict())
    ids = torch.randint(0, 20, (2, 16))
    torch.testing.assert_close(local(ids), full(ids), rtol=1e-5, atol=1e-5)
    assert F.softmax(local(ids), -1).sum(-1).allclose(torch.ones(2, 16))
