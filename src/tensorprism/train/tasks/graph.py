"""Graph learning tasks (book §8.5–8.6) for the generic :class:`~tensorprism.train.Trainer`.

* ``node-classification`` — cross-entropy on the nodes of a mask (the book's loss runs over all
  nodes, so it was not semi-supervised: catalogue D1). Full batch:
  ``Trainer(model, "node-classification", **node_split_data(graph))``; mini-batch with sampled
  neighbourhoods: ``train_data=NeighborSampler(graph, [25, 10], graph.train_mask)``.
* ``link-prediction`` — dot-product decoder ``σ(z_u · z_v)`` (book eq. 19121 plus the missing
  sigmoid, erratum E19), BCE against fresh negative samples each step; AUC and AP.
* ``graph-classification`` / ``graph-regression`` — one prediction per graph of a
  block-diagonal batch (readout inside the model), cross-entropy or MSE.

Model calling conventions: node models ``model(x, edge_index[, edge_weight | edge_type])``;
graph models ``model(x, edge_index, batch, edge_attr)``.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import torch
from torch import Tensor, nn

from ...data.graph import Graph
from ...functional.graph import link_reconstruction_loss
from ...graph.sampling import NodeBatch, negative_sampling, split_edges
from ..callbacks import Callback
from ..data import FullBatch
from . import Task, register_task
from .classification import ClassificationTask
from .regression import RegressionTask

LinkBatch = namedtuple("LinkBatch", ["graph", "pos", "neg"])
LinkBatch.__doc__ = "Message-passing graph, positive pairs (2, P) and negatives (2, Q) or None."


def forward_nodes(model: nn.Module, g: Graph) -> Tensor:
    """Run a node model on a graph (passes ``edge_type`` for R-GCN, else ``edge_weight``)."""
    if g.edge_type is not None:
        return model(g.x, g.edge_index, g.edge_type)
    if g.edge_weight is not None:
        return model(g.x, g.edge_index, g.edge_weight)
    return model(g.x, g.edge_index)


def forward_graphs(model: nn.Module, g: Graph) -> Tensor:
    """Run a graph-level model on a (batched) graph."""
    return model(g.x, g.edge_index, g.batch, g.edge_attr)


def node_split_data(graph: Graph) -> dict[str, Any]:
    """``train_data/val_data/test_data`` for full-batch node classification with the graph's masks."""
    return {f"{s}_data": FullBatch(NodeBatch(graph, getattr(graph, f"{s}_mask")))
            for s in ("train", "val", "test") if getattr(graph, f"{s}_mask") is not None}


@register_task("node-classification")
class NodeClassificationTask(ClassificationTask):
    """Cross-entropy on the masked nodes of a :class:`NodeBatch`; accuracy and macro-F1 likewise.

    .. math:: \\mathcal L = -\\frac{1}{|M|}\\sum_{i \\in M} \\log \\operatorname{softmax}(z_i)_{y_i}

    Args:
        first_layer_weight_decay: if set, L2 only on the first graph layer's parameters (Kipf &
            Welling's GCN setting); otherwise the Trainer's ``weight_decay`` applies to all.
    """

    def __init__(self, num_classes: int | None = None, first_layer_weight_decay: float | None = None,
                 **kwargs: Any):
        super().__init__(num_classes, **kwargs)
        self.first_layer_weight_decay = first_layer_weight_decay

    def configure_optimizers(self, model: nn.Module, build):
        if self.first_layer_weight_decay is None or not hasattr(model, "convs"):
            return super().configure_optimizers(model, build)
        first = {id(p) for p in model.convs[0].parameters()}
        return build([
            {"params": list(model.convs[0].parameters()), "weight_decay": self.first_layer_weight_decay},
            {"params": [p for p in model.parameters() if id(p) not in first], "weight_decay": 0.0},
        ])

    def _masked(self, model: nn.Module, batch: NodeBatch):
        g, mask = batch
        logits = forward_nodes(model, g)
        return logits[mask], g.y[mask]

    def training_step(self, model: nn.Module, batch: NodeBatch) -> dict[str, Tensor]:
        return {"loss": self._loss(*self._masked(model, batch))}

    def evaluation_step(self, model: nn.Module, batch: NodeBatch) -> dict[str, Tensor]:
        logits, y = self._masked(model, batch)
        return {"loss": self._loss(logits, y), "preds": logits, "target": y}

    def predict_step(self, model: nn.Module, batch: NodeBatch) -> Tensor:
        return forward_nodes(model, batch.graph).argmax(1)


class KeepBestWeights(Callback):
    """Keep the weights of the best validation epoch in memory, restore them when training ends,
    and stop after ``patience`` epochs without progress.

    The rule of the GAT reference code (Veličković et al. 2018): an epoch is *progress* when the
    validation accuracy reaches its best so far **or** the validation loss reaches its lowest; the
    weights are kept when both hold at once.
    """

    def __init__(self, patience: int | None = None, acc_key: str = "val/acc", loss_key: str = "val/loss"):
        self.patience, self.acc_key, self.loss_key = patience, acc_key, loss_key
        self.best_acc, self.best_loss, self.wait, self.state, self.best_epoch = -1.0, float("inf"), 0, None, 0

    def on_epoch_end(self, trainer, logs: dict[str, float]) -> None:
        acc, loss = logs.get(self.acc_key), logs.get(self.loss_key)
        if acc is None or loss is None:
            return
        if acc >= self.best_acc or loss <= self.best_loss:
            if acc >= self.best_acc and loss <= self.best_loss:
                self.state = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}
                self.best_epoch = trainer.epoch
            self.best_acc, self.best_loss = max(acc, self.best_acc), min(loss, self.best_loss)
            self.wait = 0
        else:
            self.wait += 1
            if self.patience is not None and self.wait >= self.patience:
                trainer.should_stop = True

    def on_fit_end(self, trainer) -> None:
        if self.state is not None:
            trainer.model.load_state_dict(self.state)


