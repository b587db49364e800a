"""Behavioural errata of Chapter 5 not pinned elsewhere (catalogue ``book/ch05.md`` §5).

E1-E5 and C7, C22 are in ``test_recurrent_cells.py``, ``test_bptt.py``, ``test_text_data.py``,
``test_rnn_models.py`` and ``test_metrics.py``; C17 is the Ch. 3 weight-decay erratum.
"""

import torch

from tensorprism.functional.recurrent import ln_lstm_cell, variational_mask
from tensorprism.nn.recurrent import RecurrentLoop
from tensorprism.nn.rnn_attention import AdditiveAttention


def test_erratum_e6_layer_norm_needs_an_epsilon_l9949():
    """E6 (l.9949): the layer-norm equation has no ε. A pre-activation with zero spread (here: all
    weights zero, the state's first step) is then 0/0. With the library's ε = 1e-5 it is finite."""
    x, h, c = torch.randn(2, 3), torch.zeros(2, 4), torch.zeros(2, 4)
    w_ih, w_hh = torch.zeros(16, 3), torch.zeros(16, 4)
    h1, c1 = ln_lstm_cell(x, (h, c), w_ih, w_hh)
    assert torch.isfinite(h1).all() and torch.isfinite(c1).all()
    h0, _ = ln_lstm_cell(x, (h, c), w_ih, w_hh, eps=0.0)  # the printed equation
    assert torch.isnan(h0).all()


def test_erratum_e8_additive_attention_is_v_tanh_ws_plus_uh_and_depends_on_the_query_l11350():
    """E8 (l.11350/12595 vs 11426-11432): the equations score v^T tanh(W s + U h); the code scores
    tanh(w^T [s; h] + b). The library implements the equations. The difference matters: tanh(a·s + c·h_j)
    ranks the keys by c·h_j alone, the same for every query, while v^T tanh(W s + U h_j) does not."""
    torch.manual_seed(0)
    att = AdditiveAttention(query_dim=3, key_dim=3, attn_dim=8, bias=False)
    keys = torch.randn(1, 6, 3)
    s = torch.randn(1, 3)
    want = att.v(torch.tanh(att.query_proj(s)[:, None, :] + att.key_proj(keys))).squeeze(-1)
    torch.testing.assert_close(att.scores(s[:, None, :], keys)[:, 0], want)
    queries = torch.randn(1, 40, 3) * 3
    _, weights = att(queries, keys)
    assert weights.argmax(-1).unique().numel() > 1  # different queries prefer different keys
    # the listing's scalar form: one preferred key whatever the query
    w_s, w_h = torch.randn(3) * 0.1, torch.randn(3) * 0.1  # small, so tanh does not saturate into ties
    listing = torch.tanh(queries[0] @ w_s[:, None] + (keys[0] @ w_h)[None, :])
    assert listing.argmax(-1).unique().tolist() == [int((keys[0] @ w_h).argmax())]


def test_erratum_e12_recurrent_dropout_is_inverted_and_masks_the_state_entering_the_recurrence_l11124():
    """E12 (l.11124): the recurrent-dropout equation has no inverted scaling and masks the emitted h_t.
    The library draws one mask per sequence with entries 0 or 1/(1-p) and applies it to h_{t-1} where it
    enters W_hh h_{t-1} (Keras' recurrent_dropout), so evaluation needs no rescaling."""
    p = 0.25
    mask = variational_mask((2000, 8), p, torch.empty(0, dtype=torch.float64))
    assert set(mask.unique().tolist()) <= {0.0, 1 / (1 - p)}
    assert abs(float(mask.mean()) - 1.0) < 0.05  # expectation unchanged
    torch.manual_seed(0)
    rnn = RecurrentLoop("rnn", 3, 5, recurrent_dropout=p)
    x = torch.randn(4, 6, 3)
    rnn.eval()
    plain = RecurrentLoop("rnn", 3, 5)
    plain.load_state_dict(rnn.state_dict())
    plain.eval()
    torch.testing.assert_close(rnn(x)[0], plain(x)[0])  # identity at evaluation, no p-scaling
    rnn.train()
    torch.manual_seed(1)
    out_train = rnn(x)[0]
    # the first step sees h_0 = 0, so dropping h_{t-1} cannot change it; later steps differ
    torch.testing.assert_close(out_train[:, 0], plain(x)[0][:, 0])
    assert not torch.allclose(out_train[:, 1:], plain(x)[0][:, 1:])


def test_erratum_c19_initial_state_follows_the_input_dtype_and_device():
    """C19 (listings #2, #5, #7): h_0/c_0 made with torch.zeros live on the CPU in float32, which fails
    for GPU or float64 inputs. The library makes them with x.new_zeros."""
    for mode in ("rnn", "lstm", "gru"):
        layer = RecurrentLoop(mode, 3, 4).double()
        out, state = layer(torch.randn(2, 5, 3, dtype=torch.float64))
        assert out.dtype == torch.float64
        for s in state if isinstance(state, tuple) else (state,):
            assert s.dtype == torch.float64 and s.device == out.device


def test_erratum_e7_norm_clipping_keeps_the_direction_value_clipping_does_not_l9919():
    """E7 (l.9919/11030 vs listings #20, #21): the equations clip the gradient's norm, the listings clip
    each value. Both are Trainer settings (grad_clip_norm, grad_clip_value) and they differ: rescaling
    by the norm keeps the gradient's direction, clamping values turns it."""
    from torch import nn
    from torch.utils.data import TensorDataset

    from tensorprism.train import Trainer

    def clipped(**kw):
        model = nn.Linear(2, 1, bias=False)
        data = TensorDataset(torch.randn(8, 2), torch.randn(8, 1))
        t = Trainer(model, train_data=data, task="regression", progress=False, tensorboard=False, **kw)
        t.setup()
        model.weight.grad = torch.tensor([[3.0, 0.3]])
        t.clip_gradients(t.optimizers[0])
        return model.weight.grad[0]

    by_norm = clipped(grad_clip_norm=1.0)
    by_value = clipped(grad_clip_value=1.0)
    g = torch.tensor([3.0, 0.3])
    torch.testing.assert_close(by_norm, g / g.norm(), rtol=1e-5, atol=1e-6)  # same direction, norm 1
    torch.testing.assert_close(by_value, torch.tensor([1.0, 0.3]))  # direction changed
    cos = float(by_value @ g / (by_value.norm() * g.norm()))
    assert cos < 0.99
