"""2-D/3-D embeddings of high-dimensional data (§2.6.2) through scikit-learn (t-SNE, Isomap,
metric MDS, PCA) and umap-learn, plus a scatter plot. These are thin wrappers: the estimators are
the libraries' own; the wrapper checks the book's neighbourhood constraints up front and returns a
tensor."""

from __future__ import annotations

import numpy as np
import torch

from ..errors import ConfigError, ShapeError

__all__ = ["embed", "plot_embedding", "METHODS"]

METHODS = ("tsne", "isomap", "mds", "pca", "umap")


def embed(x, method: str = "tsne", n_components: int = 2, random_state: int | None = 0, **kwargs) -> torch.Tensor:
    """Embed rows of ``x (N, d)`` with ``method`` in :data:`METHODS`; extra ``kwargs`` go to the estimator.

    t-SNE needs ``perplexity < N`` and Isomap/UMAP ``n_neighbors < N`` (strictly: the comment at
    l.2104 says "less than or equal", which scikit-learn rejects — erratum E24).
    """
    data = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if data.ndim != 2:
        raise ShapeError(f"embed expects rows (N, d), got shape {data.shape}")
    n = data.shape[0]
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = kwargs.setdefault("perplexity", min(30.0, (n - 1) / 3))
        if not perplexity < n:
            raise ConfigError(f"t-SNE needs perplexity < n_samples; got perplexity={perplexity} with {n} samples")
        est = TSNE(n_components=n_components, random_state=random_state, **kwargs)
    elif method in ("isomap", "umap"):
        k = kwargs.setdefault("n_neighbors", min(15 if method == "umap" else 5, n - 1))
        if not k < n:
            raise ConfigError(
                f"{method} needs n_neighbors < n_samples (strictly); got n_neighbors={k} with {n} samples — "
                f"use n_neighbors <= {n - 1}"
            )
        if method == "isomap":
            from sklearn.manifold import Isomap

            est = Isomap(n_components=n_components, **kwargs)
        else:
            from ..optional import require

            umap = require("umap", feature="method='umap'")
            est = umap.UMAP(n_components=n_components, random_state=random_state, **kwargs)
    elif method == "mds":
        import inspect

        from sklearn.manifold import MDS

        if "init" in inspect.signature(MDS).parameters:  # scikit-learn >= 1.8: classical-MDS start
            kwargs.setdefault("init", "classical_mds")
        est = MDS(n_components=n_components, random_state=random_state, **kwargs)
    elif method == "pca":
        from sklearn.decomposition import PCA

        est = PCA(n_components=n_components, random_state=random_state, **kwargs)
    else:
        raise ConfigError(f"unknown embedding method {method!r}; expected one of {METHODS}")
    return torch.as_tensor(np.asarray(est.fit_transform(data)), dtype=torch.float32)


def plot_embedding(emb, labels=None, ax=None, title: str | None = None, annotate=None, s: float = 12.0):
    """Scatter a 2-D embedding, coloured by ``labels``; ``annotate`` writes one text per point."""
    import matplotlib.pyplot as plt

    e = emb.detach().cpu().numpy() if isinstance(emb, torch.Tensor) else np.asarray(emb)
    if e.ndim != 2 or e.shape[1] < 2:
        raise ShapeError(f"plot_embedding expects (N, >=2) coordinates, got shape {e.shape}")
    if ax is None:
        fig, ax = plt.subplots()
    else:
        fig = ax.figure
    lab = None if labels is None else (labels.cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels))
    sc = ax.scatter(e[:, 0], e[:, 1], c=lab, cmap="tab10" if lab is not None else None, s=s)
    if lab is not None and len(np.unique(lab)) <= 20:
        ax.legend(*sc.legend_elements(), loc="best", fontsize=7, title="label")
    if annotate is not None:
        for (px, py), text in zip(e[:, :2], annotate, strict=False):
            ax.annotate(str(text), (px, py), fontsize=8)
    ax.set_xlabel("component 1")
    ax.set_ylabel("component 2")
    if title:
        ax.set_title(title)
    return fig
