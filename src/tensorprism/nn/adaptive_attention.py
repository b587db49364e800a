r"""The book's "adaptive attention" sequence model, fixed (§7.4.1, l. 16518-16633, C11-C12, L7-19..22).

The attention layer (L7-19) is concat-additive scoring with an arbitrary hidden state as query:

.. math::
    e_{t,i} = v^\top \tanh(W[h_t; x_i] + b),\qquad \alpha_{t,i} = \mathrm{softmax}_i(e_{t,i}),\qquad
    c_t = \sum_i \alpha_{t,i} x_i

which is :class:`~tensorprism.nn.rnn_attention.AdditiveAttention` (``W[h; x] = W_h h + W_x x``).
The book's models (L7-20..22) score with the decoder's *last* state only, call ``bmm`` on 2-D
weights (a RuntimeError) and discard the decoder outputs, so they would emit one vector per
sequence. :class:`AdaptiveAttentionSeq` emits one context and one output per target step:

.. math::
    s_{1..T} = \mathrm{LSTM}_{dec}(y_{1..T};\ \text{encoder final state}),\qquad
    c_t = \mathrm{Attention}(s_t, x_{1..S}),\qquad o_t = W_o[s_t; c_t] + b_o
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import ShapeError
from .rnn_attention import AdditiveAttention

__all__ = ["AdaptiveAttentionSeq"]


class AdaptiveAttentionSeq(nn.Module):
    """LSTM encoder, LSTM decoder, one attention context per target step.

    Args:
        input_dim: features of each source step ``x_i``.
        target_dim: features of each (teacher-forced) target step ``y_t``.
        hidden_size: ``H`` of both LSTMs and of the scoring layer.
        output_dim: features of each output ``o_t``.

    ``forward(src (B, S, input_dim), tgt (B, T, target_dim), src_mask=None (B, S)) ->
    (outputs (B, T, output_dim), weights (B, T, S))``.
    """

    def __init__(self, input_dim: int, target_dim: int, hidden_size: int, output_dim: int):
        super().__init__()
        self.input_dim, self.target_dim = input_dim, target_dim
        self.encoder = nn.LSTM(input_dim, hidden_size, batch_first=True)
        self.decoder = nn.LSTM(target_dim, hidden_size, batch_first=True)
        self.attention = AdditiveAttention(hidden_size, hidden_size, hidden_size)
        self.out = nn.Linear(2 * hidden_size, output_dim)

    def forward(self, src: Tensor, tgt: Tensor, src_mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if src.dim() != 3 or src.shape[-1] != self.input_dim:
            raise ShapeError(f"src must be (B, S, {self.input_dim}), got {tuple(src.shape)}")
        if tgt.dim() != 3 or tgt.shape[-1] != self.target_dim or tgt.shape[0] != src.shape[0]:
            raise ShapeError(f"tgt must be (B={src.shape[0]}, T, {self.target_dim}), got {tuple(tgt.shape)}")
        enc, state = self.encoder(src)  # (B, S, H)
        dec, _ = self.decoder(tgt, state)  # (B, T, H): one query per target step
        context, weights = self.attention(dec, enc, mask=src_mask)  # (B, T, H), (B, T, S)
        return self.out(torch.cat([dec, context], dim=-1)), weights
