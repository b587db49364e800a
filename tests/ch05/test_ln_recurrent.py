"""Layer-normalised LSTM / GRU (Ba, Kiros & Hinton 2016) vs the paper's equations written out here."""

import pytest
import torch

from tensorprism.errors import ShapeError
from tensorprism.functional.recurrent import gru_cell, ln_gru_cell, ln_lstm_cell, lstm_cell
from tensorprism.nn.ln_recurrent import LayerNormGRU, LayerNormLSTM

D = torch.float64


def _ln(a, gain, bias, eps):
    """LN(a) = gain * (a - mean) / sqrt(var + eps) + bias over the last axis, biased variance."""
    mu = a.sum(-1, keepdim=True) / a.shape[-1]
    var = ((a - mu) ** 2).sum(-1, keepdim=True) / a.shape[-1]
    return gain * (a - mu) / torch.sqrt(var + eps) + bias


def _sig(a):
    return 1.0 / (1.0 + torch.exp(-a))


def _paper_lstm(x, h, c, W_x, W_h, g_x, b_x, g_h, b_h, g_c, b_c, eps):
    """Ba et al. (2016), supplementary LN-LSTM; rows i, f, g, o."""
    H = h.shape[1]
    a = _ln(x @ W_x.T, g_x, b_x, eps) + _ln(h @ W_h.T, g_h, b_h, eps)
    a_i, a_f, a_g, a_o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
    c_new = _sig(a_f) * c + _sig(a_i) * torch.tanh(a_g)
    h_new = _sig(a_o) * torch.tanh(_ln(c_new, g_c, b_c, eps))
    return h_new, c_new


def _paper_gru(x, h, W_x, W_h, g_x, b_x, g_h, b_h, eps, z_keeps_previous):
    """LN on both projections, reset applied after the recurrent product; rows r, z, n."""
    H = h.shape[1]
    ax = _ln(x @ W_x.T, g_x, b_x, eps)
    ah = _ln(h @ W_h.T, g_h, b_h, eps)
    r = _sig(ax[:, :H] + ah[:, :H])
    z = _sig(ax[:, H:2 * H] + ah[:, H:2 * H])
    n = torch.tanh(ax[:, 2 * H:] + r * ah[:, 2 * H:])
    return (1 - z) * n + z * h if z_keeps_previous else (1 - z) * h + z * n


def test_reference_layer_norm_matches_torch():
    a = torch.randn(4, 12, dtype=D)
    g, b = torch.randn(12, dtype=D), torch.randn(12, dtype=D)
    torch.testing.assert_close(_ln(a, g, b, 1e-5), torch.nn.functional.layer_norm(a, (12,), g, b, 1e-5))


@pytest.mark.parametrize("unit_affine", [True, False])
def test_ln_lstm_cell_equals_paper_equations(unit_affine):
    torch.manual_seed(0)
    B, I, H, eps = 5, 4, 3, 1e-5
    x, h, c = torch.randn(B, I, dtype=D), torch.randn(B, H, dtype=D), torch.randn(B, H, dtype=D)
    W_x, W_h = torch.randn(4 * H, I, dtype=D), torch.randn(4 * H, H, dtype=D)
    if unit_affine:
        aff = [torch.ones(4 * H, dtype=D), torch.zeros(4 * H, dtype=D)] * 2 + [
            torch.ones(H, dtype=D), torch.zeros(H, dtype=D)]
    else:
        aff = [torch.randn(n, dtype=D) for n in (4 * H,) * 4 + (H, H)]
    h_ref, c_ref = _paper_lstm(x, h, c, W_x, W_h, *aff, eps)
    h_new, c_new = ln_lstm_cell(x, (h, c), W_x, W_h, *aff, eps=eps)
    torch.testing.assert_close(h_new, h_ref, atol=1e-12, rtol=0)
    torch.testing.assert_close(c_new, c_ref, atol=1e-12, rtol=0)
    if unit_affine:  # None means gain 1, bias 0
        h_none, c_none = ln_lstm_cell(x, (h, c), W_x, W_h, eps=eps)
        torch.testing.assert_close(h_none, h_ref, atol=1e-12, rtol=0)
        torch.testing.assert_close(c_none, c_ref, atol=1e-12, rtol=0)
    # the paper's optional extra bias b is added to the gate pre-activations
    b = torch.randn(4 * H, dtype=D)
    h_b, _ = ln_lstm_cell(x, (h, c), W_x, W_h, aff[0], aff[1] + b, *aff[2:], bias=None, eps=eps)
    h_b2, _ = ln_lstm_cell(x, (h, c), W_x, W_h, *aff, bias=b, eps=eps)
    torch.testing.assert_close(h_b2, h_b, atol=1e-12, rtol=0)


