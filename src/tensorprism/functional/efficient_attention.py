"""Efficient and sparse attention (book §6.6.2, lines 14360-14404; §7.4.2, lines 16645-16761).

Each method has a readable reference and a fast path, tested equal:

========================  ===========================================  =================================
method                    reference (the equation)                     fast path
========================  ===========================================  =================================
kernelised linear         weights ``φ(q_i)·φ(k_j) / Σ_j' φ(q_i)·φ(k_j')``  ``φ(Q)(φ(K)^T V)`` in O(N); causal
(Katharopoulos 2020)      as an ``(L, S)`` matrix                        by chunked prefix sums
Performer FAVOR+          the same with positive random features          the same linear kernel
(Choromanski 2021)
sliding window            full scores, band mask (``sliding_window_mask``)  blocked: each block of queries
                                                                            sees its neighbour blocks only,
                                                                            O(N·w) memory, never N×N
block sparse              full scores, ``block_sparse_mask(layout)``      gathered key blocks, O(N·k·b)
dynamic convolution       band matrix of per-position kernels            ``unfold`` + weighted sum
(Wu et al. 2019)
========================  ===========================================  =================================

Linformer (Wang et al. 2020) projects keys and values along the sequence, ``softmax(Q (EK)^T/√d)(FV)``,
and is ordinary attention over the ``k`` projected keys (:func:`linformer_attention`).

Errata pinned by tests: the book's linear attention (L6-15) has no row normaliser
``φ(q_i)^T Σ_j φ(k_j)``, so outputs grow with the sequence length (erratum 5.1.8); its masks
multiply the scores (``QK^T ⊙ M``), which still gives masked keys ``exp(0)`` weight -- masks here
are boolean, True = may attend, applied as ``-inf``; its learnable sparse mask thresholds
``sigmoid(W) > s``, which has no gradient -- here the soft mask enters as ``log σ(W)`` added to
the scores (:func:`soft_sparse_bias`), so ``W`` learns.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import ShapeError
from .attention import scaled_dot_product_attention

__all__ = [
    "elu_feature_map",
    "linear_attention_reference",
    "linear_attention",
    "orthogonal_random_features",
    "favor_features",
    "performer_attention",
    "linformer_attention",
    "sliding_window_attention",
    "block_sparse_attention",
    "soft_sparse_bias",
    "dynamic_conv_reference",
    "dynamic_conv",
]


def _check_kpm(key_padding_mask: Tensor | None, N: int, S: int) -> Tensor | None:
    """``(N, S)`` boolean, True at real keys; :class:`ShapeError` otherwise."""
    if key_padding_mask is None:
        return None
    m = key_padding_mask
    if m.dtype != torch.bool or tuple(m.shape) != (N, S):
        raise ShapeError(f"key_padding_mask must be a boolean (N, S) = ({N}, {S}) tensor, True at real keys, "
                         f"got {m.dtype} {tuple(m.shape)}")
    return m


# ----------------------------------------------------------------------------- linear attention
def elu_feature_map(x: Tensor) -> Tensor:
    """``φ(x) = elu(x) + 1`` (Katharopoulos et al. 2020; book line 14368): positive, so the
    normaliser ``φ(q)·Σφ(k)`` never vanishes."""
    return F.elu(x) + 1


def linear_attention_reference(phi_q: Tensor, phi_k: Tensor, v: Tensor, causal: bool = False,
                               key_padding_mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Kernel attention written as a weight matrix: ``A_ij = φ(q_i)·φ(k_j) / Σ_j' φ(q_i)·φ(k_j')``.

    Shapes: features ``(N, h, L, F)``, ``(N, h, S, F)``, values ``(N, h, S, E)``; returns
    ``(output (N, h, L, E), weights (N, h, L, S))``. Quadratic in the length: the reference only.
    """
    a = torch.einsum("nhlf,nhsf->nhls", phi_q, phi_k)
    if causal:
        a = a * torch.ones(a.shape[-2:], dtype=torch.bool, device=a.device).tril(a.shape[-1] - a.shape[-2])
    kpm = _check_kpm(key_padding_mask, phi_k.shape[0], phi_k.shape[-2])
    if kpm is not None:
        a = a * kpm[:, None, None, :]
    w = a / a.sum(-1, keepdim=True).clamp_min(1e-12)
    return w @ v, w


