"""Position information for attention (book §6.3.1, lines 13308-13350) and two later schemes.

* :class:`SinusoidalPositionalEncoding` — ``PE(pos, 2i) = sin(pos / 10000^{2i/d})``,
  ``PE(pos, 2i+1) = cos(pos / 10000^{2i/d})``, added to the (scaled) embeddings, **batch-first**
  ``(N, L, D)`` (the book's table is seq-first ``(L, 1, D)``, which silently mis-adds on batch-first
  input; erratum 5.2.1) and with the dropout of the original Transformer that the book omits.
* :class:`LearnedPositionalEmbedding` — BERT/GPT/ViT absolute positions.
* :class:`RotaryEmbedding` — RoPE (Su et al. 2021): rotate query/key channel pairs by
  ``pos * theta_i`` so that ``q_m . k_n`` depends only on ``m - n``.
* :func:`alibi_bias` — ALiBi (Press et al. 2022): a per-head linear penalty ``-m_h |i - j|``
  added to the scores instead of any position embedding.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..errors import ShapeError

__all__ = [
    "sinusoidal_table",
    "SinusoidalPositionalEncoding",
    "LearnedPositionalEmbedding",
    "RotaryEmbedding",
    "alibi_slopes",
    "alibi_bias",
    "sincos_2d_table",
    "resample_grid_positions",
]


def sinusoidal_table(max_len: int, d_model: int, base: float = 10000.0) -> Tensor:
    """The ``(max_len, d_model)`` sinusoid table (odd ``d_model`` allowed: the last sine column
    has no cosine partner)."""
    pos = torch.arange(max_len, dtype=torch.float64)[:, None]
    inv = base ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)  # 1/10000^{2i/d}
    pe = torch.zeros(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(pos * inv)
    pe[:, 1::2] = torch.cos(pos * inv[: d_model // 2])
    return pe.float()


def _check_len(L: int, offset: int, max_len: int) -> None:
    if offset + L > max_len:
        raise ShapeError(
            f"sequence positions {offset}..{offset + L - 1} exceed max_len={max_len}; "
            "build the module with a larger max_len or crop the input"
        )


class SinusoidalPositionalEncoding(nn.Module):
    """``x + PE[offset : offset + L]`` then dropout; input and output ``(N, L, D)``."""

    def __init__(self, d_model: int, max_len: int = 5000, dropout: float = 0.0, base: float = 10000.0):
        super().__init__()
        self.d_model, self.max_len, self.base = d_model, max_len, base
        self.register_buffer("pe", sinusoidal_table(max_len, d_model, base), persistent=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        L = x.shape[1]
        _check_len(L, offset, self.max_len)
        return self.dropout(x + self.pe[offset : offset + L].to(x.dtype))

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, max_len={self.max_len}, base={self.base}"


class LearnedPositionalEmbedding(nn.Module):
    """``x + P[offset : offset + L]`` with a trained table ``P (max_len, D)``; ``(N, L, D)``."""

    def __init__(self, max_len: int, d_model: int, init_std: float = 0.02):
        super().__init__()
        self.max_len, self.init_std = max_len, init_std
        self.weight = nn.Parameter(torch.empty(max_len, d_model))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.weight, std=self.init_std)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        L = x.shape[1]
        _check_len(L, offset, self.max_len)
        return x + self.weight[offset : offset + L]

    def extra_repr(self) -> str:
        return f"max_len={self.max_len}, d_model={self.weight.shape[1]}"


class RotaryEmbedding(nn.Module):
    """Rotary position embedding applied to ``(N, H, L, E)`` queries and keys.

    Channel ``c`` and ``c + E/2`` form a pair rotated by angle ``pos * base^{-2c/E}`` (the
    "rotate-half" layout of GPT-NeoX / LLaMA checkpoints).
    """

    def __init__(self, head_dim: int, base: float = 10000.0):
        super().__init__()
        if head_dim % 2:
            raise ShapeError(f"RoPE needs an even head dimension, got {head_dim}")
        self.head_dim, self.base = head_dim, base
        inv = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
        self.register_buffer("inv_freq", inv, persistent=False)

    def cos_sin(self, L: int, offset: int = 0, device=None, dtype=torch.float32) -> tuple[Tensor, Tensor]:
        pos = torch.arange(offset, offset + L, device=device, dtype=torch.float32)
        ang = torch.outer(pos, self.inv_freq.to(device))
        ang = torch.cat([ang, ang], dim=-1)  # (L, E)
        return ang.cos().to(dtype), ang.sin().to(dtype)

    @staticmethod
    def rotate(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
        x1, x2 = x.chunk(2, dim=-1)
        return x * cos + torch.cat([-x2, x1], dim=-1) * sin

    def forward(self, q: Tensor, k: Tensor, offset: int = 0) -> tuple[Tensor, Tensor]:
        """Rotate new queries and keys ``(N, H, L, E)`` sitting at positions ``offset..offset+L-1``
        (rotate keys *before* they enter a KV cache, so cached keys keep their positions)."""
        cos, sin = self.cos_sin(q.shape[-2], offset, q.device, q.dtype)
        return self.rotate(q, cos, sin), self.rotate(k, cos, sin)

    def extra_repr(self) -> str:
        return f"head_dim={self.head_dim}, base={self.base}"


def alibi_slopes(num_heads: int) -> Tensor:
    """Head slopes ``m_h``: the geometric sequence ``2^{-8h/n}`` for a power-of-two ``n``; otherwise
    the closest power of two plus every other slope of the next one (Press et al. 2022)."""

    def pow2(n: int) -> list[float]:
        start = 2 ** (-(2 ** -(math.log2(n) - 3)))
        return [start ** (i + 1) for i in range(n)]

    if math.log2(num_heads).is_integer():
        return torch.tensor(pow2(num_heads))
    closest = 2 ** math.floor(math.log2(num_heads))
    extra = pow2(2 * closest)[0::2][: num_heads - closest]
    return torch.tensor(pow2(closest) + extra)


def alibi_bias(num_heads: int, L: int, S: int | None = None, device=None) -> Tensor:
    """Additive bias ``(H, L, S)``: ``-m_h |i - j|`` with queries at the last ``L`` of ``S``
    positions. Under a causal mask this equals the paper's ``m_h (j - i)``."""
    S = L if S is None else S
    i = torch.arange(S - L, S, device=device)[:, None]
    j = torch.arange(S, device=device)[None, :]
    return -alibi_slopes(num_heads).to(device)[:, None, None] * (i - j).abs()


