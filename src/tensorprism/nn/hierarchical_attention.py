r"""Hierarchical attention (HAN, Yang et al. 2016; book §7.2.3, l. 16036-16121, C4, L7-8).

Word level, for the words :math:`h_{s,t}` of sentence :math:`s` (states of a bidirectional GRU):

.. math::
    e_{s,t} = v_w^\top \tanh(W_w h_{s,t} + b_w),\qquad
    \alpha_{s,t} = \mathrm{softmax}_t(e_{s,t}),\qquad
    u_s = \sum_t \alpha_{s,t} h_{s,t}

Sentence level, over the states :math:`g_s` of a second bidirectional GRU run on :math:`u_1..u_S`:

.. math::
    e_s = v_s^\top \tanh(W_s g_s + b_s),\qquad \beta_s = \mathrm{softmax}_s(e_s),\qquad
    d = \sum_s \beta_s g_s

The book's listing (L7-8) has no padding masks, so padded words and padded sentences take weight
and the GRUs read padding. Here each sentence's words are packed (the recurrence never sees
padding), word weights are exactly 0 on padded words, sentences with no word are left out of the
sentence GRU and get :math:`\beta_s = 0`, and a document with no word at all gives ``d = 0`` and
all-zero weights (no NaN). Masks may have holes: real positions are gathered to the front before
packing and the results scattered back.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..errors import ConfigError, ShapeError
from .rnn_attention import AttentionPooling

__all__ = ["HANOutput", "HierarchicalAttention", "run_masked_rnn"]


class HANOutput(NamedTuple):
    document: Tensor  # (B, 2H)
    word_weights: Tensor  # (B, S, W)
    sentence_weights: Tensor  # (B, S)


def run_masked_rnn(rnn: nn.Module, x: Tensor, mask: Tensor) -> Tensor:
    """Run a batch-first ``rnn`` over the real steps of ``x (B, T, F)`` only.

    ``mask (B, T)`` is True at real steps (anywhere in the row: they are gathered to the front,
    packed, and the outputs scattered back). Rows with no real step, and padded steps, get zeros.
    Returns ``(B, T, H_out)``.
    """
    B, T, _ = x.shape
    lengths = mask.sum(1)
    order = torch.argsort((~mask).to(torch.int8), dim=1, stable=True)  # real steps first, in order
    gathered = x.gather(1, order[..., None].expand_as(x))
    rows = (lengths > 0).nonzero().flatten()
    out_size = rnn.hidden_size * (2 if rnn.bidirectional else 1)
    out = x.new_zeros(B, T, out_size)
    if rows.numel():
        packed = pack_padded_sequence(gathered[rows], lengths[rows].cpu(), batch_first=True, enforce_sorted=False)
        y, _ = rnn(packed)
        y, _ = pad_packed_sequence(y, batch_first=True, total_length=T)  # (R, T, H_out), zeros after length
        front = torch.zeros(B, T, out_size, dtype=y.dtype, device=y.device).index_copy(0, rows, y)
        out = out.scatter(1, order[..., None].expand(B, T, out_size), front)  # back to the real positions
    return out * mask[..., None]


class HierarchicalAttention(nn.Module):
    """Word → sentence attention encoder of a document.

    Args:
        embed_dim: size ``E`` of the word vectors.
        hidden_size: ``H`` per direction of both GRUs (outputs are ``2H``).
        attn_dim: width of the scoring layers (default ``2H``, as the book).
        pooling: ``"attention"`` (HAN) or ``"mean"`` (the same network with mean pooling at both
            levels: the no-attention baseline).
        cell: ``"gru"`` (the book) or ``"lstm"``.

    ``forward(x (B, S, W, E), mask (B, S, W) bool) -> HANOutput(document (B, 2H),
    word_weights (B, S, W), sentence_weights (B, S))``. With mean pooling the weights returned are
    the uniform weights used.
    """

    def __init__(self, embed_dim: int, hidden_size: int, attn_dim: int | None = None, pooling: str = "attention",
                 cell: str = "gru"):
        super().__init__()
        if pooling not in ("attention", "mean"):
            raise ConfigError(f"pooling must be 'attention' or 'mean', got {pooling!r}")
        if cell not in ("gru", "lstm"):
            raise ConfigError(f"cell must be 'gru' or 'lstm', got {cell!r}")
        rnn = nn.GRU if cell == "gru" else nn.LSTM
        D = 2 * hidden_size
        self.pooling = pooling
        self.word_rnn = rnn(embed_dim, hidden_size, batch_first=True, bidirectional=True)
        self.sentence_rnn = rnn(D, hidden_size, batch_first=True, bidirectional=True)
        self.word_attention = AttentionPooling(D, attn_dim or D) if pooling == "attention" else None
        self.sentence_attention = AttentionPooling(D, attn_dim or D) if pooling == "attention" else None
        self.out_features = D

    @staticmethod
    def _mean(h: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        w = mask.to(h.dtype)
        w = w / w.sum(-1, keepdim=True).clamp_min(1)
        return torch.einsum("bt,btd->bd", w, h), w

    def _pool(self, att: AttentionPooling | None, h: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        return att(h, mask) if att is not None else self._mean(h, mask)

    def forward(self, x: Tensor, mask: Tensor) -> HANOutput:
        if x.dim() != 4 or not x.is_floating_point():
            raise ShapeError(f"HierarchicalAttention expects word vectors (B, S, W, E) (documents × sentences × "
                             f"words × features), got {x.dtype} {tuple(x.shape)}")
        if mask.dtype != torch.bool or tuple(mask.shape) != tuple(x.shape[:3]):
            raise ShapeError(f"mask must be boolean (B, S, W) = {tuple(x.shape[:3])} with True at real words, "
                             f"got {mask.dtype} {tuple(mask.shape)}")
        B, S, W, E = x.shape
        words = run_masked_rnn(self.word_rnn, x.reshape(B * S, W, E), mask.reshape(B * S, W))  # (B·S, W, 2H)
        u, alpha = self._pool(self.word_attention, words, mask.reshape(B * S, W))  # (B·S, 2H), (B·S, W)
        sent_mask = mask.any(-1)  # (B, S): a sentence with no word is padding
        g = run_masked_rnn(self.sentence_rnn, u.view(B, S, -1), sent_mask)  # (B, S, 2H)
        d, beta = self._pool(self.sentence_attention, g, sent_mask)
        return HANOutput(d, alpha.view(B, S, W), beta)
