"""Chapter 7 attention modules: each equal to its equation (reference path or an oracle), masks
exact, book errata pinned (catalogue ../shared/book/ch06-07.md §1.12 and listings L7-*)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from tensorprism.errors import ConfigError, ShapeError
from tensorprism.functional.attention_pooling import (
    attention_pool_reference,
    channel_gate_reference,
    hierarchical_pool_reference,
    spatial_gate_reference,
    spatial_softmax_reference,
)
from tensorprism.nn.adaptive_attention import AdaptiveAttentionSeq
from tensorprism.nn.blocks import CBAM, BasicBlock, ChannelAttention, SpatialAttention
from tensorprism.nn.crossmodal_attention import CrossModalAttention
from tensorprism.nn.hierarchical_attention import HierarchicalAttention, run_masked_rnn
from tensorprism.nn.rnn_attention import AttentionPooling
from tensorprism.nn.temporal_attention import SpatioTemporalAttention
from tensorprism.nn.visual_attention import AttentionBackbone, PositionSoftmaxAttention


def _pool_params(p: AttentionPooling):
    return p.W.weight, p.W.bias, p.v.weight[0]


# ----------------------------------------------------------------------------- attention pooling
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_attention_pooling_equals_its_equation_with_a_mask(activation):
    pool = AttentionPooling(6, 5, activation=activation).double()
    h = torch.randn(3, 7, 6, dtype=torch.double)
    mask = torch.tensor([[1] * 7, [1, 1, 0, 1, 0, 0, 0], [0] * 7], dtype=torch.bool)
    c, a = pool(h, mask)
    c_ref, a_ref = attention_pool_reference(h, *_pool_params(pool), mask=mask, activation=activation)
    torch.testing.assert_close(c, c_ref)
    torch.testing.assert_close(a, a_ref)
    assert torch.equal(a[~mask], torch.zeros_like(a[~mask]))  # exactly 0 on padding
    torch.testing.assert_close(a[:2].sum(1), torch.ones(2, dtype=torch.double))
    assert torch.isfinite(c).all() and torch.equal(c[2], torch.zeros(6, dtype=torch.double))


def test_attention_pooling_rejects_a_mask_of_the_wrong_shape():
    with pytest.raises(ShapeError, match=r"mask must be \(B, T\) = \(2, 4\)"):
        AttentionPooling(3)(torch.randn(2, 4, 3), torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(ConfigError, match="activation"):
        AttentionPooling(3, activation="sigmoid")


# ----------------------------------------------------------------------------- HAN
def _docs():
    # 3 documents, up to 3 sentences of up to 4 words; holes, an empty sentence, an empty document
    mask = torch.tensor([
        [[1, 1, 1, 0], [1, 1, 0, 0], [0, 0, 0, 0]],
        [[1, 0, 1, 1], [0, 0, 0, 0], [1, 1, 1, 1]],
        [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]],
    ], dtype=torch.bool)
    return torch.randn(3, 3, 4, 5, dtype=torch.double), mask


def test_han_equals_the_equations_document_by_document():
    han = HierarchicalAttention(5, 4, attn_dim=6).double().eval()
    x, mask = _docs()
    out = han(x, mask)
    for b in range(2):
        sentences = [x[b, s][mask[b, s]] for s in range(3)]  # each sentence alone, padding removed
        d, word_w, beta = hierarchical_pool_reference(
            sentences, lambda z: han.word_rnn(z)[0], _pool_params(han.word_attention),
            lambda z: han.sentence_rnn(z)[0], _pool_params(han.sentence_attention))
        torch.testing.assert_close(out.document[b], d)
        torch.testing.assert_close(out.sentence_weights[b], beta.double())
        for s in range(3):
            torch.testing.assert_close(out.word_weights[b, s][mask[b, s]], word_w[s])


def test_han_weights_sum_to_one_and_are_exactly_zero_on_padding():
    han = HierarchicalAttention(5, 4).double()
    x, mask = _docs()
    x[~mask] = 1e6  # whatever sits in padding must not matter
    out = han(x, mask)
    sent_mask = mask.any(-1)
    assert torch.equal(out.word_weights[~mask], torch.zeros_like(out.word_weights[~mask]))
    assert torch.equal(out.sentence_weights[~sent_mask], torch.zeros_like(out.sentence_weights[~sent_mask]))
    torch.testing.assert_close(out.word_weights.sum(-1)[sent_mask], torch.ones(int(sent_mask.sum()), dtype=torch.double))
    torch.testing.assert_close(out.sentence_weights[:2].sum(-1), torch.ones(2, dtype=torch.double))
    # the empty document: zero vector and zero weights, no NaN, and gradients stay finite
    assert torch.equal(out.document[2], torch.zeros(8, dtype=torch.double))
    out.document.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in han.parameters() if p.grad is not None)
    x2 = x.clone()
    x2[~mask] = -3.0
    torch.testing.assert_close(han(x2, mask).document, out.document)


def test_han_mean_pooling_is_the_no_attention_baseline():
    han = HierarchicalAttention(5, 4, pooling="mean").double()
    x, mask = _docs()
    out = han(x, mask)
    expected = mask.double() / mask.sum(-1, keepdim=True).clamp_min(1)
    torch.testing.assert_close(out.word_weights, expected)
    assert han.word_attention is None and han.sentence_attention is None


def test_masked_rnn_equals_running_each_row_alone():
    rnn = nn.GRU(3, 2, batch_first=True, bidirectional=True).double()
    x = torch.randn(2, 5, 3, dtype=torch.double)
    mask = torch.tensor([[0, 1, 1, 0, 1], [1, 1, 0, 0, 0]], dtype=torch.bool)
    out = run_masked_rnn(rnn, x, mask)
    for b in range(2):
        torch.testing.assert_close(out[b][mask[b]], rnn(x[b][mask[b]][None])[0][0])
        assert torch.equal(out[b][~mask[b]], torch.zeros_like(out[b][~mask[b]]))


def test_han_rejects_bad_inputs():
    han = HierarchicalAttention(5, 4)
    with pytest.raises(ShapeError, match=r"\(B, S, W, E\)"):
        han(torch.randn(2, 3, 5), torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(ShapeError, match="mask must be boolean"):
        han(torch.randn(2, 3, 4, 5), torch.ones(2, 3, 4))


def test_erratum_han_listing_has_no_padding_mask():
    """Catalogue C4 / L7-8 (book l. 16062-16121): the book's word attention softmaxes over every
    position, so padded words take weight; with a mask they take exactly none."""
    torch.manual_seed(0)
    h = torch.randn(1, 4, 6)
    pool = AttentionPooling(6)
    scores = pool.v(torch.tanh(pool.W(h))).squeeze(-1)
    book = torch.softmax(scores, dim=1)  # the listing: no mask
    _, ours = pool(h, torch.tensor([[True, True, False, False]]))
    assert book[0, 2:].sum() > 0 and ours[0, 2:].sum() == 0


# ----------------------------------------------------------------------------- CNN gates
def test_channel_and_spatial_gates_equal_their_equations():
    x = torch.randn(2, 8, 5, 6, dtype=torch.double)
    for pool in ("avg", "avg+max"):
        ca = ChannelAttention(8, reduction=4, pool=pool).double()
        W1, W2 = ca.mlp[0].weight[:, :, 0, 0], ca.mlp[2].weight[:, :, 0, 0]
        torch.testing.assert_close(ca.attention(x), channel_gate_reference(x, W1, W2, pool))
        torch.testing.assert_close(ca(x), x * channel_gate_reference(x, W1, W2, pool))
    sa = SpatialAttention(7).double()
    torch.testing.assert_close(sa.attention(x), spatial_gate_reference(x, sa.conv.weight))
    torch.testing.assert_close(sa(x), x * sa.attention(x))


def test_cbam_orders_and_residual_block_with_attention():
    x = torch.randn(2, 8, 6, 6)
    book = CBAM(8, 4, order="spatial-channel", pool="avg")
    assert isinstance(book[0], SpatialAttention) and isinstance(book[1], ChannelAttention)
    torch.testing.assert_close(book(x), book[1](book[0](x)))
    block = BasicBlock(8, 8, attention=CBAM(8, 4)).eval()
    expected = torch.relu(block.attention(block.branch(x)) + x)
    torch.testing.assert_close(block(x), expected)


def test_erratum_residual_attention_applies_channel_attention_once():
    """Catalogue C7 / L7-13, L7-14 (book l. 16297-16353): ``ChannelAttention`` returns ``x·y``
    and the block multiplies by ``out`` again, giving ``out²·y``. Here every gate returns the
    re-weighted input once; the book's composition differs from it."""
    x = torch.randn(2, 8, 4, 4) + 2.0
    ca = ChannelAttention(8, reduction=4, pool="avg")
    book = ca(x) * x  # the listing: self.channel_att(out) * out
    ours = ca(x)
    torch.testing.assert_close(ours, x * ca.attention(x))
    assert not torch.allclose(book, ours)
    torch.testing.assert_close(book, x**2 * ca.attention(x))


