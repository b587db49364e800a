"""Graph utilities: neighbour and negative sampling, PageRank, community detection and
recommendation metrics (book §8.4.3, §8.6)."""

from .algorithms import label_propagation, modularity, pagerank, spectral_communities
from .metrics import ndcg_at_k, recall_at_k
from .sampling import NeighborSampler, negative_sampling, sample_neighbors, split_edges, subgraph

__all__ = [
    "NeighborSampler", "label_propagation", "modularity", "ndcg_at_k", "negative_sampling",
    "pagerank", "recall_at_k", "sample_neighbors", "spectral_communities", "split_edges", "subgraph",
]
