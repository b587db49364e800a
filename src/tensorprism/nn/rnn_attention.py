r"""Attention for recurrent encoder–decoders (book §5.4, l. 10294-10320; Exercises 4, 10, 11).

Every module returns ``(context, weights)`` so alignments can be inspected and plotted.

* :class:`AdditiveAttention` (Bahdanau et al. 2015):
  :math:`e_{j} = v^\top \tanh(W s + U h_j)`, :math:`\alpha = \mathrm{softmax}(e)`,
  :math:`c = \sum_j \alpha_j h_j` (l. 10294-10304). The query is the decoder's *previous* state
  :math:`s_{t-1}` (l. 10633).
* :class:`LuongAttention` (Luong et al. 2015): ``"dot"`` :math:`e_j = s^\top h_j`,
  ``"general"`` :math:`e_j = s^\top W h_j` (l. 10306-10310), ``"concat"``
  :math:`e_j = v^\top\tanh(W[s; h_j])`, which is the additive score with :math:`W=[W_s\;W_h]`.
* :class:`AttentionPooling` (Exercise 10): the query-free :math:`e_t = v^\top\tanh(Wh_t + b)`.

Masks follow the project's convention: boolean ``(B, S)``, ``True`` = may attend (a real source
token). The book never masks padding (§1B A1); without it, padded positions get weight.
A row with no valid key gets zero weights and a zero context, not NaN.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import ConfigError, ShapeError

__all__ = ["masked_softmax", "AdditiveAttention", "LuongAttention", "AttentionPooling"]


def masked_softmax(scores: Tensor, mask: Tensor | None) -> Tensor:
    """Softmax over the last axis of ``scores (..., S)``, ignoring positions where ``mask`` is False."""
    if mask is None:
        return scores.softmax(-1)
    if mask.dtype != torch.bool:
        raise ShapeError(f"mask must be boolean (True = may attend), got {mask.dtype}")
    scores = scores.masked_fill(~mask, float("-inf"))
    live = mask.any(-1, keepdim=True)
    return scores.masked_fill(~live, 0.0).softmax(-1) * live


def _attend(scores: Tensor, values: Tensor, mask: Tensor | None, squeeze: bool) -> tuple[Tensor, Tensor]:
    """scores (B, L, S), values (B, S, Dv) -> context (B, L, Dv), weights (B, L, S)."""
    if mask is not None:
        mask = mask.unsqueeze(1) if mask.dim() == 2 else mask
    weights = masked_softmax(scores, mask)
    context = torch.bmm(weights, values)  # c_i = sum_j alpha_ij h_j
    if squeeze:
        return context.squeeze(1), weights.squeeze(1)
    return context, weights


def _as_3d(query: Tensor, keys: Tensor) -> tuple[Tensor, bool]:
    if keys.dim() != 3:
        raise ShapeError(f"keys must be (B, S, D), got {tuple(keys.shape)}")
    if query.dim() == 2:
        return query.unsqueeze(1), True
    if query.dim() == 3:
        return query, False
    raise ShapeError(f"query must be (B, D) or (B, L, D), got {tuple(query.shape)}")


class AdditiveAttention(nn.Module):
    r"""Bahdanau attention :math:`e_{ij} = v^\top \tanh(W s_i + U h_j + b)`.

    Args:
        query_dim: size of the decoder state :math:`s`.
        key_dim: size of the encoder outputs :math:`h_j` (``2H`` for a bidirectional encoder).
        attn_dim: size of the hidden scoring layer (the book's ``units = 512``).
        bias: add :math:`b` inside the tanh (the book's equations have none; its code has them).

    ``forward(query (B, Dq) or (B, L, Dq), keys (B, S, Dk), values=None, mask=None,
    projected_keys=None) -> (context (B, [L,] Dv), weights (B, [L,] S))``. Pass
    ``projected_keys = self.project_keys(keys)`` when the same source is attended at every
    decoder step, so :math:`U h_j` is computed once.
    """

    def __init__(self, query_dim: int, key_dim: int, attn_dim: int, bias: bool = True):
        super().__init__()
        self.query_proj = nn.Linear(query_dim, attn_dim, bias=False)  # W
        self.key_proj = nn.Linear(key_dim, attn_dim, bias=bias)  # U (+ b)
        self.v = nn.Linear(attn_dim, 1, bias=False)

    def project_keys(self, keys: Tensor) -> Tensor:
        return self.key_proj(keys)  # (B, S, A)

    def scores(self, query: Tensor, keys: Tensor, projected_keys: Tensor | None = None) -> Tensor:
        """Unnormalised :math:`e_{ij}`, ``(B, L, S)`` for a 3-D query."""
        uk = self.project_keys(keys) if projected_keys is None else projected_keys
        e = torch.tanh(self.query_proj(query).unsqueeze(2) + uk.unsqueeze(1))  # (B, L, S, A)
        return self.v(e).squeeze(-1)

    def forward(self, query: Tensor, keys: Tensor, values: Tensor | None = None,
                mask: Tensor | None = None, projected_keys: Tensor | None = None):
        q, squeeze = _as_3d(query, keys)
        return _attend(self.scores(q, keys, projected_keys), keys if values is None else values, mask, squeeze)


class LuongAttention(nn.Module):
    r"""Multiplicative attention of Luong et al. (2015): ``score`` is ``"dot"``, ``"general"`` or
    ``"concat"`` (see the module docs). ``"dot"`` needs ``query_dim == key_dim``. Same ``forward``
    as :class:`AdditiveAttention` (``projected_keys`` is :math:`W h_j` for ``"general"``)."""

    def __init__(self, query_dim: int, key_dim: int, score: str = "general", attn_dim: int | None = None):
        super().__init__()
        if score not in ("dot", "general", "concat"):
            raise ConfigError(f"score must be 'dot', 'general' or 'concat', got {score!r}")
        if score == "dot" and query_dim != key_dim:
            raise ConfigError(
                f"dot-product scores need query_dim == key_dim, got {query_dim} and {key_dim}; "
                "use score='general' to learn a W between them"
            )
        self.score = score
        if score == "general":
            self.W = nn.Linear(key_dim, query_dim, bias=False)
        elif score == "concat":
            self.concat = AdditiveAttention(query_dim, key_dim, attn_dim or query_dim, bias=True)

    def extra_repr(self) -> str:
        return f"score={self.score!r}"

    def project_keys(self, keys: Tensor) -> Tensor:
        if self.score == "general":
            return self.W(keys)
        if self.score == "concat":
            return self.concat.project_keys(keys)
        return keys

    def forward(self, query: Tensor, keys: Tensor, values: Tensor | None = None,
                mask: Tensor | None = None, projected_keys: Tensor | None = None):
        q, squeeze = _as_3d(query, keys)
        pk = self.project_keys(keys) if projected_keys is None else projected_keys
        if self.score == "concat":
            scores = self.concat.scores(q, keys, pk)
        else:
            scores = torch.bmm(q, pk.transpose(1, 2))  # e_ij = s_i^T (W) h_j
        return _attend(scores, keys if values is None else values, mask, squeeze)


class AttentionPooling(nn.Module):
    r"""Query-free attention pooling (Exercise 10, l. 12977):
    :math:`e_t = v^\top \tanh(W h_t + b)`, :math:`c = \sum_t \mathrm{softmax}(e)_t h_t`.

    ``forward(h (B, T, D), mask=None) -> (c (B, D), weights (B, T))``; used to pool a sequence
    encoder's states for classification, HAN's word and sentence levels, frames of a video and
    frames of audio (book §7.2.3, §7.5). ``activation="relu"`` scores with
    :math:`v^\top \mathrm{ReLU}(W h_t + b)` (Exercise 7.10; the book's temporal attention, §7.5.1).
    """

    def __init__(self, dim: int, attn_dim: int | None = None, activation: str = "tanh"):
        super().__init__()
        if activation not in ("tanh", "relu"):
            raise ConfigError(f"activation must be 'tanh' or 'relu', got {activation!r}")
        self.activation = activation
        self.W = nn.Linear(dim, attn_dim or dim)
        self.v = nn.Linear(attn_dim or dim, 1, bias=False)

    def forward(self, h: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if h.dim() != 3:
            raise ShapeError(f"attention pooling expects states (B, T, D), got {tuple(h.shape)}")
        if mask is not None and tuple(mask.shape) != tuple(h.shape[:2]):
            raise ShapeError(f"mask must be (B, T) = {tuple(h.shape[:2])} with True at real steps, "
                             f"got {tuple(mask.shape)}")
        act = torch.tanh if self.activation == "tanh" else torch.relu
        scores = self.v(act(self.W(h))).squeeze(-1).unsqueeze(1)  # (B, 1, T)
        return _attend(scores, h, mask, squeeze=True)
