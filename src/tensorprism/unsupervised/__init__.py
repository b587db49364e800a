"""Chapter 9's unsupervised learning in torch, with scikit-learn's estimator interface.

Clustering: :class:`KMeans`, :class:`MiniBatchKMeans`, :class:`GaussianMixture`,
:class:`AgglomerativeClustering` (SciPy linkage), :class:`SpectralClustering`, :class:`DBSCAN`.
Dimensionality reduction: :class:`PCA`, :class:`TSNE`, :class:`UMAP` (umap-learn).
Representation evaluation: :func:`~tensorprism.unsupervised.evaluation.knn_predict`,
:func:`~tensorprism.unsupervised.evaluation.linear_probe`, :func:`~tensorprism.unsupervised.evaluation.extract_features`.
Anomaly scores: :mod:`tensorprism.unsupervised.anomaly`.
Hebbian learning (Chapter 11): :class:`HebbianPCA` (Oja, Sanger), :class:`HopfieldNetwork`.

Every estimator runs batched on any torch device, is deterministic given ``random_state``, returns
NumPy arrays from ``fit``/``predict``/``transform`` and raises the errors of
:mod:`tensorprism.errors` for bad input (NaN, more clusters than points, constant features where
they cannot be handled). The book's equations are the reference paths in
:mod:`tensorprism.functional.unsupervised`.
"""

from .gmm import GaussianMixture
from .hebbian import HebbianPCA
from .hierarchical import AgglomerativeClustering, cut_tree, linkage
from .hopfield import HopfieldNetwork
from .kmeans import KMeans, MiniBatchKMeans, kmeans_plusplus
from .pca import PCA
from .spectral import DBSCAN, SpectralClustering
from .tsne import TSNE
from .umap import UMAP

__all__ = [
    "AgglomerativeClustering", "DBSCAN", "GaussianMixture", "HebbianPCA", "HopfieldNetwork", "KMeans", "MiniBatchKMeans", "PCA", "SpectralClustering",
    "TSNE", "UMAP", "cut_tree", "kmeans_plusplus", "linkage",
]