@pytest.mark.parametrize("z_keeps_previous", [True, False])
@pytest.mark.parametrize("unit_affine", [True, False])
def test_ln_gru_cell_equals_reference_equations(unit_affine, z_keeps_previous):
    torch.manual_seed(1)
    B, I, H, eps = 5, 4, 3, 1e-5
    x, h = torch.randn(B, I, dtype=D), torch.randn(B, H, dtype=D)
    W_x, W_h = torch.randn(3 * H, I, dtype=D), torch.randn(3 * H, H, dtype=D)
    if unit_affine:
        aff = [torch.ones(3 * H, dtype=D), torch.zeros(3 * H, dtype=D)] * 2
    else:
        aff = [torch.randn(3 * H, dtype=D) for _ in range(4)]
    ref = _paper_gru(x, h, W_x, W_h, *aff, eps, z_keeps_previous)
    out = ln_gru_cell(x, h, W_x, W_h, *aff, eps=eps, z_keeps_previous=z_keeps_previous)
    torch.testing.assert_close(out, ref, atol=1e-12, rtol=0)


def test_refactored_plain_gru_reset_after_still_matches_torch():
    torch.manual_seed(2)
    cell = torch.nn.GRUCell(4, 3).double()
    x, h = torch.randn(5, 4, dtype=D), torch.randn(5, 3, dtype=D)
    out = gru_cell(x, h, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh,
                   reset_after=True, z_keeps_previous=True)
    torch.testing.assert_close(out, cell(x, h), atol=1e-12, rtol=0)


@pytest.mark.parametrize("which", ["ih", "hh"])
def test_ln_lstm_invariant_to_rescaling_a_weight_matrix(which):
    """LN(alpha W x) = LN(W x) for alpha > 0 (paper §5.1); the plain LSTM is not invariant."""
    torch.manual_seed(3)
    B, I, H, eps = 4, 5, 3, 1e-15
    x, h, c = torch.randn(B, I, dtype=D), torch.randn(B, H, dtype=D), torch.randn(B, H, dtype=D)
    W_x, W_h = torch.randn(4 * H, I, dtype=D), torch.randn(4 * H, H, dtype=D)
    aff = [torch.randn(n, dtype=D) for n in (4 * H,) * 4 + (H, H)]

    def scaled(alpha):
        return (alpha * W_x, W_h) if which == "ih" else (W_x, alpha * W_h)

    h0, c0 = ln_lstm_cell(x, (h, c), *scaled(1.0), *aff, eps=eps)
    for alpha in (0.01, 7.3, 250.0):
        h1, c1 = ln_lstm_cell(x, (h, c), *scaled(alpha), *aff, eps=eps)
        torch.testing.assert_close(h1, h0, atol=1e-10, rtol=0)
        torch.testing.assert_close(c1, c0, atol=1e-10, rtol=0)
    # the property is not vacuous: a negative factor, or the plain cell, changes the output
    h_neg, _ = ln_lstm_cell(x, (h, c), *scaled(-1.0), *aff, eps=eps)
    assert (h_neg - h0).abs().max() > 1e-3
    p0, _ = lstm_cell(x, (h, c), *scaled(1.0))
    p1, _ = lstm_cell(x, (h, c), *scaled(7.3))
    assert (p1 - p0).abs().max() > 1e-3