def test_position_softmax_attention_equals_its_equation():
    layer = PositionSoftmaxAttention(6).double()
    x = torch.randn(2, 6, 4, 5, dtype=torch.double)
    a = layer.attention(x)
    torch.testing.assert_close(a, spatial_softmax_reference(x, layer.score.weight[0, :, 0, 0], layer.score.bias[0]))
    torch.testing.assert_close(a.sum((1, 2, 3)), torch.ones(2, dtype=torch.double))
    torch.testing.assert_close(layer.pool(x), (a * x).sum((2, 3)))
    torch.testing.assert_close(layer(x), x * a * 20)
    with torch.no_grad():  # uniform attention leaves the map unchanged (the rescaling's purpose)
        layer.score.weight.zero_()
    torch.testing.assert_close(layer(x), x)


def test_erratum_image_attention_softmax_over_a_missing_dimension():
    """Catalogue C13 / L7-27, L7-34 (book l. 16845-16887, 17351-17364): ``nn.Softmax(dim=2)`` on
    the flattened ``(B, H·W)`` scores raises IndexError; the softmax must run over dim 1."""
    scores = torch.randn(2, 16)
    with pytest.raises(IndexError):
        nn.Softmax(dim=2)(scores)
    layer = PositionSoftmaxAttention(3)
    assert layer.attention(torch.randn(2, 3, 4, 4)).flatten(1).sum(1).allclose(torch.ones(2))


