r"""Retrieval and ranking metrics: top-k recommendation (book §8.6.2) and embedding retrieval
(metric learning, book §4.8).

Two forms of "recall at k" exist in the field and both are here, under distinct names:

- :func:`recall_at_k` (recommendation): for each user, the share of the held-out relevant items
  found in the top ``k`` of the ranking, :math:`|\mathrm{top}_k \cap R_u| / |R_u|`;
- :func:`embedding_recall_at_k` (metric learning, "Recall@K" of the image-retrieval papers): the
  share of queries with **at least one** same-label item among their ``k`` nearest neighbours.

Ranked forms take ``scores (U, I)``: the model's user–item scores with already-seen (training)
items masked to ``-inf``, and ``relevant (U, I)``: a boolean matrix of held-out positives. Users
without held-out items are skipped. torchmetrics' retrieval metrics give the same numbers but need
one flattened query per user; these tensor forms are short and exact.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import ShapeError

__all__ = ["recall_at_k", "ndcg_at_k", "embedding_recall_at_k", "embedding_recall_metric"]


def _topk_hits(scores: Tensor, relevant: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """``hits (U', k)``: 1 where the r-th ranked item of a user is relevant; ``n_rel (U',)``: how
    many relevant items each user has. Only users with at least one relevant item (U' of U)."""
    if scores.shape != relevant.shape or scores.dim() != 2:
        raise ShapeError(f"scores {tuple(scores.shape)} and relevant {tuple(relevant.shape)} must "
                         f"both be (users, items)")
    users = relevant.any(1)
    top = scores[users].topk(k, dim=1).indices  # (U', k)
    return relevant[users].gather(1, top).float(), relevant[users].sum(1).float()


def recall_at_k(scores: Tensor, relevant: Tensor, k: int = 20) -> float:
    """Mean over users of ``|top-k ∩ relevant| / |relevant|``; ``scores``, ``relevant`` ``(U, I)``."""
    hits, n_rel = _topk_hits(scores, relevant, k)
    return float((hits.sum(1) / n_rel).mean())


def ndcg_at_k(scores: Tensor, relevant: Tensor, k: int = 20) -> float:
    """Mean over users of ``DCG@k / IDCG@k`` with binary gains, ``DCG = Σ_r hit_r / log2(r + 1)``;
    ``scores``, ``relevant`` ``(U, I)``."""
    hits, n_rel = _topk_hits(scores, relevant, k)
    disc = 1.0 / torch.log2(torch.arange(2, k + 2, dtype=torch.float32, device=hits.device))
    dcg = (hits * disc).sum(1)
    ideal = torch.cumsum(disc, 0)[(n_rel.clamp(max=k) - 1).long()]
    return float((dcg / ideal).mean())


@torch.no_grad()
def embedding_recall_at_k(query: Tensor, query_labels: Tensor, gallery: Tensor, gallery_labels: Tensor,
                          k: int = 1, exclude_self: bool = False) -> float:
    """Fraction of queries with a same-label item among their ``k`` nearest gallery embeddings
    (Euclidean). ``query (Q, D)``, ``query_labels (Q,)``, ``gallery (G, D)``, ``gallery_labels (G,)``.

    ``exclude_self=True`` is leave-one-out retrieval within one set (query is gallery): a query does
    not find itself. A query whose label has no other gallery item counts as a miss.
    """
    d = torch.cdist(query, gallery)  # (Q, G)
    if exclude_self:
        d.fill_diagonal_(float("inf"))
    nn_idx = d.topk(k, largest=False).indices  # (Q, k)
    return (gallery_labels[nn_idx] == query_labels[:, None]).any(1).float().mean().item()


def embedding_recall_metric(k: int = 1):
    """A torchmetrics ``Metric``: leave-one-out :func:`embedding_recall_at_k` over everything seen in
    an evaluation. ``update(embeddings (N, D), labels (N,))`` gathers (across processes too);
    ``compute()`` compares them all. torchmetrics is imported here, not at module import, because it
    is slow to import and most users of this module do not need it."""
    from torchmetrics import Metric

    class EmbeddingRecallAtK(Metric):
        full_state_update = False

        def __init__(self):
            super().__init__()
            self.add_state("embeddings", default=[], dist_reduce_fx="cat")
            self.add_state("labels", default=[], dist_reduce_fx="cat")

        def update(self, embeddings: Tensor, labels: Tensor) -> None:
            self.embeddings.append(embeddings.detach())
            self.labels.append(labels.detach())

        def compute(self) -> Tensor:
            # After a distributed sync the list states are already concatenated tensors.
            emb, labels = (torch.cat(s) if isinstance(s, list) else s for s in (self.embeddings, self.labels))
            return torch.tensor(embedding_recall_at_k(emb, labels, emb, labels, k, exclude_self=True))

    return EmbeddingRecallAtK()
