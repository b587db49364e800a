"""Scaled dot-product attention: einsum reference == fused fast path; masks; book exercises."""

from __future__ import annotations

import math

import pytest
import torch

from tensorprism.errors import ShapeError
from tensorprism.functional.attention import (
    attention_reference,
    block_sparse_mask,
    causal_mask,
    combine_masks,
    padding_mask,
    scaled_dot_product_attention,
    sliding_window_mask,
    strided_mask,
)


def _qkv(N=2, H=3, L=5, S=7, E=8, grad=True):
    return [torch.randn(N, H, n, E, dtype=torch.float64, requires_grad=grad) for n in (L, S, S)]


def _masks(L=5, S=7):
    key_pad = padding_mask(torch.tensor([7, 3]), max_len=S)  # (2, 1, 1, 7)
    rows_dead = torch.rand(2, 3, L, S) > 0.5
    rows_dead[0, 1, 2] = False  # one fully masked query row
    return [None, key_pad, causal_mask(L, S), rows_dead]


@pytest.mark.parametrize("mi", range(4))
@pytest.mark.parametrize("with_bias", [False, True])
def test_fast_path_matches_reference_forward_and_backward(mi, with_bias):
    q, k, v = _qkv()
    mask = _masks()[mi]
    bias = torch.randn(3, 5, 7, dtype=torch.float64) if with_bias else None
    ref, _ = attention_reference(q, k, v, mask, bias)
    fast, w = scaled_dot_product_attention(q, k, v, mask, bias)
    assert w is None
    torch.testing.assert_close(fast, ref, rtol=1e-10, atol=1e-10)
    g = torch.randn_like(ref)
    gr = torch.autograd.grad(ref, (q, k, v), g)
    gf = torch.autograd.grad(fast, (q, k, v), g)
    for a, b in zip(gf, gr, strict=True):
        assert torch.isfinite(a).all()
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


def test_fully_masked_rows_give_zero_output_and_gradient_not_nan():
    q, k, v = _qkv(N=1, H=1, L=2, S=3)
    mask = torch.tensor([[True, False, True], [False, False, False]])
    for fn in (attention_reference, scaled_dot_product_attention):
        out, _ = fn(q, k, v, mask)
        assert torch.isfinite(out).all() and torch.all(out[0, 0, 1] == 0)
        (gq,) = torch.autograd.grad(out.sum(), (q,))
        assert torch.isfinite(gq).all() and torch.all(gq[0, 0, 1] == 0)


def test_need_weights_returns_row_stochastic_weights():
    q, k, v = _qkv(grad=False)
    out, w = scaled_dot_product_attention(q, k, v, causal_mask(5, 7), need_weights=True)
    assert w.shape == (2, 3, 5, 7)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 3, 5, dtype=torch.float64))
    assert torch.all(w[..., 0, 3:] == 0)  # query 0 (absolute position 2) sees keys 0..2


def test_is_causal_equals_explicit_causal_mask_with_cache_offset():
    q, k, v = _qkv(L=2, S=6, grad=False)
    a, _ = scaled_dot_product_attention(q, k, v, is_causal=True)
    b, _ = attention_reference(q, k, v, causal_mask(2, 6))
    torch.testing.assert_close(a, b)


def test_exercise_6_1_weights_and_context():
    """Exercise 6.1 (book line 15621): Q = I, K = [[1,2],[0,1]], V = [[2,0],[1,3]], scale 1/sqrt(2)."""
    Q = torch.eye(2)
    K = torch.tensor([[1.0, 2.0], [0.0, 1.0]])
    V = torch.tensor([[2.0, 0.0], [1.0, 3.0]])
    out, w = attention_reference(Q, K, V)
    torch.testing.assert_close(w, torch.tensor([[0.6698, 0.3302]] * 2), atol=1e-4, rtol=0)
    torch.testing.assert_close(out, torch.tensor([[1.6698, 0.9907]] * 2), atol=1e-4, rtol=0)


