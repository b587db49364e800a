"""Reference cells (book equations) vs the book's exercises and vs torch's fused layers."""

import pytest
import torch

from tensorprism.errors import ConfigError, ShapeError
from tensorprism.functional.recurrent import (
    elman_cell,
    gru_cell,
    lstm_cell,
    recurrent_reference,
    unroll,
)
from tensorprism.nn.recurrent import (
    GRU,
    LSTM,
    RNN,
    RecurrentLoop,
    gru_from_book,
    gru_to_book,
    keras_gru_to_torch,
    keras_lstm_to_torch,
    lstm_from_book,
    lstm_to_book,
    torch_gru_to_keras,
    torch_lstm_to_keras,
)

T = torch.tensor


def test_elman_exercise_6_and_12_hidden_states():
    # Exercise 12 (l. 12988-12992): W_x=(0.1,0.2)^T, W_h, b=0, x=[0.5,1.0,1.5]
    w_x, w_h = T([[0.1], [0.2]]), T([[0.5, 0.1], [0.2, 0.5]])
    step = lambda xt, h: elman_cell(xt, h, w_x, w_h)  # noqa: E731
    out, _ = unroll(step, T([[[0.5], [1.0], [1.5]]]), torch.zeros(1, 2))
    ref = T([[0.049958, 0.099668], [0.134133, 0.254132], [0.237836, 0.425094]])
    torch.testing.assert_close(out[0], ref, atol=1e-6, rtol=0)
    # Exercise 6 (l. 12940-12944)
    w_x, w_h, b = T([[0.5], [1.0]]), T([[0.1, 0.2], [0.3, 0.4]]), T([0.1, 0.2])
    step = lambda xt, h: elman_cell(xt, h, w_x, w_h, b)  # noqa: E731
    out, _ = unroll(step, T([[[1.0], [2.0], [3.0]]]), torch.zeros(1, 2))
    ref = T([[0.53705, 0.833655], [0.866892, 0.99091], [0.954923, 0.999106]])
    torch.testing.assert_close(out[0], ref, atol=1e-6, rtol=0)


