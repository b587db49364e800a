"""Review sentiment as word co-occurrence graphs (book §8.8, catalogue E-11 / L28) on SST-2.

``prism run ch08-sentiment-graph``: every SST-2 phrase becomes the graph of its distinct words
joined within a sliding ``window`` (:mod:`tensorprism.data.text.cooccurrence`; the book's
tridiagonal example is ``window=2``), classified by ``gcn-text-graph`` (embedding → GCN layers →
mean readout → 2 logits, cross-entropy; the book's MSE on a broadcast width-1 label is corrected).
The same network is trained a second time on edgeless graphs (``window=1``: each word alone, a bag
of embeddings with identical parameters) so that the effect of the edges is measured. For each,
the epoch with the best dev accuracy is scored once on the labelled test set (1,821 sentences).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..train.tasks.graph import GraphBatchDataset, GraphClassificationTask
from . import register_recipe
from .ch08_common import GraphRecipeConfig, graph_root, graph_trainer
from .kit import save_result


@dataclass
class SentimentGraphConfig(GraphRecipeConfig):
    """Attributes:
    max_train: the first phrases of the 67,349 GLUE training phrases (``None``: all).
    window: 2 = adjacent words (the book's tridiagonal A); the baseline uses 1.
    weighted: co-occurrence counts as edge weights.
    baseline: also train the no-edge (window=1) model (run sub-folder ``no-edge``; the graph model's is ``graph``).
    embed_dim, hidden, num_layers, readout, dropout: the ``gcn-text-graph`` network.
    epochs, batch_size, lr, weight_decay: Adam training; the best dev epoch is scored on test.
    min_freq: words seen fewer times in training map to ``<unk>``.
    """

    max_train: int | None = None
    window: int = 2
    weighted: bool = True
    baseline: bool = True
    embed_dim: int = 64
    hidden: int = 64
    num_layers: int = 2
    readout: str = "mean"
    dropout: float = 0.3
    epochs: int = 10
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.0
    min_freq: int = 1


class WeightedGraphClassification(GraphClassificationTask):
    """Graph classification whose model reads the co-occurrence counts ``edge_weight (E,)``
    (the generic task passes ``edge_attr``, which these graphs do not have)."""

    name = "text-graph-classification"

    @staticmethod
    def _logits(model: nn.Module, b) -> Tensor:
        return model(b.x, b.edge_index, b.batch, b.edge_weight)

    def training_step(self, model: nn.Module, batch) -> dict[str, Tensor]:
        return {"loss": self._loss(self._logits(model, batch), batch.y.view(-1))}

    def evaluation_step(self, model: nn.Module, batch) -> dict[str, Tensor]:
        logits, y = self._logits(model, batch), batch.y.view(-1)
        return {"loss": self._loss(logits, y), "preds": logits, "target": y}

    def predict_step(self, model: nn.Module, batch) -> Tensor:
        return self._logits(model, batch).argmax(1)


def train_text_graph(cfg: SentimentGraphConfig, vocab_size: int, train, dev, test, sub: str = "graph") -> dict:
    """Train ``gcn-text-graph`` on ``train`` graphs, keep the best-dev epoch, score it on ``test``."""
    from ..models import create_model

    torch.manual_seed(cfg.seed)
    model = create_model("gcn-text-graph", vocab_size=vocab_size, embed_dim=cfg.embed_dim,
                         hidden=cfg.hidden, num_layers=cfg.num_layers, readout=cfg.readout,
                         dropout=cfg.dropout)
    t0 = time.perf_counter()
    tr = graph_trainer(cfg, model, WeightedGraphClassification(), sub=sub,
                       train_data=GraphBatchDataset(train.graphs), val_data=GraphBatchDataset(dev.graphs),
                       test_data=GraphBatchDataset(test.graphs), epochs=cfg.epochs, batch_size=cfg.batch_size,
                       eval_batch_size=256, lr=cfg.lr, weight_decay=cfg.weight_decay, restore_best=True,
                       monitor="val/acc", mode="max", precision="32").fit()
    dev_curve = [float(v) for v in tr.history.get("val/acc", [])]
    best_epoch = max(range(len(dev_curve)), key=dev_curve.__getitem__) + 1 if dev_curve else 0
    return {"test_acc": float(tr.final_metrics["test/acc"]), "best_dev_acc": max(dev_curve, default=float("nan")),
            "best_epoch": best_epoch, "dev_acc_per_epoch": dev_curve,
            "train_loss_per_epoch": [float(v) for v in tr.history.get("train/loss", [])],
            "parameters": sum(p.numel() for p in model.parameters()),
            "seconds": round(time.perf_counter() - t0, 1)}


@register_recipe("ch08-sentiment-graph", config=SentimentGraphConfig)
def sentiment_graph(cfg: SentimentGraphConfig) -> dict:
    """Co-occurrence-graph GCN vs the no-edge baseline on SST-2: test accuracy of each."""
    from ..data import load_dataset
    from ..data.text import WordTokenizer
    from ..data.text.cooccurrence import TextGraphDataset

    t0 = time.perf_counter()
    root = graph_root(cfg)
    train_rows = load_dataset("sst2", root=root, split="train")[: cfg.max_train]
    dev_rows = load_dataset("sst2", root=root, split="dev")
    test_rows = load_dataset("sst2", root=root, split="test")
    tok = WordTokenizer().fit((s for s, _ in train_rows), min_freq=cfg.min_freq)
    unk = tok.vocab.unk_id

    def graphs(window: int):
        return [TextGraphDataset(rows, tok.encode, window, cfg.weighted, empty_id=unk)
                for rows in (train_rows, dev_rows, test_rows)]

    tg = time.perf_counter()
    data = graphs(cfg.window)
    graph_seconds = time.perf_counter() - tg
    tr = data[0].graphs
    result: dict = {
        "train_examples": len(train_rows), "vocab": len(tok),
        "mean_nodes": sum(g.num_nodes for g in tr) / len(tr),
        "mean_undirected_edges": sum(g.num_edges for g in tr) / (2 * len(tr)),
        "graph_build_seconds": round(graph_seconds, 1),
        "graph": train_text_graph(cfg, len(tok), *data),
    }
    if cfg.baseline:
        result["no_edge_baseline"] = train_text_graph(cfg, len(tok), *graphs(1), sub="no-edge")
        result["test_acc_gain"] = result["graph"]["test_acc"] - result["no_edge_baseline"]["test_acc"]
    result["seconds"] = round(time.perf_counter() - t0, 1)
    result["threads"] = torch.get_num_threads()
    return save_result(cfg, result)
