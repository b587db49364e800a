"""Graph neural network layers (book Chapter 8): message passing, convolutions, attention,
readouts and graph regularisers. Equations and shapes are in each class's docstring."""

from .cheb import ChebConv, chebyshev_basis, chebyshev_filter
from .gat import GATConv
from .gcn import GCNConv, PropagationCache
from .gin import GINConv
from .message_passing import (
    LinearPropagation,
    LSTMAggregation,
    MessagePassing,
    reference_path,
    to_dense_batch,
)
from .mpnn import ConcatMessageConv, EdgeNetworkConv, MPNNLayer
from .pool import AttentionalReadout, Readout, global_pool
from .regularization import DropEdge, PairNorm, drop_edge
from .rgcn import RGCNConv
from .sage import SAGEConv

__all__ = [
    "AttentionalReadout", "ChebConv", "ConcatMessageConv", "DropEdge", "EdgeNetworkConv",
    "GATConv", "GCNConv", "GINConv", "LinearPropagation", "LSTMAggregation", "MPNNLayer", "MessagePassing", "PairNorm",
    "PropagationCache", "RGCNConv", "Readout", "SAGEConv", "chebyshev_basis", "chebyshev_filter",
    "drop_edge", "global_pool", "reference_path", "to_dense_batch",
]
