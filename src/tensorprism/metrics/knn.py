r"""Weighted-kNN accuracy of learned features, for evaluating a self-supervised encoder on one split.

The SSL literature scores an encoder by a weighted kNN classifier on its frozen features (Wu et al.
2018; lightly's benchmarks): the ``k`` most cosine-similar labelled features vote for their class
with weight :math:`\exp(s/T)`. Here the labelled bank is the evaluated split itself and every
sample is classified by the **others** (leave-one-out), so a single split -- what ``prism eval``
gives a task -- is enough. Its numbers are close to, but not the same as, kNN with the training set
as the bank (``tensorprism.unsupervised.evaluation.knn_accuracy``): the bank is smaller.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics import Metric

from ..errors import ConfigError, ShapeError

__all__ = ["leave_one_out_knn_predict", "LeaveOneOutKNNAccuracy"]


def leave_one_out_knn_predict(features: Tensor, labels: Tensor, *, k: int = 200, temperature: float = 0.1,
                              num_classes: int | None = None, chunk: int = 1024) -> Tensor:
    """Class predictions ``(N,)`` for ``features (N, F)``: each sample's ``k`` most cosine-similar
    *other* samples vote with ``exp(s / T)`` (the sample itself is excluded)."""
    if features.ndim != 2 or labels.shape != features.shape[:1]:
        raise ShapeError(f"need features (N, F) and labels (N,), got {tuple(features.shape)} and {tuple(labels.shape)}")
    n = features.shape[0]
    if n < 2:
        raise ShapeError("leave-one-out kNN needs at least 2 samples")
    if temperature <= 0 or k < 1:
        raise ConfigError(f"need k >= 1 and temperature > 0, got k={k}, temperature={temperature}")
    c = int(num_classes or int(labels.max()) + 1)
    k = min(k, n - 1)
    bank = F.normalize(features.float(), dim=1)
    labels = labels.long()
    preds = []
    for s in range(0, n, chunk):
        sim = bank[s:s + chunk] @ bank.T  # (B, N)
        rows = torch.arange(sim.shape[0], device=sim.device)
        sim[rows, rows + s] = -float("inf")  # never one's own neighbour
        top, idx = sim.topk(k, dim=1)
        votes = torch.zeros(sim.shape[0], c, device=sim.device).scatter_add_(1, labels[idx], (top / temperature).exp())
        preds.append(votes.argmax(1))
    return torch.cat(preds)


class LeaveOneOutKNNAccuracy(Metric):
    """torchmetrics form: ``update(features (B, F), labels (B,))`` over a split, ``compute()`` the
    leave-one-out weighted-kNN accuracy (``k`` = 200, cosine, ``T`` = 0.1 by default)."""

    full_state_update = False

    def __init__(self, k: int = 200, temperature: float = 0.1, **kw):
        super().__init__(**kw)
        self.k, self.temperature = k, temperature
        self.add_state("features", default=[], dist_reduce_fx="cat")
        self.add_state("labels", default=[], dist_reduce_fx="cat")

    def update(self, features: Tensor, labels: Tensor) -> None:
        self.features.append(features.detach().float())
        self.labels.append(labels.detach().long())

    def compute(self) -> Tensor:
        if isinstance(self.features, list) and not self.features:  # no labelled batch was seen
            return torch.tensor(float("nan"))
        feats = torch.cat(self.features) if isinstance(self.features, list) else self.features
        labels = torch.cat(self.labels) if isinstance(self.labels, list) else self.labels
        if feats.shape[0] < 2:
            return torch.tensor(float("nan"))
        preds = leave_one_out_knn_predict(feats, labels, k=self.k, temperature=self.temperature)
        return (preds == labels).float().mean()
