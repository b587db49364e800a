r"""UMAP (McInnes, Healy & Melville 2018; book §9.2.2, L20762-20804) through ``umap-learn``.

UMAP builds a fuzzy k-nearest-neighbour graph :math:`w_{ij}` of the data and lays out an embedding
whose graph :math:`v_{ij}=(1+a\,d_{ij}^{2b})^{-1}` minimises the fuzzy-set cross-entropy
:math:`\sum w\log\frac{w}{v}+(1-w)\log\frac{1-w}{1-v}` (the book's L20772 is not this objective,
erratum §5.2; :func:`tensorprism.functional.unsupervised.umap_cross_entropy` is the correct one).
The layout itself is umap-learn's (an optional dependency, ``pip install 'tensorprism[unsupervised]'``).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..optional import require
from ._base import as_tensor, to_numpy


class UMAP(TransformerMixin, BaseEstimator):
    """UMAP embedding with scikit-learn's interface, computed by ``umap-learn``.

    Args:
        n_components, n_neighbors, min_dist, metric, random_state: as in ``umap.UMAP``
            (``random_state`` makes the layout deterministic and single-threaded).
        n_epochs: layout epochs (``None``: umap-learn's choice).

    Attributes:
        embedding_ ``(N, n_components)``, graph_ (the fuzzy graph, SciPy sparse), n_features_in_.
    """

    def __init__(self, n_components=2, *, n_neighbors=15, min_dist=0.1, metric="euclidean", n_epochs=None,
                 random_state=None):
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.metric = metric
        self.n_epochs = n_epochs
        self.random_state = random_state

    def fit(self, X, y=None):
        umap = require("umap", feature="UMAP embeddings")
        x = to_numpy(as_tensor(X, estimator="UMAP", min_samples=2))
        self._model = umap.UMAP(n_components=self.n_components, n_neighbors=min(self.n_neighbors, len(x) - 1),
                                min_dist=self.min_dist, metric=self.metric, n_epochs=self.n_epochs,
                                random_state=self.random_state)
        self.embedding_ = np.asarray(self._model.fit_transform(x, y))
        self.graph_ = self._model.graph_
        self.n_features_in_ = x.shape[1]
        return self

    def fit_transform(self, X, y=None):
        return self.fit(X, y).embedding_

    def transform(self, X):
        check_is_fitted(self, "embedding_")
        return np.asarray(self._model.transform(to_numpy(as_tensor(X, estimator="UMAP"))))


__all__ = ["UMAP"]
