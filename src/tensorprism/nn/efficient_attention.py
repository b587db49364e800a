"""Efficient attention layers behind one interface (book §6.6.2, §7.4.2).

Every layer here is a drop-in replacement for :class:`~tensorprism.nn.attention.MultiheadAttention`
in self-attention: the same call ``attn(x, None, mask, key_padding_mask=..., is_causal=...,
need_weights=...) -> (output (N, L, D), weights or None)``, the same projections ``in_proj (3D, D)``
and ``out_proj`` (so a model trained with full attention can be evaluated with another one), and
the same mask convention (boolean, True = may attend; ``key_padding_mask (N, S)`` True at real
keys). A Transformer picks one with a config value through :func:`make_attention`::

    make_attention("local", 256, 4, window=128)       # GPT(attention="local", attention_kwargs=...)

=================  ==========================================================  ==================
``kind``           layer                                                       memory in ``L``
=================  ==========================================================  ==================
``full``           softmax attention (``MultiheadAttention``, SDPA kernels)    ``L²`` (kernel)
``linear``         :class:`LinearAttention` ``φ = elu + 1``, causal prefix sums  ``L``
``performer``      :class:`PerformerAttention` FAVOR+, redrawn features         ``L``
``linformer``      :class:`LinformerAttention` keys/values projected to ``k``    ``L·k``
``local``          :class:`LocalAttention` blocked sliding window               ``L·w``
``sparse``         :class:`SparseAttention` strided / fixed / block layout      ``L·k·b`` (blocks)
``soft-sparse``    :class:`SoftSparseAttention` learnable soft mask ``σ(W)``    ``L²``
``dynamic-conv``   :class:`DynamicConvAttention` per-position kernels          ``L·K``
=================  ==========================================================  ==================

Methods that never form the ``L × S`` scores cannot apply an arbitrary ``mask``: they raise
:class:`ShapeError` saying which masks they take (``key_padding_mask``, ``is_causal``). Linformer
mixes positions before attending, so it has no causal form (:class:`ConfigError` with
``is_causal=True``). Incremental decoding with a KV cache is full attention's only.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError, ShapeError
from ..functional import efficient_attention as EA
from ..functional.attention import block_sparse_mask, scaled_dot_product_attention, strided_mask
from .attention import MultiheadAttention, init_projections, split_heads

__all__ = [
    "ATTENTION_KINDS",
    "make_attention",
    "LinearAttention",
    "PerformerAttention",
    "LinformerAttention",
    "LocalAttention",
    "SparseAttention",
    "SoftSparseAttention",
    "DynamicConvAttention",
    "fixed_layout",
]


class _SelfAttention(nn.Module):
    """Shared projections, head split and argument checks of the efficient layers."""

    takes_mask = False  # whether an arbitrary (L, S) `mask` can be applied
    causal_ok = True

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        if embed_dim % num_heads:
            raise ConfigError(f"embed_dim={embed_dim} is not divisible by num_heads={num_heads}; "
                              "choose num_heads among the divisors of embed_dim")
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.dropout = dropout
        self.in_proj = nn.Linear(embed_dim, 3 * embed_dim, bias=bias)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        init_projections(self.in_proj, self.out_proj)

    def _heads(self, x: Tensor) -> Tensor:  # (N, L, D) -> (N, h, L, E)
        return split_heads(x, self.num_heads)

    def _merge(self, out: Tensor) -> Tensor:  # (N, h, L, E) -> (N, L, D) -> out_proj
        N, _, L, _ = out.shape
        return self.out_proj(out.transpose(1, 2).reshape(N, L, self.embed_dim))

    def _check(self, query: Tensor, memory, mask, key_padding_mask, is_causal, cache) -> None:
        name = type(self).__name__
        if query.dim() != 3 or query.shape[-1] != self.embed_dim:
            raise ShapeError(f"{name} expects (N, L, {self.embed_dim}) (batch first), got {tuple(query.shape)}")
        if memory is not None:
            raise ConfigError(f"{name} is self-attention only; use MultiheadAttention for cross-attention")
        if cache is not None:
            raise ConfigError(f"{name} has no KV cache: incremental decoding needs attention='full'")
        if mask is not None and not self.takes_mask:
            raise ShapeError(f"{name} never forms the L×S scores, so it cannot apply an attention `mask`; "
                             "it takes key_padding_mask (N, S) and is_causal=True")
        if is_causal and not self.causal_ok:
            raise ConfigError(f"{name} mixes all positions before attending, so it has no causal form; "
                              "use linear, performer or local attention for a causal model")
        EA._check_kpm(key_padding_mask, query.shape[0], query.shape[1])

    def forward(self, query: Tensor, memory: Tensor | None = None, mask: Tensor | None = None, *,
                key_padding_mask: Tensor | None = None, is_causal: bool = False, cache: Any = None,
                need_weights: bool = False) -> tuple[Tensor, Tensor | None]:
        self._check(query, memory, mask, key_padding_mask, is_causal, cache)
        q, k, v = (self._heads(t) for t in self.in_proj(query).split(self.embed_dim, dim=-1))
        out, weights = self.attend(q, k, v, mask, key_padding_mask, is_causal, need_weights)
        return self._merge(out), weights

    def attend(self, q, k, v, mask, key_padding_mask, is_causal, need_weights) -> tuple[Tensor, Tensor | None]:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"


class LinearAttention(_SelfAttention):
    """Kernelised linear attention (Katharopoulos et al. 2020), ``φ(x) = elu(x) + 1``, with the
    row normaliser the book omits (L6-15); causal by prefix sums. ``need_weights`` returns the
    equivalent ``(N, h, L, S)`` weight matrix (computed by the quadratic reference)."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True, chunk: int = 128):
        super().__init__(embed_dim, num_heads, dropout, bias)
        self.chunk = chunk

    def features(self, q: Tensor, k: Tensor) -> tuple[Tensor, Tensor]:
        return EA.elu_feature_map(q), EA.elu_feature_map(k)

    def attend(self, q, k, v, mask, key_padding_mask, is_causal, need_weights):
        fq, fk = self.features(q, k)
        if need_weights:
            return EA.linear_attention_reference(fq, fk, v, is_causal, key_padding_mask)
        return EA.linear_attention(fq, fk, v, is_causal, key_padding_mask, self.chunk), None


