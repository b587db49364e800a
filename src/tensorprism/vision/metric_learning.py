r"""Metric learning with triplets (FaceNet, Schroff et al. 2015; book §4.6.4, lines 8739–8840): the
embedding network. Embeddings are L2-normalised (FaceNet; the book does not normalise).

The triplet losses live in :mod:`tensorprism.losses.triplet`, recall@k of the nearest neighbours in
:mod:`tensorprism.metrics.retrieval` (``embedding_recall_at_k``) and the ``triplet`` task in
:mod:`tensorprism.train.tasks.vision`; they stay importable from here.
"""

from __future__ import annotations

import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ..losses.triplet import batch_hard_triplet_loss, triplet_loss
from ..metrics.retrieval import embedding_recall_at_k as recall_at_k
from ..train.tasks.vision import TripletTask

__all__ = ["triplet_loss", "batch_hard_triplet_loss", "recall_at_k", "EmbeddingNet", "TripletTask"]


class EmbeddingNet(nn.Module):
    """A zoo CNN without classifier followed by a linear projection and L2 normalisation: ``(N, C, H, W) → (N, D)``."""

    def __init__(self, backbone: nn.Module, dim: int = 64):
        super().__init__()
        self.backbone = backbone
        self.proj = nn.Linear(backbone.num_features, dim)

    def forward(self, x: Tensor) -> Tensor:
        return F.normalize(self.proj(self.backbone(x)), dim=1)