def link_split_data(graph: Graph, val_ratio: float = 0.05, test_ratio: float = 0.1,
                    seed: int = 0) -> dict[str, Any]:
    """Trainer data for link prediction: training edges only for message passing in every split."""
    train_graph, splits = split_edges(graph, val_ratio, test_ratio, seed)
    return {f"{s}_data": FullBatch(LinkBatch(train_graph, *splits[s])) for s in splits}


@register_task("link-prediction")
class LinkPredictionTask(Task):
    """Binary cross-entropy on ``z_u · z_v`` for positive pairs and sampled negatives.

    .. math:: \\mathcal L = -\\frac1P\\sum_{(u,v)\\in E^+}\\log\\sigma(z_u^\\top z_v)
              - \\frac1Q\\sum_{(u,v)\\in E^-}\\log(1-\\sigma(z_u^\\top z_v))

    (:func:`~tensorprism.functional.graph.link_reconstruction_loss`; positives and negatives are
    weighted equally, whatever ``neg_ratio``.)

    Args:
        neg_ratio: negatives per positive drawn at each training step.
    """

    monitor = "val/auc"
    mode = "max"

    def __init__(self, neg_ratio: float = 1.0, seed: int = 0):
        self.neg_ratio = neg_ratio
        self.generator = torch.Generator().manual_seed(seed)

    @staticmethod
    def score(z: Tensor, pairs: Tensor) -> Tensor:
        """Logits ``z_u · z_v`` of pairs ``(2, P)``."""
        return (z[pairs[0]] * z[pairs[1]]).sum(-1)

    def _step(self, model: nn.Module, batch: LinkBatch) -> dict[str, Tensor]:
        g, pos, neg = batch
        z = forward_nodes(model, g)
        if neg is None:
            neg = negative_sampling(g.edge_index.cpu(), g.num_nodes,
                                    int(self.neg_ratio * pos.size(1)), self.generator).to(pos.device)
        logits = torch.cat([self.score(z, pos), self.score(z, neg)])
        target = torch.cat([torch.ones(pos.size(1)), torch.zeros(neg.size(1))]).to(logits.device)
        return {"loss": link_reconstruction_loss(z, pos, neg), "preds": logits.sigmoid(),
                "target": target.long()}

    def training_step(self, model: nn.Module, batch: LinkBatch) -> dict[str, Tensor]:
        return {"loss": self._step(model, batch)["loss"]}

    def evaluation_step(self, model: nn.Module, batch: LinkBatch) -> dict[str, Tensor]:
        return self._step(model, batch)

    def metrics(self):
        from torchmetrics.classification import BinaryAUROC, BinaryAveragePrecision

        return {"auc": BinaryAUROC(), "ap": BinaryAveragePrecision()}

    def predict_step(self, model: nn.Module, batch: LinkBatch) -> Tensor:
        return self.score(forward_nodes(model, batch.graph), batch.pos).sigmoid()


class GraphBatchDataset(torch.utils.data.Dataset):
    """A list of :class:`Graph` as a Dataset whose ``collate_fn`` batches block-diagonally."""

    def __init__(self, graphs: list[Graph]):
        self.graphs = list(graphs)

    def __len__(self) -> int:
        return len(self.graphs)

    def __getitem__(self, i: int) -> Graph:
        return self.graphs[i]

    @staticmethod
    def collate_fn(graphs: list[Graph]) -> Graph:
        from ...data.graph import batch_graphs

        return batch_graphs(graphs)


@register_task("graph-classification")
class GraphClassificationTask(ClassificationTask):
    """Cross-entropy on one logit vector per graph; ``y (B,)`` graph labels."""

    def training_step(self, model: nn.Module, batch: Graph) -> dict[str, Tensor]:
        return {"loss": self._loss(forward_graphs(model, batch), batch.y.view(-1))}

    def evaluation_step(self, model: nn.Module, batch: Graph) -> dict[str, Tensor]:
        logits = forward_graphs(model, batch)
        y = batch.y.view(-1)
        return {"loss": self._loss(logits, y), "preds": logits, "target": y}

    def predict_step(self, model: nn.Module, batch: Graph) -> Tensor:
        return forward_graphs(model, batch).argmax(1)


@register_task("graph-regression")
class GraphRegressionTask(RegressionTask):
    """MSE (or L1/Huber) on one prediction ``(B, D)`` per graph against ``y (B, D)``."""

    def _step(self, model: nn.Module, batch: Graph) -> dict[str, Tensor]:
        return super()._step(lambda _: forward_graphs(model, batch), (None, batch.y))

    def predict_step(self, model: nn.Module, batch: Graph) -> Tensor:
        return forward_graphs(model, batch)


__all__ = [
    "GraphBatchDataset", "GraphClassificationTask", "GraphRegressionTask", "KeepBestWeights", "LinkBatch",
    "LinkPredictionTask", "NodeBatch", "NodeClassificationTask", "forward_graphs", "forward_nodes",
    "link_split_data", "node_split_data",
]
