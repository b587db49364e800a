"""GraphSAGE trained on mini-batches of sampled neighbourhoods (Cora)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..data import load_dataset
from ..models import create_model
from . import register_recipe
from .ch08_common import GraphRecipeConfig, graph_root, graph_trainer
from .kit import save_result


@dataclass
class SampledSageConfig(GraphRecipeConfig):
    dataset: str = "cora"
    fanout: tuple[int, ...] = (10, 10)
    batch_size: int = 32
    hidden: int = 64
    epochs: int = 30
    lr: float = 0.01
    weight_decay: float = 5e-4


@register_recipe("ch08-sampled-sage", config=SampledSageConfig)
def sampled_sage(cfg: SampledSageConfig) -> dict:
    """GraphSAGE-mean trained on mini-batches of seed nodes with sampled ``fanout`` neighbourhoods
    (Hamilton et al. 2017; the route for graphs too large for a full-batch step), evaluated on the
    full graph; weights of the best validation epoch."""
    from ..graph import NeighborSampler
    from ..train.tasks.graph import KeepBestWeights, node_split_data

    g = load_dataset(cfg.dataset, root=graph_root(cfg), normalize_features=True)
    torch.manual_seed(cfg.seed)
    model = create_model("graphsage", in_channels=g.num_features, hidden=cfg.hidden,
                         num_classes=g.meta["num_classes"])
    full = node_split_data(g)
    keep = KeepBestWeights()
    tr = graph_trainer(cfg, model, "node-classification", callbacks=[keep],
                  train_data=NeighborSampler(g, list(cfg.fanout), g.train_mask, seed=cfg.seed),
                  val_data=full["val_data"], test_data=full["test_data"], epochs=cfg.epochs,
                  batch_size=cfg.batch_size, lr=cfg.lr, weight_decay=cfg.weight_decay, seed=cfg.seed,
                       dataset={"name": cfg.dataset, "config": {"normalize_features": True}})
    tr.fit()
    return save_result(cfg, {"test_acc": tr.evaluate("test")["test/acc"], "best_epoch": keep.best_epoch})