def linear_attention(phi_q: Tensor, phi_k: Tensor, v: Tensor, causal: bool = False,
                     key_padding_mask: Tensor | None = None, chunk: int = 128, eps: float = 1e-12) -> Tensor:
    """Fast kernel attention with the normaliser (the correction of the book's eq. at line 14370):

    .. math:: \\mathrm{out}_i = \\frac{\\phi(q_i)^\\top \\sum_j \\phi(k_j) v_j^\\top}
                                     {\\phi(q_i)^\\top \\sum_j \\phi(k_j)}

    Non-causal: two products, ``O(N F E)`` time and memory. Causal: the sums run over ``j <= i``;
    computed chunk by chunk, carrying the running sums ``Σ φ(k_j) v_j^T`` and ``Σ φ(k_j)`` between
    chunks and using the small masked quadratic form inside each (memory ``O(N·chunk + F·E)``).
    """
    kpm = _check_kpm(key_padding_mask, phi_k.shape[0], phi_k.shape[-2])
    if kpm is not None:
        phi_k = phi_k * kpm[:, None, :, None].to(phi_k.dtype)
    if not causal:
        kv = torch.einsum("nhsf,nhse->nhfe", phi_k, v)  # Σ_j φ(k_j) v_j^T
        z = phi_k.sum(-2)  # Σ_j φ(k_j)
        num = torch.einsum("nhlf,nhfe->nhle", phi_q, kv)
        den = torch.einsum("nhlf,nhf->nhl", phi_q, z)[..., None]
        return num / den.clamp_min(eps)  # clamp, not +eps: tiny normalisers (FAVOR+ keys) stay exact
    L, S = phi_q.shape[-2], phi_k.shape[-2]
    if L != S:
        raise ShapeError(f"causal linear attention needs as many queries as keys, got L={L}, S={S}")
    N, h, _, Fdim = phi_q.shape
    kv = phi_q.new_zeros(N, h, Fdim, v.shape[-1])
    z = phi_q.new_zeros(N, h, Fdim)
    tri = torch.ones(chunk, chunk, dtype=phi_q.dtype, device=phi_q.device).tril()
    outs = []
    for s in range(0, L, chunk):
        q, k, vv = phi_q[..., s:s + chunk, :], phi_k[..., s:s + chunk, :], v[..., s:s + chunk, :]
        c = q.shape[-2]
        a = (q @ k.transpose(-1, -2)) * tri[:c, :c]  # within the chunk: j <= i
        num = a @ vv + q @ kv
        den = a.sum(-1) + (q * z[..., None, :]).sum(-1)  # φ(q_i)·(Σ_{j<=i} φ(k_j))
        outs.append(num / den[..., None].clamp_min(eps))
        kv = kv + k.transpose(-1, -2) @ vv
        z = z + k.sum(-2)
    return torch.cat(outs, dim=-2)


# ----------------------------------------------------------------------------- Performer
def orthogonal_random_features(num_features: int, dim: int, generator: torch.Generator | None = None,
                               device=None, dtype=torch.float32) -> Tensor:
    """``(m, d)`` Gaussian directions made orthogonal in blocks of ``d`` (QR), each row rescaled to
    the norm of a ``N(0, I_d)`` sample, so the rows are marginally Gaussian (FAVOR+, Choromanski et al.)."""
    blocks = []
    for _ in range(math.ceil(num_features / dim)):
        g = torch.randn(dim, dim, generator=generator, dtype=torch.float64)
        q, _ = torch.linalg.qr(g)
        blocks.append(q.t())
    w = torch.cat(blocks)[:num_features]
    norms = torch.randn(num_features, dim, generator=generator, dtype=torch.float64).norm(dim=1)
    return (w * norms[:, None]).to(device=device, dtype=dtype)


def favor_features(x: Tensor, proj: Tensor, is_query: bool, eps: float = 1e-6) -> Tensor:
    """Positive random features of the softmax kernel: ``φ(x) = exp(ω^T x̃ - |x̃|²/2) / √m`` with
    ``x̃ = x / d^{1/4}`` (so ``E[φ(q)·φ(k)] = exp(q·k/√d)``), ``x (N, h, L, d)`` → ``(N, h, L, m)``.

    A constant is subtracted in the exponent for stability (per row for queries, over all keys of a
    head for keys): it cancels between numerator and normaliser.
    """
    d = x.shape[-1]
    x = x * d ** -0.25
    wx = x @ proj.t().to(x.dtype)  # (N, h, L, m)
    sq = (x * x).sum(-1, keepdim=True) / 2
    stab = wx.amax(-1, keepdim=True) if is_query else wx.amax(dim=(-1, -2), keepdim=True)
    return (torch.exp(wx - sq - stab.detach()) + eps) / math.sqrt(proj.shape[0])


def performer_attention(q: Tensor, k: Tensor, v: Tensor, proj: Tensor, causal: bool = False,
                        key_padding_mask: Tensor | None = None) -> Tensor:
    """FAVOR+ approximation of ``softmax(QK^T/√d) V`` (``q, k (N, h, L, d)``, ``proj (m, d)``)."""
    return linear_attention(favor_features(q, proj, True), favor_features(k, proj, False), v, causal,
                            key_padding_mask)