class PerformerAttention(LinearAttention):
    """FAVOR+ (Choromanski et al. 2021): softmax attention approximated with ``num_features``
    positive orthogonal random features; in training the features are redrawn every
    ``redraw_interval`` forward passes (0: never)."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 num_features: int | None = None, redraw_interval: int = 1000, chunk: int = 128, seed: int = 0):
        super().__init__(embed_dim, num_heads, dropout, bias, chunk)
        self.num_features = num_features or max(self.head_dim, int(self.head_dim * math.log(self.head_dim)))
        self.redraw_interval = redraw_interval
        self._gen = torch.Generator().manual_seed(seed)
        self.register_buffer("proj", EA.orthogonal_random_features(self.num_features, self.head_dim, self._gen))
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))

    def redraw(self) -> None:
        """Draw new random features (in place, on the buffer's device)."""
        self.proj.copy_(EA.orthogonal_random_features(self.num_features, self.head_dim, self._gen).to(self.proj))

    def features(self, q: Tensor, k: Tensor) -> tuple[Tensor, Tensor]:
        if self.training and self.redraw_interval:
            if int(self.calls) and int(self.calls) % self.redraw_interval == 0:
                self.redraw()
            self.calls += 1
        return EA.favor_features(q, self.proj, True), EA.favor_features(k, self.proj, False)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", num_features={self.num_features}, redraw_interval={self.redraw_interval}"


class LinformerAttention(_SelfAttention):
    """Linformer (Wang et al. 2020): keys and values projected along the sequence to ``k`` rows by
    learned ``E, F (k, max_len)`` (shared by the heads); sequences up to ``max_len``."""

    causal_ok = False

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 max_len: int = 512, k: int = 64):
        super().__init__(embed_dim, num_heads, dropout, bias)
        self.max_len, self.k = max_len, k
        self.E = nn.Parameter(torch.randn(k, max_len) / math.sqrt(k))
        self.F = nn.Parameter(torch.randn(k, max_len) / math.sqrt(k))

    def attend(self, q, k, v, mask, key_padding_mask, is_causal, need_weights):
        S = k.shape[-2]
        if S > self.max_len:
            raise ShapeError(f"LinformerAttention was built for sequences up to max_len={self.max_len}, got {S}; "
                             "build it with a larger max_len")
        p = self.dropout if self.training else 0.0
        return EA.linformer_attention(q, k, v, self.E[:, :S], self.F[:, :S], key_padding_mask, p), None

    def extra_repr(self) -> str:
        return super().extra_repr() + f", max_len={self.max_len}, k={self.k}"


