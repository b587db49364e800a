r"""Temporal and spatial attention over video frames (book §7.5.1, l. 16894-16969, C15, L7-28).

For per-frame feature maps :math:`F_t \in \mathbb R^{C\times h\times w}`:

.. math::
    A_{t,ij} = \mathrm{softmax}_{ij}\big(\mathrm{ReLU}(w_s^\top F_{t,ij} + b_s)\big),\qquad
    f_t = \sum_{ij} A_{t,ij} F_{t,ij},

    e_t = v^\top \phi(W f_t + b),\qquad \alpha_t = \mathrm{softmax}_t(e_t),\qquad
    c = \sum_t \alpha_t f_t = \sum_t \alpha_t \sum_{ij} A_{t,ij} F_{t,ij}

The book's listing scores frames with ``Linear(D, T)`` applied to a ``(B, T)`` tensor (a size
mismatch), reshapes frames into an impossible ``(B·T, 3, 32, 32, 32)``, applies temporal attention
twice and sizes its head for the wrong map; it has no spatial attention although the equations do.
Here each level is one pooling with its own weights, returned for pictures. ``spatial="mean"`` and
``temporal="mean"`` give the no-attention baseline (frame averaging) with the same parameters
elsewhere.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from ..errors import ConfigError, ShapeError
from .rnn_attention import AttentionPooling
from .visual_attention import PositionSoftmaxAttention

__all__ = ["VideoAttentionOutput", "SpatioTemporalAttention"]


class VideoAttentionOutput(NamedTuple):
    context: Tensor  # (B, C)
    frame_weights: Tensor  # (B, T)
    spatial_weights: Tensor  # (B, T, h, w)


class SpatioTemporalAttention(nn.Module):
    """``forward(F (B, T, C, h, w), frame_mask=None (B, T)) -> VideoAttentionOutput``.

    Args:
        channels: ``C``.
        spatial: ``"attention"`` (softmax over positions) or ``"mean"``.
        temporal: ``"attention"`` (additive pooling over frames) or ``"mean"``.
        activation: the frame score's non-linearity, ``"tanh"`` or ``"relu"`` (the book's).
    """

    def __init__(self, channels: int, spatial: str = "attention", temporal: str = "attention",
                 activation: str = "tanh"):
        super().__init__()
        for name, value in (("spatial", spatial), ("temporal", temporal)):
            if value not in ("attention", "mean"):
                raise ConfigError(f"{name} must be 'attention' or 'mean', got {value!r}")
        self.spatial = PositionSoftmaxAttention(channels) if spatial == "attention" else None
        self.temporal = AttentionPooling(channels, activation=activation) if temporal == "attention" else None
        self.channels = channels

    def forward(self, feats: Tensor, frame_mask: Tensor | None = None) -> VideoAttentionOutput:
        if feats.dim() != 5 or feats.shape[2] != self.channels:
            raise ShapeError(f"expected per-frame feature maps (B, T, {self.channels}, h, w), got {tuple(feats.shape)}")
        B, T, C, h, w = feats.shape
        flat = feats.reshape(B * T, C, h, w)
        if self.spatial is not None:
            A = self.spatial.attention(flat)  # (B·T, 1, h, w)
        else:
            A = flat.new_full((B * T, 1, h, w), 1.0 / (h * w))
        f = (A * flat).sum((2, 3)).view(B, T, C)  # f_t = sum_ij A_t,ij F_t,ij
        if frame_mask is not None and (frame_mask.dtype != torch.bool or tuple(frame_mask.shape) != (B, T)):
            raise ShapeError(f"frame_mask must be boolean (B, T) = {(B, T)}, got {frame_mask.dtype} "
                             f"{tuple(frame_mask.shape)}")
        if self.temporal is not None:
            c, alpha = self.temporal(f, frame_mask)
        else:
            m = torch.ones(B, T, dtype=f.dtype, device=f.device) if frame_mask is None else frame_mask.to(f.dtype)
            alpha = m / m.sum(1, keepdim=True).clamp_min(1)
            c = torch.einsum("bt,btc->bc", alpha, f)
        return VideoAttentionOutput(c, alpha, A.view(B, T, h, w))