def sincos_2d_table(grid_h: int, grid_w: int, dim: int, base: float = 10000.0) -> Tensor:
    """Fixed 2-D sine-cosine positions of a patch grid ``(grid_h * grid_w, dim)``, rows in raster
    order (MoCo v3 / MAE): half of the channels encode the row, half the column, each with the 1-D
    table of :func:`sinusoidal_table`. ``dim`` must be divisible by 4."""
    if dim % 4:
        raise ShapeError(f"2-D sine-cosine positions need an embedding size divisible by 4, got {dim}")
    rows = sinusoidal_table(grid_h, dim // 2, base)  # (gh, D/2)
    cols = sinusoidal_table(grid_w, dim // 2, base)  # (gw, D/2)
    return torch.cat([rows[:, None, :].expand(grid_h, grid_w, -1),
                      cols[None, :, :].expand(grid_h, grid_w, -1)], dim=-1).reshape(grid_h * grid_w, dim)


def resample_grid_positions(pos: Tensor, old_grid: tuple[int, int], new_grid: tuple[int, int],
                            num_prefix: int = 0, mode: str = "bicubic") -> Tensor:
    """Resample learned positions of a patch grid to another grid (a ViT at a new image size).

    ``pos (1, num_prefix + gh*gw, D)``: the prefix tokens' positions ([CLS], distillation) are kept,
    the grid's are interpolated as a ``(D, gh, gw)`` image (bicubic, as timm and Hugging Face do).
    """
    gh, gw = old_grid
    if pos.dim() != 3 or pos.shape[1] != num_prefix + gh * gw:
        raise ShapeError(f"positions must be (1, {num_prefix} + {gh}*{gw}, D), got {tuple(pos.shape)}")
    if tuple(new_grid) == (gh, gw):
        return pos
    prefix, grid = pos[:, :num_prefix], pos[:, num_prefix:]
    D = pos.shape[-1]
    img = grid.reshape(1, gh, gw, D).permute(0, 3, 1, 2).float()
    img = torch.nn.functional.interpolate(img, size=tuple(new_grid), mode=mode, align_corners=False)
    grid = img.permute(0, 2, 3, 1).reshape(1, -1, D).to(pos.dtype)
    return torch.cat([prefix, grid], dim=1)