class LocalAttention(_SelfAttention):
    """Sliding-window attention (book E2/E7, L7-23): query ``i`` sees keys ``|i - j| <= window // 2``
    (``0 <= i - j < window`` when causal), computed blockwise in ``O(L·window)`` memory."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True, window: int = 128):
        super().__init__(embed_dim, num_heads, dropout, bias)
        if window < 1:
            raise ConfigError(f"window must be a positive number of positions, got {window}")
        self.window = window

    def attend(self, q, k, v, mask, key_padding_mask, is_causal, need_weights):
        p = self.dropout if self.training else 0.0
        if need_weights:  # the full band matrix, for inspection only
            from ..functional.attention import attention_reference, sliding_window_mask

            m = sliding_window_mask(q.shape[-2], self.window, is_causal, q.device)
            if key_padding_mask is not None:
                m = m & key_padding_mask[:, None, None, :]
            return attention_reference(q, k, v, m, dropout_p=p, training=self.training)
        return EA.sliding_window_attention(q, k, v, self.window, is_causal, key_padding_mask, p), None

    def extra_repr(self) -> str:
        return super().extra_repr() + f", window={self.window}"


def fixed_layout(num_blocks: int, stride: int, causal: bool = False, device=None) -> Tensor:
    """The "fixed" block pattern (Child et al. 2019): every block attends to itself and to the
    summary block closing each group of ``stride`` blocks; ``(nb, nb)`` boolean."""
    i = torch.arange(num_blocks, device=device)
    layout = (i[:, None] == i[None, :]) | ((i[None, :] + 1) % stride == 0).expand(num_blocks, num_blocks)
    return layout & (i[None, :] <= i[:, None]) if causal else layout


class SparseAttention(_SelfAttention):
    """Fixed sparse patterns (book E3/E4/E8): ``pattern="fixed"`` (block pattern of Child et al.,
    computed on the kept blocks only), ``"block"`` (a given ``layout (nb, nb)`` of ``block``-sized
    blocks) or ``"strided"`` (token pattern: the last ``stride`` positions and every ``stride``-th
    one; applied as a boolean mask to the fused kernel, so its memory is that of full attention)."""

    takes_mask = True

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 pattern: str = "fixed", block: int = 64, stride: int = 4, layout: Any = None):
        super().__init__(embed_dim, num_heads, dropout, bias)
        if pattern not in ("fixed", "block", "strided"):
            raise ConfigError(f"pattern must be 'fixed', 'block' or 'strided', got {pattern!r}")
        if pattern == "block" and layout is None:
            raise ConfigError("pattern='block' needs a boolean layout (nb, nb)")
        self.pattern, self.block, self.stride = pattern, block, stride
        self.register_buffer("layout", None if layout is None else torch.as_tensor(layout, dtype=torch.bool),
                             persistent=False)

    def block_layout(self, L: int, causal: bool, device) -> Tensor:
        nb = math.ceil(L / self.block)
        if self.pattern == "fixed":
            return fixed_layout(nb, self.stride, causal, device)
        layout = self.layout[:nb, :nb].to(device)
        if causal:
            layout = layout & torch.ones(nb, nb, dtype=torch.bool, device=device).tril()
        return layout

    def token_mask(self, L: int, causal: bool, device) -> Tensor:
        """The pattern as an ``(L, L)`` boolean mask (the reference path)."""
        if self.pattern == "strided":
            m = strided_mask(L, self.stride, causal, device)
        else:
            m = block_sparse_mask(self.block_layout(L, causal, device), self.block, L)
            if causal:
                m = m & torch.ones(L, L, dtype=torch.bool, device=device).tril()
        return m

    def attend(self, q, k, v, mask, key_padding_mask, is_causal, need_weights):
        p = self.dropout if self.training else 0.0
        L = q.shape[-2]
        if self.pattern != "strided" and mask is None and key_padding_mask is None and not need_weights:
            return EA.block_sparse_attention(q, k, v, self.block_layout(L, is_causal, q.device), self.block,
                                             is_causal, p), None
        m = self.token_mask(L, is_causal, q.device)
        if mask is not None:
            m = m & mask
        if key_padding_mask is not None:
            m = m & key_padding_mask[:, None, None, :]
        return scaled_dot_product_attention(q, k, v, m, dropout_p=p, need_weights=need_weights)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", pattern={self.pattern!r}, block={self.block}, stride={self.stride}"


class SoftSparseAttention(_SelfAttention):
    """A learnable soft sparsity pattern (book E5, L6-16): ``softmax(QK^T/√d + log σ(W)) V`` with
    ``W (h, max_len, max_len)``, so ``σ(W_ij)`` scales key ``j``'s weight for query ``i`` and ``W``
    is trained by gradient. :meth:`sparsity_loss` (mean ``σ(W)``) pushes the pattern to be sparse;
    :meth:`hard_mask` shows what a threshold would keep."""

    takes_mask = True

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 max_len: int = 512, init: float = 3.0):
        super().__init__(embed_dim, num_heads, dropout, bias)
        self.max_len = max_len
        self.mask_logits = nn.Parameter(torch.full((num_heads, max_len, max_len), float(init)))

    def attend(self, q, k, v, mask, key_padding_mask, is_causal, need_weights):
        L, S = q.shape[-2], k.shape[-2]
        bias = EA.soft_sparse_bias(self.mask_logits, L, S)[None].to(q.dtype)  # (1, h, L, S)
        m = mask
        if key_padding_mask is not None:
            kpm = key_padding_mask[:, None, None, :]
            m = kpm if m is None else m & kpm
        p = self.dropout if self.training else 0.0
        return scaled_dot_product_attention(q, k, v, m, bias, is_causal=is_causal, dropout_p=p,
                                            need_weights=need_weights)

    def sparsity_loss(self) -> Tensor:
        """Mean of ``σ(W)``: add ``λ ×`` this to the loss to prune the pattern."""
        return torch.sigmoid(self.mask_logits).mean()

    def hard_mask(self, threshold: float = 0.5) -> Tensor:
        """``σ(W) > threshold`` (boolean, True = may attend): the pattern the soft mask has learned."""
        return torch.sigmoid(self.mask_logits) > threshold

    def extra_repr(self) -> str:
        return super().extra_repr() + f", max_len={self.max_len}"


class DynamicConvAttention(nn.Module):
    """Dynamic convolution (Wu et al. 2019; book E6) as a token mixer: each position ``i`` predicts
    its own kernel ``softmax(x_i W_K) (h, K)`` over ``K`` neighbouring positions (its past only
    when causal), shared by the ``D/h`` channels of a head, and mixes the values with it::

        out_i = W_O [ Σ_t w_{i,h,t} v_{i+t-o} ]_h          o = K - 1 (causal) or K // 2

    ``O(L·K)`` time and memory; same call as the attention layers. ``need_weights`` returns the
    equivalent band matrix ``(N, h, L, L)``.
    """

    takes_mask = False
    causal_ok = True

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 kernel_size: int = 31):
        super().__init__()
        if embed_dim % num_heads:
            raise ConfigError(f"embed_dim={embed_dim} is not divisible by num_heads={num_heads}")
        if kernel_size < 1:
            raise ConfigError(f"kernel_size must be positive, got {kernel_size}")
        self.embed_dim, self.num_heads, self.kernel_size, self.dropout = embed_dim, num_heads, kernel_size, dropout
        self.value = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.kernel = nn.Linear(embed_dim, num_heads * kernel_size, bias=bias)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)

    def forward(self, query: Tensor, memory: Tensor | None = None, mask: Tensor | None = None, *,
                key_padding_mask: Tensor | None = None, is_causal: bool = False, cache: Any = None,
                need_weights: bool = False) -> tuple[Tensor, Tensor | None]:
        _SelfAttention._check(self, query, memory, mask, key_padding_mask, is_causal, cache)  # type: ignore[arg-type]
        N, L, D = query.shape
        h, K = self.num_heads, self.kernel_size
        v = self.value(query)
        if key_padding_mask is not None:
            v = v * key_padding_mask[..., None].to(v.dtype)
        v = v.view(N, L, h, D // h).transpose(1, 2)  # (N, h, L, E)
        w = torch.softmax(self.kernel(query).view(N, L, h, K), dim=-1).transpose(1, 2)  # (N, h, L, K)
        w = F.dropout(w, self.dropout, self.training)
        if need_weights:
            out, band = EA.dynamic_conv_reference(v, w, is_causal)
        else:
            out, band = EA.dynamic_conv(v, w, is_causal), None
        return self.out_proj(out.transpose(1, 2).reshape(N, L, D)), band

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, kernel_size={self.kernel_size}"


_KINDS: dict[str, type[nn.Module]] = {
    "full": MultiheadAttention,
    "linear": LinearAttention,
    "performer": PerformerAttention,
    "linformer": LinformerAttention,
    "local": LocalAttention,
    "sparse": SparseAttention,
    "soft-sparse": SoftSparseAttention,
    "dynamic-conv": DynamicConvAttention,
}
ATTENTION_KINDS = tuple(_KINDS)


def make_attention(kind: str, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                   **kwargs: Any) -> nn.Module:
    """The self-attention layer ``kind`` (one of :data:`ATTENTION_KINDS`) with its own settings
    (``window``, ``num_features``, ``k``/``max_len``, ``pattern``/``block``/``stride``,
    ``kernel_size``...); unknown kinds or settings raise :class:`ConfigError` naming the valid ones."""
    import inspect

    if kind not in _KINDS:
        raise ConfigError(f"unknown attention {kind!r}; choose one of {', '.join(ATTENTION_KINDS)}")
    cls = _KINDS[kind]
    allowed = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "embed_dim", "num_heads",
                                                                                  "dropout", "bias")]
    bad = sorted(set(kwargs) - set(allowed))
    if bad:
        raise ConfigError(f"attention {kind!r} has no setting {', '.join(bad)}; its settings: "
                          f"{', '.join(allowed) or 'none'}")
    return cls(embed_dim, num_heads, dropout, bias, **kwargs)
