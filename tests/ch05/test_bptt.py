"""Hand-written BPTT vs autograd, gradient diagnostics, zoneout and recurrent dropout."""

import pytest
import torch

from tensorprism.errors import ConfigError
from tensorprism.functional.recurrent import (
    elman_bptt,
    elman_cell,
    hidden_grad_norms,
    jacobian_product_norm,
    lstm_bptt,
    lstm_cell,
    spectral_radius,
    unroll,
    variational_mask,
    zoneout,
)
from tensorprism.nn.recurrent import LSTM, RecurrentLoop, VariationalDropout

T = torch.tensor


def _autograd_elman(x, h0, w_hx, w_hh, b_h, w_hy, b_y, target, nonlinearity):
    params = [p.clone().requires_grad_() for p in (w_hx, w_hh, b_h, w_hy, b_y, h0)]
    w_hx, w_hh, b_h, w_hy, b_y, h0 = params
    out, _ = unroll(lambda xt, h: elman_cell(xt, h, w_hx, w_hh, b_h, None, nonlinearity), x, h0)
    y = out @ w_hy.t() + b_y
    loss = ((y - target) ** 2).sum()
    return torch.autograd.grad(loss, params), out


def test_exercise_1_forward_and_bptt_gradients():
    """Exercise 1 (l. 12892-12901), L = (y - 1)^2: values derived in the catalogue."""
    w_hx, w_hh = T([[0.5, 0.2], [0.1, 0.4]]), T([[0.3, 0.6], [0.7, 0.9]])
    w_hy, b_h, b_y = T([[1.0, 0.8]]), T([0.1, 0.2]), T([0.3])
    x, h0 = T([[[0.6, 0.9]]]), torch.zeros(1, 2)
    g = elman_bptt(x, h0, w_hx, w_hh, b_h, w_hy, b_y, lambda y, t: 2 * (y - 1.0))
    torch.testing.assert_close(g["h"][0, 0], T([0.522665, 0.551128]), atol=1e-6, rtol=0)
    torch.testing.assert_close(g["w_hy"], T([[0.275516, 0.290519]]), atol=1e-6, rtol=0)
    torch.testing.assert_close(g["w_hx"], T([[0.22988, 0.34482], [0.176171, 0.264256]]), atol=1e-5, rtol=0)
    assert g["w_hh"].abs().max() == 0  # h0 = 0
    y1 = g["h"][0, 0] @ w_hy[0] + b_y
    torch.testing.assert_close(y1, T([1.263568]), atol=1e-6, rtol=0)


def test_exercise_9_scalar_rnn_with_identity_readout():
    """Exercise 9 (l. 12972-12975), read-out y_t = h_t assumed (the book gives no output weight):
    h = (0.537050, 0.485106); MSE against (0.5, 0) differentiated by hand and by autograd."""
    x, h0 = T([[[1.0], [0.0]]], dtype=torch.float64), torch.zeros(1, 1, dtype=torch.float64)
    w_hx, w_hh, b = T([[0.5]], dtype=torch.float64), T([[0.8]], dtype=torch.float64), T([0.1], dtype=torch.float64)
    w_hy, b_y, target = torch.ones(1, 1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64), T([[[0.5], [0.0]]], dtype=torch.float64)
    g = elman_bptt(x, h0, w_hx, w_hh, b, w_hy, b_y, lambda y, t: 2 * (y - target[:, t]))
    torch.testing.assert_close(g["h"][0, :, 0], T([0.537050, 0.485106], dtype=torch.float64), atol=1e-6, rtol=0)
    auto, _ = _autograd_elman(x, h0, w_hx, w_hh, b, w_hy, b_y, target, "tanh")
    torch.testing.assert_close(g["w_hh"], auto[1])
    torch.testing.assert_close(g["b_h"], auto[2])


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_manual_bptt_matches_autograd(nonlinearity):
    torch.manual_seed(1)
    B, Tn, I, H, O = 3, 7, 4, 5, 2
    x, h0 = torch.randn(B, Tn, I, dtype=torch.float64), torch.randn(B, H, dtype=torch.float64)
    w_hx, w_hh = torch.randn(H, I, dtype=torch.float64) * 0.5, torch.randn(H, H, dtype=torch.float64) * 0.5
    b_h, w_hy, b_y = torch.randn(H, dtype=torch.float64), torch.randn(O, H, dtype=torch.float64), torch.randn(O, dtype=torch.float64)
    target = torch.randn(B, Tn, O, dtype=torch.float64)
    g = elman_bptt(x, h0, w_hx, w_hh, b_h, w_hy, b_y, lambda y, t: 2 * (y - target[:, t]), nonlinearity)
    auto, _ = _autograd_elman(x, h0, w_hx, w_hh, b_h, w_hy, b_y, target, nonlinearity)
    for name, ga in zip(("w_hx", "w_hh", "b_h", "w_hy", "b_y", "h0"), auto, strict=True):
        torch.testing.assert_close(g[name], ga, atol=1e-10, rtol=1e-10)