def test_ln_gru_invariant_to_rescaling_input_weights():
    torch.manual_seed(4)
    B, I, H, eps = 4, 5, 3, 1e-15
    x, h = torch.randn(B, I, dtype=D), torch.randn(B, H, dtype=D)
    W_x, W_h = torch.randn(3 * H, I, dtype=D), torch.randn(3 * H, H, dtype=D)
    aff = [torch.randn(3 * H, dtype=D) for _ in range(4)]
    out = ln_gru_cell(x, h, W_x, W_h, *aff, eps=eps)
    torch.testing.assert_close(ln_gru_cell(x, h, 42.0 * W_x, W_h, *aff, eps=eps), out, atol=1e-10, rtol=0)
    torch.testing.assert_close(ln_gru_cell(x, h, W_x, 0.05 * W_h, *aff, eps=eps), out, atol=1e-10, rtol=0)
    assert (gru_cell(x, h, 42.0 * W_x, W_h, reset_after=True) - gru_cell(x, h, W_x, W_h, reset_after=True)
            ).abs().max() > 1e-3


def _randomise(layer):
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
    return layer


def test_ln_lstm_layer_equals_stepping_the_cell():
    torch.manual_seed(5)
    N, T, F, H = 3, 6, 4, 5
    layer = _randomise(LayerNormLSTM(F, H, eps=1e-5).double())
    x = torch.randn(N, T, F, dtype=D)
    h0, c0 = torch.randn(N, H, dtype=D), torch.randn(N, H, dtype=D)
    out, (hT, cT) = layer(x, (h0, c0))
    assert out.shape == (N, T, H) and hT.shape == (N, H) and cT.shape == (N, H)
    h, c = h0, c0
    p = dict(layer.named_parameters())
    for t in range(T):
        h, c = _paper_lstm(x[:, t], h, c, p["weight_ih"], p["weight_hh"], p["ln_ih_weight"],
                           p["ln_ih_bias"], p["ln_hh_weight"], p["ln_hh_bias"], p["ln_c_weight"],
                           p["ln_c_bias"], 1e-5)
        torch.testing.assert_close(out[:, t], h, atol=1e-12, rtol=0)
    torch.testing.assert_close(hT, h, atol=1e-12, rtol=0)
    torch.testing.assert_close(cT, c, atol=1e-12, rtol=0)


@pytest.mark.parametrize("z_keeps_previous", [True, False])
def test_ln_gru_layer_equals_stepping_the_cell(z_keeps_previous):
    torch.manual_seed(6)
    N, T, F, H = 3, 6, 4, 5
    layer = _randomise(LayerNormGRU(F, H, z_keeps_previous=z_keeps_previous).double())
    x, h0 = torch.randn(N, T, F, dtype=D), torch.randn(N, H, dtype=D)
    out, hT = layer(x, h0)
    assert out.shape == (N, T, H) and hT.shape == (N, H)
    p, h = dict(layer.named_parameters()), h0
    for t in range(T):
        h = _paper_gru(x[:, t], h, p["weight_ih"], p["weight_hh"], p["ln_ih_weight"], p["ln_ih_bias"],
                       p["ln_hh_weight"], p["ln_hh_bias"], 1e-5, z_keeps_previous)
        torch.testing.assert_close(out[:, t], h, atol=1e-12, rtol=0)
    torch.testing.assert_close(hT, h, atol=1e-12, rtol=0)


