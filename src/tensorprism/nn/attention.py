"""Multi-head attention (book §6.2.3, lines 13205-13235) with a KV cache for incremental decoding.

.. math::

    \\mathrm{head}_i = \\mathrm{Attention}(X_q W_i^Q, X_k W_i^K, X_v W_i^V), \\qquad
    \\mathrm{MultiHead} = [\\mathrm{head}_1; \\dots; \\mathrm{head}_h] W^O

Shapes: query ``(N, L, D)``, key/value ``(N, S, D)``, output ``(N, L, D)``, weights
``(N, h, L, S)``. Batch-first always (the book's listings feed batch-first tensors to seq-first
``nn.MultiheadAttention``; erratum 5.2.1). The three projections are stored as one
``in_proj (3D, D)`` matrix (the layout of ``torch.nn.MultiheadAttention``), used fused for
self-attention and split for cross-attention, so the same module serves both (book line 13403).
The attention itself is :func:`tensorprism.functional.attention.scaled_dot_product_attention`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError, ShapeError
from ..functional.attention import scaled_dot_product_attention
from .positional import RotaryEmbedding, alibi_bias

__all__ = ["KVCache", "MultiheadAttention", "init_projections", "split_heads"]


class KVCache:
    """Keys and values ``(N, h, S, E)`` of the positions already seen.

    ``static=True`` is for cross-attention: the encoder's keys/values are computed on the first
    call and reused afterwards. ``reorder(index)`` selects batch rows (beam search).
    """

    def __init__(self, static: bool = False):
        self.static = static
        self.k: Tensor | None = None
        self.v: Tensor | None = None

    def __len__(self) -> int:
        return 0 if self.k is None else self.k.shape[-2]

    def append(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        if self.k is None or self.static:
            self.k, self.v = k, v
        else:
            self.k = torch.cat([self.k, k], dim=-2)
            self.v = torch.cat([self.v, v], dim=-2)
        return self.k, self.v

    def reorder(self, index: Tensor) -> KVCache:
        if self.k is not None:
            self.k = self.k.index_select(0, index.to(self.k.device))
            self.v = self.v.index_select(0, index.to(self.v.device))
        return self

    def __repr__(self) -> str:
        shape = None if self.k is None else tuple(self.k.shape)
        return f"KVCache(static={self.static}, k={shape})"


def init_projections(*linears: nn.Linear) -> None:
    """Xavier-uniform weights and zero biases, the initialisation of ``torch.nn.MultiheadAttention``
    (shared by every attention layer here so that they start alike)."""
    for lin in linears:
        nn.init.xavier_uniform_(lin.weight)
        if lin.bias is not None:
            nn.init.zeros_(lin.bias)


def split_heads(x: Tensor, num_heads: int) -> Tensor:
    """``(N, L, D)`` → ``(N, h, L, D / h)``: the per-head view of projected tokens."""
    N, L, D = x.shape
    return x.view(N, L, num_heads, D // num_heads).transpose(1, 2)


class MultiheadAttention(nn.Module):
    """Multi-head scaled dot-product attention, self or cross, with optional RoPE or ALiBi.

    Args:
        embed_dim: model width ``D`` (``D % num_heads == 0``).
        num_heads: ``h``; each head has ``D / h`` channels.
        dropout: dropout on the attention weights (training only).
        bias: biases on the projections (the book's equations have none, its code has them).
        rotary: rotate queries and keys by position (RoPE).
        alibi: add the ALiBi linear distance penalty to the scores.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        rotary: bool = False,
        alibi: bool = False,
        rotary_base: float = 10000.0,
    ):
        super().__init__()
        if embed_dim % num_heads:
            raise ConfigError(
                f"embed_dim={embed_dim} is not divisible by num_heads={num_heads}; "
                "choose num_heads among the divisors of embed_dim"
            )
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.dropout = dropout
        self.in_proj = nn.Linear(embed_dim, 3 * embed_dim, bias=bias)  # rows: W^Q; W^K; W^V
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)  # W^O
        self.rotary = RotaryEmbedding(self.head_dim, rotary_base) if rotary else None
        self.alibi = alibi
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init_projections(self.in_proj, self.out_proj)

    def _heads(self, x: Tensor) -> Tensor:  # (N, L, D) -> (N, h, L, E)
        return split_heads(x, self.num_heads)

    def _rows(self, x: Tensor, rows: slice) -> Tensor:  # x @ in_proj[rows]^T + b[rows]
        b = self.in_proj.bias
        return F.linear(x, self.in_proj.weight[rows], None if b is None else b[rows])

    def project(self, query: Tensor, memory: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        """``Q, K, V`` as ``(N, h, ., E)``: fused for self-attention, split for cross-attention."""
        D = self.embed_dim
        if memory is None:
            q, k, v = self.in_proj(query).split(D, dim=-1)
        else:
            q = self._rows(query, slice(0, D))
            k, v = self._rows(memory, slice(D, None)).split(D, dim=-1)
        return self._heads(q), self._heads(k), self._heads(v)

    def forward(
        self,
        query: Tensor,
        memory: Tensor | None = None,
        mask: Tensor | None = None,
        *,
        key_padding_mask: Tensor | None = None,
        is_causal: bool = False,
        cache: KVCache | None = None,
        need_weights: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """Attend from ``query (N, L, D)`` to itself or to ``memory (N, S, D)``.

        Both masks are boolean with **True = may attend** (tensorprism's one convention; the
        opposite of ``torch.nn.MultiheadAttention``'s, where True = ignore). Each argument has
        one reading, as in torch:

        * ``mask`` (the attention mask): ``(L, S)`` for every sequence and head,
          ``(N * h, L, S)`` per sequence and head, or 4-D ``(N, 1 | h, 1 | L, S)``;
        * ``key_padding_mask``: ``(N, S)``, True at real keys.

        A 2-D ``mask`` is always ``(L, S)``, even when ``N == L``: pass key padding as
        ``key_padding_mask``. An ``(N, S)`` ``mask`` with ``N != L`` and a key-padding row with no
        real key (torch's inverted convention) raise :class:`ShapeError`. ``S`` counts the cached
        keys too. ``is_causal`` adds the look-ahead mask aligned to the end of the keys, so it
        also holds for one new query against a cache. Returns
        ``(output (N, L, D), weights (N, h, L, S) or None)``.
        """
        if query.dim() != 3 or query.shape[-1] != self.embed_dim:
            raise ShapeError(
                f"query must be (N, L, {self.embed_dim}) (batch first), got {tuple(query.shape)}"
            )
        if memory is not None and (memory.dim() != 3 or memory.shape[-1] != self.embed_dim
                                   or not memory.is_floating_point()):
            raise ShapeError(
                f"memory must be a float (N, S, {self.embed_dim}) tensor, got {memory.dtype} {tuple(memory.shape)}; "
                "masks are the third argument or keywords: mha(x, None, mask) / mha(x, mask=...)")
        if cache is not None and cache.static and cache.k is not None:  # cross-attention, cached
            q = self._heads(self._rows(query, slice(0, self.embed_dim)))
            k, v = cache.k, cache.v
        else:
            q, k, v = self.project(query, memory)
            offset = len(cache) if cache is not None else 0
            if self.rotary is not None:
                q, k = self.rotary(q, k, offset)
            if cache is not None:
                k, v = cache.append(k, v)
        mask = self._mask(mask, key_padding_mask, q.shape[0], q.shape[-2], k.shape[-2])
        bias = None
        if self.alibi:
            bias = alibi_bias(self.num_heads, q.shape[-2], k.shape[-2], q.device).to(q.dtype)
        out, weights = scaled_dot_product_attention(
            q, k, v, mask, bias, is_causal=is_causal, need_weights=need_weights,
            dropout_p=self.dropout if self.training else 0.0,
        )
        N, _, L, _ = out.shape
        out = out.transpose(1, 2).reshape(N, L, self.embed_dim)  # concat heads
        return self.out_proj(out), weights

    def _mask(self, mask: Tensor | None, key_padding_mask: Tensor | None, N: int, L: int, S: int) -> Tensor | None:
        """The two mask arguments, shape-checked, as one mask broadcastable to ``(N, h, L, S)``."""
        if mask is not None:
            mask = self._attn_mask(mask, N, L, S)
        if key_padding_mask is None:
            return mask
        kpm = key_padding_mask
        if kpm.dim() != 2 or tuple(kpm.shape) != (N, S):
            raise ShapeError(
                f"key_padding_mask must be (N, S) = ({N}, {S}) with True at real keys, got {tuple(kpm.shape)}; "
                "masks over queries or heads go in `mask`")
        if kpm.dtype != torch.bool:
            raise ShapeError(f"key_padding_mask must be boolean (True = real key), got {kpm.dtype}; "
                             "convert a 1/0 mask with `.bool()`")
        if not torch.compiler.is_compiling() and not bool(kpm.any(-1).all()):
            raise ShapeError(
                "key_padding_mask has a sequence with no real key (an all-False row): in tensorprism True "
                "marks real keys; a torch-style mask (True = padding) must be inverted with `~mask`")
        kpm = kpm[:, None, None, :]
        return kpm if mask is None else mask & kpm

    def _attn_mask(self, mask: Tensor, N: int, L: int, S: int) -> Tensor:
        h = self.num_heads
        shape = tuple(mask.shape)
        if mask.dim() == 2 and shape == (L, S):
            return mask
        if mask.dim() == 3 and shape == (N * h, L, S):
            return mask.view(N, h, L, S)
        if mask.dim() == 4 and shape[0] in (1, N) and shape[1] in (1, h) and shape[2] in (1, L) and shape[3] == S:
            return mask
        hint = ""
        if shape == (N, S):
            hint = " It looks like a key-padding mask: pass it as key_padding_mask=."
        elif mask.dim() == 3 and shape == (N, L, S):
            hint = " For one mask per sequence shared by the heads, use mask[:, None] (N, 1, L, S)."
        raise ShapeError(
            f"attention mask of shape {shape} does not fit N={N} sequences, h={h} heads, L={L} queries, "
            f"S={S} keys: expected (L, S), (N*h, L, S) or (N, 1|h, 1|L, S).{hint}")

    def extra_repr(self) -> str:
        extra = ", rotary" if self.rotary is not None else ""
        extra += ", alibi" if self.alibi else ""
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}{extra}"