def test_exercise_6_10_causal_self_attention():
    """Exercise 6.10 (line 15698): causal attention with W = I; the first token only sees itself."""
    X = torch.randn(3, 4)
    out, w = attention_reference(X, X, X, causal_mask(3))
    torch.testing.assert_close(out[0], X[0])
    assert torch.all(w.triu(1) == 0)


def test_erratum_multiplicative_mask_does_not_mask():
    """Book lines 14374-14396 and 16651 mask by multiplying scores by 0/1; exp(0) = 1 still gives
    masked keys weight. Our boolean mask gives them exactly zero weight."""
    q, k, v = (torch.randn(4, 8) for _ in range(3))
    band = sliding_window_mask(4, 3)
    book_scores = (q @ k.T / math.sqrt(8)) * band
    book_w = book_scores.softmax(-1)
    assert torch.all(book_w[~band] > 0)
    _, w = attention_reference(q, k, v, band)
    assert torch.all(w[~band] == 0)


def test_erratum_minus_inf_fill_gives_nan_for_fully_masked_rows():
    """Book line 15936 fills masked scores with -inf: a fully masked row gives NaN; ours gives 0."""
    scores = torch.randn(2, 3).masked_fill(torch.tensor([[True] * 3, [False] * 3]), float("-inf"))
    assert torch.isnan(scores.softmax(-1)[0]).all()
    out, _ = attention_reference(torch.randn(2, 4), torch.randn(3, 4), torch.randn(3, 4),
                                 torch.tensor([[False] * 3, [True] * 3]))
    assert torch.all(out[0] == 0) and torch.isfinite(out).all()


def test_mask_builders():
    assert padding_mask(torch.tensor([[5, 6, 0, 0]]), pad_id=0)[0, 0, 0].tolist() == [True, True, False, False]
    assert causal_mask(2, 4).tolist() == [[True, True, True, False], [True, True, True, True]]
    assert sliding_window_mask(4, 3, causal=True).int().tolist() == [
        [1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 1]]
    s = strided_mask(8, 3)
    assert s[7].nonzero().flatten().tolist() == [1, 4, 5, 6, 7]  # 3 local + every 3rd before
    b = block_sparse_mask(torch.tensor([[True, False], [True, True]]), 2, L=3)
    assert b.int().tolist() == [[1, 1, 0], [1, 1, 0], [1, 1, 1]]
    assert combine_masks(None, causal_mask(3), sliding_window_mask(3, 1)).int().tolist() == torch.eye(3).int().tolist()


def test_wrong_mask_dtype_and_shapes_raise_clear_errors():
    q = torch.randn(2, 4)
    with pytest.raises(ShapeError, match="boolean"):
        attention_reference(q, q, q, torch.ones(2, 2))
    with pytest.raises(ShapeError, match="feature sizes"):
        scaled_dot_product_attention(q, torch.randn(2, 3), torch.randn(2, 3))


@pytest.mark.parametrize("dead_rows", [False, True])
def test_fused_causal_kernel_and_padding_fast_paths_match_reference(dead_rows):
    """is_causal with L == S uses the kernel's own causal path; an all-live padding mask skips the
    dead-row guard. Both must equal the einsum reference, forward and backward."""
    q, k, v = _qkv(L=6, S=6)
    a, _ = scaled_dot_product_attention(q, k, v, is_causal=True)
    b, _ = attention_reference(q, k, v, causal_mask(6))
    torch.testing.assert_close(a, b)
    ga = torch.autograd.grad(a.sum(), (q, k, v))
    gb = torch.autograd.grad(b.sum(), (q, k, v))
    for x, y in zip(ga, gb, strict=True):
        torch.testing.assert_close(x, y)
    pad = padding_mask(torch.tensor([6, 0 if dead_rows else 2]), max_len=6)
    a, _ = scaled_dot_product_attention(q, k, v, pad)
    b, _ = attention_reference(q, k, v, pad)
    torch.testing.assert_close(a, b)
    assert torch.isfinite(a).all()
