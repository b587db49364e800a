"""Graph utilities: neighbour and negative sampling, PageRank, community detection (book §8.4.3,
§8.6). The recommendation metrics (recall@k, NDCG@k) live in :mod:`tensorprism.metrics.retrieval`
and are re-exported here, where the Chapter 8 recipes have always imported them."""

from ..metrics.retrieval import ndcg_at_k, recall_at_k
from .algorithms import label_propagation, modularity, pagerank, spectral_communities
from .sampling import NeighborSampler, negative_sampling, sample_neighbors, split_edges, subgraph
from .sparsify import effective_resistance, spectral_sparsify, threshold_edges, top_k_edges

__all__ = [
    "NeighborSampler", "label_propagation", "modularity", "ndcg_at_k", "negative_sampling",
    "pagerank", "recall_at_k", "sample_neighbors", "spectral_communities", "split_edges", "subgraph",
    "effective_resistance", "spectral_sparsify", "threshold_edges", "top_k_edges",
]
