"""Node-level GNNs: ``forward(x (N, F), edge_index (2, E), edge_weight=None) -> logits (N, C)``.

Defaults are the papers' Planetoid configurations: GCN (Kipf & Welling 2017) 2 layers, 16 hidden,
dropout 0.5; GAT (Veličković et al. 2018) 8 heads × 8 hidden, ELU, dropout 0.6 on inputs and
attention, one output head. The book's classifier template (C9) is the GCN with ``dropout=0.5``;
its variants (row normalisation, no self-loops, ...) are the config fields of the same model.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...functional.graph import feature_dropout
from ...nn.graph import ChebConv, GATConv, GCNConv, PairNorm, RGCNConv, SAGEConv, drop_edge
from .. import register_model
from ..contract import GraphModelMixin


@dataclass
class GCNConfig:
    in_channels: int = 1433
    hidden: int = 16
    num_classes: int = 7
    num_layers: int = 2
    dropout: float = 0.5
    normalization: str = "sym"  # "sym" | "row" | "none"
    self_loops: bool = True
    bias: bool = True
    drop_edge: float = 0.0  # DropEdge rate (training only)
    pair_norm: bool = False  # PairNorm after every hidden layer


class NodeGNN(GraphModelMixin, nn.Module):
    """Stack of graph layers with ReLU/ELU, dropout, optional DropEdge and PairNorm in between.

    Node level: ``forward(x (N, in_channels), edge_index (2, E), edge_weight (E,) or None) -> (N, C)``.
    """

    level = "node"

    def __init__(self, convs: list[nn.Module], dropout: float, act=F.relu, input_dropout: float = 0.0,
                 drop_edge: float = 0.0, pair_norm: bool = False):
        super().__init__()
        self.convs = nn.ModuleList(convs)
        self.in_channels = convs[0].in_channels
        self.dropout, self.input_dropout, self.act = dropout, input_dropout, act
        self.drop_edge = drop_edge
        self.norm = PairNorm() if pair_norm else None

    def reset_parameters(self) -> None:
        for conv in self.convs:
            conv.reset_parameters()

    def embed(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        """Hidden representation before the last layer, ``(N, hidden)``."""
        return self._run(x, edge_index, edge_weight, last=False)

    def _run(self, x, edge_index, edge_weight, last: bool) -> Tensor:
        if self.drop_edge and self.training:
            edge_index, edge_weight = drop_edge(edge_index, self.drop_edge, edge_weight)
        x = feature_dropout(x, self.input_dropout, self.training)
        convs = self.convs if last else self.convs[:-1]
        for k, conv in enumerate(convs):
            x = conv(x, edge_index, edge_weight) if edge_weight is not None else conv(x, edge_index)
            if k < len(self.convs) - 1:
                x = self.act(x)
                if self.norm is not None:
                    x = self.norm(x)
                x = F.dropout(x, self.dropout, self.training)
        return x

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        return self._run(x, edge_index, edge_weight, last=True)


def _widths(cfg) -> list[int]:
    return [cfg.in_channels] + [cfg.hidden] * (cfg.num_layers - 1) + [cfg.num_classes]


@register_model("gcn", config=GCNConfig, family="gnn")
def gcn(cfg: GCNConfig) -> nn.Module:
    """GCN node classifier (Kipf & Welling 2017; book §8.4.1, template C9)."""
    w = _widths(cfg)
    convs = [GCNConv(a, b, cfg.normalization, cfg.self_loops, cfg.bias) for a, b in pairwise(w)]
    return NodeGNN(convs, cfg.dropout, drop_edge=cfg.drop_edge, pair_norm=cfg.pair_norm)


@register_model("gcn-book-rownorm", config=GCNConfig, family="gnn", normalization="row",
                self_loops=False)
def gcn_book_rownorm(cfg: GCNConfig) -> nn.Module:
    """The book's printed GCN (listings L4/L5): ``D⁻¹A`` without self-loops (erratum E3)."""
    return gcn(cfg)


@dataclass
class GATConfig:
    in_channels: int = 1433
    hidden: int = 8
    heads: int = 8
    out_heads: int = 1
    num_classes: int = 7
    dropout: float = 0.6
    negative_slope: float = 0.2
    self_loops: bool = True
    value_dropout: float = 0.0  # dropout on W h_j inside each layer (GAT reference code)