def test_lstm_exercise_3_in_book_gate_order():
    """Exercise 3 (l. 12910-12919) written with the book's f, i, C̃(=g), o gates."""
    W = {"f": T([[0.5, 0.1], [0.3, 0.7]]), "i": T([[0.6, 0.2], [0.4, 0.8]]),
         "o": T([[0.7, 0.3], [0.5, 0.9]]), "g": T([[0.8, 0.4], [0.6, 1.0]])}
    b = {"f": T([0.1, 0.2]), "i": T([0.2, 0.3]), "o": T([0.3, 0.4]), "g": T([0.4, 0.5])}
    U = {k: torch.zeros(2, 2) for k in W}
    p = lstm_from_book(W, U, b)
    h, c = lstm_cell(T([[0.5, 0.8]]), (torch.zeros(1, 2), torch.zeros(1, 2)),
                     p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"])
    torch.testing.assert_close(c[0], T([0.532398, 0.698329]), atol=1e-6, rtol=0)
    torch.testing.assert_close(h[0], T([0.34538, 0.481065]), atol=1e-6, rtol=0)


def test_lstm_exercise_13_one_step():
    w, u, b = T([[0.1, 0.2], [0.3, 0.4]]), T([[0.5, 0.6], [0.7, 0.8]]), T([0.1, 0.2])
    p = lstm_from_book({k: w for k in "fico"}, {k: u for k in "fico"}, {k: b for k in "fico"})
    h, c = lstm_cell(T([[1.0, 2.0]]), (T([[0.5, 0.5]]), T([[0.5, 0.5]])), *p.values())
    torch.testing.assert_close(c[0], T([1.000849, 1.300035]), atol=1e-6, rtol=0)
    torch.testing.assert_close(h[0], T([0.57871, 0.76345]), atol=1e-5, rtol=0)


def test_erratum_gru_conventions_exercise_7_and_14():
    """E1 (l. 10141-10145 vs l. 12950): the book's GRU update keeps h_{t-1} with weight 1-z,
    PyTorch/Keras with weight z; Exercise 14 has two answers depending on the convention."""
    ones = torch.ones(6, 2)
    x, h = T([[1.0, 0.0]]), T([[0.5, 0.5]])
    book = gru_cell(x, h, ones, ones, torch.ones(6), torch.zeros(6), reset_after=True)
    torch_conv = gru_cell(x, h, ones, ones, torch.ones(6), torch.zeros(6), reset_after=True,
                          z_keeps_previous=True)
    torch.testing.assert_close(book[0], T([0.971109, 0.971109]), atol=1e-6, rtol=0)
    torch.testing.assert_close(torch_conv[0], T([0.523455, 0.523455]), atol=1e-6, rtol=0)
    # Exercise 14: shared w, u, b; x treated as one 2-vector; h0 = 0
    w, u, b = T([[0.1, 0.2], [0.3, 0.4]]), T([[0.5, 0.6], [0.7, 0.8]]), T([0.1, 0.2])
    W, U, B = torch.cat([w] * 3), torch.cat([u] * 3), torch.cat([b] * 3)
    x, h0 = T([[0.5, 1.0]]), torch.zeros(1, 2)
    for reset_after in (False, True):
        h1 = gru_cell(x, h0, W, U, B, torch.zeros(6), reset_after=reset_after)
        torch.testing.assert_close(h1[0], T([0.197324, 0.43138]), atol=1e-6, rtol=0)
    h1 = gru_cell(x, h0, W, U, B, torch.zeros(6), z_keeps_previous=True)
    torch.testing.assert_close(h1[0], T([0.139052, 0.203769]), atol=1e-6, rtol=0)


def test_gru_reset_before_differs_from_reset_after():
    g = torch.Generator().manual_seed(1)
    w_ih, w_hh = torch.randn(9, 4, generator=g), torch.randn(9, 3, generator=g)
    b_ih, b_hh = torch.randn(9, generator=g), torch.randn(9, generator=g)
    x, h = torch.randn(2, 4, generator=g), torch.randn(2, 3, generator=g)
    a = gru_cell(x, h, w_ih, w_hh, b_ih, b_hh, reset_after=False)
    b = gru_cell(x, h, w_ih, w_hh, b_ih, b_hh, reset_after=True)
    assert (a - b).abs().max() > 1e-3


def _fwd_bwd(run, x, params):
    out, st = run()
    h = st[0] if isinstance(st, tuple) else st
    loss = (out ** 2).sum() + (h ** 3).sum() + (st[1].sum() if isinstance(st, tuple) else 0)
    grads = torch.autograd.grad(loss, [x, *params])
    return out, st, grads


@pytest.mark.parametrize("mode", ["rnn", "lstm", "gru"])
def test_fused_layer_matches_reference_bidirectional_multilayer_packed(mode):
    """Reference (step-by-step) == fused kernel, forward and backward, to 1e-5, for a 2-layer
    bidirectional layer with variable lengths and a given initial state."""
    torch.manual_seed(0)
    cls = {"rnn": RNN, "lstm": LSTM, "gru": GRU}[mode]
    layer = cls(5, 4, num_layers=2, bidirectional=True)
    B, Tn = 3, 6
    x = torch.randn(B, Tn, 5, requires_grad=True)
    lengths = torch.tensor([6, 2, 4])
    h0 = torch.randn(4, B, 4)
    hx = (h0, torch.randn(4, B, 4)) if mode == "lstm" else h0
    params = dict(layer.named_parameters())
    out, st, grads = _fwd_bwd(lambda: layer(x, hx, lengths=lengths), x, params.values())
    r_out, r_st, r_grads = _fwd_bwd(
        lambda: recurrent_reference(mode, x, params, num_layers=2, bidirectional=True, hx=hx,
                                    lengths=lengths),
        x, params.values())
    torch.testing.assert_close(out, r_out, atol=1e-5, rtol=1e-5)
    for a, b in zip(st if isinstance(st, tuple) else (st,), r_st if isinstance(r_st, tuple) else (r_st,), strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    assert out[1, 2:].abs().max() == 0  # padded steps are zero
    for ga, gb in zip(grads, r_grads, strict=True):
        torch.testing.assert_close(ga, gb, atol=1e-5, rtol=1e-5)


def test_lstm_projection_matches_reference():
    layer = LSTM(3, 5, proj_size=2)
    x = torch.randn(2, 4, 3)
    out, (h, c) = layer(x)
    r_out, (rh, rc) = recurrent_reference("lstm", x, dict(layer.named_parameters()))
    assert out.shape == (2, 4, 2) and c.shape == (1, 2, 5)
    torch.testing.assert_close(out, r_out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(c, rc, atol=1e-5, rtol=1e-5)


def test_sequence_first_layout_and_shape_error():
    layer = GRU(3, 4, batch_first=False)
    x = torch.randn(5, 2, 3)
    out, h = layer(x, lengths=torch.tensor([5, 3]))
    assert out.shape == (5, 2, 4) and h.shape == (1, 2, 4)
    torch.testing.assert_close(h[0, 1], out[2, 1])
    with pytest.raises(ShapeError, match="batch_first"):
        layer(torch.randn(2, 5, 4))


def test_forget_bias_initialisation():
    layer = LSTM(3, 4, forget_bias=1.0)
    assert torch.all(layer.bias_ih_l0[4:8] == 1.0) and torch.all(layer.bias_hh_l0[4:8] == 0.0)


def test_book_gru_update_equals_fused_gru_with_negated_z():
    """The book's z convention is PyTorch's with the z rows negated (gru_from_book)."""
    g = torch.Generator().manual_seed(3)
    W = {k: torch.randn(4, 3, generator=g) for k in "zrh"}
    U = {k: torch.randn(4, 4, generator=g) for k in "zrh"}
    b = {k: torch.randn(4, generator=g) for k in "zrh"}
    x, h = torch.randn(2, 3, generator=g), torch.randn(2, 4, generator=g)
    book = gru_from_book(W, U, b, z_keeps_previous=False)
    ref = gru_cell(x, h, *book.values(), reset_after=True)  # book update, reset-after
    layer = GRU(3, 4)
    with torch.no_grad():
        for k, v in gru_from_book(W, U, b).items():
            getattr(layer, f"{k}_l0").copy_(v)
    out, _ = layer(x[:, None], h[None])
    torch.testing.assert_close(out[:, 0], ref, atol=1e-6, rtol=1e-6)
    W2, U2, b2, b_hn = gru_to_book(*gru_from_book(W, U, b).values())
    for k in "zrh":
        torch.testing.assert_close(W2[k], W[k])
        torch.testing.assert_close(b2[k], b[k])
    assert b_hn.abs().max() == 0


def test_lstm_layout_round_trips_book_and_keras():
    layer = torch.nn.LSTM(3, 4)
    p = {k.removesuffix("_l0"): v.detach() for k, v in layer.named_parameters()}
    W, U, b = lstm_to_book(**p)
    assert list(W) == ["f", "i", "c", "o"]
    torch.testing.assert_close(W["f"], p["weight_ih"][4:8])  # torch's second block is f
    back = lstm_from_book(W, U, b)
    torch.testing.assert_close(back["weight_ih"], p["weight_ih"])
    torch.testing.assert_close(back["bias_ih"] + back["bias_hh"], p["bias_ih"] + p["bias_hh"])
    k = torch_lstm_to_keras(**p)
    assert k["kernel"].shape == (3, 16)
    t = keras_lstm_to_torch(**k)
    torch.testing.assert_close(t["weight_hh"], p["weight_hh"])


def test_keras_gru_layout_runs_keras_equations():
    """Keras GRU (reset_after=True): kernel (I, 3H) in z, r, h order, bias (2, 3H)."""
    g = torch.Generator().manual_seed(5)
    I, H = 3, 2
    kernel, rec, bias = torch.randn(I, 3 * H, generator=g), torch.randn(H, 3 * H, generator=g), torch.randn(2, 3 * H, generator=g)
    x, h = torch.randn(1, I, generator=g), torch.randn(1, H, generator=g)
    # Keras' GRUCell equations written out
    xz, xr, xh = (x @ kernel + bias[0]).chunk(3, -1)
    hz, hr, hh = (h @ rec + bias[1]).chunk(3, -1)
    z, r = torch.sigmoid(xz + hz), torch.sigmoid(xr + hr)
    keras_h = z * h + (1 - z) * torch.tanh(xh + r * hh)
    p = keras_gru_to_torch(kernel, rec, bias)
    ours = gru_cell(x, h, *p.values(), reset_after=True, z_keeps_previous=True)
    torch.testing.assert_close(ours, keras_h)
    back = torch_gru_to_keras(**p)
    torch.testing.assert_close(back["bias"], bias)
    torch.testing.assert_close(back["kernel"], kernel)


def test_recurrent_loop_matches_fused_and_options():
    loop = RecurrentLoop("gru", 3, 4, reset_after=True, z_keeps_previous=True)
    fused = GRU(3, 4)
    fused.load_state_dict(loop.state_dict())
    x = torch.randn(2, 5, 3)
    torch.testing.assert_close(loop(x)[0], fused(x)[0], atol=1e-6, rtol=1e-6)
    peep = RecurrentLoop("lstm", 3, 4, peephole=True)
    assert "peephole=True" in repr(peep)
    out, (h, c) = peep(x, lengths=torch.tensor([5, 2]))
    torch.testing.assert_close(h[1], out[1, 1])
    with pytest.raises(ConfigError):
        RecurrentLoop("gru", 3, 4, peephole=True)


def test_lstm_peepholes_follow_gers_schmidhuber():
    """Peepholes: i, f see C_{t-1}; o sees C_t. Zero peephole weights give the plain LSTM."""
    torch.manual_seed(0)
    peep = RecurrentLoop("lstm", 3, 4, peephole=True)
    plain = LSTM(3, 4)
    plain.load_state_dict({k: v for k, v in peep.state_dict().items() if k != "weight_peep"})
    x = torch.randn(2, 5, 3)
    with torch.no_grad():
        peep.weight_peep.zero_()
    torch.testing.assert_close(peep(x)[0], plain(x)[0], atol=1e-6, rtol=1e-6)
    with torch.no_grad():
        peep.weight_peep.fill_(0.5)
    w_ih, w_hh, b = peep.weight_ih_l0, peep.weight_hh_l0, peep.bias_ih_l0 + peep.bias_hh_l0
    h, c = torch.zeros(2, 4), torch.ones(2, 4)
    a = x[:, 0] @ w_ih.t() + h @ w_hh.t() + b
    i, f = torch.sigmoid(a[:, :4] + 0.5 * c), torch.sigmoid(a[:, 4:8] + 0.5 * c)
    c_new = f * c + i * torch.tanh(a[:, 8:12])
    h_new = torch.sigmoid(a[:, 12:] + 0.5 * c_new) * torch.tanh(c_new)
    out, (h1, c1) = peep(x[:, :1], (h, c))
    torch.testing.assert_close(h1, h_new)
    torch.testing.assert_close(c1, c_new)


def test_recurrent_loop_sequence_first_and_lstm_zoneout():
    torch.manual_seed(0)
    loop = RecurrentLoop("gru", 3, 4, batch_first=False)
    x = torch.randn(6, 2, 3)  # (T, B, I)
    out, h = loop(x)
    batch_first = RecurrentLoop("gru", 3, 4)
    batch_first.load_state_dict(loop.state_dict())
    torch.testing.assert_close(out, batch_first(x.transpose(0, 1))[0].transpose(0, 1))
    assert h.shape == (2, 4)
    zo = RecurrentLoop("lstm", 3, 32, zoneout=0.5)
    _, (h, c) = zo(torch.randn(4, 1, 3), (torch.zeros(4, 32), torch.full((4, 32), 7.0)))
    kept = (c == 7.0).float().mean().item()  # cells that zoned out keep their previous value
    assert 0.35 < kept < 0.65
