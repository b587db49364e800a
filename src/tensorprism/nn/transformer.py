"""Transformer blocks (book §6.3, lines 13358-13425): feed-forward, encoder and decoder layers.

Post-LN, the book's and the original paper's form (eq. at line 13380)::

    z = LN(x + Dropout(MHA(x, x, x)));   out = LN(z + Dropout(FFN(z)))

Pre-LN (``norm_first=True``; GPT-2, ViT), which trains without warm-up at depth::

    z = x + Dropout(MHA(LN(x)));         out = z + Dropout(FFN(LN(z)))

The decoder layer adds cross-attention between the two (queries from the decoder, keys and values
from the encoder output ``memory``; the book's PyTorch listing swaps query and value, L6-38).
All tensors are batch-first ``(N, L, D)``; masks are boolean with True = may attend.
"""

from __future__ import annotations

from collections.abc import Callable

import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError
from .attention import KVCache, MultiheadAttention
from .drop_path import DropPath

__all__ = [
    "FeedForward",
    "TransformerEncoderLayer",
    "TransformerDecoderLayer",
    "TransformerStack",
    "DecoderCache",
    "activation_fn",
]

_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": F.relu,
    "gelu": F.gelu,  # erf form (BERT)
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),  # GPT-2's "gelu_new"
    "silu": F.silu,
}


def activation_fn(name: str) -> Callable[[Tensor], Tensor]:
    """The feed-forward activation named ``name`` (a function of a tensor)."""
    if name not in _ACTIVATIONS:
        raise ConfigError(f"unknown activation {name!r}; choose one of {sorted(_ACTIVATIONS)}")
    return _ACTIVATIONS[name]


class FeedForward(nn.Module):
    """Position-wise FFN ``W_2 act(W_1 x + b_1) + b_2`` (line 13372; ReLU in the book)."""

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0, activation: str = "relu", bias: bool = True):
        super().__init__()
        self.linear1 = nn.Linear(d_model, d_ff, bias=bias)
        self.linear2 = nn.Linear(d_ff, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)
        self.activation = activation
        self._act = activation_fn(activation)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear2(self.dropout(self._act(self.linear1(x))))

    def extra_repr(self) -> str:
        return f"activation={self.activation!r}"


