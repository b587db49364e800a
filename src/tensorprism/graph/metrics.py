"""Top-k recommendation metrics (book §8.6.2): recall@k and NDCG@k over users.

``scores (U, I)`` are the model's user–item scores with already-seen (training) items masked to
``-inf``; ``relevant (U, I)`` is a boolean matrix of held-out positives. Users without held-out
items are skipped. torchmetrics' retrieval metrics give the same numbers but need one flattened
query per user; these tensor forms are short and exact.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _topk_hits(scores: Tensor, relevant: Tensor, k: int) -> tuple[Tensor, Tensor]:
    users = relevant.any(1)
    top = scores[users].topk(k, dim=1).indices  # (U', k)
    return relevant[users].gather(1, top).float(), relevant[users].sum(1).float()


def recall_at_k(scores: Tensor, relevant: Tensor, k: int = 20) -> float:
    """Mean over users of ``|top-k ∩ relevant| / |relevant|``."""
    hits, n_rel = _topk_hits(scores, relevant, k)
    return float((hits.sum(1) / n_rel).mean())


def ndcg_at_k(scores: Tensor, relevant: Tensor, k: int = 20) -> float:
    """Mean over users of ``DCG@k / IDCG@k`` with binary gains, ``DCG = Σ_r hit_r / log2(r + 1)``."""
    hits, n_rel = _topk_hits(scores, relevant, k)
    disc = 1.0 / torch.log2(torch.arange(2, k + 2, dtype=torch.float32))
    dcg = (hits * disc).sum(1)
    ideal = torch.cumsum(disc, 0)[(n_rel.clamp(max=k) - 1).long()]
    return float((dcg / ideal).mean())
