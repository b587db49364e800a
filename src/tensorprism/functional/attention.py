"""Scaled dot-product attention (book §6.2, eqs. at lines 13072-13086) and attention masks.

.. math::

    \\mathrm{Attention}(Q, K, V) = \\mathrm{softmax}\\!\\left(\\frac{QK^\\top}{\\sqrt{d_k}} + B\\right) V

Mask convention (one, everywhere in tensorprism): a **boolean** tensor where ``True`` means
"this query may attend to this key". It broadcasts against the score tensor ``(..., L, S)``; a
key-padding mask is ``(N, 1, 1, S)`` and a causal mask ``(L, S)``. Masks are converted once, here, to
the kernel's form. A query row whose keys are *all* masked gets a zero output (and zero gradient),
never NaN: the book's ``masked_fill(mask == 0, -inf)`` (line 15936) would give NaN there.

The book masks by multiplying scores with a 0/1 matrix (lines 14374-14396, 16651); that is wrong,
since ``exp(0) = 1`` still gives masked keys weight. Masking here is additive ``-inf``.

Two paths compute the same function:

* :func:`attention_reference` — the equation as ``einsum``, readable, returns the weights;
* :func:`scaled_dot_product_attention` — the fast path on ``torch.nn.functional.
  scaled_dot_product_attention`` (fused kernels), with the weights computed only when asked for.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import ShapeError

__all__ = [
    "attention_reference",
    "scaled_dot_product_attention",
    "padding_mask",
    "causal_mask",
    "sliding_window_mask",
    "strided_mask",
    "block_sparse_mask",
    "combine_masks",
    "mask_to_bias",
]


def _check_qkv(q: Tensor, k: Tensor, v: Tensor) -> None:
    if q.dim() < 2 or k.dim() != q.dim() or v.dim() != q.dim():
        raise ShapeError(
            f"attention expects q, k, v with the same number of dims (..., L, E), got "
            f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}; use (N, H, L, E) for multi-head"
        )
    if q.shape[-1] != k.shape[-1]:
        raise ShapeError(f"query and key feature sizes differ: {q.shape[-1]} vs {k.shape[-1]}")
    if k.shape[-2] != v.shape[-2]:
        raise ShapeError(f"key and value lengths differ: {k.shape[-2]} vs {v.shape[-2]}")


def _check_mask(mask: Tensor) -> None:
    if mask.dtype != torch.bool:
        raise ShapeError(
            f"attention masks are boolean (True = may attend), got dtype {mask.dtype}; "
            "convert a 0/1 mask with `mask.bool()` or an additive float mask with `mask == 0`"
        )


def _check_mask_shape(mask: Tensor, q: Tensor, k: Tensor) -> None:
    """A mask is ``(L, S)`` or has the scores' rank and broadcasts to them: for ``(N, H, L, E)``
    queries, ``(N | 1, H | 1, L | 1, S | 1)``, so a key-padding mask is ``(N, 1, 1, S)``. Ranks in
    between are refused: a 3-D ``(N, L, S)`` would align ``N`` with the heads."""
    scores = (*q.shape[:-1], k.shape[-2])
    ok = mask.dim() in (2, len(scores)) and all(
        m in (1, s) for m, s in zip(reversed(mask.shape), reversed(scores), strict=False))
    if not ok:
        raise ShapeError(
            f"attention mask of shape {tuple(mask.shape)} does not broadcast to the scores {scores} "
            "(..., L queries, S keys) rank for rank: give (L, S) for a per-position mask, the scores' rank "
            "otherwise (a per-sequence mask is (N, 1, L, S)) and (N, 1, 1, S) for key "
            "padding (`padding_mask` builds it); a 2-D (N, S) padding mask would be read as (L, S)")


def mask_to_bias(mask: Tensor | None, bias: Tensor | None = None, dtype=torch.float32) -> Tensor | None:
    """Turn a boolean mask (True = keep) and/or an additive bias into one additive float mask."""
    if mask is None:
        return bias
    _check_mask(mask)
    out = torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask, float("-inf"))
    return out if bias is None else out + bias


def attention_reference(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    bias: Tensor | None = None,
    scale: float | None = None,
    dropout_p: float = 0.0,
    training: bool = True,
) -> tuple[Tensor, Tensor]:
    """The equation, written out: returns ``(output, weights)``.

    Shapes: ``q (..., L, E)``, ``k (..., S, E)``, ``v (..., S, Ev)``, ``mask``/``bias`` broadcastable
    to ``(..., L, S)``; output ``(..., L, Ev)`` and weights ``(..., L, S)`` (rows sum to 1, or to 0
    for fully masked rows).
    """
    _check_qkv(q, k, v)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = torch.einsum("...le,...se->...ls", q, k) * scale  # e_ij = q_i . k_j / sqrt(d_k)
    if bias is not None:
        scores = scores + bias
    if mask is not None:
        _check_mask(mask)
        _check_mask_shape(mask, q, k)
        scores = scores.masked_fill(~mask, float("-inf"))
    # rows with every key masked: softmax of all -inf is NaN; define their weights as zero
    live = torch.isfinite(scores).any(-1, keepdim=True)
    weights = torch.softmax(scores.masked_fill(~live, 0.0), dim=-1) * live
    if dropout_p > 0.0 and training:
        weights = F.dropout(weights, dropout_p)
    out = torch.einsum("...ls,...se->...le", weights, v)  # sum_j alpha_ij v_j
    return out, weights


def scaled_dot_product_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    bias: Tensor | None = None,
    *,
    is_causal: bool = False,
    scale: float | None = None,
    dropout_p: float = 0.0,
    need_weights: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """Fast attention on ``F.scaled_dot_product_attention``; same contract as the reference.

    ``is_causal=True`` adds a causal mask aligned to the *end* of the keys (query ``i`` of ``L``
    sees keys ``j <= i + S - L``), which is what incremental decoding with a KV cache needs.
    Returns ``(output, weights)``; weights are ``None`` unless ``need_weights`` (then the reference
    path computes both). ``dropout_p`` is applied as given: pass 0 in eval mode.
    """
    _check_qkv(q, k, v)
    if mask is not None:
        _check_mask(mask)
        _check_mask_shape(mask, q, k)
    L, S = q.shape[-2], k.shape[-2]
    if is_causal and mask is None and bias is None and L == S and not need_weights:
        # the kernel's own causal path (no mask tensor; no row can be fully masked)
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=True, scale=scale), None
    if is_causal:
        c = causal_mask(L, S, device=q.device)
        mask = c if mask is None else (mask & c)
    if need_weights:
        return attention_reference(q, k, v, mask, bias, scale, dropout_p)
    if mask is None:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=dropout_p, scale=scale), None
    _check_mask(mask)
    live = mask.any(-1, keepdim=True)  # (..., L, 1): rows with at least one visible key
    # On the CPU a host check is free: skip the guard when every row sees a key. On accelerators
    # always guard (no host sync): dead rows attend anywhere, then are zeroed (no NaN, fwd or bwd).
    guard = q.device.type != "cpu" or not bool(live.all())
    safe = mask | ~live if guard else mask
    attn_mask = safe if bias is None else mask_to_bias(safe, bias, q.dtype)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p, scale=scale)
    return (out * live.to(out.dtype) if guard else out), None


# ----------------------------------------------------------------------------------------- masks


def padding_mask(
    tokens_or_lengths: Tensor, pad_id: int = 0, max_len: int | None = None
) -> Tensor:
    """Key-padding mask ``(N, 1, 1, S)``: ``True`` at real tokens.

    Give either token ids ``(N, S)`` (positions equal to ``pad_id`` are padding) or lengths ``(N,)``
    (with ``max_len``, default ``lengths.max()``).
    """
    t = tokens_or_lengths
    if t.dim() == 1:
        S = int(t.max()) if max_len is None else max_len
        keep = torch.arange(S, device=t.device)[None, :] < t[:, None]
    elif t.dim() == 2:
        keep = t != pad_id
    else:
        raise ShapeError(f"padding_mask expects token ids (N, S) or lengths (N,), got {tuple(t.shape)}")
    return keep[:, None, None, :]


def causal_mask(L: int, S: int | None = None, device=None) -> Tensor:
    """Lower-triangular ``(L, S)`` mask, aligned to the end: query ``i`` sees keys ``j <= i + S - L``.

    With ``S == L`` this is the book's look-ahead mask (eq. at line 14652); with ``S > L`` the
    queries are the last ``L`` positions of a cached sequence.
    """
    S = L if S is None else S
    i = torch.arange(L, device=device)[:, None] + (S - L)
    j = torch.arange(S, device=device)[None, :]
    return j <= i


def sliding_window_mask(L: int, window: int, causal: bool = False, device=None) -> Tensor:
    """Local attention ``(L, L)``: ``|i - j| <= window // 2`` (centred, as the book's code at line
    16740) or, with ``causal``, ``0 <= i - j < window``."""
    d = torch.arange(L, device=device)[:, None] - torch.arange(L, device=device)[None, :]
    if causal:
        return (d >= 0) & (d < window)
    return d.abs() <= window // 2


def strided_mask(L: int, stride: int, causal: bool = True, device=None) -> Tensor:
    """Strided pattern of the Sparse Transformer (Child et al. 2019): attend to the previous
    ``stride`` positions and to every ``stride``-th position before them (book §6.6.2, 14378)."""
    d = torch.arange(L, device=device)[:, None] - torch.arange(L, device=device)[None, :]
    keep = (d.abs() < stride) | (d % stride == 0)
    return keep & (d >= 0) if causal else keep


def block_sparse_mask(layout: Tensor, block: int, L: int | None = None) -> Tensor:
    """Expand a block layout ``(nb_q, nb_k)`` (True = block attends) to ``(L, S)`` token mask,
    cropped to ``L`` rows and columns when given (book's fixed pattern ``S``, line 16649)."""
    if layout.dim() != 2 or layout.dtype != torch.bool:
        raise ShapeError(f"layout must be a boolean (nb_q, nb_k) matrix, got {layout.dtype} {tuple(layout.shape)}")
    m = layout.repeat_interleave(block, 0).repeat_interleave(block, 1)
    return m if L is None else m[:L, :L]


def combine_masks(*masks: Tensor | None) -> Tensor | None:
    """Logical AND of broadcastable boolean masks; ``None`` entries are ignored."""
    out = None
    for m in masks:
        if m is None:
            continue
        _check_mask(m)
        out = m if out is None else (out & m)
    return out