def test_attention_backbone_gates_any_feature_extractor():
    backbone = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
    model = AttentionBackbone(backbone, 8, reduction=4)
    x = torch.randn(2, 3, 6, 6)
    maps = model.attention_maps(x)
    assert maps["channel"].shape == (2, 8, 1, 1) and maps["spatial"].shape == (2, 1, 6, 6)
    f = backbone(x)
    f = f * maps["channel"]
    torch.testing.assert_close(model(x), f * maps["spatial"])
    with pytest.raises(ShapeError, match="channels="):
        AttentionBackbone(backbone, 16)(x)


# ----------------------------------------------------------------------------- cross-modal
def test_cross_modal_attention_matches_torch_multihead_attention_with_kdim():
    torch.manual_seed(0)
    ours = CrossModalAttention(query_dim=8, context_dim=5, d_model=8, num_heads=2).eval()
    ref = nn.MultiheadAttention(8, 2, kdim=5, vdim=5, batch_first=True).eval()
    with torch.no_grad():
        ref.q_proj_weight.copy_(ours.q_proj.weight)
        ref.k_proj_weight.copy_(ours.k_proj.weight)
        ref.v_proj_weight.copy_(ours.v_proj.weight)
        ref.in_proj_bias.copy_(torch.cat([ours.q_proj.bias, ours.k_proj.bias, ours.v_proj.bias]))
        ref.out_proj.weight.copy_(ours.out_proj.weight)
        ref.out_proj.bias.copy_(ours.out_proj.bias)
    text, image = torch.randn(3, 4, 8), torch.randn(3, 9, 5)
    mask = torch.ones(3, 9, dtype=torch.bool)
    mask[1, 5:] = False
    out, w = ours(text, image, mask, need_weights=True)
    out_ref, w_ref = ref(text, image, image, key_padding_mask=~mask, average_attn_weights=False)
    torch.testing.assert_close(out, out_ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(w, w_ref, atol=1e-6, rtol=1e-5)
    # weights: sum to one over real regions, exactly zero on padded ones
    torch.testing.assert_close(w.sum(-1), torch.ones(3, 2, 4))
    assert torch.equal(w[1, :, :, 5:], torch.zeros(2, 4, 4))


def test_cross_modal_attention_fully_masked_context_gives_zeros_not_nan():
    att = CrossModalAttention(4, 6, 8, 2)
    mask = torch.ones(2, 3, dtype=torch.bool)
    mask[0] = False
    out, w = att(torch.randn(2, 5, 4), torch.randn(2, 3, 6), mask, need_weights=True)
    assert torch.isfinite(out).all() and torch.equal(w[0], torch.zeros_like(w[0]))
    torch.testing.assert_close(out[0], att.out_proj.bias.expand(5, 8))  # zero context, then W_O's bias


def test_cross_modal_attention_names_mismatched_modalities():
    att = CrossModalAttention(4, 6, 8, 2)
    with pytest.raises(ShapeError, match=r"context must be \(N, S, 6\).*flattened to regions"):
        att(torch.randn(2, 5, 4), torch.randn(2, 6, 3, 3))
    with pytest.raises(ShapeError, match=r"query must be \(N, L, 4\)"):
        att(torch.randn(2, 5, 6), torch.randn(2, 3, 6))
    with pytest.raises(ShapeError, match="different batch sizes"):
        att(torch.randn(2, 5, 4), torch.randn(3, 3, 6))
    with pytest.raises(ShapeError, match="context_mask must be boolean"):
        att(torch.randn(2, 5, 4), torch.randn(2, 3, 6), torch.ones(2, 3))
    with pytest.raises(ConfigError, match="divisible"):
        CrossModalAttention(4, 6, 10, 3)


def test_erratum_cross_modal_sqrt_of_an_int():
    """Catalogue C9 / L7-15 (book l. 16379-16425): ``torch.sqrt(self.depth)`` with an int depth
    raises TypeError; the scale is ``1 / math.sqrt(d_k)``."""
    with pytest.raises(TypeError):
        torch.sqrt(4)
    att = CrossModalAttention(4, 4, 4, 1).eval()
    with torch.no_grad():
        for lin in (att.q_proj, att.k_proj, att.v_proj, att.out_proj):
            lin.weight.copy_(torch.eye(4))
            lin.bias.zero_()
    q, c = torch.randn(1, 2, 4), torch.randn(1, 3, 4)
    _, w = att(q, c, need_weights=True)
    torch.testing.assert_close(w[0, 0], torch.softmax(q[0] @ c[0].T / math.sqrt(4), -1))


def test_erratum_vqa_view_with_the_input_channel_count():
    """Catalogue L7-16..18 (book l. 16433-16510): ``vision_encoder(vision).view(B, vision.size(1),
    -1)`` uses the *input's* 3 channels, so regions get the wrong width; regions are the encoder's
    channels, ``feats.flatten(2).transpose(1, 2)`` -> ``(B, H·W, hidden)``."""
    conv = nn.Conv2d(3, 16, 3, padding=1)
    image = torch.randn(2, 3, 4, 4)
    feats = conv(image)
    with pytest.raises(RuntimeError):  # 16·4·4 values per image do not split into 3 rows
        feats.view(2, image.size(1), -1)
    wide = conv(torch.randn(2, 3, 6, 6))  # 16·36 = 576 = 3·192: the view "works" with width 192
    assert wide.view(2, 3, -1).shape[-1] == 192
    regions = feats.flatten(2).transpose(1, 2)
    assert regions.shape == (2, 16, 16)
    CrossModalAttention(8, 16, 8, 8)(torch.randn(2, 5, 8), regions)  # the book's 8 heads, hidden 16


# ----------------------------------------------------------------------------- video, adaptive
def test_spatio_temporal_attention_weights_and_context():
    att = SpatioTemporalAttention(6).double()
    F_ = torch.randn(2, 5, 6, 3, 3, dtype=torch.double)
    frames = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=torch.bool)
    out = att(F_, frames)
    torch.testing.assert_close(out.spatial_weights.sum((2, 3)), torch.ones(2, 5, dtype=torch.double))
    torch.testing.assert_close(out.frame_weights.sum(1), torch.ones(2, dtype=torch.double))
    assert torch.equal(out.frame_weights[1, 3:], torch.zeros(2, dtype=torch.double))
    f = (out.spatial_weights[:, :, None] * F_).sum((3, 4))  # f_t = sum_ij A_t,ij F_t,ij
    torch.testing.assert_close(out.context, torch.einsum("bt,btc->bc", out.frame_weights, f))
    base = SpatioTemporalAttention(6, spatial="mean", temporal="mean").double()
    torch.testing.assert_close(base(F_).context, F_.mean((1, 3, 4)))
    with pytest.raises(ShapeError, match=r"\(B, T, 6, h, w\)"):
        att(torch.randn(2, 5, 3, 3))


