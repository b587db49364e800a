r"""Chapter 7's attention equations as plain tensor functions (reference paths).

Each function writes one equation of the book's Chapter 7 (catalogue §1.12) with explicit loops
or ``einsum`` so it can sit beside the page; the layers in :mod:`tensorprism.nn` compute the same
thing batched and are tested equal to these.

* :func:`attention_pool_reference` -- query-free additive pooling (HAN word/sentence level C4,
  audio pooling C16, temporal attention C15):
  :math:`e_t = v^\top \phi(W h_t + b)`, :math:`\alpha = \mathrm{softmax}_{t \in \text{mask}}(e)`,
  :math:`c = \sum_t \alpha_t h_t`, with :math:`\phi` = tanh (or ReLU, Exercise 7.10).
* :func:`hierarchical_pool_reference` -- HAN's two levels, one document at a time, padded words
  and padded (or empty) sentences left out.
* :func:`channel_gate_reference` -- :math:`M_c = \sigma(W_2\,\mathrm{ReLU}(W_1\,\mathrm{GAP}(F)))`
  (C6; with ``"avg+max"`` the CBAM sum over both poolings).
* :func:`spatial_gate_reference` -- :math:`M_s = \sigma(k * [\mathrm{mean}_c F; \max_c F])` (C5).
* :func:`spatial_softmax_reference` -- the image-classification layer of §7.5.1 (C13):
  :math:`e_{ij} = \mathrm{ReLU}(w^\top F_{ij} + b)`, :math:`\alpha = \mathrm{softmax}` over all
  ``H·W`` positions.

Masks are boolean, ``True`` = may attend; a set with no allowed position gets zero weights and a
zero context, never NaN.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "attention_pool_reference",
    "hierarchical_pool_reference",
    "channel_gate_reference",
    "spatial_gate_reference",
    "spatial_softmax_reference",
]

_ACT = {"tanh": torch.tanh, "relu": torch.relu}


def attention_pool_reference(h: Tensor, W: Tensor, b: Tensor | None, v: Tensor, mask: Tensor | None = None,
                             activation: str = "tanh") -> tuple[Tensor, Tensor]:
    """``h (B, T, D)``, ``W (A, D)``, ``b (A,)``, ``v (A,)``, ``mask (B, T)`` -> ``(c (B, D), alpha (B, T))``."""
    act = _ACT[activation]
    B, T, _ = h.shape
    c = torch.zeros(B, h.shape[-1], dtype=h.dtype)
    alpha = torch.zeros(B, T, dtype=h.dtype)
    for i in range(B):
        keep = [t for t in range(T) if mask is None or bool(mask[i, t])]
        if not keep:
            continue  # nothing to attend to: zero weights, zero context
        e = torch.stack([v @ act(W @ h[i, t] + (0 if b is None else b)) for t in keep])
        a = torch.exp(e - e.max()) / torch.exp(e - e.max()).sum()
        for a_t, t in zip(a, keep, strict=True):
            alpha[i, t] = a_t
            c[i] += a_t * h[i, t]
    return c, alpha


def hierarchical_pool_reference(words: list[list[Tensor]], word_rnn, word_att: tuple, sent_rnn,
                                sent_att: tuple) -> tuple[Tensor, list[list[Tensor]], Tensor]:
    """HAN (book §7.2.3, l. 16036-16060) for one document given as unpadded pieces.

    ``words`` is the document's sentences, each ``(W_s, E)`` (an empty sentence has ``W_s = 0``);
    ``word_rnn`` / ``sent_rnn`` map ``(1, T, ·)`` to ``(1, T, 2H)``; ``word_att`` / ``sent_att`` are
    ``(W, b, v)``. Returns the document vector ``d (2H,)``, each sentence's word weights and the
    sentence weights ``beta`` (0 for empty sentences).
    """
    sent_vecs, word_w, live = [], [], []
    for s in words:
        if s.shape[0] == 0:
            word_w.append(s.new_zeros(0))
            continue
        hs = word_rnn(s[None])  # (1, W_s, 2H): the sentence alone, no padding
        c, a = attention_pool_reference(hs, *word_att)
        sent_vecs.append(c[0])
        word_w.append(a[0])
        live.append(len(word_w) - 1)
    beta = torch.zeros(len(words), dtype=words[0].dtype)
    if not sent_vecs:
        return torch.zeros(sent_att[0].shape[1]), word_w, beta
    hs = sent_rnn(torch.stack(sent_vecs)[None])  # (1, S_live, 2H)
    d, b = attention_pool_reference(hs, *sent_att)
    for k, n in enumerate(live):
        beta[n] = b[0, k]
    return d[0], word_w, beta


def channel_gate_reference(x: Tensor, W1: Tensor, W2: Tensor, pool: str = "avg") -> Tensor:
    """``x (N, C, H, W)``, ``W1 (C/r, C)``, ``W2 (C, C/r)`` -> the gate ``M_c (N, C, 1, 1)``."""
    def mlp(z: Tensor) -> Tensor:
        return torch.einsum("kc,nc->nk", W2, torch.relu(torch.einsum("rc,nc->nr", W1, z)))

    z = mlp(x.mean((2, 3)))
    if pool == "avg+max":
        z = z + mlp(x.amax((2, 3)))
    return torch.sigmoid(z)[:, :, None, None]


def spatial_gate_reference(x: Tensor, kernel: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x (N, C, H, W)``, ``kernel (1, 2, k, k)`` -> the gate ``M_s (N, 1, H, W)`` ('same' padding)."""
    pooled = torch.stack([x.mean(1), x.amax(1)], 1)  # (N, 2, H, W): [mean_c F; max_c F]
    return torch.sigmoid(F.conv2d(pooled, kernel, bias, padding=kernel.shape[-1] // 2))


def spatial_softmax_reference(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    """``x (N, C, H, W)``, ``w (C,)``, ``b ()`` -> ``alpha (N, 1, H, W)``, summing to 1 over ``H·W``."""
    e = torch.relu(torch.einsum("nchw,c->nhw", x, w) + b)  # e_ij = ReLU(w . F_ij + b)
    N, H, W = e.shape
    return torch.softmax(e.reshape(N, H * W), dim=1).reshape(N, 1, H, W)
