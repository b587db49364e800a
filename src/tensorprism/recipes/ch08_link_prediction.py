"""GAE-style link prediction on Cora: GCN encoder, dot-product decoder, AUC / AP."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..data import load_dataset
from ..models import create_model
from . import register_recipe
from .ch08_common import GraphRecipeConfig, graph_root, graph_trainer
from .kit import save_result


@dataclass
class LinkConfig(GraphRecipeConfig):
    dataset: str = "cora"
    hidden: int = 32
    out: int = 16
    epochs: int = 200
    lr: float = 0.01


@register_recipe("ch08-link-prediction", config=LinkConfig)
def link_prediction(cfg: LinkConfig) -> dict:
    """GAE-style link prediction (Kipf & Welling 2016: GCN encoder, dot-product decoder) with
    85/5/10 edge split and fresh negatives every step; reports test AUC and AP."""
    from ..train.tasks.graph import KeepBestWeights, link_split_data

    g = load_dataset(cfg.dataset, root=graph_root(cfg), normalize_features=True)
    torch.manual_seed(cfg.seed)
    model = create_model("gcn", in_channels=g.num_features, hidden=cfg.hidden, num_classes=cfg.out,
                         dropout=0.0)
    keep = KeepBestWeights(acc_key="val/auc")
    tr = graph_trainer(cfg, model, "link-prediction", **link_split_data(g, 0.05, 0.10, cfg.seed),
                  callbacks=[keep], epochs=cfg.epochs, lr=cfg.lr, seed=cfg.seed)
    tr.fit()
    m = tr.evaluate("test")
    return save_result(cfg, {"test_auc": m["test/auc"], "test_ap": m["test/ap"]})
