r"""Cross-modal multi-head attention: one modality queries another (book §7.3.2, l. 16359-16425, C9).

Text states :math:`T \in \mathbb R^{L\times d_t}` query visual regions (or audio frames)
:math:`V \in \mathbb R^{S\times d_v}`:

.. math::
    Q = T W_Q,\quad K = V W_K,\quad \tilde V = V W_V,\qquad
    \mathrm{head}_i = \mathrm{softmax}\!\Big(\frac{Q_i K_i^\top}{\sqrt{d_k}}\Big)\tilde V_i,\qquad
    \mathrm{out} = [\mathrm{head}_1;\dots;\mathrm{head}_h] W_O

with :math:`d_k = d_{model}/h`. Unlike the book's ``CrossModalAttention`` (L7-15), the two
modalities may have different widths (:math:`W_Q` is ``d_t × d_model``, :math:`W_K, W_V` are
``d_v × d_model``; the layout of ``torch.nn.MultiheadAttention(kdim=, vdim=)``), the scale is
``1/math.sqrt(d_k)`` (the book's ``torch.sqrt`` of an int raises TypeError), and context positions
can be masked. The attention itself is
:func:`~tensorprism.functional.attention.scaled_dot_product_attention` (reference path:
``attention_reference``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import ConfigError, ShapeError
from ..functional.attention import scaled_dot_product_attention

__all__ = ["CrossModalAttention"]


class CrossModalAttention(nn.Module):
    """Multi-head attention from ``query (N, L, query_dim)`` to ``context (N, S, context_dim)``.

    Args:
        query_dim: width of the querying modality (e.g. text states).
        context_dim: width of the attended modality (e.g. image regions).
        d_model: width of the attention (``d_model % num_heads == 0``).
        num_heads: ``h``.
        dropout: dropout on the attention weights (training only).

    ``forward(query, context, context_mask=None, need_weights=False) -> (out (N, L, d_model),
    weights (N, h, L, S) or None)``. ``context_mask (N, S)`` is boolean, True at real context
    positions; a query whose context is entirely masked gets a zero output (no NaN).
    """

    def __init__(self, query_dim: int, context_dim: int, d_model: int, num_heads: int = 1, dropout: float = 0.0):
        super().__init__()
        if d_model % num_heads:
            raise ConfigError(f"d_model={d_model} is not divisible by num_heads={num_heads}; "
                              "choose num_heads among the divisors of d_model")
        self.query_dim, self.context_dim, self.d_model, self.num_heads = query_dim, context_dim, d_model, num_heads
        self.dropout = dropout
        self.q_proj = nn.Linear(query_dim, d_model)  # W_Q
        self.k_proj = nn.Linear(context_dim, d_model)  # W_K
        self.v_proj = nn.Linear(context_dim, d_model)  # W_V
        self.out_proj = nn.Linear(d_model, d_model)  # W_O

    def _heads(self, x: Tensor) -> Tensor:  # (N, L, D) -> (N, h, L, D/h)
        N, L, _ = x.shape
        return x.view(N, L, self.num_heads, self.d_model // self.num_heads).transpose(1, 2)

    def _check(self, query: Tensor, context: Tensor, context_mask: Tensor | None) -> None:
        if query.dim() != 3 or query.shape[-1] != self.query_dim:
            raise ShapeError(f"query must be (N, L, {self.query_dim}) (the querying modality), got "
                             f"{tuple(query.shape)}")
        if context.dim() != 3 or context.shape[-1] != self.context_dim:
            hint = (" (image features (N, C, H, W) must be flattened to regions: x.flatten(2).transpose(1, 2))"
                    if context.dim() == 4 else "")
            raise ShapeError(f"context must be (N, S, {self.context_dim}) (the attended modality), got "
                             f"{tuple(context.shape)}{hint}")
        if context.shape[0] != query.shape[0]:
            raise ShapeError(f"query and context hold different batch sizes: {query.shape[0]} and {context.shape[0]}")
        if context_mask is not None and (context_mask.dtype != torch.bool
                                         or tuple(context_mask.shape) != tuple(context.shape[:2])):
            raise ShapeError(f"context_mask must be boolean (N, S) = {tuple(context.shape[:2])} with True at real "
                             f"positions, got {context_mask.dtype} {tuple(context_mask.shape)}")

    def forward(self, query: Tensor, context: Tensor, context_mask: Tensor | None = None,
                need_weights: bool = False) -> tuple[Tensor, Tensor | None]:
        self._check(query, context, context_mask)
        q, k, v = self._heads(self.q_proj(query)), self._heads(self.k_proj(context)), self._heads(self.v_proj(context))
        mask = None if context_mask is None else context_mask[:, None, None, :]  # (N, 1, 1, S)
        out, weights = scaled_dot_product_attention(q, k, v, mask, need_weights=need_weights,
                                                    dropout_p=self.dropout if self.training else 0.0)
        N, _, L, _ = out.shape
        return self.out_proj(out.transpose(1, 2).reshape(N, L, self.d_model)), weights

    def extra_repr(self) -> str:
        return (f"query_dim={self.query_dim}, context_dim={self.context_dim}, d_model={self.d_model}, "
                f"num_heads={self.num_heads}")