@pytest.mark.parametrize("cls", [LayerNormLSTM, LayerNormGRU])
def test_gradcheck_through_layer(cls):
    torch.manual_seed(7)
    N, T, F, H = 2, 3, 3, 3
    layer = _randomise(cls(F, H).double())
    names = [n for n, _ in layer.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_() for p in layer.parameters())
    x = torch.randn(N, T, F, dtype=D, requires_grad=True)
    h0 = torch.randn(N, H, dtype=D, requires_grad=True)
    c0 = torch.randn(N, H, dtype=D, requires_grad=True)

    def f(x, h0, c0, *ps):
        state = (h0, c0) if cls is LayerNormLSTM else h0
        out, final = torch.func.functional_call(layer, dict(zip(names, ps, strict=True)), (x, state))
        return out, final[1] if isinstance(final, tuple) else final

    assert torch.autograd.gradcheck(f, (x, h0, c0, *params), eps=1e-6, atol=1e-6)
    # every parameter receives a non-zero gradient through the module itself
    out, _ = layer(x.detach(), None)
    out.square().sum().backward()
    for n, p in layer.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, n


def test_initial_state_and_defaults():
    torch.manual_seed(8)
    lstm, gru = LayerNormLSTM(4, 3, forget_bias=1.0), LayerNormGRU(4, 3)
    x = torch.randn(2, 5, 4)
    zeros = torch.zeros(2, 3)
    out_none, (h_none, c_none) = lstm(x)
    out_zero, (h_zero, c_zero) = lstm(x, (zeros, zeros))
    torch.testing.assert_close(out_none, out_zero)
    torch.testing.assert_close(out_none[:, -1], h_none)
    out_init, _ = lstm(x, (torch.randn(2, 3), torch.randn(2, 3)))
    assert (out_init - out_none).abs().max() > 1e-4
    g_none, gh_none = gru(x)
    g_zero, _ = gru(x, zeros)
    torch.testing.assert_close(g_none, g_zero)
    torch.testing.assert_close(g_none[:, -1], gh_none)
    # gains 1, biases 0, forget rows of the input-LN bias set by forget_bias
    torch.testing.assert_close(lstm.ln_c_weight.detach(), torch.ones(3))
    torch.testing.assert_close(lstm.ln_ih_bias.detach(), torch.tensor([0.0] * 3 + [1.0] * 3 + [0.0] * 6))
    torch.testing.assert_close(gru.ln_hh_bias.detach(), torch.zeros(9))
    # continuing from a final state equals running the whole sequence at once
    out_a, s_a = lstm(x[:, :2])
    out_b, s_b = lstm(x[:, 2:], s_a)
    torch.testing.assert_close(torch.cat([out_a, out_b], 1), out_none)
    torch.testing.assert_close(s_b[1], c_none)


def test_lengths_stop_the_state():
    torch.manual_seed(9)
    lstm = LayerNormLSTM(4, 3)
    x = torch.randn(2, 5, 4)
    out, (h, c) = lstm(x, lengths=torch.tensor([5, 2]))
    _, (h2, c2) = lstm(x[1:, :2])
    torch.testing.assert_close(h[1], h2[0])
    torch.testing.assert_close(c[1], c2[0])
    assert out[1, 2:].abs().max() == 0


@pytest.mark.parametrize("cls", [LayerNormLSTM, LayerNormGRU])
def test_wrong_input_rank_and_state_shape_raise(cls):
    layer = cls(4, 3)
    with pytest.raises(ShapeError, match=r"\(N, T, F\) with F=4, got \(5, 4\)"):
        layer(torch.randn(5, 4))
    with pytest.raises(ShapeError, match="F=4"):
        layer(torch.randn(2, 5, 6))
    bad = torch.zeros(1, 2, 3)  # a torch-style (L·D, N, H) state
    with pytest.raises(ShapeError, match=r"must be \(N, H\) = \(2, 3\)"):
        layer(torch.randn(2, 5, 4), (bad, bad) if cls is LayerNormLSTM else bad)


def test_cell_shape_errors():
    x, h = torch.randn(2, 4), torch.randn(2, 3)
    with pytest.raises(ShapeError, match=r"w_ih \(12, 4\)"):
        ln_lstm_cell(x, (h, h), torch.randn(9, 4), torch.randn(12, 3))
    with pytest.raises(ShapeError, match=r"x \(B, I\)"):
        ln_gru_cell(torch.randn(2, 5, 4), h, torch.randn(9, 4), torch.randn(9, 3))
