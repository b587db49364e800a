r"""Layer-normalised recurrent layers (Ba, Kiros & Hinton 2016, "Layer Normalization", §3.1).

:class:`LayerNormLSTM` and :class:`LayerNormGRU` unroll
:func:`~tensorprism.functional.recurrent.ln_lstm_cell` and
:func:`~tensorprism.functional.recurrent.ln_gru_cell` in a Python loop over time: no fused kernel
normalises inside the recurrence. The input projection :math:`W_{ih}x_t` and the recurrent
projection :math:`W_{hh}h_{t-1}` are normalised separately, each with its own gain and bias, and
the LSTM also normalises its cell state before the output :math:`\tanh`. The book mentions layer
norm of hidden states only as an equation (R7, l. 9945-9949); this is the paper's placement.

Both are one layer, batch-first: ``forward(x (N, T, F), state=None, lengths=None)`` returns
``(out (N, T, H), final_state)``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import ConfigError, ShapeError
from ..functional.recurrent import ln_gru_cell, ln_lstm_cell, unroll
from .recurrent import check_lengths, check_state

__all__ = ["LayerNormLSTM", "LayerNormGRU"]


class _LayerNormRecurrent(nn.Module):
    """Parameters and checks shared by the two layers; ``gates`` rows per unit (4 or 3)."""

    gates: int

    def __init__(self, input_size: int, hidden_size: int, *, eps: float = 1e-5, **factory):
        super().__init__()
        if input_size < 1 or hidden_size < 1:
            raise ConfigError(
                f"input_size and hidden_size must be positive, got {input_size} and {hidden_size}"
            )
        if eps < 0:
            raise ConfigError(f"eps must be >= 0 (e.g. 1e-5), got {eps}")
        self.input_size, self.hidden_size, self.eps = input_size, hidden_size, eps
        G = self.gates * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(G, input_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(G, hidden_size, **factory))
        self.ln_ih_weight = nn.Parameter(torch.empty(G, **factory))
        self.ln_ih_bias = nn.Parameter(torch.empty(G, **factory))
        self.ln_hh_weight = nn.Parameter(torch.empty(G, **factory))
        self.ln_hh_bias = nn.Parameter(torch.empty(G, **factory))

    def reset_parameters(self) -> None:
        r"""Weights :math:`\mathcal U(-1/\sqrt H, 1/\sqrt H)` as ``torch.nn.LSTM``; LN gains 1 and
        biases 0 (the paper's initialisation of the gains and biases)."""
        bound = self.hidden_size ** -0.5
        for name, p in self.named_parameters():
            if name.startswith("weight_"):
                nn.init.uniform_(p, -bound, bound)
            elif name.endswith("_weight"):
                nn.init.ones_(p)
            else:
                nn.init.zeros_(p)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, eps={self.eps}"

    def _check_input(self, x: Tensor) -> None:
        name = type(self).__name__
        if not isinstance(x, Tensor) or x.dim() != 3 or x.shape[-1] != self.input_size:
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ShapeError(
                f"{name} expected batch-first input (N, T, F) with F={self.input_size}, got {got}; "
                "unsqueeze(0) a single sequence, or transpose(0, 1) a time-first (T, N, F) batch"
            )

    def _check_state(self, s: Tensor, n: int, what: str) -> None:
        # one layer and one direction: no leading (L·D) axis, unlike the fused layers
        check_state(type(self).__name__, s, (n, self.hidden_size), what, "(N, H)")

    def _check_lengths(self, x: Tensor, lengths) -> Tensor | None:
        if lengths is None:
            return None
        return check_lengths(type(self).__name__, lengths, x.shape[0], x.shape[1], "(N, T, F)", min_length=0)


class LayerNormLSTM(_LayerNormRecurrent):
    r"""One-layer layer-normalised LSTM (Ba et al. 2016, supplementary LN-LSTM), unrolled in Python.

    .. math::
        a_t &= \mathrm{LN}(W_{ih} x_t;\gamma_{ih},\beta_{ih})
             + \mathrm{LN}(W_{hh} h_{t-1};\gamma_{hh},\beta_{hh}),
             \qquad a_t = (a_i, a_f, a_g, a_o) \\
        C_t &= \sigma(a_f) \odot C_{t-1} + \sigma(a_i) \odot \tanh(a_g), \qquad
        h_t = \sigma(a_o) \odot \tanh\big(\mathrm{LN}(C_t;\gamma_c,\beta_c)\big)

    Parameters: ``weight_ih (4H, F)``, ``weight_hh (4H, H)`` stacked (i, f, g, o) as in PyTorch;
    ``ln_ih_weight``/``ln_ih_bias``, ``ln_hh_weight``/``ln_hh_bias`` ``(4H,)`` (:math:`\gamma,
    \beta` of each projection's LN, the biases together acting as the gate bias) and
    ``ln_c_weight``/``ln_c_bias`` ``(H,)`` for the cell's LN. ``forget_bias`` (default 0) is added
    to the forget rows of ``ln_ih_bias`` at initialisation.

    ``forward(x (N, T, F), state=None, lengths=None)`` with ``state = (h_0 (N, H), c_0 (N, H))``
    (zeros if ``None``) and optional ``lengths (N,)`` (the state stops at each sequence's last valid
    step, outputs past it are zero) returns ``(out (N, T, H), (h_T (N, H), c_T (N, H)))``.
    """

    gates = 4

    def __init__(self, input_size: int, hidden_size: int, *, eps: float = 1e-5,
                 forget_bias: float = 0.0, **factory):
        super().__init__(input_size, hidden_size, eps=eps, **factory)
        self.forget_bias = forget_bias
        self.ln_c_weight = nn.Parameter(torch.empty(hidden_size, **factory))
        self.ln_c_bias = nn.Parameter(torch.empty(hidden_size, **factory))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        H = self.hidden_size
        with torch.no_grad():
            self.ln_ih_bias[H:2 * H].fill_(self.forget_bias)

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor] | None = None,
                lengths: Tensor | None = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        self._check_input(x)
        N = x.shape[0]
        if state is None:
            state = (x.new_zeros(N, self.hidden_size), x.new_zeros(N, self.hidden_size))
        else:
            if not isinstance(state, (tuple, list)) or len(state) != 2:
                raise ShapeError(
                    "LayerNormLSTM state must be a pair (h_0 (N, H), c_0 (N, H)), got "
                    f"{type(state).__name__}; pass None for zeros"
                )
            self._check_state(state[0], N, "h_0")
            self._check_state(state[1], N, "c_0")
            state = tuple(state)
        p = (self.weight_ih, self.weight_hh, self.ln_ih_weight, self.ln_ih_bias,
             self.ln_hh_weight, self.ln_hh_bias, self.ln_c_weight, self.ln_c_bias)

        def step(xt: Tensor, s: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
            return ln_lstm_cell(xt, s, *p, eps=self.eps)

        return unroll(step, x, state, self._check_lengths(x, lengths))


class LayerNormGRU(_LayerNormRecurrent):
    r"""One-layer layer-normalised GRU (reset after the recurrent product), unrolled in Python.

    .. math::
        (x_r, x_z, x_n) &= \mathrm{LN}(W_{ih} x_t;\gamma_{ih},\beta_{ih}), \qquad
        (u_r, u_z, u_n) = \mathrm{LN}(W_{hh} h_{t-1};\gamma_{hh},\beta_{hh}) \\
        r_t &= \sigma(x_r + u_r),\quad z_t = \sigma(x_z + u_z),\quad
        \tilde h_t = \tanh(x_n + r_t \odot u_n),\quad
        h_t = (1 - z_t) \odot \tilde h_t + z_t \odot h_{t-1}

    (``z_keeps_previous=False`` gives the book's update :math:`(1-z_t)\odot h_{t-1} + z_t\odot
    \tilde h_t`; see :func:`~tensorprism.functional.recurrent.ln_gru_cell`). Parameters:
    ``weight_ih (3H, F)``, ``weight_hh (3H, H)`` stacked (r, z, n); ``ln_ih_weight``/``ln_ih_bias``
    and ``ln_hh_weight``/``ln_hh_bias`` ``(3H,)``.

    ``forward(x (N, T, F), state=None, lengths=None)`` with ``state = h_0 (N, H)`` (zeros if
    ``None``) returns ``(out (N, T, H), h_T (N, H))``.
    """

    gates = 3

    def __init__(self, input_size: int, hidden_size: int, *, eps: float = 1e-5,
                 z_keeps_previous: bool = True, **factory):
        super().__init__(input_size, hidden_size, eps=eps, **factory)
        self.z_keeps_previous = z_keeps_previous
        self.reset_parameters()

    def extra_repr(self) -> str:
        return super().extra_repr() + f", z_keeps_previous={self.z_keeps_previous}"

    def forward(self, x: Tensor, state: Tensor | None = None,
                lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        self._check_input(x)
        N = x.shape[0]
        if state is None:
            state = x.new_zeros(N, self.hidden_size)
        else:
            self._check_state(state, N, "h_0")
        p = (self.weight_ih, self.weight_hh, self.ln_ih_weight, self.ln_ih_bias,
             self.ln_hh_weight, self.ln_hh_bias)

        def step(xt: Tensor, h: Tensor) -> Tensor:
            return ln_gru_cell(xt, h, *p, eps=self.eps, z_keeps_previous=self.z_keeps_previous)

        return unroll(step, x, state, self._check_lengths(x, lengths))
