"""Bahdanau / Luong attention: equations, exercises, masks."""

import pytest
import torch

from tensorprism.errors import ConfigError
from tensorprism.nn.rnn_attention import AdditiveAttention, AttentionPooling, LuongAttention

T = torch.tensor


def test_exercise_4_dot_product_attention():
    """Exercise 4 (l. 12921-12929): Q = K = I, values = rows of v; unscaled dot product."""
    att = LuongAttention(2, 2, score="dot")
    q, k, v = torch.eye(2)[None], torch.eye(2)[None], T([[[2.0, 3.0], [4.0, 5.0]]])
    ctx, w = att(q, k, v)
    torch.testing.assert_close(w[0], T([[0.7311, 0.2689], [0.2689, 0.7311]]), atol=1e-4, rtol=0)
    torch.testing.assert_close(ctx[0], T([[2.5379, 3.5379], [3.4621, 4.4621]]), atol=1e-4, rtol=0)


def test_exercise_11_zero_decoder_state_gives_uniform_weights():
    h_enc = T([[[0.1, 0.2], [0.2, 0.4], [0.3, 0.6]]])
    ctx, w = LuongAttention(2, 2, score="dot")(torch.zeros(1, 2), h_enc)
    torch.testing.assert_close(w, torch.full((1, 3), 1 / 3))
    torch.testing.assert_close(ctx, T([[0.2, 0.4]]))


def test_additive_attention_is_the_bahdanau_equation():
    torch.manual_seed(0)
    att = AdditiveAttention(3, 4, 5)
    s, h = torch.randn(2, 3), torch.randn(2, 6, 4)
    ctx, w = att(s, h)
    W, U, b, v = att.query_proj.weight, att.key_proj.weight, att.key_proj.bias, att.v.weight[0]
    for i in range(2):
        e = torch.stack([v @ torch.tanh(W @ s[i] + U @ h[i, j] + b) for j in range(6)])
        alpha = e.softmax(0)
        torch.testing.assert_close(w[i], alpha)
        torch.testing.assert_close(ctx[i], alpha @ h[i])
    # a (B, L, D) query attends each row independently; precomputed keys give the same result
    ctx3, w3 = att(s[:, None].expand(2, 3, 3), h, projected_keys=att.project_keys(h))
    torch.testing.assert_close(w3[:, 2], w)


def test_luong_general_and_concat():
    torch.manual_seed(0)
    gen = LuongAttention(3, 4, score="general")
    s, h = torch.randn(2, 3), torch.randn(2, 5, 4)
    _, w = gen(s, h)
    torch.testing.assert_close(w, torch.einsum("bd,bsd->bs", s, gen.W(h)).softmax(-1))
    cat = LuongAttention(3, 4, score="concat", attn_dim=6)
    add = AdditiveAttention(3, 4, 6)
    add.load_state_dict({k.removeprefix("concat."): v for k, v in cat.state_dict().items()})
    torch.testing.assert_close(cat(s, h)[1], add(s, h)[1])
    with pytest.raises(ConfigError, match="general"):
        LuongAttention(3, 4, score="dot")


def test_padding_mask_zeroes_weights_and_fully_masked_rows_are_finite():
    torch.manual_seed(0)
    att = AdditiveAttention(3, 4, 5)
    s, h = torch.randn(2, 3, requires_grad=True), torch.randn(2, 6, 4)
    mask = T([[True] * 4 + [False] * 2, [False] * 6])
    ctx, w = att(s, h, mask=mask)
    assert torch.all(w[0, 4:] == 0) and torch.allclose(w[0].sum(), T(1.0))
    assert torch.all(w[1] == 0) and torch.all(ctx[1] == 0)
    ctx.sum().backward()
    assert torch.isfinite(s.grad).all()


def test_attention_pooling_exercise_10_with_ones():
    pool = AttentionPooling(2)
    for p in pool.parameters():
        torch.nn.init.ones_(p)
    h = T([[[0.1, 0.2], [0.3, -0.1], [0.0, 0.5]]])
    c, a = pool(h)
    e = torch.tanh(h[0] @ torch.ones(2, 2).t() + 1).sum(-1)
    torch.testing.assert_close(a[0], e.softmax(0))
    torch.testing.assert_close(c[0], e.softmax(0) @ h[0])
