r"""Visual attention of Chapter 7 beyond the CBAM gates (book §7.3.1, §7.5.1, §7.6.1).

The channel and spatial gates and CBAM live in :mod:`tensorprism.nn.blocks.attention` (one
convention: ``forward`` returns the re-weighted input, ``attention(x)`` the gate); the residual
block with attention is :class:`~tensorprism.nn.blocks.BasicBlock` with ``attention=CBAM(...)``.
This module adds:

* :class:`PositionSoftmaxAttention` -- the image-classification attention layer (C13, L7-27):

  .. math::
      e_{ij} = \mathrm{ReLU}(w^\top F_{ij} + b),\qquad
      \alpha_{ij} = \frac{\exp e_{ij}}{\sum_{k,l}\exp e_{kl}},\qquad
      c = \sum_{ij}\alpha_{ij}F_{ij}

  The book's code applies ``nn.Softmax(dim=2)`` to a 2-D ``(B, H·W)`` tensor (an IndexError) and
  returns ``x·α``, which shrinks every feature by about ``1/(H·W)``; here the softmax runs over
  the ``H·W`` positions and ``forward`` returns ``H·W·α ⊙ F`` (``rescale=True``), so uniform
  attention leaves the map unchanged. :meth:`~PositionSoftmaxAttention.pool` gives the
  equation's pooled vector :math:`c`.
* :class:`AttentionBackbone` -- attention gates on top of any convolutional backbone's feature
  map (C8, L7-14), without the book's non-standard ``output_channels`` attribute (the channel
  count is given) and without its double multiplication.
"""

from __future__ import annotations

from torch import Tensor, nn

from ..errors import ShapeError
from .blocks.attention import CBAM

__all__ = ["PositionSoftmaxAttention", "AttentionBackbone"]


class PositionSoftmaxAttention(nn.Module):
    """``(N, C, H, W) → (N, C, H, W)``: one softmax over the ``H·W`` positions, shared by channels.

    ``attention(x)`` is ``α (N, 1, H, W)`` (sums to 1 over positions); ``pool(x)`` is
    ``c (N, C)``; ``forward`` re-weights the map (times ``H·W`` when ``rescale``).
    """

    def __init__(self, channels: int, rescale: bool = True):
        super().__init__()
        self.score = nn.Conv2d(channels, 1, 1)  # w^T F_ij + b
        self.rescale = rescale

    def attention(self, x: Tensor) -> Tensor:
        if x.dim() != 4:
            raise ShapeError(f"expected feature maps (N, C, H, W), got {tuple(x.shape)}")
        N, _, H, W = x.shape
        e = self.score(x).relu().flatten(1)  # (N, H·W)
        return e.softmax(dim=1).view(N, 1, H, W)

    def pool(self, x: Tensor) -> Tensor:
        return (self.attention(x) * x).sum((2, 3))  # c = sum_ij alpha_ij F_ij

    def forward(self, x: Tensor) -> Tensor:
        a = self.attention(x)
        return x * a * (a.shape[-2] * a.shape[-1] if self.rescale else 1)


class AttentionBackbone(nn.Module):
    """``backbone(x) (N, C, h, w)`` re-weighted by channel and spatial gates (CBAM by default).

    Args:
        backbone: any module returning a feature map (e.g. a model's ``forward_features`` stage).
        channels: ``C`` of that map.
        order, reduction, pool: as :class:`~tensorprism.nn.blocks.attention.CBAM`
            (``order="spatial-channel", pool="avg"`` is the book's wrapper).

    ``attention_maps(x)`` returns the gates ``{"channel": (N, C, 1, 1), "spatial": (N, 1, h, w)}``
    as applied in ``forward``.
    """

    def __init__(self, backbone: nn.Module, channels: int, order: str = "channel-spatial", reduction: int = 16,
                 pool: str = "avg+max"):
        super().__init__()
        self.backbone = backbone
        self.channels = channels
        self.gates = CBAM(channels, reduction, order=order, pool=pool)

    def _features(self, x: Tensor) -> Tensor:
        f = self.backbone(x)
        if f.dim() != 4 or f.shape[1] != self.channels:
            raise ShapeError(f"the backbone must return feature maps (N, {self.channels}, h, w), got "
                             f"{tuple(f.shape)}; pass channels= the backbone's output channels")
        return f

    def attention_maps(self, x: Tensor) -> dict[str, Tensor]:
        f, maps = self._features(x), {}
        for gate in self.gates:
            name = "channel" if hasattr(gate, "mlp") else "spatial"
            maps[name] = gate.attention(f)
            f = gate(f)
        return maps

    def forward(self, x: Tensor) -> Tensor:
        return self.gates(self._features(x))