# ----------------------------------------------------------------------------- Linformer
def linformer_attention(q: Tensor, k: Tensor, v: Tensor, E: Tensor, Fp: Tensor,
                        key_padding_mask: Tensor | None = None, dropout_p: float = 0.0) -> Tensor:
    """``softmax(Q (E K)^T / √d) (F V)`` with ``E, F (k, S)`` projecting the ``S`` keys/values to ``k``.

    ``q (N, h, L, d)``, ``k, v (N, h, S, d)``; padded keys are zeroed before the projection.
    """
    S = k.shape[-2]
    if E.shape[-1] != S or Fp.shape[-1] != S:
        raise ShapeError(f"Linformer projections must be (k, S={S}), got {tuple(E.shape)} and {tuple(Fp.shape)}")
    kpm = _check_kpm(key_padding_mask, k.shape[0], S)
    if kpm is not None:
        keep = kpm[:, None, :, None].to(k.dtype)
        k, v = k * keep, v * keep
    k2 = torch.einsum("ks,nhsd->nhkd", E, k)
    v2 = torch.einsum("ks,nhsd->nhkd", Fp, v)
    out, _ = scaled_dot_product_attention(q, k2, v2, dropout_p=dropout_p)
    return out


# ----------------------------------------------------------------------------- sliding window
def _band(qpos: Tensor, kpos: Tensor, window: int, causal: bool) -> Tensor:
    d = qpos[..., :, None] - kpos[..., None, :]
    return ((d >= 0) & (d < window)) if causal else (d.abs() <= window // 2)


def sliding_window_attention(q: Tensor, k: Tensor, v: Tensor, window: int, causal: bool = False,
                             key_padding_mask: Tensor | None = None, dropout_p: float = 0.0) -> Tensor:
    """Local attention without the ``L × L`` scores: the same function as ``attention(q, k, v,
    sliding_window_mask(L, window, causal))`` (query ``i`` sees ``|i - j| <= window // 2``, or
    ``0 <= i - j < window`` when causal; the book's L7-23 window), in ``O(L·w)`` memory.

    The sequence is cut into blocks of ``b`` positions (``b = window`` causal, ``window // 2``
    centred); block ``t`` of queries attends only to key blocks ``t - 1, t`` (causal) or
    ``t - 1, t, t + 1``, which contain its whole window. Scores are ``(N, h, L/b, b, 2b | 3b)``.
    ``q, k, v (N, h, L, E)``.
    """
    if window < 1:
        raise ShapeError(f"window must be at least 1, got {window}")
    N, h, L, E = q.shape
    if k.shape[-2] != L:
        raise ShapeError(f"sliding-window attention is self-attention: L={L} queries but {k.shape[-2]} keys")
    kpm = _check_kpm(key_padding_mask, N, L)
    b = window if causal else max(window // 2, 1)
    nb = math.ceil(L / b)
    pad = nb * b - L
    ctx = 2 if causal else 3

    def blocks(x: Tensor) -> Tensor:  # (N, h, L, E) -> key context per query block (N, h, nb, ctx*b, E)
        x = F.pad(x, (0, 0, b, pad + b))  # one empty block before, one (plus the tail) after
        xb = x.view(*x.shape[:-2], nb + 2, b, x.shape[-1])
        parts = [xb[:, :, i:i + nb] for i in range(ctx)]
        return torch.cat(parts, dim=-2)

    qb = F.pad(q, (0, 0, 0, pad)).view(N, h, nb, b, E)
    kc, vc = blocks(k), blocks(v)
    qpos = torch.arange(nb * b, device=q.device).view(nb, b)
    kpos = (torch.arange(nb, device=q.device)[:, None] - 1) * b + torch.arange(ctx * b, device=q.device)
    allowed = _band(qpos, kpos, window, causal) & (kpos >= 0)[:, None, :] & (kpos < L)[:, None, :]
    mask = allowed[None, None]  # (1, 1, nb, b, ctx*b)
    if kpm is not None:
        km = F.pad(kpm, (b, pad + b)).view(N, nb + 2, b)
        km = torch.cat([km[:, i:i + nb] for i in range(ctx)], dim=-1)  # (N, nb, ctx*b)
        mask = mask & km[:, None, :, None, :]
    out, _ = scaled_dot_product_attention(qb, kc, vc, mask, dropout_p=dropout_p)
    return out.reshape(N, h, nb * b, E)[:, :, :L]


# ----------------------------------------------------------------------------- block sparse
def block_sparse_attention(q: Tensor, k: Tensor, v: Tensor, layout: Tensor, block: int,
                           causal: bool = False, dropout_p: float = 0.0) -> Tensor:
    """Attention restricted to the blocks of ``layout (nb, nb)`` (True = query block attends to key
    block), computed only on those blocks: each query block gathers its ``≤ k_max`` key blocks.

    Equal to ``attention(q, k, v, block_sparse_mask(layout, block, L) [& causal])``. Memory
    ``O(L · k_max · block)``. ``q, k, v (N, h, L, E)`` with ``L <= nb * block``.
    """
    N, h, L, E = q.shape
    nb = math.ceil(L / block)
    if layout.dtype != torch.bool or tuple(layout.shape) != (nb, nb):
        raise ShapeError(f"layout must be a boolean ({nb}, {nb}) block matrix for L={L} and block={block}, "
                         f"got {layout.dtype} {tuple(layout.shape)}")
    pad = nb * block - L
    counts = layout.sum(1)
    kmax = max(int(counts.max()), 1)
    # indices of each row's key blocks, padded with block 0 and marked invalid
    order = torch.argsort((~layout).to(torch.int8), dim=1, stable=True)[:, :kmax]  # (nb, kmax)
    valid = torch.arange(kmax, device=layout.device)[None, :] < counts[:, None]
    kb = F.pad(k, (0, 0, 0, pad)).view(N, h, nb, block, E)
    vb = F.pad(v, (0, 0, 0, pad)).view(N, h, nb, block, E)
    kg = kb[:, :, order].reshape(N, h, nb, kmax * block, E)  # (N, h, nb, kmax*block, E)
    vg = vb[:, :, order].reshape(N, h, nb, kmax * block, E)
    qb = F.pad(q, (0, 0, 0, pad)).view(N, h, nb, block, E)
    kpos = (order[..., None] * block + torch.arange(block, device=q.device)).reshape(nb, kmax * block)
    kvalid = valid[..., None].expand(nb, kmax, block).reshape(nb, kmax * block) & (kpos < L)
    mask = kvalid[:, None, :].expand(nb, block, kmax * block)
    if causal:
        qpos = torch.arange(nb * block, device=q.device).view(nb, block)
        mask = mask & (kpos[:, None, :] <= qpos[..., None])
    out, _ = scaled_dot_product_attention(qb, kg, vg, mask[None, None], dropout_p=dropout_p)
    return out.reshape(N, h, nb * block, E)[:, :, :L]


# ----------------------------------------------------------------------------- learnable soft mask
def soft_sparse_bias(logits: Tensor, L: int, S: int) -> Tensor:
    """The learnable soft mask ``σ(W)`` as an additive score bias ``log σ(W)[:L, :S]``:
    ``softmax(s + log σ(W)) ∝ σ(W) · exp(s)``, so a weight near 0 removes a key smoothly and
    ``W`` keeps its gradient (the book's ``sigmoid(W) > s`` threshold has none; L6-16).
    ``logits (h | 1, max_len, max_len)``."""
    if logits.shape[-2] < L or logits.shape[-1] < S:
        raise ShapeError(f"sequence of {L} queries / {S} keys is longer than the learnable mask "
                         f"{tuple(logits.shape[-2:])}: build it with a larger max_len")
    return F.logsigmoid(logits[..., :L, :S])


# ----------------------------------------------------------------------------- dynamic convolution
def _dyn_offset(kernel_size: int, causal: bool) -> int:
    return kernel_size - 1 if causal else kernel_size // 2


def dynamic_conv_reference(v: Tensor, weights: Tensor, causal: bool = False) -> tuple[Tensor, Tensor]:
    """Dynamic convolution as attention with a band matrix (Wu et al. 2019; the book's E6,
    line 14402, ``Σ_k w_k Conv(x, k)``): position ``i`` mixes ``v_{i + t - o}``, ``t < K``, with its
    own kernel ``weights[..., i, t]`` (``o = K - 1`` causal, ``K // 2`` centred).

    ``v (N, h, L, E)``, ``weights (N, h, L, K)``; returns ``(output (N, h, L, E), band (N, h, L, L))``.
    """
    N, h, L, K = weights.shape
    o = _dyn_offset(K, causal)
    band = weights.new_zeros(N, h, L, L + K)  # columns shifted by o, cropped below
    idx = torch.arange(L, device=v.device)[:, None] + torch.arange(K, device=v.device)[None, :]  # i + t
    band.scatter_(-1, idx.expand(N, h, L, K), weights)
    band = band[..., o:o + L]  # column j = i + t - o
    return band @ v, band


def dynamic_conv(v: Tensor, weights: Tensor, causal: bool = False) -> Tensor:
    """Fast path of :func:`dynamic_conv_reference`: pad, ``unfold`` the ``K`` taps, weighted sum
    (``O(L·K·E)``)."""
    K = weights.shape[-1]
    o = _dyn_offset(K, causal)
    vp = F.pad(v, (0, 0, o, K - 1 - o))  # (N, h, L + K - 1, E)
    taps = vp.unfold(-2, K, 1)  # (N, h, L, E, K)
    return torch.einsum("nhlek,nhlk->nhle", taps, weights)