def test_manual_lstm_bptt_matches_autograd():
    """Exercise 15 (l. 13007-13012) in general form: hand-written LSTM BPTT == autograd."""
    torch.manual_seed(3)
    B, Tn, I, H = 2, 5, 3, 4
    d = torch.float64
    x, h0, c0 = torch.randn(B, Tn, I, dtype=d), torch.randn(B, H, dtype=d), torch.randn(B, H, dtype=d)
    w_ih, w_hh, b = torch.randn(4 * H, I, dtype=d), torch.randn(4 * H, H, dtype=d), torch.randn(4 * H, dtype=d)
    w_hy, b_y, target = torch.randn(1, H, dtype=d), torch.randn(1, dtype=d), torch.randn(B, Tn, 1, dtype=d)
    g = lstm_bptt(x, (h0, c0), w_ih, w_hh, b, w_hy, b_y, lambda y, t: 2 * (y - target[:, t]))
    params = [p.clone().requires_grad_() for p in (w_ih, w_hh, b, w_hy, b_y)]
    out, _ = unroll(lambda xt, s: lstm_cell(xt, s, params[0], params[1], params[2]), x, (h0, c0))
    loss = (((out @ params[3].t() + params[4]) - target) ** 2).sum()
    for name, ga in zip(("w_ih", "w_hh", "b", "w_hy", "b_y"), torch.autograd.grad(loss, params), strict=True):
        torch.testing.assert_close(g[name], ga, atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(g["h"], out)


def test_erratum_bptt_needs_total_hidden_gradient():
    """E2 (l. 9882-9887): summing only the *immediate* dL_t/dh_t gives the wrong dW_hx when the
    loss at later steps depends on earlier states; the total dL/dh_t recursion is required."""
    torch.manual_seed(2)
    x, h0 = torch.randn(1, 4, 2, dtype=torch.float64), torch.zeros(1, 3, dtype=torch.float64)
    w_hx, w_hh = torch.randn(3, 2, dtype=torch.float64), torch.randn(3, 3, dtype=torch.float64)
    b_h, w_hy, b_y = torch.zeros(3, dtype=torch.float64), torch.randn(1, 3, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)
    g = elman_bptt(x, h0, w_hx, w_hh, b_h, w_hy, b_y, lambda y, t: torch.ones_like(y))
    h = g["h"][0]
    local = sum(((w_hy[0]) * (1 - h[t] ** 2))[:, None] * x[0, t][None] for t in range(4))
    assert (local - g["w_hx"]).abs().max() > 1e-3


def test_erratum_exercise_2_saturation_vanishes_despite_spectral_radius_above_one():
    """E3 (l. 9909 omits diag f'(a)) with Exercise 2 (l. 12902-12909): rho(W_hh) = 2.11 > 1, yet tanh saturates and
    ||dh_50/dh_1|| ~ 2.6e-35; without tanh the states explode."""
    w_xh, w_hh = T([[0.01, 0.02], [0.03, 0.04]], dtype=torch.float64), T([[1.2, 0.8], [0.7, 1.5]], dtype=torch.float64)
    torch.testing.assert_close(spectral_radius(w_hh), T(2.1132, dtype=torch.float64), atol=1e-4, rtol=0)
    x = torch.full((1, 50, 2), 0.1, dtype=torch.float64)
    out, _ = unroll(lambda xt, h: elman_cell(xt, h, w_xh, w_hh), x, torch.zeros(1, 2, dtype=torch.float64))
    torch.testing.assert_close(out[0, 0], T([0.003, 0.007], dtype=torch.float64), atol=1e-6, rtol=0)
    torch.testing.assert_close(out[0, -1], T([0.9589, 0.9725], dtype=torch.float64), atol=1e-4, rtol=0)
    norms = jacobian_product_norm(list(out[0]), w_hh)
    assert 1e-36 < norms[-1] < 1e-34
    h = torch.zeros(2, dtype=torch.float64)
    for _ in range(50):
        h = w_xh @ x[0, 0] + w_hh @ h
    assert h.min() > 1e13  # linear recurrence explodes


def test_hidden_grad_norms_show_vanishing_and_exploding():
    torch.manual_seed(0)
    x = torch.rand(1, 30, 3)

    def norms(scale):  # ReLU units stay active, so dh_T/dh_t = scale^(T-t) exactly
        w_ih, w_hh = torch.rand(8, 3) * 0.1, torch.eye(8) * scale
        step = lambda xt, h: elman_cell(xt, h, w_ih, w_hh, nonlinearity="relu")  # noqa: E731
        return hidden_grad_norms(step, x, torch.ones(1, 8), lambda out: out[:, -1].sum())

    small, large = norms(0.5), norms(1.5)
    torch.testing.assert_close(small[0] / small[-1], torch.tensor(0.5**29))  # vanishing
    torch.testing.assert_close(large[0] / large[-1], torch.tensor(1.5**29))  # exploding


def test_erratum_zoneout_keeps_previous_with_probability_p():
    """E5 (l. 11128 vs 11130): p is the probability of *keeping the previous* value."""
    prev, new = torch.zeros(200_000), torch.ones(200_000)
    out = zoneout(prev, new, 0.3, training=True)
    assert abs((out == 0).float().mean().item() - 0.3) < 0.01
    torch.testing.assert_close(zoneout(prev, new, 0.3, training=False), torch.full_like(new, 0.7))
    assert zoneout(prev, new, 0.0, training=True) is new
    with pytest.raises(ConfigError):
        zoneout(prev, new, 1.0, training=True)


def test_zoneout_loop_freezes_units_and_eval_is_deterministic():
    torch.manual_seed(0)
    loop = RecurrentLoop("rnn", 2, 64, zoneout=0.5)
    x = torch.randn(4, 10, 2)
    out, _ = loop(x)
    same = (out[:, 1:] == out[:, :-1]).float().mean().item()
    assert 0.4 < same < 0.6
    loop.eval()
    torch.testing.assert_close(loop(x)[0], loop(x)[0])


def test_variational_dropout_uses_one_mask_for_all_steps():
    torch.manual_seed(0)
    drop = VariationalDropout(0.5)
    y = drop(torch.ones(3, 7, 11))
    assert torch.all(y == y[:, :1])
    assert set(y.unique().tolist()) <= {0.0, 2.0}
    m = variational_mask((1000, 50), 0.2, torch.ones(1))
    assert abs(m.mean().item() - 1.0) < 0.02
    drop.eval()
    assert torch.all(drop(torch.ones(3, 7, 11)) == 1)


def test_recurrent_dropout_only_in_training_and_shared_over_time():
    torch.manual_seed(0)
    for mode in ("rnn", "lstm", "gru"):
        loop = RecurrentLoop(mode, 3, 6, recurrent_dropout=0.5)
        ref = RecurrentLoop(mode, 3, 6)
        ref.load_state_dict(loop.state_dict())
        x = torch.randn(2, 5, 3)
        assert (loop(x)[0] - ref(x)[0]).abs().max() > 1e-4
        loop.eval()
        torch.testing.assert_close(loop(x)[0], ref(x)[0])


def test_erratum_truncated_bptt_carries_and_detaches_state():
    """C8 (listings #18/#19, l. 10938-11024) and T1: segments continue from the previous segment's final state (forward equals the
    full sequence) and gradients stop at the segment boundary."""
    torch.manual_seed(0)
    lstm = LSTM(2, 4)
    x = torch.randn(3, 12, 2)
    full, _ = lstm(x)
    state, outs = None, []
    from tensorprism.nn.recurrent import detach_state

    for seg in x.split(4, dim=1):
        seg = seg.clone().requires_grad_()
        out, state = lstm(seg, state)
        outs.append(out)
        g = torch.autograd.grad(out.sum(), seg)[0]
        assert g.abs().sum() > 0
        state = detach_state(state)
        assert not state[0].requires_grad
    torch.testing.assert_close(torch.cat(outs, 1), full, atol=1e-6, rtol=1e-6)
