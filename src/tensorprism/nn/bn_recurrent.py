r"""Recurrent layers with batch-normalised hidden states (book Ch. 5, R8, l.9951-9955).

After every step the new hidden state is normalised **across the batch**:

.. math:: \hat h_t = \gamma\odot\frac{h_t-\mathbb E_B[h_t]}{\sqrt{\mathrm{Var}_B[h_t]+\epsilon}}+\beta,

and :math:`\hat h_t` is both the step's output and the state the next step receives. The book
leaves ε and the inference statistics open; here ε = 1e-5 and, as in ``nn.BatchNorm1d``, running
averages (momentum 0.1, unbiased variance) are used in evaluation mode. ``per_step=True`` keeps
separate statistics (and γ, β) for each time step up to ``max_steps`` (later steps reuse the last),
the choice of Cooijmans et al. (2017, "Recurrent Batch Normalization"), because the state's
distribution drifts over the first steps; the default shares one set over time, the book's formula.
For the LSTM only :math:`h_t` is normalised; the cell state is carried as it is.

:func:`batch_norm_hidden_reference` is the equation written out for one step in training mode.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import ConfigError, ShapeError
from ..functional.recurrent import elman_cell, gru_cell, lstm_cell

__all__ = ["BatchNormRecurrent", "batch_norm_hidden_reference"]


def batch_norm_hidden_reference(h: Tensor, gamma: Tensor, beta: Tensor, eps: float = 1e-5) -> Tensor:
    """``h (B, H)`` normalised over the batch with the biased variance, then ``γ ⊙ · + β``."""
    mean = h.mean(0, keepdim=True)
    var = ((h - mean) ** 2).mean(0, keepdim=True)
    return gamma * (h - mean) / torch.sqrt(var + eps) + beta


class BatchNormRecurrent(nn.Module):
    """One ``mode`` (``"rnn"``, ``"lstm"``, ``"gru"``) layer with a batch-normalised hidden state.

    ``forward(x (B, T, I)) -> (out (B, T, H), state)`` (``(T, B, I)`` with ``batch_first=False``);
    ``state`` is ``h_T`` or ``(h_T, c_T)``. Parameters are named as in PyTorch (``weight_ih_l0``...);
    the normalisations are ``BatchNorm1d`` modules in ``self.norms``. Training needs batches of at
    least two sequences (a batch statistic of one sample is undefined).
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, *, nonlinearity: str = "tanh",
                 eps: float = 1e-5, momentum: float = 0.1, per_step: bool = False, max_steps: int = 100,
                 batch_first: bool = True):
        super().__init__()
        gates = {"rnn": 1, "lstm": 4, "gru": 3}
        if mode not in gates:
            raise ConfigError(f"mode must be one of {sorted(gates)}, got {mode!r}")
        if per_step and max_steps < 1:
            raise ConfigError(f"per_step=True needs max_steps >= 1, got {max_steps}")
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.nonlinearity, self.batch_first, self.per_step = nonlinearity, batch_first, per_step
        g = gates[mode] * hidden_size
        self.weight_ih_l0 = nn.Parameter(torch.empty(g, input_size))
        self.weight_hh_l0 = nn.Parameter(torch.empty(g, hidden_size))
        self.bias_ih_l0 = nn.Parameter(torch.empty(g))
        self.bias_hh_l0 = nn.Parameter(torch.empty(g))
        count = max_steps if per_step else 1
        self.norms = nn.ModuleList(nn.BatchNorm1d(hidden_size, eps=eps, momentum=momentum) for _ in range(count))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Recurrent weights uniform in ``±1/sqrt(H)`` (as ``torch.nn.RNN``); γ = 1, β = 0."""
        bound = self.hidden_size ** -0.5
        for p in (self.weight_ih_l0, self.weight_hh_l0, self.bias_ih_l0, self.bias_hh_l0):
            nn.init.uniform_(p, -bound, bound)
        for norm in self.norms:
            norm.reset_parameters()

    def extra_repr(self) -> str:
        return f"{self.mode}, {self.input_size}, {self.hidden_size}, per_step={self.per_step}"

    def forward(self, x: Tensor, state=None):
        layout = "(B, T, I)" if self.batch_first else "(T, B, I)"
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ShapeError(f"BatchNormRecurrent expected {layout} with I={self.input_size}, got {tuple(x.shape)}")
        if not self.batch_first:
            x = x.transpose(0, 1)
        b, steps = x.shape[:2]
        if self.training and b < 2:
            raise ShapeError("batch-normalised hidden states need at least 2 sequences per batch in training "
                             f"(got {b}); use eval() for single sequences")
        w = (self.weight_ih_l0, self.weight_hh_l0, self.bias_ih_l0, self.bias_hh_l0)
        h = x.new_zeros(b, self.hidden_size) if state is None else (state[0] if self.mode == "lstm" else state)
        c = (x.new_zeros(b, self.hidden_size) if state is None else state[1]) if self.mode == "lstm" else None
        outs = []
        for t in range(steps):
            if self.mode == "lstm":
                h, c = lstm_cell(x[:, t], (h, c), *w)
            elif self.mode == "gru":
                h = gru_cell(x[:, t], h, *w)
            else:
                h = elman_cell(x[:, t], h, *w, self.nonlinearity)
            h = self.norms[min(t, len(self.norms) - 1)](h)
            outs.append(h)
        out = torch.stack(outs, dim=1)
        if not self.batch_first:
            out = out.transpose(0, 1)
        return out, ((h, c) if self.mode == "lstm" else h)
