"""Each attention-mask argument has one documented shape; anything that could be read two ways
is refused rather than broadcast into a wrong result."""

from __future__ import annotations

import pytest
import torch

from tensorprism.errors import ShapeError
from tensorprism.functional.attention import attention_reference, scaled_dot_product_attention
from tensorprism.nn.attention import MultiheadAttention
from tensorprism.nn.transformer import TransformerDecoderLayer, TransformerEncoderLayer

N = L = 4  # batch size equal to sequence length: the shape a 2-D mask cannot tell apart
D, H = 8, 2


@pytest.fixture
def mha():
    torch.manual_seed(0)
    return MultiheadAttention(D, H).eval()


def _padding():
    keep = torch.ones(N, L, dtype=torch.bool)
    keep[1, 2:] = False
    keep[3, 1:] = False
    return keep


def test_key_padding_mask_with_n_equal_l_is_applied_as_padding(mha):
    """Regression: an (N, S) padding mask with N == L was broadcast as an (L, S) mask."""
    x = torch.randn(N, L, D)
    keep = _padding()
    out, _ = mha(x, key_padding_mask=keep)
    for i in range(N):  # each sequence alone, truncated to its real keys, gives the same outputs
        n = int(keep[i].sum())
        alone, _ = mha(x[i : i + 1, :n])
        ref, _ = mha(x[i : i + 1], memory=x[i : i + 1, :n])
        assert torch.allclose(out[i, :n], alone[0], atol=1e-6)
        assert torch.allclose(out[i], ref[0], atol=1e-6)
    as_4d, _ = mha(x, mask=keep[:, None, None, :])  # the 4-D attention-mask spelling is the same mask
    assert torch.allclose(out, as_4d, atol=1e-6)


def test_two_d_mask_is_always_query_by_key(mha):
    x = torch.randn(N, L, D)
    causal = torch.ones(L, L, dtype=torch.bool).tril()
    out, _ = mha(x, mask=causal)
    ref, _ = mha(x, is_causal=True)
    assert torch.allclose(out, ref, atol=1e-6)


def test_padding_mask_passed_as_attention_mask_is_refused_when_shapes_differ(mha):
    x = torch.randn(3, 5, D)
    with pytest.raises(ShapeError, match="key_padding_mask="):
        mha(x, mask=torch.ones(3, 5, dtype=torch.bool))


@pytest.mark.parametrize("shape", [(N, L, L), (N, 3, L, L), (2, 1, 1, L), (L,), (N, 1, 1, L, L), (L, L + 1)])
def test_attention_mask_shapes_outside_the_documented_ones_are_refused(mha, shape):
    with pytest.raises(ShapeError, match=r"\(L, S\), \(N\*h, L, S\) or \(N, 1\|h, 1\|L, S\)"):
        mha(torch.randn(N, L, D), mask=torch.ones(shape, dtype=torch.bool))


def test_a_mask_given_where_memory_goes_is_named(mha):
    with pytest.raises(ShapeError, match="memory must be"):
        mha(torch.randn(N, L, D), torch.ones(L, L, dtype=torch.bool))  # mask is the third argument


def test_per_head_masks_are_accepted_in_both_layouts(mha):
    x = torch.randn(N, L, D)
    m = torch.rand(N, H, L, L) > 0.3
    m[..., 0] = True
    a, _ = mha(x, mask=m)
    b, _ = mha(x, mask=m.reshape(N * H, L, L))
    assert torch.equal(a, b)


@pytest.mark.parametrize("shape", [(N, 1, 1, L), (1, L), (N, L + 1), (N,)])
def test_key_padding_mask_has_one_shape(mha, shape):
    with pytest.raises(ShapeError, match=r"key_padding_mask must be \(N, S\)"):
        mha(torch.randn(N, L, D), key_padding_mask=torch.ones(shape, dtype=torch.bool))


def test_key_padding_mask_in_torch_convention_is_refused(mha):
    torch_style = torch.zeros(N, L, dtype=torch.bool)  # torch: True = pad; nothing padded
    with pytest.raises(ShapeError, match="~mask"):
        mha(torch.randn(N, L, D), key_padding_mask=torch_style)
    with pytest.raises(ShapeError, match="boolean"):
        mha(torch.randn(N, L, D), key_padding_mask=torch.ones(N, L))


def test_key_padding_mask_counts_cached_keys_and_combines_with_causal(mha):
    from tensorprism.nn.attention import KVCache

    x = torch.randn(2, 5, D)
    keep = torch.ones(2, 5, dtype=torch.bool)
    keep[0, 1] = False
    full, _ = mha(x, key_padding_mask=keep, is_causal=True)
    cache = KVCache()
    mha(x[:, :4], key_padding_mask=keep[:, :4], is_causal=True, cache=cache)
    last, _ = mha(x[:, 4:], key_padding_mask=keep, is_causal=True, cache=cache)
    assert torch.allclose(last[:, 0], full[:, 4], atol=1e-6)


def test_layers_forward_key_padding_masks():
    torch.manual_seed(0)
    enc = TransformerEncoderLayer(D, H, 16, dropout=0.0).eval()
    x, keep = torch.randn(N, L, D), _padding()
    assert torch.allclose(enc(x, key_padding_mask=keep)[0], enc(x, keep[:, None, None, :])[0], atol=1e-6)
    dec = TransformerDecoderLayer(D, H, 16, dropout=0.0).eval()
    mem = torch.randn(N, 3, D)
    mkeep = torch.tensor([[1, 1, 0], [1, 0, 0], [1, 1, 1], [1, 1, 0]], dtype=torch.bool)
    a = dec(x, mem, memory_key_padding_mask=mkeep)[0]
    b = dec(x, mem, memory_mask=mkeep[:, None, None, :])[0]
    assert torch.allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("fn", [attention_reference, scaled_dot_product_attention])
def test_functional_masks_must_broadcast_to_the_scores(fn):
    q = k = v = torch.randn(3, 2, 5, 4)  # (N, H, L, E), N != L
    with pytest.raises(ShapeError, match=r"\(N, 1, 1, S\)"):
        fn(q, k, v, torch.ones(3, 5, dtype=torch.bool))  # an (N, S) padding mask
    with pytest.raises(ShapeError, match="does not broadcast"):
        fn(q, k, v, torch.ones(1, 3, 1, 5, 5, dtype=torch.bool))  # would add a dimension
    q2 = k2 = v2 = torch.randn(2, 2, 5, 4)  # N == H: a 3-D (N, L, S) mask would be read per head
    with pytest.raises(ShapeError, match=r"\(N, 1, L, S\)"):
        fn(q2, k2, v2, torch.ones(2, 5, 5, dtype=torch.bool))
    out = fn(q, k, v, torch.ones(3, 1, 1, 5, dtype=torch.bool))[0]
    assert out.shape == (3, 2, 5, 4)
