r"""Text classification over word co-occurrence graphs (book §8.8, review sentiment, E-11 / L28).

.. math::
    H^{(0)} = E[x], \qquad H^{(l)} = \mathrm{ReLU}\big(\hat A H^{(l-1)} W^{(l)\top} + b^{(l)}\big),
    \qquad z_g = W_o\, \mathrm{readout}_{i \in g} H^{(L)}_i + b_o \in \mathbb R^{C},

with :math:`E \in \mathbb R^{V \times D}` a word embedding, :math:`\hat A = D^{-1/2}(A+I)D^{-1/2}`
(Kipf & Welling 2017) of the co-occurrence graph (:mod:`tensorprism.data.text.cooccurrence`),
a mean or max readout, and cross-entropy on the ``C = 2`` logits. The book's listing
(lines 19913–19978) ends in a 2-wide GCN layer, mean-pools it and regresses it with MSE on the
1-wide label ``[1.0]``, which broadcasts the label to both outputs (catalogue L28); here the two
outputs are class logits.

With no edges (``window=1``) :math:`\hat A = I` and the model is the same network applied to
each word independently and pooled: a bag of embeddings with identical parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...errors import ShapeError
from ...nn.graph import GCNConv, Readout
from .. import register_model
from ..contract import GraphModelMixin, check_token_ids, model_label


@dataclass
class TextGraphConfig:
    vocab_size: int = 20000
    embed_dim: int = 64
    hidden: int = 64
    num_layers: int = 2
    num_classes: int = 2
    readout: str = "mean"  # mean | max | sum
    dropout: float = 0.3
    padding_idx: int | None = 0


class TextGraphGCN(GraphModelMixin, nn.Module):
    """Embedding → ``num_layers`` GCN layers (ReLU, dropout) → readout → linear logits.

    ``forward(x (N,) long word ids, edge_index (2, E), batch (N,) or None, edge_weight (E,) or
    None) -> (B, num_classes)``; ``B = 1`` when ``batch`` is ``None``.
    """

    level = "graph"

    def __init__(self, cfg: TextGraphConfig):
        super().__init__()
        self.vocab_size = cfg.vocab_size
        self.embed = nn.Embedding(cfg.vocab_size, cfg.embed_dim, padding_idx=cfg.padding_idx)
        widths = [cfg.embed_dim] + [cfg.hidden] * cfg.num_layers
        self.convs = nn.ModuleList(GCNConv(a, b) for a, b in pairwise(widths))
        self.readout = Readout(cfg.readout)
        self.dropout = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(widths[-1], cfg.num_classes)

    def graph_inputs(self, g) -> tuple:
        return (g.x, g.edge_index, g.batch, g.edge_weight)

    def example_input(self, batch_size: int = 2) -> tuple[Tensor, Tensor, Tensor]:
        edge_index, batch = self._example_graph(batch_size)
        return torch.randint(1, self.vocab_size, batch.shape, device=batch.device), edge_index, batch

    def forward(self, x: Tensor, edge_index: Tensor, batch: Tensor | None = None,
                edge_weight: Tensor | None = None) -> Tensor:
        if x.dim() != 1 or x.is_floating_point() or x.is_complex():
            raise ShapeError(f"{model_label(self)}: x must be (N,) integer word ids, got {tuple(x.shape)} "
                             f"{x.dtype}; build graphs with cooccurrence_graph")
        check_token_ids(x, self.vocab_size, model_label(self), "word ids (x)")
        h = self.dropout(self.embed(x))
        for conv in self.convs:
            h = self.dropout(F.relu(conv(h, edge_index, edge_weight)))
        size = None if batch is None else int(batch.max()) + 1
        return self.head(self.readout(h, batch, size))


@register_model("gcn-text-graph", config=TextGraphConfig, family="gnn")
def gcn_text_graph(cfg: TextGraphConfig) -> nn.Module:
    """GCN sentence classifier over word co-occurrence graphs (book §8.8 review sentiment, with
    class logits and cross-entropy instead of the book's broadcast MSE)."""
    return TextGraphGCN(cfg)
