r"""Triplet losses for metric learning (FaceNet, Schroff et al. 2015; book §4.6.4, lines 8739–8840).

Triplet loss :math:`\max(d(a, p) - d(a, n) + \alpha, 0)` with margin ``α`` (0.2 in the book). The two
listings disagree (erratum 28): the Keras one uses *squared* distances, the PyTorch one plain
Euclidean distances (``F.pairwise_distance``), so the same margin means different things; both are
offered. Batch-hard mining (Hermans et al. 2017): for each anchor the farthest positive and the
nearest negative within the batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["triplet_loss", "batch_hard_triplet_loss"]


def triplet_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 0.2, squared: bool = False) -> Tensor:
    """Mean triplet loss over ``(N, D)`` embeddings; ``squared=True`` is the Keras listing (L82)."""
    if squared:
        d_ap, d_an = (anchor - positive).pow(2).sum(1), (anchor - negative).pow(2).sum(1)
    else:
        d_ap, d_an = F.pairwise_distance(anchor, positive), F.pairwise_distance(anchor, negative)
    return F.relu(d_ap - d_an + margin).mean()


def batch_hard_triplet_loss(emb: Tensor, labels: Tensor, margin: float = 0.2) -> Tensor:
    """Batch-hard triplet loss: per anchor, hardest positive and hardest negative of the batch."""
    d = torch.cdist(emb, emb)
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=emb.device)
    hardest_pos = d.masked_fill(~same | eye, 0.0).amax(1)
    hardest_neg = d.masked_fill(same, float("inf")).amin(1)
    valid = (same & ~eye).any(1) & (~same).any(1)
    loss = F.relu(hardest_pos - hardest_neg + margin)
    return loss[valid].mean() if valid.any() else emb.sum() * 0