@register_model("gat", config=GATConfig, family="gnn")
def gat(cfg: GATConfig) -> nn.Module:
    """Two-layer GAT (Veličković et al. 2018; book listing L6 with its errata fixed)."""
    convs = [
        GATConv(cfg.in_channels, cfg.hidden, cfg.heads, True, cfg.negative_slope, cfg.dropout,
                cfg.self_loops, value_dropout=cfg.value_dropout),
        GATConv(cfg.hidden * cfg.heads, cfg.num_classes, cfg.out_heads, False, cfg.negative_slope,
                cfg.dropout, cfg.self_loops, value_dropout=cfg.value_dropout),
    ]
    return NodeGNN(convs, cfg.dropout, act=F.elu, input_dropout=cfg.dropout)


@register_model("gat-reference", config=GATConfig, family="gnn", value_dropout=0.6)
def gat_reference(cfg: GATConfig) -> nn.Module:
    """GAT as the authors' code runs it: also dropout 0.6 on ``W h_j`` inside each layer."""
    return gat(cfg)


@dataclass
class SAGEConfig:
    in_channels: int = 1433
    hidden: int = 64
    num_classes: int = 7
    num_layers: int = 2
    aggr: str = "mean"  # mean | sum | max | pool | lstm
    dropout: float = 0.5
    normalize: bool = False


@register_model("graphsage", config=SAGEConfig, family="gnn")
def graphsage(cfg: SAGEConfig) -> nn.Module:
    """GraphSAGE node classifier (Hamilton et al. 2017; book §8.4.3)."""
    w = _widths(cfg)
    convs = [SAGEConv(a, b, cfg.aggr, normalize=cfg.normalize and k < len(w) - 2)
             for k, (a, b) in enumerate(pairwise(w))]
    return NodeGNN(convs, cfg.dropout)


@dataclass
class ChebConfig:
    in_channels: int = 1433
    hidden: int = 16
    num_classes: int = 7
    K: int = 3
    dropout: float = 0.5
    num_layers: int = 2


@register_model("chebnet", config=ChebConfig, family="gnn")
def chebnet(cfg: ChebConfig) -> nn.Module:
    """ChebNet (Defferrard et al. 2016) node classifier, ``K`` Chebyshev terms per layer."""
    w = _widths(cfg)
    return NodeGNN([ChebConv(a, b, cfg.K) for a, b in pairwise(w)], cfg.dropout)


@dataclass
class RGCNConfig:
    in_channels: int = 16
    hidden: int = 16
    num_classes: int = 4
    num_relations: int = 2
    num_bases: int | None = None
    dropout: float = 0.0
    num_blocks: int | None = None


class RGCN(GraphModelMixin, nn.Module):
    """Two R-GCN layers: ``forward(x, edge_index, edge_type) -> (N, C)`` (book §8.4.5, L9 fixed)."""

    level = "node"

    def __init__(self, cfg: RGCNConfig):
        super().__init__()
        self.in_channels, self.num_relations = cfg.in_channels, cfg.num_relations
        self.conv1 = RGCNConv(cfg.in_channels, cfg.hidden, cfg.num_relations, cfg.num_bases,
                              num_blocks=cfg.num_blocks)
        self.conv2 = RGCNConv(cfg.hidden, cfg.num_classes, cfg.num_relations, cfg.num_bases,
                              num_blocks=cfg.num_blocks)
        self.dropout = cfg.dropout

    def example_input(self, batch_size: int = 2) -> tuple[Tensor, Tensor, Tensor]:
        x, edge_index = super().example_input(batch_size)
        edge_type = torch.randint(0, self.num_relations, (edge_index.shape[1],), device=x.device)
        return x, edge_index, edge_type

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        h = F.dropout(F.relu(self.conv1(x, edge_index, edge_type)), self.dropout, self.training)
        return self.conv2(h, edge_index, edge_type)


@register_model("rgcn", config=RGCNConfig, family="gnn")
def rgcn(cfg: RGCNConfig) -> nn.Module:
    """R-GCN entity classifier (Schlichtkrull et al. 2018) with basis or block-diagonal decomposition."""
    return RGCN(cfg)
