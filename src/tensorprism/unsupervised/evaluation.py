r"""Evaluating learned representations (book §9.5, I9.26; C9-28/C9-30): frozen features, weighted
kNN and the linear probe.

* :func:`extract_features` runs the encoder in **eval mode** under ``no_grad`` and caches the
  features: the book's linear-evaluation listings leave the encoder in train mode, so BatchNorm
  keeps updating its running statistics during "frozen" evaluation (tested: they do not change
  here).
* :func:`knn_predict` -- the weighted kNN classifier of Wu et al. (2018), the standard SSL monitor
  (lightly, solo-learn): cosine similarity, the ``k = 200`` nearest training features vote with
  weight :math:`e^{s/\tau}` (``temperature`` 0.1).
* :func:`linear_probe` -- a linear classifier trained on the cached features (cross-entropy, Adam,
  full-batch epochs over standardised features), test accuracy returned.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError, ShapeError


@torch.no_grad()
def extract_features(encoder: nn.Module, data, *, batch_size: int = 256, device=None,
                     transform=None) -> tuple[Tensor, Tensor | None]:
    """Features ``(N, F)`` (float32, CPU) and labels ``(N,)`` (or ``None``) of a dataset of
    ``(x, y)`` items or ``x`` tensors, with the encoder in eval mode (its mode is restored after).

    Args:
        encoder: maps ``(B, ...)`` to ``(B, F)`` (e.g. ``SSLNet.encoder``; ``SSLNet.features``'s module).
        data: a Dataset, a DataLoader, or a tensor of inputs.
        transform: applied to each input batch first (e.g. normalisation).
    """
    from torch.utils.data import DataLoader, Dataset

    if isinstance(data, Tensor):
        data = torch.utils.data.TensorDataset(data)
    loader = data if isinstance(data, DataLoader) else DataLoader(data, batch_size=batch_size, shuffle=False) \
        if isinstance(data, Dataset) else None
    if loader is None:
        raise ConfigError(f"extract_features takes a Dataset, DataLoader or tensor, got {type(data).__name__}")
    dev = device or next((p.device for p in encoder.parameters()), torch.device("cpu"))
    was_training = encoder.training
    encoder.eval()
    feats, labels = [], []
    try:
        for batch in loader:
            x, y = (batch[0], batch[1] if len(batch) > 1 else None) if isinstance(batch, (list, tuple)) else (batch, None)
            x = x.to(dev)
            if transform is not None:
                x = transform(x)
            feats.append(encoder(x).float().flatten(1).cpu())
            if y is not None:
                labels.append(torch.as_tensor(y).cpu())
    finally:
        encoder.train(was_training)
    return torch.cat(feats), (torch.cat(labels) if labels else None)


def knn_predict(train_features: Tensor, train_labels: Tensor, features: Tensor, *, k: int = 200,
                temperature: float = 0.1, num_classes: int | None = None, chunk: int = 1024) -> Tensor:
    """Weighted-kNN class predictions ``(N,)`` for ``features (N, F)`` from a labelled bank
    ``train_features (M, F)``: the ``k`` most cosine-similar bank entries vote with ``exp(s / T)``."""
    if train_features.ndim != 2 or features.ndim != 2 or train_features.shape[1] != features.shape[1]:
        raise ShapeError(f"knn_predict needs (M, F) and (N, F) features, got {tuple(train_features.shape)} and "
                         f"{tuple(features.shape)}")
    if len(train_labels) != len(train_features):
        raise ShapeError(f"knn_predict: {len(train_features)} bank features but {len(train_labels)} labels")
    c = int(num_classes or int(train_labels.max()) + 1)
    k = min(k, train_features.shape[0])
    bank = F.normalize(train_features.float(), dim=1)
    labels = train_labels.long().to(bank.device)
    preds = []
    for s in range(0, features.shape[0], chunk):
        q = F.normalize(features[s:s + chunk].float().to(bank.device), dim=1)
        sim, idx = (q @ bank.T).topk(k, dim=1)
        w = (sim / temperature).exp()
        votes = torch.zeros(q.shape[0], c, device=bank.device).scatter_add_(1, labels[idx], w)
        preds.append(votes.argmax(1))
    return torch.cat(preds)


def knn_accuracy(train_features, train_labels, features, labels, **kw) -> float:
    """Accuracy of :func:`knn_predict` on ``(features, labels)``."""
    return float((knn_predict(train_features, train_labels, features, **kw).cpu() == labels.cpu()).float().mean())


def linear_probe(train_features: Tensor, train_labels: Tensor, test_features: Tensor, test_labels: Tensor, *,
                 epochs: int = 100, lr: float = 1e-2, weight_decay: float = 1e-4, batch_size: int = 256,
                 seed: int = 0) -> dict[str, float]:
    """Train ``Linear(F, C)`` on frozen, standardised features; ``{"train_acc", "test_acc"}``."""
    g = torch.Generator().manual_seed(seed)
    mean, std = train_features.mean(0), train_features.std(0).clamp_min(1e-6)
    xtr, xte = (train_features - mean) / std, (test_features - mean) / std
    c = int(max(train_labels.max(), test_labels.max())) + 1
    torch.manual_seed(seed)
    head = nn.Linear(xtr.shape[1], c)
    opt = torch.optim.Adam(head.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    n = xtr.shape[0]
    for _ in range(epochs):
        order = torch.randperm(n, generator=g)
        for s in range(0, n, batch_size):
            idx = order[s:s + batch_size]
            opt.zero_grad()
            F.cross_entropy(head(xtr[idx]), train_labels[idx].long()).backward()
            opt.step()
        sched.step()
    with torch.no_grad():
        acc = lambda x, y: float((head(x).argmax(1) == y.long()).float().mean())  # noqa: E731
        return {"train_acc": acc(xtr, train_labels), "test_acc": acc(xte, test_labels)}


def cluster_assigner(data, n_clusters: int, *, pca_dim: int | None = 64, batch_size: int = 256, device=None):
    """DeepCluster's assignment step as a callable ``assign(encoder, seed) -> labels (N,)``: features of
    ``data`` (eval mode), PCA-whitened to ``pca_dim`` and L2-normalised (as Caron et al. 2018), then
    k-means with ``seed``."""
    from .kmeans import KMeans
    from .pca import PCA

    def assign(encoder, seed: int):
        feats, _ = extract_features(encoder, data, batch_size=batch_size, device=device)
        f = feats.double()
        if pca_dim and pca_dim < min(f.shape):
            f = torch.as_tensor(PCA(pca_dim, whiten=True).fit_transform(f))
        f = F.normalize(f, dim=1)
        return torch.as_tensor(KMeans(n_clusters, random_state=int(seed)).fit(f).labels_)

    return assign


__all__ = ["cluster_assigner", "extract_features", "knn_predict", "knn_accuracy", "linear_probe"]
