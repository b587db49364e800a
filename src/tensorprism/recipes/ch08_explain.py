"""Saliency and GNNExplainer for a Cora prediction, with the explanation subgraph plotted (§8.9)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..data import load_dataset
from ..models import create_model
from . import register_recipe
from .ch08_common import GraphRecipeConfig, graph_root, graph_trainer
from .kit import save_result


@dataclass
class ExplainConfig(GraphRecipeConfig):
    node: int = 0  # index into the test nodes
    epochs: int = 200
    top_k: int = 12


@register_recipe("ch08-explain", config=ExplainConfig)
def explain(cfg: ExplainConfig) -> dict:
    """Train a GCN on Cora, explain one test node's prediction by gradient saliency and by a
    GNNExplainer mask, and plot the explanation subgraph (book §8.9)."""
    from ..explain.graph import (
        ExplainerConfig,
        explanation_subgraph,
        gnn_explainer,
        gradient_saliency,
        plot_explanation,
    )
    from ..train.tasks.graph import node_split_data

    g = load_dataset("cora", root=graph_root(cfg), normalize_features=True)
    torch.manual_seed(cfg.seed)
    model = create_model("gcn", in_channels=g.num_features, num_classes=7)
    task_kw = dict(epochs=200, lr=0.01, weight_decay=5e-4, seed=cfg.seed)
    graph_trainer(cfg, model, "node-classification", **node_split_data(g), **task_kw,
                  dataset={"name": "cora", "config": {"normalize_features": True}}).fit()
    node = int(g.test_mask.nonzero()[cfg.node])
    sal = gradient_saliency(model, g.x, g.edge_index, node)
    exp = gnn_explainer(model, g.x, g.edge_index, node, cfg=ExplainerConfig(epochs=cfg.epochs))
    keep = explanation_subgraph(g.edge_index, exp["edge_mask"], top_k=cfg.top_k)
    out = Path(cfg.out_dir or ".")  # run_recipe always sets out_dir
    path = plot_explanation(g.edge_index, exp["edge_mask"], keep, out / f"explain_node{node}.png",
                            node=node, labels=g.y, title=f"GNNExplainer, Cora node {node} "
                            f"(class {exp['target']}, true {int(g.y[node])})")
    hop1 = set(g.edge_index[0, g.edge_index[1] == node].tolist()) | {node}
    top = g.edge_index[:, keep]
    return save_result(cfg, {
        "node": node, "predicted": exp["target"], "true": int(g.y[node]),
        "masked_prob": float(exp["log_prob"].exp()),
        "top_edges_touching_1hop": float(sum(int(s) in hop1 or int(t) in hop1 for s, t in top.t()) / top.size(1)),
        "top_saliency_nodes": sal["node_score"].topk(5).indices.tolist(), "plot": str(path),
    })
