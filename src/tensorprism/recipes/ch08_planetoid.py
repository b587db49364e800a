"""GCN / GAT node classification on the Planetoid public split (Cora, CiteSeer), over seeds."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch

from ..data import load_dataset
from ..models import create_model
from . import register_recipe
from .ch08_common import GraphRecipeConfig, graph_root, graph_trainer
from .kit import save_result

PLANETOID_SETTINGS = {
    # Kipf & Welling (2017): L2 only on the first layer, 200 epochs
    "gcn": dict(lr=0.01, weight_decay=0.0, first_layer_weight_decay=5e-4, epochs=200, patience=None),
    # Veličković et al. (2018): L2 on all weights, patience 100
    "gat": dict(lr=0.005, weight_decay=5e-4, first_layer_weight_decay=None, epochs=1000, patience=100),
}
PLANETOID_SETTINGS["gat-reference"] = PLANETOID_SETTINGS["gat"]


@dataclass
class PlanetoidConfig(GraphRecipeConfig):
    """Attributes:
    model: ``gcn``, ``gat`` or ``gat-reference`` (each with its paper's settings, ``PLANETOID_SETTINGS``).
    dataset: ``cora`` or ``citeseer``.
    seeds: runs, seeded ``first_seed``, ``first_seed + 1``...; one run sub-folder ``seed-<n>`` each.
    """

    model: str = "gcn"
    dataset: str = "cora"
    seeds: int = 10
    first_seed: int = 0


def train_planetoid(cfg: PlanetoidConfig, seed: int) -> tuple[float, int]:
    """One run with the paper's hyperparameters; test accuracy (%) of the best-validation weights."""
    from ..train.tasks.graph import KeepBestWeights, NodeClassificationTask, node_split_data

    g = load_dataset(cfg.dataset, root=graph_root(cfg), split="public", normalize_features=True)
    g = g.with_sparse_features()  # O(nnz) first-layer product and input dropout; same maths
    s = PLANETOID_SETTINGS[cfg.model]
    torch.manual_seed(seed)
    model = create_model(cfg.model, in_channels=g.num_features, num_classes=g.meta["num_classes"])
    keep = KeepBestWeights(s["patience"])
    task_config = {"first_layer_weight_decay": s["first_layer_weight_decay"]}
    tr = graph_trainer(cfg, model, NodeClassificationTask(**task_config), **node_split_data(g), callbacks=[keep],
                       sub=f"seed-{seed}", task_config=task_config,
                       dataset={"name": cfg.dataset, "config": {"normalize_features": True}},
                       epochs=s["epochs"], lr=s["lr"], weight_decay=s["weight_decay"], seed=seed)
    tr.fit()
    return tr.evaluate("test")["test/acc"] * 100, tr.epoch


@register_recipe("ch08-planetoid", config=PlanetoidConfig)
def planetoid(cfg: PlanetoidConfig) -> dict:
    """GCN/GAT on the Planetoid public split: test accuracy mean ± std over seeds."""
    accs, epochs, t0 = [], [], time.perf_counter()
    for seed in range(cfg.first_seed, cfg.first_seed + cfg.seeds):
        acc, ep = train_planetoid(cfg, seed)
        print(f"{cfg.model} {cfg.dataset} seed {seed}: test acc {acc:.2f} % after {ep} epochs",
              flush=True)
        accs.append(acc)
        epochs.append(ep)
    return save_result(cfg, {
        "model": cfg.model, "dataset": cfg.dataset, "test_acc_mean": statistics.mean(accs),
        "test_acc_std": statistics.stdev(accs) if len(accs) > 1 else 0.0, "test_accs": accs,
        "epochs_mean": statistics.mean(epochs), "seconds_per_run": (time.perf_counter() - t0) / cfg.seeds,
    })