def test_erratum_temporal_attention_scores_frames_not_a_mean():
    """Catalogue C15 / L7-28 (book l. 16916-16969): ``Linear(in_channels, seq_len)`` applied to
    ``x.mean(dim=2)`` of shape ``(B, T)`` is a size mismatch (it raises); each frame must be
    scored from its own features, and the attention is applied once."""
    B, T, D = 2, 5, 8
    x = torch.randn(B, T, D)
    with pytest.raises(RuntimeError):
        nn.Linear(D, T)(x.mean(dim=2))
    c, w = AttentionPooling(D, activation="relu")(x)
    assert c.shape == (B, D) and w.shape == (B, T)


def test_adaptive_attention_gives_one_context_per_target_step():
    model = AdaptiveAttentionSeq(input_dim=3, target_dim=4, hidden_size=6, output_dim=5)
    src, tgt = torch.randn(2, 7, 3), torch.randn(2, 4, 4)
    mask = torch.ones(2, 7, dtype=torch.bool)
    mask[0, 5:] = False
    out, w = model(src, tgt, mask)
    assert out.shape == (2, 4, 5) and w.shape == (2, 4, 7)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 4))
    assert torch.equal(w[0, :, 5:], torch.zeros(4, 2))
    with pytest.raises(ShapeError, match=r"tgt must be"):
        model(src, torch.randn(3, 4, 4))


def test_erratum_adaptive_attention_bmm_on_2d_weights():
    """Catalogue C12 / L7-20..22 (book l. 16573-16633): ``attn_weights.bmm(encoder_outputs)`` with
    ``(B, L)`` weights raises (bmm needs 3-D), and the decoder outputs are discarded, so the model
    would emit one vector per sequence; ours emits one per target step."""
    weights, enc = torch.softmax(torch.randn(2, 7), 1), torch.randn(2, 7, 6)
    with pytest.raises(RuntimeError):
        weights.bmm(enc)
    out, _ = AdaptiveAttentionSeq(3, 4, 6, 5)(torch.randn(2, 7, 3), torch.randn(2, 9, 4))
    assert out.shape[1] == 9
