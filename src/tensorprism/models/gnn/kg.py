r"""Knowledge-graph completion models: DistMult and TransE embeddings, and the R-GCN link
predictor (Schlichtkrull et al. 2018, §4: R-GCN encoder, DistMult decoder) of book §8.4.5.

All three answer a query :math:`(h, r, ?)` with a score for every entity,
``forward(heads (B,), relations (B,)) -> scores (B, N)``; the scoring functions are those of
:mod:`tensorprism.functional.kg`. Head queries :math:`(?, r, t)` are asked as tail queries of the
reciprocal relation :math:`r^{-1}` (Lacroix et al. 2018), so the models hold ``2R`` relation vectors:
relation ``r + R`` is the inverse of ``r``.

* :class:`KGEmbedding` — one free vector per entity and relation; ``score="distmult"`` or
  ``"transe"``.
* :class:`RGCNLinkPredictor` — entity vectors :math:`e_i = h_i^{(L)}` computed by ``L`` R-GCN layers
  (:class:`~tensorprism.nn.graph.RGCNConv`, basis decomposition) over the *training* graph (every
  triple as an edge of its relation and its reverse as an edge of the inverse relation), from free
  input vectors :math:`h^{(0)}`; DistMult on top (Schlichtkrull et al. 2018, eq. 6).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...errors import ConfigError, ShapeError
from ...functional.kg import distmult_score, distmult_score_all, transe_score, transe_score_all
from ...nn.graph import RGCNConv

__all__ = ["KGEmbedding", "RGCNLinkPredictor", "KG_SCORES", "reciprocal_triples", "rgcn_basis_forward",
           "relation_mean_weights", "sampled_softmax_loss"]

KG_SCORES = ("distmult", "transe")


def reciprocal_triples(triples: Tensor, num_relations: int) -> Tensor:
    """``(M, 3)`` → ``(2M, 3)``: every ``(h, r, t)`` and its reciprocal ``(t, r + R, h)``."""
    if triples.dim() != 2 or triples.size(1) != 3:
        raise ShapeError(f"triples must be (M, 3) (head, relation, tail), got {tuple(triples.shape)}")
    return torch.cat([triples, torch.stack([triples[:, 2], triples[:, 1] + num_relations, triples[:, 0]], 1)])


def _check_query(heads: Tensor, rels: Tensor, n: int, r2: int) -> None:
    if heads.dim() != 1 or heads.shape != rels.shape:
        raise ShapeError(f"heads and relations must be aligned (B,) id vectors, got {tuple(heads.shape)} "
                         f"and {tuple(rels.shape)}")
    if heads.numel() and (int(heads.max()) >= n or int(rels.max()) >= r2 or int(heads.min()) < 0
                          or int(rels.min()) < 0):
        raise ShapeError(f"entity ids must be in [0, {n}) and relation ids in [0, {r2}) (relations and "
                         "their reciprocals)")


def relation_mean_weights(edge_index: Tensor, edge_type: Tensor, num_nodes: int, num_relations: int) -> Tensor:
    """``1 / c_{i,r} = 1 / |N_r(i)|`` on each edge ``j → i`` of relation ``r``, ``(E,)``."""
    key = edge_index[1] * num_relations + edge_type
    count = torch.bincount(key, minlength=num_nodes * num_relations).float()
    return count.reciprocal()[key]


def rgcn_basis_forward(conv: RGCNConv, x: Tensor, edge_index: Tensor, edge_type: Tensor,
                       inv_count: Tensor) -> Tensor:
    r"""``conv(x, edge_index, edge_type)`` for a basis-decomposed, mean-aggregating
    :class:`~tensorprism.nn.graph.RGCNConv`, computed basis-first (fast path, tested equal):

    .. math::
        h_i' = W_0 h_i + b + \sum_r \sum_{j \in N_r(i)} \frac{1}{c_{i,r}} \sum_b a_{rb}\, V_b^\top h_j

    ``x V_b`` is formed once per basis (``B·N·F_in·F_out``) instead of once per relation
    (``R·N·F_in·F_out``); each edge then mixes the ``B`` transformed rows of its source with its
    relation's coefficients. ``inv_count (E,)`` is :func:`relation_mean_weights`.
    """
    if conv.comp is None or conv.aggr != "mean":
        return conv(x, edge_index, edge_type)
    n = x.size(0)
    xv = torch.einsum("ni,bio->nbo", x, conv.weight)  # (N, B, F_out)
    coef = conv.comp[edge_type] * inv_count[:, None]  # (E, B)
    msg = torch.einsum("ebo,eb->eo", xv[edge_index[0]], coef)  # (E, F_out)
    out = torch.zeros(n, conv.out_channels, dtype=x.dtype, device=x.device).index_add_(0, edge_index[1], msg)
    if conv.root is not None:
        out = out + x @ conv.root
    return out if conv.bias is None else out + conv.bias


class KGEmbedding(nn.Module):
    """DistMult or TransE embeddings: ``forward(heads (B,), relations (B,)) -> scores (B, N)``.

    Args:
        num_entities, num_relations: ``N`` and ``R`` (the model holds ``2R`` relation vectors).
        dim: embedding width ``d``.
        score: ``"distmult"`` (Yang et al. 2015) or ``"transe"`` (Bordes et al. 2013, L2).
        dropout: on the query vectors ``e_h``, ``w_r`` during training.
    """

    def __init__(self, num_entities: int, num_relations: int, dim: int = 100, score: str = "distmult",
                 dropout: float = 0.0):
        super().__init__()
        if score not in KG_SCORES:
            raise ConfigError(f"score must be one of {KG_SCORES}, got {score!r}")
        self.num_entities, self.num_relations, self.score, self.dropout = num_entities, num_relations, score, dropout
        self.entity = nn.Embedding(num_entities, dim)
        self.relation = nn.Embedding(2 * num_relations, dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self.entity.weight)
        nn.init.xavier_uniform_(self.relation.weight)

    def entity_vectors(self) -> Tensor:
        """``(N, d)``: the vectors every query is scored against."""
        return self.entity.weight

    def forward(self, heads: Tensor, rels: Tensor, candidates: Tensor | None = None) -> Tensor:
        """Scores ``(B, N)`` of every entity as the tail of ``(heads[b], rels[b], ?)``; with
        ``candidates (K,)`` entity ids, only those: ``(B, K)`` (sampled training)."""
        _check_query(heads, rels, self.num_entities, 2 * self.num_relations)
        ent = self.entity_vectors()
        return self.score_against(ent, heads, rels, ent if candidates is None else ent[candidates])

    def score_against(self, ent: Tensor, heads: Tensor, rels: Tensor, cand: Tensor) -> Tensor:
        """Scores ``(B, K)`` of the queries against candidate vectors ``cand (K, d)``, with the
        entity vectors ``ent (N, d)`` already computed (one encoder pass for several scorings)."""
        h = F.dropout(ent[heads], self.dropout, self.training)
        r = F.dropout(self.relation(rels), self.dropout, self.training)
        if self.score == "distmult":
            return distmult_score_all(h, r, cand)
        return transe_score_all(h, r, cand)

    def score_triples(self, ent: Tensor, triples: Tensor) -> Tensor:
        """Scores ``(B,)`` of aligned triples ``(B, 3)`` (the reference scoring functions)."""
        h = F.dropout(ent[triples[:, 0]], self.dropout, self.training)
        r = F.dropout(self.relation(triples[:, 1]), self.dropout, self.training)
        t = ent[triples[:, 2]]
        return distmult_score(h, r, t) if self.score == "distmult" else transe_score(h, r, t)


class RGCNLinkPredictor(KGEmbedding):
    """R-GCN encoder over the training graph, DistMult decoder (Schlichtkrull et al. 2018).

    ``set_graph(train_triples (M, 3))`` stores the message-passing graph (relation ``r`` edges
    ``h → t`` and relation ``r + R`` edges ``t → h``); ``forward`` runs the encoder once per call
    and scores the queries against every encoded entity.

    Args:
        num_layers: R-GCN layers (ReLU between them; the last one is linear).
        num_bases: basis decomposition of the ``2R`` relation weights (eq. 3).
        dropout: on the hidden layers and the query vectors.
    """

    def __init__(self, num_entities: int, num_relations: int, dim: int = 100, num_layers: int = 2,
                 num_bases: int | None = 4, dropout: float = 0.0):
        super().__init__(num_entities, num_relations, dim, "distmult", dropout)
        if num_layers < 1:
            raise ConfigError(f"num_layers must be >= 1, got {num_layers}")
        self.convs = nn.ModuleList(RGCNConv(dim, dim, 2 * num_relations, num_bases) for _ in range(num_layers))
        self.register_buffer("edge_index", torch.zeros(2, 0, dtype=torch.long), persistent=False)
        self.register_buffer("edge_type", torch.zeros(0, dtype=torch.long), persistent=False)
        self._inv_count = torch.zeros(0)

    def set_graph(self, train_triples: Tensor) -> RGCNLinkPredictor:
        t = reciprocal_triples(train_triples, self.num_relations)
        dev = self.entity.weight.device
        self.edge_index = torch.stack([t[:, 0], t[:, 2]]).to(dev)
        self.edge_type = t[:, 1].to(dev)
        self._inv_count = relation_mean_weights(self.edge_index, self.edge_type, self.num_entities,
                                                2 * self.num_relations)
        return self

    def entity_vectors(self) -> Tensor:
        if self.edge_type.numel() == 0:
            raise ConfigError("RGCNLinkPredictor has no graph: call set_graph(train_triples) first")
        h = self.entity.weight
        for k, conv in enumerate(self.convs):
            h = rgcn_basis_forward(conv, h, self.edge_index, self.edge_type, self._inv_count)
            if k < len(self.convs) - 1:
                h = F.dropout(F.relu(h), self.dropout, self.training)
        return h


def sampled_softmax_loss(model: KGEmbedding, triples: Tensor, num_negatives: int,
                         generator: torch.Generator | None = None) -> Tensor:
    """Cross-entropy of each true tail against ``num_negatives`` entities drawn uniformly and shared
    by the batch (a sampled 1-vs-all loss; Ruffinelli et al. 2020 compare it with the full one).

    ``triples (B, 3)``; a drawn negative that equals a query's true tail is masked out of that
    query's softmax. ``num_negatives >= N`` scores every entity (the full 1-vs-all loss).
    """
    h, r, t = triples[:, 0], triples[:, 1], triples[:, 2]
    n = model.num_entities
    if num_negatives >= n:
        return F.cross_entropy(model(h, r), t)
    neg = torch.randint(n, (num_negatives,), generator=generator).to(t.device)
    ent = model.entity_vectors()
    # dropout draws differ between the two scorings; with dropout=0 the positive equals its column
    pos = model.score_triples(ent, triples)[:, None]  # (B, 1)
    neg_s = model.score_against(ent, h, r, ent[neg]).masked_fill(neg[None, :] == t[:, None], float("-inf"))
    logits = torch.cat([pos, neg_s], 1)
    b = t.numel()
    return F.cross_entropy(logits, torch.zeros(b, dtype=torch.long, device=t.device))
