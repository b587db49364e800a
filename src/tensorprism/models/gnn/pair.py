r"""Siamese graph-pair scorer (book §8.6.3, catalogue C22 / listing L20): a score
:math:`f(G_1, G_2) \in \mathbb R` for a pair of graphs, such as a drug–drug interaction or a
protein–protein interaction.

One GCN encoder (the *same* parameters for both graphs) embeds each graph, a readout pools its
nodes, the two graph vectors are combined and a linear layer gives one logit per pair:

.. math::
    H_k^{(l)} = \sigma\big(\hat A_k H_k^{(l-1)} W^{(l)\top} + b^{(l)}\big), \quad
    \hat A_k = \tilde D_k^{-1/2} (A_k + I) \tilde D_k^{-1/2}, \quad H_k^{(0)} = X_k,
    \qquad k \in \{1, 2\}

    h_k = \mathrm{readout}_{i \in G_k} H_{k,i}^{(L)} \in \mathbb R^{F_{out}}, \qquad
    z = w^\top c(h_1, h_2) + b_0, \qquad f(G_1, G_2) = \mathrm{sigmoid}(z)

with :math:`\sigma` = ReLU on the hidden layers and none on the last (its output is the node
embedding), and the combination

.. math::
    c_{concat}(h_1, h_2) = [h_1 \,\Vert\, h_2], \qquad
    c_{symmetric}(h_1, h_2) = [\,|h_1 - h_2| \,\Vert\, h_1 \odot h_2\,]

both of width :math:`2F_{out}`. ``"concat"`` is the book's model; it is order-dependent, since
:math:`w` weighs the two halves differently. ``"symmetric"`` gives
:math:`f(G_1, G_2) = f(G_2, G_1)` for every weight, which suits symmetric relations
(interaction, similarity). These are the element-wise difference and product matching features
of sentence-pair models (Mou et al. 2016), without their order-dependent concatenated part.

The model returns the logit :math:`z`; train with ``F.binary_cross_entropy_with_logits`` and use
:meth:`GraphPairScorer.predict_proba` for :math:`\mathrm{sigmoid}(z)`.

**Erratum D1** (book listing L20, lines 19341–19384): the listing pools with ``h.mean(0)`` (1-D, ``(F_out,)``) and
joins with ``torch.cat([h1.mean(0), h2.mean(0)], dim=1)``, which raises ``IndexError`` for 1-D
tensors. The concatenation is along the feature axis: ``dim=0`` for one pair, ``dim=1`` for the
``(B, F_out)`` pooled batches used here.

Batches: each side is a block-diagonal batch from :func:`tensorprism.data.graph.batch_graphs`
(pair ``b`` is graph ``b`` of batch 1 with graph ``b`` of batch 2)::

    x1 (N1, F_in), edge_index1 (2, E1), batch1 (N1,)  ┐
    x2 (N2, F_in), edge_index2 (2, E2), batch2 (N2,)  ┘ → logits (B,)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...errors import ConfigError, ShapeError
from ...nn.graph import GCNConv, SAGEConv, global_pool
from .. import register_model
from ..contract import GraphModelMixin


@runtime_checkable
class GraphLike(Protocol):
    """What :meth:`GraphPairScorer.score` reads from a graph: the attributes of
    :class:`tensorprism.data.graph.Graph`. Taken by shape, not by class, because models sit below
    ``data`` in the layering (docs/ARCHITECTURE.md) and must not import it."""

    x: Tensor  # (N, F_in)
    edge_index: Tensor  # (2, E)
    batch: Tensor | None  # (N,) graph id of each node, None for one graph
    edge_weight: Tensor | None  # (E,)


PAIR_CONVS = ("gcn", "sage")
PAIR_READOUTS = ("mean", "sum", "max")
PAIR_COMBINES = ("concat", "symmetric")


@dataclass
class GraphPairConfig:
    in_channels: int = 3  # the book's example: 5-atom graphs with 3 features
    hidden: int = 4
    out_channels: int = 2  # graph embedding width F_out; the head is Linear(2·F_out, 1)
    num_layers: int = 2
    conv: str = "gcn"  # gcn (Kipf & Welling, the book) | sage
    readout: str = "mean"  # mean (the book) | sum | max
    combine: str = "concat"  # concat (the book) | symmetric: [|h1 − h2|, h1 ⊙ h2]
    dropout: float = 0.0  # after every hidden layer and on the combined pair vector


def _num_graphs(x: Tensor, batch: Tensor | None, side: int) -> int:
    if x.dim() != 2:
        raise ShapeError(f"x{side} must be (N, F_in) node features, got shape {tuple(x.shape)}; "
                         f"use x.unsqueeze(1) for a single feature")
    if batch is None:
        return 1
    if batch.dim() != 1 or batch.size(0) != x.size(0):
        raise ShapeError(f"batch{side} must be (N,) = ({x.size(0)},) graph ids, one per row of "
                         f"x{side}, got shape {tuple(batch.shape)}")
    return int(batch.max()) + 1 if batch.numel() else 0


class GraphPairScorer(GraphModelMixin, nn.Module):
    r"""Siamese GNN scoring graph pairs: ``forward(x1, edge_index1, x2, edge_index2, batch1,
    batch2) -> logits (B,)`` (equations in the module docstring).

    Args:
        in_channels, hidden, out_channels: ``F_in``, hidden width, graph embedding width ``F_out``.
        num_layers: graph layers (≥ 1); widths ``F_in → hidden → … → F_out``.
        conv: ``"gcn"`` (:class:`~tensorprism.nn.graph.GCNConv`, symmetric normalisation with
            self-loops) or ``"sage"`` (:class:`~tensorprism.nn.graph.SAGEConv`).
        readout: ``"mean"``, ``"sum"`` or ``"max"`` over each graph's nodes.
        combine: ``"concat"`` (book, order-dependent) or ``"symmetric"`` (order-invariant).
        dropout: rate after each hidden layer and on the combined ``(B, 2F_out)`` vector.

    The same ``convs`` embed both graphs, so there is a single set of encoder parameters.
    Pair level: :meth:`score` takes two graphs.
    """

    level = "pair"

    def __init__(self, in_channels: int, hidden: int, out_channels: int, num_layers: int = 2,
                 conv: str = "gcn", readout: str = "mean", combine: str = "concat",
                 dropout: float = 0.0):
        super().__init__()
        if conv not in PAIR_CONVS:
            raise ConfigError(f"conv must be one of {PAIR_CONVS}, got {conv!r}")
        if readout not in PAIR_READOUTS:
            raise ConfigError(f"readout must be one of {PAIR_READOUTS}, got {readout!r}")
        if combine not in PAIR_COMBINES:
            raise ConfigError(f"combine must be one of {PAIR_COMBINES}, got {combine!r}; "
                              f"'symmetric' makes f(G1, G2) = f(G2, G1)")
        if num_layers < 1:
            raise ConfigError(f"num_layers must be at least 1, got {num_layers}")
        self.in_channels = in_channels
        widths = [in_channels] + [hidden] * (num_layers - 1) + [out_channels]
        layer = GCNConv if conv == "gcn" else SAGEConv
        self.convs = nn.ModuleList(layer(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True))
        self.head = nn.Linear(2 * out_channels, 1)
        self.conv, self.readout, self.combine, self.dropout = conv, readout, combine, dropout

    def reset_parameters(self) -> None:
        for c in self.convs:
            c.reset_parameters()
        self.head.reset_parameters()

    def embed(self, x: Tensor, edge_index: Tensor, batch: Tensor | None = None,
              num_graphs: int | None = None, edge_weight: Tensor | None = None) -> Tensor:
        """Graph vectors ``h (B, F_out)`` of one (batched) graph: layers, then the readout.

        ``x (N, F_in)``, ``edge_index (2, E)``, ``batch (N,)`` or ``None`` (one graph),
        ``edge_weight (E,)`` (GCN only).
        """
        if edge_weight is not None and self.conv != "gcn":
            raise ConfigError(f"edge_weight needs conv='gcn'; conv={self.conv!r} ignores weights")
        h = x
        for k, conv in enumerate(self.convs):
            h = conv(h, edge_index) if edge_weight is None else conv(h, edge_index, edge_weight)
            if k < len(self.convs) - 1:
                h = F.dropout(F.relu(h), self.dropout, self.training)  # (N, hidden)
        return global_pool(h, batch, self.readout, num_graphs)  # (B, F_out)

    def pair_features(self, h1: Tensor, h2: Tensor) -> Tensor:
        """``c(h1, h2) (B, 2F_out)``: ``[h1 ‖ h2]`` or ``[|h1 − h2| ‖ h1 ⊙ h2]``."""
        if self.combine == "concat":
            return torch.cat([h1, h2], dim=1)  # feature axis (erratum D1)
        return torch.cat([(h1 - h2).abs(), h1 * h2], dim=1)

    def forward(self, x1: Tensor, edge_index1: Tensor, x2: Tensor, edge_index2: Tensor,
                batch1: Tensor | None = None, batch2: Tensor | None = None,
                edge_weight1: Tensor | None = None, edge_weight2: Tensor | None = None) -> Tensor:
        """Logits ``z (B,)`` of the pairs ``(graph b of side 1, graph b of side 2)``.

        Raises :class:`~tensorprism.errors.ShapeError` when the two sides hold different numbers
        of graphs (every graph needs a partner).
        """
        b1, b2 = _num_graphs(x1, batch1, 1), _num_graphs(x2, batch2, 2)
        if b1 != b2:
            raise ShapeError(
                f"the two sides must hold the same number of graphs (one pair per graph), got "
                f"{b1} graphs in batch1 and {b2} in batch2; batch the first and second graph of "
                f"every pair in the same order with batch_graphs")
        h1 = self.embed(x1, edge_index1, batch1, b1, edge_weight1)  # (B, F_out)
        h2 = self.embed(x2, edge_index2, batch2, b2, edge_weight2)  # (B, F_out)
        c = F.dropout(self.pair_features(h1, h2), self.dropout, self.training)  # (B, 2F_out)
        return self.head(c).squeeze(-1)  # (B,)

    def example_input(self, batch_size: int = 2) -> tuple[Tensor, ...]:
        """``(x1, edge_index1, x2, edge_index2, batch1, batch2)``: ``batch_size`` pairs of rings."""
        e1, b1 = self._example_graph(batch_size)
        e2, b2 = self._example_graph(batch_size)
        return self._example_features(b1), e1, self._example_features(b2), e2, b1, b2

    def score(self, g1: GraphLike, g2: GraphLike) -> Tensor:
        """Logits ``(B,)`` for two :class:`~tensorprism.data.graph.Graph` objects (single graphs
        or batches from :func:`~tensorprism.data.graph.batch_graphs`)."""
        return self(g1.x, g1.edge_index, g2.x, g2.edge_index, g1.batch, g2.batch,
                    g1.edge_weight, g2.edge_weight)

    @torch.no_grad()
    def predict_proba(self, *args, **kwargs) -> Tensor:
        r"""``f(G_1, G_2) = \mathrm{sigmoid}(z) (B,)`` in ``(0, 1)``; takes :meth:`forward`'s
        arguments, or two ``Graph`` objects as in :meth:`score`."""
        if len(args) == 2 and all(isinstance(a, GraphLike) for a in args) and not kwargs:
            return torch.sigmoid(self.score(*args))
        return torch.sigmoid(self(*args, **kwargs))

    def extra_repr(self) -> str:
        return f"readout={self.readout!r}, combine={self.combine!r}, dropout={self.dropout}"


@register_model("gcn-pair", config=GraphPairConfig, family="gnn")
def gcn_pair(cfg: GraphPairConfig) -> nn.Module:
    """Siamese GCN graph-pair scorer (book §8.6.3, C22; erratum D1 fixed); returns logits."""
    return GraphPairScorer(cfg.in_channels, cfg.hidden, cfg.out_channels, cfg.num_layers,
                           cfg.conv, cfg.readout, cfg.combine, cfg.dropout)
