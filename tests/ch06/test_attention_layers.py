"""Multi-head attention, positions and Transformer layers against torch.nn / transformers oracles."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tensorprism.errors import ConfigError, ShapeError
from tensorprism.functional.attention import causal_mask, padding_mask
from tensorprism.nn.attention import KVCache, MultiheadAttention
from tensorprism.nn.positional import (
    LearnedPositionalEmbedding,
    RotaryEmbedding,
    SinusoidalPositionalEncoding,
    alibi_bias,
    alibi_slopes,
    sinusoidal_table,
)
from tensorprism.nn.transformer import (
    DecoderCache,
    TransformerDecoderLayer,
    TransformerEncoderLayer,
    TransformerStack,
)


def _load_torch_mha(ours: MultiheadAttention, ref: nn.MultiheadAttention) -> None:
    ours.in_proj.weight.data.copy_(ref.in_proj_weight)
    ours.in_proj.bias.data.copy_(ref.in_proj_bias)
    ours.out_proj.load_state_dict(ref.out_proj.state_dict())


def test_mha_matches_torch_multihead_attention_self_and_cross():
    ref = nn.MultiheadAttention(16, 4, batch_first=True).eval()
    ours = MultiheadAttention(16, 4).eval()
    _load_torch_mha(ours, ref)
    x, mem = torch.randn(2, 5, 16), torch.randn(2, 7, 16)
    pad = padding_mask(torch.tensor([7, 4]), max_len=7)
    out, w = ours(x, mem, pad, need_weights=True)
    r_out, r_w = ref(x, mem, mem, key_padding_mask=~pad[:, 0, 0], average_attn_weights=False)
    torch.testing.assert_close(out, r_out, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(w, r_w, rtol=1e-5, atol=1e-6)
    out, _ = ours(x, is_causal=True)
    r_out, _ = ref(x, x, x, attn_mask=~causal_mask(5), need_weights=False)
    torch.testing.assert_close(out, r_out, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("pos", ["none", "rotary", "alibi"])
def test_kv_cache_decoding_equals_full_causal_pass(pos):
    mha = MultiheadAttention(16, 4, rotary=pos == "rotary", alibi=pos == "alibi").eval()
    x = torch.randn(2, 6, 16)
    full, _ = mha(x, is_causal=True)
    cache = KVCache()
    parts = [mha(x[:, :3], is_causal=True, cache=cache)[0]]
    parts += [mha(x[:, t : t + 1], is_causal=True, cache=cache)[0] for t in range(3, 6)]
    torch.testing.assert_close(torch.cat(parts, 1), full, rtol=1e-5, atol=1e-6)
    assert len(cache) == 6


def test_mha_rejects_bad_heads_and_seq_first_input():
    with pytest.raises(ConfigError, match="divisible"):
        MultiheadAttention(10, 3)
    with pytest.raises(ShapeError, match="batch first"):
        MultiheadAttention(8, 2)(torch.randn(5, 8))


def test_book_mha_demo_shape():
    """L6-1 demo (line 13283): batch 2, length 4, d_model 8, 2 heads -> (2, 4, 8)."""
    assert MultiheadAttention(8, 2)(torch.rand(2, 4, 8))[0].shape == (2, 4, 8)


def test_exercise_6_5_sinusoidal_table():
    """Exercise 6.5 (line 15656): the 5x4 PE matrix."""
    expect = torch.tensor([[0, 1, 0, 1], [0.8415, 0.5403, 0.0100, 1.0000], [0.9093, -0.4161, 0.0200, 0.9998],
                           [0.1411, -0.9900, 0.0300, 0.9996], [-0.7568, -0.6536, 0.0400, 0.9992]])
    torch.testing.assert_close(sinusoidal_table(5, 4), expect, atol=1e-4, rtol=0)
    assert sinusoidal_table(3, 5).shape == (3, 5)  # odd width works (the book's code fails)


def test_erratum_positional_encoding_is_batch_first():
    """Book L6-2 (line 13318) stores PE as (max_len, 1, D) and adds pe[:x.size(0)]: on batch-first
    input that adds position 'batch index' to every token. Ours adds position t to token t."""
    pe = SinusoidalPositionalEncoding(6, max_len=10)
    x = torch.zeros(3, 4, 6)
    out = pe(x)
    torch.testing.assert_close(out[1], sinusoidal_table(10, 6)[:4])
    torch.testing.assert_close(pe(x[:, :1], offset=3)[0, 0], sinusoidal_table(10, 6)[3])
    with pytest.raises(ShapeError, match="max_len"):
        pe(torch.zeros(1, 11, 6))
    assert LearnedPositionalEmbedding(10, 6)(x).shape == x.shape


def test_rotary_matches_transformers_llama():
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    rope = RotaryEmbedding(8)
    q, k = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 5, 8)
    cos, sin = rope.cos_sin(5, offset=2)
    r_q, r_k = apply_rotary_pos_emb(q, k, cos[None], sin[None])
    o_q, o_k = rope(q, k, offset=2)
    torch.testing.assert_close(o_q, r_q)
    torch.testing.assert_close(o_k, r_k)
    # relative: the score of (m, n) depends on m - n only
    a, b = torch.randn(1, 1, 1, 8), torch.randn(1, 1, 1, 8)
    s1 = (rope(a, b, 3)[0] * rope(a, b, 1)[1]).sum()
    s2 = (rope(a, b, 7)[0] * rope(a, b, 5)[1]).sum()
    torch.testing.assert_close(s1, s2)


@pytest.mark.parametrize("heads", [8, 12])
def test_alibi_slopes_match_transformers_bloom(heads):
    from transformers.models.bloom.modeling_bloom import build_alibi_tensor

    ref = build_alibi_tensor(torch.ones(1, 4), heads, torch.float32)  # (H, 1, 4): slope * j
    torch.testing.assert_close(alibi_slopes(heads), ref[:, 0, 1])
    b = alibi_bias(heads, 4)
    # under a causal mask the bias differs from BLOOM's slope*j by a per-row constant
    diff = (b - ref.view(heads, 1, 4)).masked_fill(~causal_mask(4), 0)
    per_row = torch.where(causal_mask(4), diff, diff[..., :1])
    torch.testing.assert_close(per_row, diff[..., :1].expand_as(per_row))


def _copy_layer(ours, ref, decoder=False):
    _load_torch_mha(ours.self_attn, ref.self_attn)
    if decoder:
        _load_torch_mha(ours.cross_attn, ref.multihead_attn)
        ours.norm3.load_state_dict(ref.norm2.state_dict())
        ours.norm2.load_state_dict(ref.norm3.state_dict())
    else:
        ours.norm2.load_state_dict(ref.norm2.state_dict())
    ours.norm1.load_state_dict(ref.norm1.state_dict())
    ours.ff.linear1.load_state_dict(ref.linear1.state_dict())
    ours.ff.linear2.load_state_dict(ref.linear2.state_dict())


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_layer_matches_torch(norm_first, activation):
    ref = nn.TransformerEncoderLayer(16, 4, 32, 0.0, activation, batch_first=True, norm_first=norm_first).eval()
    ours = TransformerEncoderLayer(16, 4, 32, 0.0, activation, norm_first=norm_first).eval()
    _copy_layer(ours, ref)
    x = torch.randn(2, 6, 16)
    pad = padding_mask(torch.tensor([6, 3]))
    torch.testing.assert_close(ours(x, pad)[0], ref(x, src_key_padding_mask=~pad[:, 0, 0]), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_matches_torch_and_caches(norm_first):
    ref = nn.TransformerDecoderLayer(16, 4, 32, 0.0, batch_first=True, norm_first=norm_first).eval()
    ours = TransformerDecoderLayer(16, 4, 32, 0.0, norm_first=norm_first).eval()
    _copy_layer(ours, ref, decoder=True)
    y, mem = torch.randn(2, 5, 16), torch.randn(2, 7, 16)
    out, (w_self, w_cross) = ours(y, mem, need_weights=True)
    r = ref(y, mem, tgt_mask=~causal_mask(5), tgt_is_causal=False)
    torch.testing.assert_close(out, r, rtol=1e-5, atol=1e-5)
    assert torch.all(w_self[..., 0, 1:] == 0) and w_cross.shape == (2, 4, 5, 7)
    cache = DecoderCache()
    steps = [ours(y[:, t : t + 1], mem, cache=cache)[0] for t in range(5)]
    torch.testing.assert_close(torch.cat(steps, 1), out, rtol=1e-5, atol=1e-5)


def test_erratum_decoder_cross_attention_query_comes_from_decoder():
    """Book L6-38 (line 15495) calls mha2(enc_output, enc_output, out1): with the PyTorch (q, k, v)
    signature the encoder output becomes the query, so the output length is the source length.
    Ours takes the query from the decoder: output length == target length."""
    layer = TransformerDecoderLayer(8, 2, 16, 0.0).eval()
    y, mem = torch.randn(1, 3, 8), torch.randn(1, 9, 8)
    assert layer(y, mem)[0].shape == (1, 3, 8)


def test_shared_stack_reuses_one_layer():
    stack = TransformerStack(lambda: TransformerEncoderLayer(8, 2, 16, 0.0), 4, share=True)
    assert len(stack.layers) == 1
    x = torch.randn(1, 3, 8)
    out, ws = stack(x, need_weights=True)
    y = x
    for _ in range(4):
        y, _ = stack.layers[0](y)
    torch.testing.assert_close(out, y)
    assert len(ws) == 4