class TransformerEncoderLayer(nn.Module):
    """Self-attention + FFN sublayers with residuals and LayerNorm (post- or pre-LN).

    With ``is_causal=True`` at call time this is also the GPT block. ``forward`` returns
    ``(x, weights)``; weights ``(N, h, L, S)`` only when ``need_weights``. Dropout applies to the
    attention weights (``attn_dropout``, default ``dropout``), to each sublayer's output before the
    residual sum, and between the FFN's linears (``ffn_dropout``, default ``dropout``).

    ``self_attn`` replaces the multi-head softmax attention by any module with its call signature
    (the efficient attentions of :mod:`tensorprism.nn.efficient_attention`, built by
    ``make_attention``); ``drop_path`` drops each residual branch per sample (stochastic depth, ViT/Swin).
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        d_ff: int | None = None,
        dropout: float = 0.1,
        activation: str = "relu",
        norm_first: bool = False,
        layer_norm_eps: float = 1e-5,
        bias: bool = True,
        attn_dropout: float | None = None,
        rotary: bool = False,
        alibi: bool = False,
        ffn_dropout: float | None = None,
        drop_path: float = 0.0,
        self_attn: nn.Module | None = None,
    ):
        super().__init__()
        d_ff = 4 * d_model if d_ff is None else d_ff
        attn_dropout = dropout if attn_dropout is None else attn_dropout
        self.norm_first = norm_first
        self.self_attn = self_attn if self_attn is not None else MultiheadAttention(
            d_model, nhead, attn_dropout, bias, rotary=rotary, alibi=alibi)
        # dropout between the FFN's two linears: torch.nn's layers have it, BERT and GPT-2 do not
        self.ff = FeedForward(d_model, d_ff, dropout if ffn_dropout is None else ffn_dropout, activation, bias)
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def _sublayer(self, x: Tensor, norm: nn.LayerNorm, drop: nn.Dropout, fn) -> tuple[Tensor, object]:
        if self.norm_first:
            y, extra = fn(norm(x))
            return x + self.drop_path(drop(y)), extra
        y, extra = fn(x)
        return norm(x + self.drop_path(drop(y))), extra

    def _ffn(self, x: Tensor) -> Tensor:
        x, _ = self._sublayer(x, self.norm2, self.dropout2, lambda h: (self.ff(h), None))
        return x

    def forward(
        self,
        x: Tensor,
        mask: Tensor | None = None,
        *,
        key_padding_mask: Tensor | None = None,
        is_causal: bool = False,
        cache: KVCache | None = None,
        need_weights: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """``x (N, L, D)``; ``mask`` and ``key_padding_mask (N, L)`` as in :class:`MultiheadAttention`."""
        x, w = self._sublayer(
            x, self.norm1, self.dropout1,
            lambda h: self.self_attn(h, None, mask, key_padding_mask=key_padding_mask, is_causal=is_causal,
                                     cache=cache, need_weights=need_weights),
        )
        return self._ffn(x), w


class DecoderCache:
    """Per-layer cache of a decoder: self-attention keys/values grow, cross-attention ones are
    computed once from the encoder output."""

    def __init__(self):
        self.self_attn = KVCache()
        self.cross_attn = KVCache(static=True)

    def __len__(self) -> int:
        return len(self.self_attn)

    def reorder(self, index) -> DecoderCache:
        self.self_attn.reorder(index)
        self.cross_attn.reorder(index)
        return self


class TransformerDecoderLayer(TransformerEncoderLayer):
    """Masked self-attention, cross-attention to ``memory``, FFN (book eq. at line 13419).

    ``forward`` returns ``(x, (self_weights, cross_weights))``.
    """

    def __init__(self, d_model: int, nhead: int, d_ff: int | None = None, dropout: float = 0.1,
                 activation: str = "relu", norm_first: bool = False, layer_norm_eps: float = 1e-5,
                 bias: bool = True, attn_dropout: float | None = None):
        super().__init__(d_model, nhead, d_ff, dropout, activation, norm_first, layer_norm_eps, bias, attn_dropout)
        self.cross_attn = MultiheadAttention(d_model, nhead, self.self_attn.dropout, bias)
        self.norm3 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout3 = nn.Dropout(dropout)

    def forward(
        self,
        x: Tensor,
        memory: Tensor,
        mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        *,
        key_padding_mask: Tensor | None = None,
        memory_key_padding_mask: Tensor | None = None,
        is_causal: bool = True,
        cache: DecoderCache | None = None,
        need_weights: bool = False,
    ) -> tuple[Tensor, tuple[Tensor | None, Tensor | None]]:
        """``x (N, L, D)``, ``memory (N, S, D)``; the masks as in :class:`MultiheadAttention`
        (``key_padding_mask (N, L)`` over the decoder's keys, ``memory_key_padding_mask (N, S)``)."""
        sc, cc = (cache.self_attn, cache.cross_attn) if cache is not None else (None, None)
        x, w1 = self._sublayer(
            x, self.norm1, self.dropout1,
            lambda h: self.self_attn(h, None, mask, key_padding_mask=key_padding_mask, is_causal=is_causal,
                                     cache=sc, need_weights=need_weights),
        )
        x, w2 = self._sublayer(
            x, self.norm3, self.dropout3,
            lambda h: self.cross_attn(h, memory, memory_mask, key_padding_mask=memory_key_padding_mask, cache=cc,
                                      need_weights=need_weights),
        )
        return self._ffn(x), (w1, w2)


class TransformerStack(nn.Module):
    """``num_layers`` layers applied in turn, ``H = Layer_N(... Layer_1(X))`` (line 13384).

    ``share=True`` applies one layer ``num_layers`` times (ALBERT's cross-layer sharing,
    line 13811). ``final_norm`` adds the closing LayerNorm that pre-LN stacks need.
    ``forward(x, *args, **kw)`` passes extra arguments to every layer, a list ``cache`` entry per
    layer, and returns ``(x, [weights per layer])``.
    """

    def __init__(self, make_layer: Callable[[], nn.Module], num_layers: int, share: bool = False,
                 final_norm: nn.Module | None = None):
        super().__init__()
        self.num_layers, self.share = num_layers, share
        self.layers = nn.ModuleList([make_layer() for _ in range(1 if share else num_layers)])
        self.final_norm = final_norm

    def layer(self, i: int) -> nn.Module:
        return self.layers[0 if self.share else i]

    def forward(self, x: Tensor, *args, cache: list | None = None, need_weights: bool = False, **kw):
        weights = []
        for i in range(self.num_layers):
            x, w = self.layer(i)(x, *args, cache=None if cache is None else cache[i],
                                 need_weights=need_weights, **kw)
            weights.append(w)
        if self.final_norm is not None:
            x = self.final_norm(x)
        return x, weights

    def extra_repr(self) -> str:
        return f"num_layers={self.num_layers}, share={self.share}"
