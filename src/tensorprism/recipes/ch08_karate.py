"""Zachary's karate club: semi-supervised GCN, spectral and embedding communities, PageRank."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..data import load_dataset
from ..models import create_model
from . import register_recipe
from .ch08_common import GraphRecipeConfig, graph_trainer
from .kit import save_result


@dataclass
class KarateConfig(GraphRecipeConfig):
    epochs: int = 100


@register_recipe("ch08-karate", config=KarateConfig)
def karate(cfg: KarateConfig) -> dict:
    """Zachary's karate club: GCN from the two leaders' labels (book §8.6.1 node classification),
    communities by spectral clustering and by k-means on the GCN's hidden embeddings (book
    listing L14, with a real training signal instead of its broken dummy loss), PageRank."""
    from ..optional import check_available

    check_available(["networkx"], feature="recipe ch08-karate")
    from sklearn.cluster import KMeans

    from ..graph import modularity, pagerank, spectral_communities
    from ..train.tasks.graph import node_split_data

    g = load_dataset("karate")
    torch.manual_seed(cfg.seed)
    model = create_model("gcn", in_channels=g.num_features, hidden=16, num_classes=2, dropout=0.0)
    tr = graph_trainer(cfg, model, "node-classification", **node_split_data(g), epochs=cfg.epochs, lr=0.02,
                       seed=cfg.seed, dataset={"name": "karate"})
    tr.fit()
    model.eval()
    with torch.no_grad():
        emb = model.embed(g.x, g.edge_index)
    km = torch.from_numpy(KMeans(2, n_init=10, random_state=cfg.seed).fit_predict(emb.numpy())).long()
    spec = spectral_communities(g.edge_index, 2, g.num_nodes, cfg.seed)

    def agree(c):  # best match of 2 clusters to the two clubs
        a = float((c == g.y).float().mean())
        return max(a, 1 - a)

    pr = pagerank(g.edge_index, g.num_nodes)
    return save_result(cfg, {
        "test_acc": tr.evaluate("test")["test/acc"],
        "kmeans_on_gcn_embeddings_agreement": agree(km), "spectral_agreement": agree(spec),
        "modularity_true_clubs": modularity(g.edge_index, g.y, g.num_nodes),
        "modularity_spectral": modularity(g.edge_index, spec, g.num_nodes),
        "pagerank_top5": pr.topk(5).indices.tolist(),
    })
