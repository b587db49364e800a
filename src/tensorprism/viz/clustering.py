"""Dendrogram of a hierarchical clustering (book Fig. 9.3, L20630): SciPy's drawing of a SciPy-format
linkage matrix, such as ``tensorprism.unsupervised.AgglomerativeClustering().linkage_matrix_``."""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError

__all__ = ["plot_dendrogram"]


def plot_dendrogram(linkage, ax=None, n_clusters: int | None = None, title: str | None = None, **kwargs):
    """Draw the tree of ``linkage (N-1, 4)``; with ``n_clusters`` a dashed line marks the height of
    the cut that leaves that many clusters. ``kwargs`` go to ``scipy.cluster.hierarchy.dendrogram``
    (e.g. ``truncate_mode="lastp", p=30`` for large N). Returns the figure."""
    import matplotlib.pyplot as plt
    from scipy.cluster.hierarchy import dendrogram

    z = np.asarray(linkage, dtype=np.float64)
    if z.ndim != 2 or z.shape[1] != 4:
        raise ShapeError(f"plot_dendrogram expects a linkage matrix (N-1, 4), got shape {z.shape}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 4))
    else:
        fig = ax.figure
    dendrogram(z, ax=ax, **kwargs)
    if n_clusters is not None and 1 < n_clusters <= len(z):
        cut = (z[-n_clusters, 2] + z[-n_clusters + 1, 2]) / 2
        ax.axhline(cut, ls="--", c="grey")
    ax.set_ylabel("merge distance")
    if title:
        ax.set_title(title)
    return fig
