r"""Metric learning with triplets (FaceNet, Schroff et al. 2015; book §4.6.4, lines 8739–8840).

Triplet loss :math:`\max(d(a, p) - d(a, n) + \alpha, 0)` with margin ``α`` (0.2 in the book). The two
listings disagree (erratum 28): the Keras one uses *squared* distances, the PyTorch one plain
Euclidean distances (``F.pairwise_distance``), so the same margin means different things; both are
offered. Training uses batch-hard mining (Hermans et al. 2017): for each anchor the farthest positive
and the nearest negative within the batch. Embeddings are L2-normalised (FaceNet; the book does not
normalise); retrieval quality is recall@k of the nearest neighbours.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ..train.tasks import Task, split_batch

__all__ = ["triplet_loss", "batch_hard_triplet_loss", "recall_at_k", "EmbeddingNet", "TripletTask"]


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


@torch.no_grad()
def recall_at_k(query: Tensor, query_labels: Tensor, gallery: Tensor, gallery_labels: Tensor, k: int = 1,
                exclude_self: bool = False) -> float:
    """Fraction of queries with a same-label item among their ``k`` nearest gallery embeddings."""
    d = torch.cdist(query, gallery)
    if exclude_self:
        d.fill_diagonal_(float("inf"))
    nn_idx = d.topk(k, largest=False).indices
    return (gallery_labels[nn_idx] == query_labels[:, None]).any(1).float().mean().item()


class EmbeddingNet(nn.Module):
    """A zoo CNN without classifier followed by a linear projection and L2 normalisation: ``(N, C, H, W) → (N, D)``."""

    def __init__(self, backbone: nn.Module, dim: int = 64):
        super().__init__()
        self.backbone = backbone
        self.proj = nn.Linear(backbone.num_features, dim)

    def forward(self, x: Tensor) -> Tensor:
        return F.normalize(self.proj(self.backbone(x)), dim=1)


class TripletTask(Task):
    """Batch-hard triplet training; evaluation reports ``recall1`` within the evaluated set (leave-one-out)."""

    monitor = "val/recall1"
    mode = "max"

    def __init__(self, margin: float = 0.2, preprocess: nn.Module | None = None):
        self.margin, self.preprocess = margin, preprocess

    def _embed(self, model, x):
        return model(self.preprocess.to(x.device)(x) if self.preprocess is not None else x)

    def training_step(self, model, batch):
        x, y = split_batch(batch)
        return {"loss": batch_hard_triplet_loss(self._embed(model, x), y, self.margin)}

    def evaluation_step(self, model, batch):
        x, y = split_batch(batch)
        emb = self._embed(model, x)
        return {"loss": batch_hard_triplet_loss(emb, y, self.margin), "preds": emb, "target": y}

    def metrics(self):
        from torchmetrics import CatMetric

        return {"recall1": _Recall1Metric(CatMetric)}

    def update_metrics(self, metrics, out):
        metrics["recall1"].update(out["preds"], out["target"])


def _Recall1Metric(cat_cls):
    """Leave-one-out recall@1 over everything seen (embeddings are concatenated, then compared)."""

    class Recall1(cat_cls):
        def __init__(self):
            super().__init__()
            self.add_state("labels", default=[], dist_reduce_fx="cat")

        def update(self, emb, labels):
            super().update(emb)
            self.labels.append(labels)

        def compute(self):
            emb = super().compute()
            labels = torch.cat(self.labels) if isinstance(self.labels, list) else self.labels
            return torch.tensor(recall_at_k(emb, labels, emb, labels, 1, exclude_self=True))

    return Recall1()
