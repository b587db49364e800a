r"""Recurrent cells and back-propagation through time, written as the book's equations (Ch. 5).

These are the *reference* paths: explicit gates, one time step at a time, readable beside the book.
The training layers in :mod:`tensorprism.nn.recurrent` run torch's fused kernels and are tested
equal to these functions (forward and backward).

Weight layout
-------------
Weights use PyTorch's stacked layout, so that ``dict(torch_module.named_parameters())`` can be
passed straight to :func:`recurrent_reference`:

* Elman: ``w_ih (H, I)``, ``w_hh (H, H)``, ``b_ih (H,)``, ``b_hh (H,)``. The book has one bias
  :math:`b_h`; two biases compute the same function with :math:`b_h = b_{ih} + b_{hh}`.
* LSTM: rows stacked as **(i, f, g, o)** (PyTorch). The book writes the gates in the order
  **(f, i, C̃, o)** (l. 9963-9976) and Keras stacks (i, f, c, o); the converters in
  :mod:`tensorprism.nn.recurrent` map between the three.
* GRU: rows stacked as **(r, z, n)** (PyTorch). See :func:`gru_cell` for the two conventions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
from torch import Tensor

from ..errors import ConfigError, ShapeError
from .normalization import layer_norm

__all__ = [
    "elman_cell", "lstm_cell", "gru_cell", "ln_lstm_cell", "ln_gru_cell", "recurrent_reference", "unroll",
    "elman_bptt", "lstm_bptt", "hidden_grad_norms", "jacobian_product_norm", "spectral_radius",
    "zoneout", "variational_mask",
]


def _linear(x: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
    y = x @ w.t()
    return y if b is None else y + b


def elman_cell(
    x: Tensor, h: Tensor, w_ih: Tensor, w_hh: Tensor,
    b_ih: Tensor | None = None, b_hh: Tensor | None = None, nonlinearity: str = "tanh",
) -> Tensor:
    r"""One Elman step (l. 9648-9656): :math:`h_t = f(W_{hx} x_t + W_{hh} h_{t-1} + b_h)`.

    ``x (B, I)``, ``h (B, H)`` → ``h_t (B, H)``; ``nonlinearity`` is ``"tanh"`` or ``"relu"``.
    """
    a = _linear(x, w_ih, b_ih) + _linear(h, w_hh, b_hh)
    if nonlinearity == "tanh":
        return torch.tanh(a)
    if nonlinearity == "relu":
        return torch.relu(a)
    raise ConfigError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")


def lstm_cell(
    x: Tensor, state: tuple[Tensor, Tensor], w_ih: Tensor, w_hh: Tensor,
    b_ih: Tensor | None = None, b_hh: Tensor | None = None,
    w_peep: Tensor | None = None, w_hr: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    r"""One LSTM step with the book's equations (l. 9963-9976), gates written in the book's order:

    .. math::
        f_t &= \sigma(W_f x_t + U_f h_{t-1} + b_f + p_f \odot C_{t-1}) \\
        i_t &= \sigma(W_i x_t + U_i h_{t-1} + b_i + p_i \odot C_{t-1}) \\
        \tilde C_t &= \tanh(W_c x_t + U_c h_{t-1} + b_c) \\
        C_t &= f_t \odot C_{t-1} + i_t \odot \tilde C_t \\
        o_t &= \sigma(W_o x_t + U_o h_{t-1} + b_o + p_o \odot C_t) \\
        h_t &= W_{hr}\,(o_t \odot \tanh C_t)

    The peephole terms ``w_peep (3, H)`` (rows i, f, o; Gers & Schmidhuber 2000) and the projection
    ``w_hr (P, H)`` (Sak et al. 2014, PyTorch ``proj_size``) are optional; the book has neither.
    ``x (B, I)``, ``state = (h (B, P or H), c (B, H))`` → ``(h_t, C_t)``. Weights are stacked
    (i, f, g, o) as in PyTorch.
    """
    h, c = state
    gates = _linear(x, w_ih, b_ih) + _linear(h, w_hh, b_hh)  # (B, 4H)
    o, c_new = _lstm_gates(gates, c, w_peep)
    h_new = o * torch.tanh(c_new)
    if w_hr is not None:
        h_new = h_new @ w_hr.t()
    return h_new, c_new


def _lstm_gates(gates: Tensor, c: Tensor, w_peep: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """The LSTM's gate maths from the summed pre-activations ``gates (B, 4H)`` (i, f, g, o):
    returns the output gate :math:`o_t` and the new cell :math:`C_t`, both ``(B, H)``."""
    a_i, a_f, a_g, a_o = gates.chunk(4, dim=-1)
    if w_peep is not None:
        a_f = a_f + w_peep[1] * c
        a_i = a_i + w_peep[0] * c
    f = torch.sigmoid(a_f)
    i = torch.sigmoid(a_i)
    c_tilde = torch.tanh(a_g)
    c_new = f * c + i * c_tilde
    if w_peep is not None:
        a_o = a_o + w_peep[2] * c_new
    return torch.sigmoid(a_o), c_new


def gru_cell(
    x: Tensor, h: Tensor, w_ih: Tensor, w_hh: Tensor,
    b_ih: Tensor | None = None, b_hh: Tensor | None = None,
    reset_after: bool = False, z_keeps_previous: bool = False, h_rec: Tensor | None = None,
) -> Tensor:
    r"""One GRU step, in either of the two conventions the book mixes (erratum E1).

    .. math::
        r_t &= \sigma(W_r x_t + U_r h_{t-1} + b_r), \qquad z_t = \sigma(W_z x_t + U_z h_{t-1} + b_z)\\
        \tilde h_t &= \tanh(W_h x_t + b_{h} + U_h (r_t \odot h_{t-1}) + b_{hn})
            &&\text{reset before the product (§5.3.2, l. 10141; Cho et al. 2014)} \\
        \tilde h_t &= \tanh(W_h x_t + b_{h} + r_t \odot (U_h h_{t-1} + b_{hn}))
            &&\text{reset after (Exercise 7, l. 12950; PyTorch, Keras ``reset_after=True``)} \\
        h_t &= (1 - z_t) \odot h_{t-1} + z_t \odot \tilde h_t
            &&\text{book (l. 10145), ``z_keeps_previous=False``} \\
        h_t &= (1 - z_t) \odot \tilde h_t + z_t \odot h_{t-1}
            &&\text{PyTorch / Keras, ``z_keeps_previous=True``}

    The defaults are the book's §5.3.2 equations. PyTorch's ``nn.GRU`` is
    ``reset_after=True, z_keeps_previous=True``. The two update conventions are the same family of
    functions (negate the z-gate's weights and bias to move between them); reset-before and
    reset-after are not. ``x (B, I)``, ``h (B, H)`` → ``h_t (B, H)``; weights stacked (r, z, n).
    ``h_rec`` is the state that enters the matrix products when it differs from the one that is
    interpolated (recurrent dropout masks only the former); it defaults to ``h``.
    """
    hr = h if h_rec is None else h_rec
    if reset_after:
        return _gru_gates_reset_after(_linear(x, w_ih, b_ih), _linear(hr, w_hh, b_hh), h, z_keeps_previous)
    w_ir, w_iz, w_in = w_ih.chunk(3, 0)
    w_hr, w_hz, w_hn = w_hh.chunk(3, 0)
    b_ir, b_iz, b_in = (None, None, None) if b_ih is None else b_ih.chunk(3)
    b_hr, b_hz, b_hn = (None, None, None) if b_hh is None else b_hh.chunk(3)
    r = torch.sigmoid(_linear(x, w_ir, b_ir) + _linear(hr, w_hr, b_hr))
    z = torch.sigmoid(_linear(x, w_iz, b_iz) + _linear(hr, w_hz, b_hz))
    n = torch.tanh(_linear(x, w_in, b_in) + _linear(r * hr, w_hn, b_hn))
    return _gru_update(h, z, n, z_keeps_previous)


def _gru_update(h: Tensor, z: Tensor, n: Tensor, z_keeps_previous: bool) -> Tensor:
    """The GRU's interpolation between :math:`h_{t-1}` and the candidate, in either convention."""
    if z_keeps_previous:
        return (1 - z) * n + z * h
    return (1 - z) * h + z * n


def _gru_gates_reset_after(
    gx: Tensor, gh: Tensor, h: Tensor, z_keeps_previous: bool,
) -> Tensor:
    """Reset-after GRU maths from the two projections ``gx, gh (B, 3H)`` (rows r, z, n)."""
    x_r, x_z, x_n = gx.chunk(3, dim=-1)
    h_r, h_z, h_n = gh.chunk(3, dim=-1)
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    return _gru_update(h, z, n, z_keeps_previous)


# --------------------------------------------------------------------------- layer-normalised cells
def _check_ln_cell(name: str, x: Tensor, h: Tensor, w_ih: Tensor, w_hh: Tensor, gates: int) -> None:
    if x.dim() != 2 or h.dim() != 2 or x.shape[0] != h.shape[0]:
        raise ShapeError(
            f"{name} expects x (B, I) and h (B, H) with the same B, got x {tuple(x.shape)} and h "
            f"{tuple(h.shape)}; step one time slice x[:, t] at a time (the layers do the loop)"
        )
    H = h.shape[1]
    if w_ih.shape != (gates * H, x.shape[1]) or w_hh.shape != (gates * H, H):
        raise ShapeError(
            f"{name} with I={x.shape[1]}, H={H} needs w_ih ({gates * H}, {x.shape[1]}) and w_hh "
            f"({gates * H}, {H}) (rows stacked per gate), got {tuple(w_ih.shape)} and "
            f"{tuple(w_hh.shape)}"
        )


def ln_lstm_cell(
    x: Tensor, state: tuple[Tensor, Tensor], w_ih: Tensor, w_hh: Tensor,
    gamma_ih: Tensor | None = None, beta_ih: Tensor | None = None,
    gamma_hh: Tensor | None = None, beta_hh: Tensor | None = None,
    gamma_c: Tensor | None = None, beta_c: Tensor | None = None,
    bias: Tensor | None = None, eps: float = 1e-5,
) -> tuple[Tensor, Tensor]:
    r"""One layer-normalised LSTM step (Ba, Kiros & Hinton 2016, "Layer Normalization", §3.1 and
    the LN-LSTM of its supplementary material).

    With :math:`\mathrm{LN}(a;\gamma,\beta) = \gamma \odot \frac{a-\mu}{\sqrt{\sigma^2+\epsilon}}
    + \beta`, where :math:`\mu = \frac1D\sum_k a_k` and :math:`\sigma^2 = \frac1D\sum_k(a_k-\mu)^2`
    are taken over the :math:`D` features of one sample (the book's R7, l. 9945-9949, which has
    no :math:`\epsilon`; erratum E6):

    .. math::
        \begin{pmatrix} a_i \\ a_f \\ a_g \\ a_o \end{pmatrix}
            &= \mathrm{LN}(W_{ih} x_t;\gamma_{ih},\beta_{ih})
             + \mathrm{LN}(W_{hh} h_{t-1};\gamma_{hh},\beta_{hh}) + b \\
        C_t &= \sigma(a_f) \odot C_{t-1} + \sigma(a_i) \odot \tanh(a_g) \\
        h_t &= \sigma(a_o) \odot \tanh\big(\mathrm{LN}(C_t;\gamma_c,\beta_c)\big)

    As in the paper, each projection is normalised as one :math:`4H` vector (all four gates
    together, gains and biases of size :math:`4H`); the cell state is carried *un*-normalised and
    only its read-out is normalised (gain and bias of size :math:`H`). The gate maths is
    :func:`lstm_cell`'s, rows stacked (i, f, g, o) as in PyTorch. The projections have no bias of
    their own (it would be removed by the mean subtraction); :math:`\beta_{ih}+\beta_{hh}` plays
    the role of the gate bias, so the paper's extra ``bias`` :math:`b` (4H,) is optional.

    Because :math:`\mathrm{LN}(\alpha a) = \mathrm{LN}(a)` for :math:`\alpha > 0` (up to
    :math:`\epsilon`), the step is invariant to rescaling :math:`W_{ih}` or :math:`W_{hh}`
    (paper §5.1, weight re-scaling).

    ``x (B, I)``, ``state = (h (B, H), c (B, H))``, ``w_ih (4H, I)``, ``w_hh (4H, H)``,
    ``gamma_ih, beta_ih, gamma_hh, beta_hh (4H,)``, ``gamma_c, beta_c (H,)`` (``None``: gain 1,
    bias 0) → ``(h_t (B, H), C_t (B, H))``.
    """
    h, c = state
    _check_ln_cell("ln_lstm_cell", x, h, w_ih, w_hh, 4)
    H = h.shape[1]
    gates = (layer_norm(x @ w_ih.t(), 4 * H, gamma_ih, beta_ih, eps)
             + layer_norm(h @ w_hh.t(), 4 * H, gamma_hh, beta_hh, eps))  # (B, 4H)
    if bias is not None:
        gates = gates + bias
    o, c_new = _lstm_gates(gates, c)
    h_new = o * torch.tanh(layer_norm(c_new, H, gamma_c, beta_c, eps))
    return h_new, c_new


def ln_gru_cell(
    x: Tensor, h: Tensor, w_ih: Tensor, w_hh: Tensor,
    gamma_ih: Tensor | None = None, beta_ih: Tensor | None = None,
    gamma_hh: Tensor | None = None, beta_hh: Tensor | None = None,
    eps: float = 1e-5, z_keeps_previous: bool = True,
) -> Tensor:
    r"""One layer-normalised GRU step: the input and recurrent projections are normalised
    separately, as in the LN-LSTM of Ba, Kiros & Hinton (2016, §3.1):

    .. math::
        \begin{pmatrix} x_r \\ x_z \\ x_n \end{pmatrix}
            &= \mathrm{LN}(W_{ih} x_t;\gamma_{ih},\beta_{ih}), \qquad
        \begin{pmatrix} u_r \\ u_z \\ u_n \end{pmatrix}
            = \mathrm{LN}(W_{hh} h_{t-1};\gamma_{hh},\beta_{hh}) \\
        r_t &= \sigma(x_r + u_r), \qquad z_t = \sigma(x_z + u_z), \qquad
            \tilde h_t = \tanh(x_n + r_t \odot u_n) \\
        h_t &= (1 - z_t) \odot \tilde h_t + z_t \odot h_{t-1}
            \quad\text{(``z_keeps_previous=True``, PyTorch)}\quad\text{or}\quad
            (1 - z_t) \odot h_{t-1} + z_t \odot \tilde h_t \quad\text{(the book)}

    with :math:`\mathrm{LN}` as in :func:`ln_lstm_cell`, each projection normalised as one
    :math:`3H` vector. The reset gate is applied *after* the recurrent product (Exercise 7,
    l. 12950; :func:`gru_cell` ``reset_after=True``): only then is :math:`W_{hh}h_{t-1}` one
    projection of :math:`h_{t-1}` that can be normalised like the LSTM's. The paper gives no
    LN-GRU; this is the direct transfer of its LSTM recipe. Rows stacked (r, z, n).

    ``x (B, I)``, ``h (B, H)``, ``w_ih (3H, I)``, ``w_hh (3H, H)``, gains and biases ``(3H,)``
    (``None``: gain 1, bias 0) → ``h_t (B, H)``.
    """
    _check_ln_cell("ln_gru_cell", x, h, w_ih, w_hh, 3)
    G = 3 * h.shape[1]
    gx = layer_norm(x @ w_ih.t(), G, gamma_ih, beta_ih, eps)
    gh = layer_norm(h @ w_hh.t(), G, gamma_hh, beta_hh, eps)
    return _gru_gates_reset_after(gx, gh, h, z_keeps_previous)


def unroll(
    step: Callable[[Tensor, object], object], x: Tensor, state: object,
    lengths: Tensor | None = None, reverse: bool = False,
) -> tuple[Tensor, object]:
    r"""Unroll ``step(x_t, state) -> state`` over time with shared weights (l. 9703-9729).

    ``x (B, T, I)``; ``state`` is a tensor ``(B, H)`` or a tuple of them (the output at each step is
    the state's first tensor). With ``lengths (B,)`` the state of a sequence stops changing after
    its last valid step and its outputs there are zero, which is exactly what packed sequences do.
    ``reverse=True`` runs each sequence backwards from *its own* last valid step. Returns
    ``(outputs (B, T, H), final_state)``.
    """
    B, T = x.shape[:2]
    as_tuple = isinstance(state, tuple)
    outs: list[Tensor | None] = [None] * T
    steps = range(T - 1, -1, -1) if reverse else range(T)
    for t in steps:
        new = step(x[:, t], state)
        if lengths is not None:
            valid = (lengths.to(x.device) > t).to(x.dtype).unsqueeze(-1)  # (B, 1)
            if as_tuple:
                new = tuple(valid * n + (1 - valid) * s for n, s in zip(new, state, strict=True))
            else:
                new = valid * new + (1 - valid) * state
            out = (new[0] if as_tuple else new) * valid
        else:
            out = new[0] if as_tuple else new
        outs[t] = out
        state = new
    return torch.stack(outs, dim=1), state


def recurrent_reference(
    mode: str, x: Tensor, params: Mapping[str, Tensor], *, num_layers: int = 1,
    bidirectional: bool = False, hx: Tensor | tuple[Tensor, Tensor] | None = None,
    lengths: Tensor | None = None, nonlinearity: str = "tanh", reset_after: bool = True,
    z_keeps_previous: bool = True,
) -> tuple[Tensor, Tensor | tuple[Tensor, Tensor]]:
    r"""A multi-layer, optionally bidirectional recurrent layer, unrolled step by step.

    ``mode`` is ``"rnn"``, ``"lstm"`` or ``"gru"``; ``params`` uses PyTorch's parameter names
    (``weight_ih_l{k}[_reverse]``, ``weight_hh_l…``, ``bias_ih_l…``, ``bias_hh_l…``,
    ``weight_hr_l…`` for projections), so ``dict(nn.LSTM(...).named_parameters())`` works.
    ``x (B, T, I)`` batch-first; ``hx`` as PyTorch, ``(L·D, B, H)`` (a pair for the LSTM);
    ``lengths (B,)`` treats each sequence as packed. Returns ``(out (B, T, D·H), h_n)`` where
    ``h_n`` is ``(L·D, B, H)`` (LSTM: ``(h_n, c_n)``) with the state at each sequence's own end.
    The GRU defaults here are PyTorch's convention so that the function mirrors ``nn.GRU``.
    """
    if x.dim() != 3:
        raise ShapeError(f"expected input (B, T, I), got shape {tuple(x.shape)}")
    D = 2 if bidirectional else 1
    B = x.shape[0]
    suffixes = ["", "_reverse"][:D]
    h0s, c0s = [], []
    for k in range(num_layers):
        for d in range(D):
            sfx = f"l{k}{suffixes[d]}"
            w_hh = params[f"weight_hh_{sfx}"]
            out_size = params[f"weight_hr_{sfx}"].shape[0] if f"weight_hr_{sfx}" in params else w_hh.shape[1]
            hid = w_hh.shape[0] // {"rnn": 1, "lstm": 4, "gru": 3}.get(mode, 1)
            idx = k * D + d
            if hx is None:
                h0s.append(x.new_zeros(B, out_size))
                c0s.append(x.new_zeros(B, hid))
            elif mode == "lstm":
                h0s.append(hx[0][idx])
                c0s.append(hx[1][idx])
            else:
                h0s.append(hx[idx])
    layer_in = x
    h_n, c_n = [], []
    for k in range(num_layers):
        dir_outs = []
        for d in range(D):
            sfx = f"l{k}{suffixes[d]}"
            w_ih, w_hh = params[f"weight_ih_{sfx}"], params[f"weight_hh_{sfx}"]
            b_ih, b_hh = params.get(f"bias_ih_{sfx}"), params.get(f"bias_hh_{sfx}")
            idx = k * D + d
            if mode == "lstm":
                w_hr = params.get(f"weight_hr_{sfx}")

                def step(xt, s, w_ih=w_ih, w_hh=w_hh, b_ih=b_ih, b_hh=b_hh, w_hr=w_hr):
                    return lstm_cell(xt, s, w_ih, w_hh, b_ih, b_hh, w_hr=w_hr)

                state = (h0s[idx], c0s[idx])
            elif mode == "gru":
                def step(xt, s, w_ih=w_ih, w_hh=w_hh, b_ih=b_ih, b_hh=b_hh):
                    return gru_cell(xt, s, w_ih, w_hh, b_ih, b_hh, reset_after, z_keeps_previous)

                state = h0s[idx]
            elif mode == "rnn":
                def step(xt, s, w_ih=w_ih, w_hh=w_hh, b_ih=b_ih, b_hh=b_hh):
                    return elman_cell(xt, s, w_ih, w_hh, b_ih, b_hh, nonlinearity)

                state = h0s[idx]
            else:
                raise ConfigError(f"mode must be 'rnn', 'lstm' or 'gru', got {mode!r}")
            out, final = unroll(step, layer_in, state, lengths, reverse=(d == 1))
            dir_outs.append(out)
            if mode == "lstm":
                h_n.append(final[0])
                c_n.append(final[1])
            else:
                h_n.append(final)
        layer_in = torch.cat(dir_outs, dim=-1)
    h_stack = torch.stack(h_n)
    return layer_in, ((h_stack, torch.stack(c_n)) if mode == "lstm" else h_stack)


# --------------------------------------------------------------------------- BPTT by hand
def elman_bptt(
    x: Tensor, h0: Tensor, w_hx: Tensor, w_hh: Tensor, b_h: Tensor, w_hy: Tensor, b_y: Tensor,
    dL_dy: Callable[[Tensor, int], Tensor], nonlinearity: str = "tanh",
) -> dict[str, Tensor]:
    r"""Back-propagation through time for an Elman RNN with a linear read-out, written by hand.

    Forward: :math:`a_t = W_{hx}x_t + W_{hh}h_{t-1} + b_h`, :math:`h_t = f(a_t)`,
    :math:`y_t = W_{hy}h_t + b_y`, loss :math:`\mathcal L = \sum_t \mathcal L_t(y_t)`.
    Backward (the corrected form of l. 9876-9887, erratum E2): the *total* gradient
    :math:`g_t = \partial\mathcal L/\partial h_t = W_{hy}^\top \partial\mathcal L_t/\partial y_t
    + W_{hh}^\top \delta_{t+1}` with :math:`\delta_t = g_t \odot f'(a_t)`, then

    .. math::
        \nabla W_{hx} = \sum_t \delta_t x_t^\top,\quad \nabla W_{hh} = \sum_t \delta_t h_{t-1}^\top,
        \quad \nabla b_h = \sum_t \delta_t,\quad
        \nabla W_{hy} = \sum_t \tfrac{\partial \mathcal L_t}{\partial y_t} h_t^\top.

    ``x (B, T, I)``, ``h0 (B, H)``; ``dL_dy(y_t, t) -> (B, O)`` gives the per-step output
    gradient. Returns the gradients (summed over the batch), plus ``"h"`` (B, T, H) and
    ``"dh"`` (B, T, H), the per-step total gradients :math:`\partial\mathcal L/\partial h_t`.
    """
    T = x.shape[1]
    hs, as_, gys = [h0], [], []
    for t in range(T):
        a = x[:, t] @ w_hx.t() + hs[-1] @ w_hh.t() + b_h
        h = torch.tanh(a) if nonlinearity == "tanh" else torch.relu(a)
        as_.append(a)
        hs.append(h)
        gys.append(dL_dy(h @ w_hy.t() + b_y, t))
    grads = {k: torch.zeros_like(v) for k, v in
             {"w_hx": w_hx, "w_hh": w_hh, "b_h": b_h, "w_hy": w_hy, "b_y": b_y, "h0": h0}.items()}
    dhs = [torch.zeros_like(h0)] * T
    carry = torch.zeros_like(h0)  # W_hh^T delta_{t+1}
    for t in range(T - 1, -1, -1):
        g = gys[t] @ w_hy + carry  # total dL/dh_t
        dhs[t] = g
        fprime = 1 - hs[t + 1] ** 2 if nonlinearity == "tanh" else (as_[t] > 0).to(g.dtype)
        delta = g * fprime
        grads["w_hx"] += delta.t() @ x[:, t]
        grads["w_hh"] += delta.t() @ hs[t]
        grads["b_h"] += delta.sum(0)
        grads["w_hy"] += gys[t].t() @ hs[t + 1]
        grads["b_y"] += gys[t].sum(0)
        carry = delta @ w_hh
    grads["h0"] = carry
    grads["h"] = torch.stack(hs[1:], 1)
    grads["dh"] = torch.stack(dhs, 1)
    return grads


def lstm_bptt(
    x: Tensor, state0: tuple[Tensor, Tensor], w_ih: Tensor, w_hh: Tensor, b: Tensor, w_hy: Tensor,
    b_y: Tensor, dL_dy: Callable[[Tensor, int], Tensor],
) -> dict[str, Tensor]:
    r"""BPTT for an LSTM with a linear read-out :math:`y_t = W_{hy}h_t + b_y`, written by hand
    (what Exercise 15, l. 13007-13012, asks for). Gates as in :func:`lstm_cell`, stacked
    (i, f, g, o), one bias ``b (4H,)``. With :math:`\bar h_t = \partial\mathcal L/\partial h_t`
    (output term plus :math:`W_{hh}^\top\delta_{t+1}`) and the cell gradient carried back
    through the forget gate:

    .. math::
        \bar o_t = \bar h_t \odot \tanh C_t,\quad
        \bar C_t = \bar h_t \odot o_t \odot (1-\tanh^2 C_t) + f_{t+1}\odot\bar C_{t+1},\\
        \bar f_t = \bar C_t \odot C_{t-1},\quad \bar i_t = \bar C_t\odot\tilde C_t,\quad
        \bar{\tilde C}_t = \bar C_t \odot i_t,

    then :math:`\delta_t` = the pre-activation gradients (:math:`\sigma' = \sigma(1-\sigma)`,
    :math:`\tanh' = 1-\tanh^2`), :math:`\nabla W_{ih} = \sum_t \delta_t x_t^\top`,
    :math:`\nabla W_{hh} = \sum_t \delta_t h_{t-1}^\top`, :math:`\nabla b = \sum_t \delta_t`.
    Returns the parameter gradients (summed over the batch) and ``"h"``, ``"c"`` ``(B, T, H)``.
    """
    T = x.shape[1]
    h, c = state0
    hs, cs, gates, gys = [h], [c], [], []
    for t in range(T):
        a = x[:, t] @ w_ih.t() + hs[-1] @ w_hh.t() + b
        a_i, a_f, a_g, a_o = a.chunk(4, -1)
        i, f, g, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
        c = f * cs[-1] + i * g
        h = o * torch.tanh(c)
        gates.append((i, f, g, o))
        hs.append(h)
        cs.append(c)
        gys.append(dL_dy(h @ w_hy.t() + b_y, t))
    grads = {"w_ih": torch.zeros_like(w_ih), "w_hh": torch.zeros_like(w_hh), "b": torch.zeros_like(b),
             "w_hy": torch.zeros_like(w_hy), "b_y": torch.zeros_like(b_y)}
    dh_next, dc_next = torch.zeros_like(h), torch.zeros_like(c)
    for t in range(T - 1, -1, -1):
        i, f, g, o = gates[t]
        tc = torch.tanh(cs[t + 1])
        dh = gys[t] @ w_hy + dh_next
        dc = dh * o * (1 - tc**2) + dc_next
        delta = torch.cat([dc * g * i * (1 - i), dc * cs[t] * f * (1 - f), dc * i * (1 - g**2),
                           dh * tc * o * (1 - o)], dim=-1)  # (B, 4H) in (i, f, g, o) order
        grads["w_ih"] += delta.t() @ x[:, t]
        grads["w_hh"] += delta.t() @ hs[t]
        grads["b"] += delta.sum(0)
        grads["w_hy"] += gys[t].t() @ hs[t + 1]
        grads["b_y"] += gys[t].sum(0)
        dh_next, dc_next = delta @ w_hh, dc * f
    grads["h"], grads["c"] = torch.stack(hs[1:], 1), torch.stack(cs[1:], 1)
    return grads


# --------------------------------------------------------------------------- diagnostics
def hidden_grad_norms(
    step: Callable[[Tensor, object], object], x: Tensor, state: object,
    loss_fn: Callable[[Tensor], Tensor],
) -> Tensor:
    r"""Per-time-step gradient norms :math:`\lVert \partial \mathcal L / \partial h_t \rVert_2`.

    Runs ``step(x_t, state) -> state`` over ``x (B, T, I)`` from ``state`` (a tensor or a tuple
    whose first entry is the output), computes ``loss_fn(outputs (B, T, H))`` and returns the
    ``(T,)`` norms of the total gradient w.r.t. each :math:`h_t`. With a loss on the last step
    only, norms shrinking towards early t show vanishing gradients and growing norms exploding
    ones (l. 9893-9911).
    """
    if isinstance(state, tuple):
        state = tuple(s.detach().requires_grad_() for s in state)
    else:
        state = state.detach().requires_grad_()
    hs = []
    for t in range(x.shape[1]):
        state = step(x[:, t], state)
        hs.append(state[0] if isinstance(state, tuple) else state)
    loss = loss_fn(torch.stack(hs, 1))
    grads = torch.autograd.grad(loss, hs, allow_unused=True)
    return torch.stack([torch.zeros((), device=x.device) if g is None else g.norm() for g in grads])


def jacobian_product_norm(hidden: Sequence[Tensor], w_hh: Tensor, nonlinearity: str = "tanh") -> Tensor:
    r"""Spectral norms of :math:`\partial h_t/\partial h_1 = \prod_{j} \mathrm{diag}(f'(a_j))W_{hh}`.

    The book's product at l. 9909 omits the activation derivative (erratum E3); this includes it.
    ``hidden`` is the list ``h_1..h_T`` of one sequence (each ``(H,)``) from a tanh (or ReLU)
    Elman RNN. Returns ``(T,)`` with entry ``t-1`` = :math:`\lVert\partial h_t/\partial h_1\rVert_2`.
    """
    J = torch.eye(w_hh.shape[0], dtype=w_hh.dtype, device=w_hh.device)
    norms = [torch.linalg.matrix_norm(J, 2)]
    for h in hidden[1:]:
        fprime = 1 - h**2 if nonlinearity == "tanh" else (h > 0).to(h.dtype)
        J = (fprime.unsqueeze(-1) * w_hh) @ J
        norms.append(torch.linalg.matrix_norm(J, 2))
    return torch.stack(norms)


def spectral_radius(w: Tensor) -> Tensor:
    """Largest absolute eigenvalue of a square matrix (``>1``: a linear recurrence explodes)."""
    return torch.linalg.eigvals(w).abs().max()


# --------------------------------------------------------------------------- regularisers
def zoneout(h_prev: Tensor, h_new: Tensor, p: float, training: bool) -> Tensor:
    r"""Zoneout (Krueger et al. 2017): each unit *keeps its previous value* with probability ``p``.

    .. math:: h_t = d_t \odot h_{t-1} + (1 - d_t) \odot \tilde h_t,\qquad d_t \sim \mathrm{Bernoulli}(p)

    This is the paper's definition and the book's text (l. 11128); the book's equation (l. 11130)
    puts the mask on the *new* value, which makes ``p`` the probability of updating (erratum E5).
    A fresh mask is drawn per step and per unit. At evaluation the expectation is used,
    :math:`p\,h_{t-1} + (1-p)\,\tilde h_t`, as in the paper.
    """
    if not 0.0 <= p < 1.0:
        raise ConfigError(f"zoneout probability must be in [0, 1), got {p}")
    if p == 0.0:
        return h_new
    if training:
        d = torch.bernoulli(torch.full_like(h_new, p))
        return d * h_prev + (1 - d) * h_new
    return p * h_prev + (1 - p) * h_new


def variational_mask(shape: Sequence[int], p: float, like: Tensor) -> Tensor:
    r"""An inverted-dropout mask drawn **once per sequence** (Gal & Ghahramani 2016, l. 11116-11126).

    ``shape`` is ``(B, F)``; the same mask multiplies every time step. Entries are 0 or
    :math:`1/(1-p)` so expectations are unchanged (the book's equation omits the scaling, E12).
    """
    if not 0.0 <= p < 1.0:
        raise ConfigError(f"dropout probability must be in [0, 1), got {p}")
    keep = torch.bernoulli(torch.full(tuple(shape), 1 - p, dtype=like.dtype, device=like.device))
    return keep / (1 - p)
