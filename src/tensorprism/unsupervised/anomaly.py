r"""Anomaly scores and their one-class-vs-rest evaluation (book §9.5.3, I9.31).

A model of the *normal* class scores every test point; higher = more anomalous. The book's score
is the reconstruction error :math:`s(x)=\lVert x-\hat x\rVert^2` of an autoencoder (L21759,
L24309) and it leaves the threshold open: here scores are evaluated threshold-free by the AUROC of
"normal class vs the rest" (:func:`one_class_auroc`), the standard protocol on MNIST/Fashion-MNIST.

* :func:`pca_scores` -- the classical baseline: squared error of the rank-``k`` PCA reconstruction;
* :func:`knn_scores` -- mean cosine *distance* to the ``k`` nearest normal training features (SSL
  features, or raw pixels);
* :func:`reconstruction_scores` -- an autoencoder's per-sample error (mean over all but the batch axis).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ShapeError


def pca_scores(normal_train, test, n_components=0.9) -> np.ndarray:
    """PCA reconstruction error of ``test (N, D)`` with components fitted on ``normal_train (M, D)``."""
    from .pca import PCA

    return PCA(n_components).fit(normal_train).reconstruction_error(test)


def knn_scores(normal_features: Tensor, features: Tensor, k: int = 5, chunk: int = 1024) -> Tensor:
    """Mean cosine distance ``1 - cos`` of each row of ``features`` to its ``k`` nearest rows of
    ``normal_features``, ``(N,)``."""
    bank = F.normalize(normal_features.float(), dim=1)
    out = []
    for s in range(0, features.shape[0], chunk):
        q = F.normalize(features[s:s + chunk].float(), dim=1)
        sim = (q @ bank.T).topk(min(k, bank.shape[0]), dim=1).values
        out.append(1 - sim.mean(1))
    return torch.cat(out)


@torch.no_grad()
def reconstruction_scores(model: nn.Module, x: Tensor, batch_size: int = 512) -> Tensor:
    """``mean((x - model(x))^2)`` over every axis but the batch, ``(N,)``, model in eval mode."""
    was = model.training
    model.eval()
    try:
        dev = next((p.device for p in model.parameters()), torch.device("cpu"))
        out = []
        for s in range(0, x.shape[0], batch_size):
            xb = x[s:s + batch_size].to(dev)
            out.append(((model(xb) - xb) ** 2).flatten(1).mean(1).cpu())
    finally:
        model.train(was)
    return torch.cat(out)


def one_class_auroc(scores, labels, normal_class) -> float:
    """AUROC of ``scores`` for separating the anomalies (``labels != normal_class``) from the normal
    points; 0.5 is chance, 1 perfect."""
    from sklearn.metrics import roc_auc_score

    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels)
    if scores.shape != labels.shape:
        raise ShapeError(f"one_class_auroc: {scores.shape} scores but {labels.shape} labels")
    return float(roc_auc_score(labels != normal_class, scores))


__all__ = ["pca_scores", "knn_scores", "reconstruction_scores", "one_class_auroc"]
