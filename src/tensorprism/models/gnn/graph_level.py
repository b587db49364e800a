"""Graph-level GNNs: ``forward(x (N, F), edge_index (2, E), batch (N,), edge_attr=None) -> (B, out)``.

``batch`` is the graph id of every node (:func:`tensorprism.data.graph.batch_graphs`); a readout
(sum/mean/max/attention) turns node vectors into one vector per graph, then an MLP head predicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...nn.graph import GCNConv, GINConv, MPNNLayer, Readout
from .. import register_model
from ..contract import GraphModelMixin


def mlp(widths: list[int], dropout: float = 0.0, batch_norm: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = []
    for k, (a, b) in enumerate(pairwise(widths)):
        layers.append(nn.Linear(a, b))
        if k < len(widths) - 2:
            if batch_norm:
                layers.append(nn.BatchNorm1d(b))
            layers += [nn.ReLU(), nn.Dropout(dropout)] if dropout else [nn.ReLU()]
    return nn.Sequential(*layers)


@dataclass
class GraphGNNConfig:
    in_channels: int = 25
    hidden: int = 64
    out_channels: int = 1  # classes (classification) or targets (regression)
    num_layers: int = 3
    readout: str = "mean"  # sum | mean | max | attention
    dropout: float = 0.0
    edge_dim: int = 6  # MPNN only
    message: str = "edge_network"  # MPNN only: edge_network | concat


class GraphGNN(GraphModelMixin, nn.Module):
    """``convs`` (each followed by ReLU) over nodes, then ``readout``, then an MLP ``head``;
    ``edge_attr`` is accepted for a uniform interface and not used.

    Graph level: ``forward(x (N, in_channels), edge_index (2, E), batch (N,) or None, edge_attr)
    -> (B, out_channels)``."""

    level = "graph"

    def __init__(self, convs: list[nn.Module], readout: Readout, head: nn.Module, in_channels: int):
        super().__init__()
        self.convs, self.readout, self.head = nn.ModuleList(convs), readout, head
        self.in_channels = in_channels

    def forward(self, x: Tensor, edge_index: Tensor, batch: Tensor | None = None,
                edge_attr: Tensor | None = None) -> Tensor:
        h = x
        for conv in self.convs:
            h = F.relu(conv(h, edge_index))
        size = None if batch is None else int(batch.max()) + 1
        return self.head(self.readout(h, batch, size))


@register_model("gin", config=GraphGNNConfig, family="gnn", readout="sum")
def gin(cfg: GraphGNNConfig) -> nn.Module:
    """GIN graph classifier/regressor (Xu et al. 2019): MLP-in-layer, sum readout."""
    w = [cfg.in_channels] + [cfg.hidden] * cfg.num_layers
    convs = [GINConv(mlp([a, b, b], batch_norm=True), train_eps=True) for a, b in pairwise(w)]
    return GraphGNN(convs, Readout(cfg.readout, cfg.hidden),
                    mlp([cfg.hidden, cfg.hidden, cfg.out_channels], cfg.dropout), cfg.in_channels)


@register_model("gcn-graph", config=GraphGNNConfig, family="gnn")
def gcn_graph(cfg: GraphGNNConfig) -> nn.Module:
    """GCN layers + readout (the book's molecule/sentiment models, §8.6.3 and §8.8, fixed to
    output ``out_channels`` per graph instead of a broadcast width-2 vector)."""
    w = [cfg.in_channels] + [cfg.hidden] * cfg.num_layers
    convs = [GCNConv(a, b) for a, b in pairwise(w)]
    return GraphGNN(convs, Readout(cfg.readout, cfg.hidden),
                    mlp([cfg.hidden, cfg.hidden, cfg.out_channels], cfg.dropout), cfg.in_channels)


class MPNN(GraphModelMixin, nn.Module):
    """MPNN (Gilmer et al. 2017): encoder, ``steps`` weight-tied edge-network + GRU steps, readout,
    MLP head. ``forward(x, edge_index, batch, edge_attr (E, edge_dim)) -> (B, out)``."""

    level = "graph"

    def __init__(self, cfg: GraphGNNConfig):
        super().__init__()
        self.in_channels, self.edge_dim = cfg.in_channels, cfg.edge_dim
        self.encoder = nn.Sequential(nn.Linear(cfg.in_channels, cfg.hidden), nn.ReLU())
        self.step = MPNNLayer(cfg.hidden, cfg.edge_dim, cfg.message, edge_hidden=cfg.hidden)
        self.steps = cfg.num_layers
        self.readout = Readout(cfg.readout, cfg.hidden)
        self.head = mlp([cfg.hidden, cfg.hidden, cfg.out_channels], cfg.dropout)

    def example_input(self, batch_size: int = 2) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        edge_index, batch = self._example_graph(batch_size)
        x = self._example_features(batch)
        return x, edge_index, batch, torch.randn(edge_index.shape[1], self.edge_dim, device=x.device)

    def forward(self, x: Tensor, edge_index: Tensor, batch: Tensor | None = None,
                edge_attr: Tensor | None = None) -> Tensor:
        h = self.step(self.encoder(x), edge_index, edge_attr, steps=self.steps)
        size = None if batch is None else int(batch.max()) + 1
        return self.head(self.readout(h, batch, size))


@register_model("mpnn", config=GraphGNNConfig, family="gnn", message="edge_network")
def mpnn(cfg: GraphGNNConfig) -> nn.Module:
    """MPNN graph regressor/classifier (Gilmer et al. 2017) with an edge network and GRU."""
    return MPNN(cfg)
