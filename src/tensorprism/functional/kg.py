r"""Knowledge-graph scoring functions and the filtered ranking protocol (book §8.4.5).

A triple :math:`(h, r, t)` is scored from entity vectors :math:`e_h, e_t \in \mathbb R^d` and a
relation vector :math:`w_r \in \mathbb R^d`:

.. math::
    f_{\mathrm{DistMult}}(h, r, t) &= \langle e_h, w_r, e_t \rangle = \textstyle\sum_k e_{h,k}\, w_{r,k}\, e_{t,k}
    \qquad \text{(Yang et al. 2015; R-GCN's decoder, Schlichtkrull et al. 2018, eq. 6)} \\
    f_{\mathrm{TransE}}(h, r, t) &= -\lVert e_h + w_r - e_t \rVert_p
    \qquad \text{(Bordes et al. 2013)}

The ``*_score`` functions are these equations for aligned batches ``(B, d)`` → ``(B,)``;
``*_score_all`` are the fast paths that score one query ``(h, r, ?)`` against every entity at
once, ``(B, d), (B, d), (N, d)`` → ``(B, N)`` (one GEMM for DistMult; for TransE with p = 2 the
expansion :math:`\lVert q - e\rVert^2 = \lVert q\rVert^2 - 2 q\cdot e + \lVert e\rVert^2`).

**Filtered ranking** (Bordes et al. 2013): the rank of the true tail among all entities, after
removing every *other* tail :math:`t'` with :math:`(h, r, t')` a known triple of any split. Ties
count half (the "realistic" rank of Sun et al. 2020, :func:`ranks_from_scores`): ranking the true
answer first among equal scores would reward a model that scores everything the same.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import ConfigError, ShapeError

__all__ = ["distmult_score", "transe_score", "distmult_score_all", "transe_score_all",
           "ranks_from_scores", "filter_mask", "ranking_metrics"]


def _aligned(*xs: Tensor) -> None:
    if len({x.shape for x in xs}) != 1 or xs[0].dim() != 2:
        raise ShapeError(f"head, relation and tail vectors must be aligned (B, d) batches, got "
                         f"{[tuple(x.shape) for x in xs]}")


def distmult_score(head: Tensor, rel: Tensor, tail: Tensor) -> Tensor:
    """DistMult ``Σ_k h_k r_k t_k`` for aligned ``(B, d)`` batches → ``(B,)`` (reference)."""
    _aligned(head, rel, tail)
    return (head * rel * tail).sum(-1)


def transe_score(head: Tensor, rel: Tensor, tail: Tensor, p: int = 2) -> Tensor:
    """TransE ``-‖h + r − t‖_p`` for aligned ``(B, d)`` batches → ``(B,)`` (reference)."""
    _aligned(head, rel, tail)
    if p not in (1, 2):
        raise ConfigError(f"TransE uses the L1 or L2 distance, got p={p}")
    return -torch.linalg.vector_norm(head + rel - tail, ord=p, dim=-1)


def distmult_score_all(head: Tensor, rel: Tensor, entities: Tensor) -> Tensor:
    """DistMult of ``(h_b, r_b, e)`` for every entity ``e``: ``(B, d), (B, d), (N, d)`` → ``(B, N)``."""
    return (head * rel) @ entities.t()


def transe_score_all(head: Tensor, rel: Tensor, entities: Tensor, p: int = 2) -> Tensor:
    """TransE of ``(h_b, r_b, e)`` for every entity ``e``: ``(B, d), (B, d), (N, d)`` → ``(B, N)``."""
    q = head + rel
    if p == 1:
        return -torch.cdist(q, entities, p=1)
    if p != 2:
        raise ConfigError(f"TransE uses the L1 or L2 distance, got p={p}")
    sq = q.pow(2).sum(-1, keepdim=True) - 2 * q @ entities.t() + entities.pow(2).sum(-1)
    return -sq.clamp_min(0).sqrt()


def filter_mask(queries: Tensor, known: Tensor, num_entities: int) -> Tensor:
    """``(B, N)`` bool: True at the tails ``t'`` of the known triples ``(h_b, r_b, t')``.

    ``queries (B, 3)`` are ``(h, r, t)`` triples (their own tail is marked too: the caller keeps
    the target), ``known (M, 3)`` every known triple (train, val and test).
    """
    if queries.dim() != 2 or queries.size(1) != 3 or known.dim() != 2 or known.size(1) != 3:
        raise ShapeError(f"queries and known must be (B, 3) and (M, 3) triples, got "
                         f"{tuple(queries.shape)} and {tuple(known.shape)}")
    rels = torch.cat([queries[:, 1], known[:, 1], queries.new_zeros(1)])
    r_max = int(rels.max()) + 1
    key_known = known[:, 0] * r_max + known[:, 1]
    key_q = queries[:, 0] * r_max + queries[:, 1]
    uq, inv = torch.unique(key_q, return_inverse=True)
    pos = torch.searchsorted(uq, key_known).clamp_max(len(uq) - 1)
    hit = uq[pos] == key_known  # known triples whose (h, r) is one of the queries'
    rows = torch.zeros(len(uq), num_entities, dtype=torch.bool, device=queries.device)
    rows[pos[hit], known[hit, 2]] = True
    return rows[inv]


def ranks_from_scores(scores: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
    """Rank (1 = best) of ``target (B,)`` in ``scores (B, N)`` (higher is better) → float ``(B,)``.

    ``mask (B, N)`` True removes a candidate (the filtered setting); the target itself is never
    removed. Ties count half: ``rank = 1 + #{better} + #{equal, other} / 2``.
    """
    if scores.dim() != 2 or target.shape != scores.shape[:1]:
        raise ShapeError(f"scores must be (B, N) and target (B,), got {tuple(scores.shape)} and "
                         f"{tuple(target.shape)}")
    s_t = scores.gather(1, target[:, None])
    keep = torch.ones_like(scores, dtype=torch.bool) if mask is None else ~mask
    keep = keep.scatter(1, target[:, None], False)  # the target is counted apart
    better = ((scores > s_t) & keep).sum(1)
    equal = ((scores == s_t) & keep).sum(1)
    return 1.0 + better.double() + equal.double() / 2


def ranking_metrics(ranks: Tensor, ks: tuple[int, ...] = (1, 3, 10)) -> dict[str, float]:
    """``{"mrr": mean 1/rank, "mr": mean rank, "hits@k": share of ranks <= k}`` for ``ranks (Q,)``."""
    if ranks.numel() == 0:
        raise ShapeError("no ranks to summarise: the evaluation split has no queries")
    r = ranks.double()
    out = {"mrr": float((1.0 / r).mean()), "mr": float(r.mean())}
    out.update({f"hits@{k}": float((r <= k).double().mean()) for k in ks})
    return out
