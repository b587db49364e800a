"""R-GCN link prediction on WordNet (book §8.4.5) against DistMult and TransE at the same budget:
filtered MRR and Hits@1/3/10."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import TensorDataset

from ..config import setting
from ..data import load_dataset
from ..errors import ConfigError
from ..train.tasks import Task
from . import register_recipe
from .ch08_common import GraphRecipeConfig, graph_root, graph_trainer
from .kit import save_result

KG_MODELS = ("rgcn", "distmult", "transe")


@dataclass
class WordNetConfig(GraphRecipeConfig):
    """Attributes:
    models: which of ``rgcn`` (R-GCN encoder + DistMult decoder), ``distmult``, ``transe`` to train.
    core: keep the ``core``-core of WordNet (each synset in at least ``core`` triples).
    dim: entity and relation vector width (the same for the three models).
    layers, bases: R-GCN encoding layers and basis matrices (Schlichtkrull et al. used one layer
        and two bases on WN18).
    epochs, batch_size, lr: Adam on the same number of updates for every model.
    negatives: entities drawn per batch for the sampled 1-vs-all cross-entropy (shared by the batch).
    dropout: on the query vectors (and the R-GCN hidden layers).
    eval_batch: queries ranked at once in the filtered evaluation.
    max_eval: rank only the first ``max_eval`` val/test triples (``None``: all).
    """

    models: tuple[str, ...] = KG_MODELS
    core: int = setting(5, min=1)
    dim: int = setting(64, min=1)
    layers: int = setting(1, min=1)
    bases: int = setting(2, min=1)
    epochs: int = setting(20, min=1)
    batch_size: int = setting(2048, min=1)
    lr: float = setting(0.02, gt=0)
    negatives: int = setting(1024, min=1)
    dropout: float = setting(0.1, min=0, max=1)
    eval_batch: int = setting(512, min=1)
    max_eval: int | None = setting(None, min=1)


class SampledKGTask(Task):
    """Sampled 1-vs-all cross-entropy on batches of (reciprocal) triples ``(B, 3)``."""

    name = "kg-sampled-softmax"
    monitor = "train/loss"

    def __init__(self, negatives: int, generator: torch.Generator):
        self.negatives, self.generator = negatives, generator

    def training_step(self, model, batch: Any) -> dict[str, torch.Tensor]:
        from ..models.gnn.kg import sampled_softmax_loss

        return {"loss": sampled_softmax_loss(model, batch[0], self.negatives, self.generator)}


@torch.no_grad()
def filtered_ranks(model, triples: torch.Tensor, known: torch.Tensor, num_relations: int,
                   batch: int = 512) -> torch.Tensor:
    """Filtered ranks ``(2Q,)`` of the tails of ``triples (Q, 3)`` and of their heads (asked as
    tails of the reciprocal relation), against every entity; ``known`` are all true triples."""
    from ..functional.kg import filter_mask, ranks_from_scores
    from ..models.gnn.kg import reciprocal_triples

    model.eval()
    queries = reciprocal_triples(triples, num_relations)
    known_all = reciprocal_triples(known, num_relations)
    ent = model.entity_vectors()
    out = []
    for q in queries.split(batch):
        scores = model.score_against(ent, q[:, 0], q[:, 1], ent)
        out.append(ranks_from_scores(scores, q[:, 2], filter_mask(q, known_all, model.num_entities)))
    return torch.cat(out)


def _build(name: str, cfg: WordNetConfig, n: int, r: int):
    from ..models.gnn.kg import KGEmbedding, RGCNLinkPredictor

    if name == "rgcn":
        return RGCNLinkPredictor(n, r, cfg.dim, cfg.layers, cfg.bases, cfg.dropout)
    return KGEmbedding(n, r, cfg.dim, name, cfg.dropout)


@register_recipe("ch08-wordnet-kg", config=WordNetConfig)
def wordnet_kg(cfg: WordNetConfig) -> dict:
    """Link prediction on WordNet 3.0 (11 WN18RR relations, 5-core by default: 4,965 synsets, so that
    the three models train in minutes on one CPU core; split by entity pair): each
    model is trained for the same epochs with the same width, optimiser and loss, then ranks every
    val/test triple's tail and head against all synsets (filtered setting)."""
    from ..functional.kg import ranking_metrics
    from ..models.gnn.kg import reciprocal_triples

    bad = [m for m in cfg.models if m not in KG_MODELS]
    if bad or not cfg.models:
        raise ConfigError(f"models must be a non-empty selection of {KG_MODELS}, got {cfg.models!r}")
    root = graph_root(cfg)
    parts = {s: load_dataset("wordnet-kg", root=root, split=s, core=cfg.core, seed=0) for s in ("train", "val", "test")}
    tr = parts["train"]
    n, r = tr.num_entities, tr.num_relations
    train = reciprocal_triples(tr.triples, r)
    result: dict[str, Any] = {"entities": n, "relations": r,
                              "triples": {s: len(p) for s, p in parts.items()}}
    for name in cfg.models:
        torch.manual_seed(cfg.seed)
        model = _build(name, cfg, n, r)
        if name == "rgcn":
            model.set_graph(tr.triples)
        task = SampledKGTask(cfg.negatives, torch.Generator().manual_seed(cfg.seed))
        start = time.perf_counter()
        graph_trainer(cfg, model, task, sub=name, train_data=TensorDataset(train), epochs=cfg.epochs,
                      batch_size=cfg.batch_size, lr=cfg.lr, precision="32").fit()
        seconds = time.perf_counter() - start
        model.cpu()
        row: dict[str, Any] = {"train_seconds": seconds,
                               "parameters": sum(p.numel() for p in model.parameters())}
        for split in ("val", "test"):
            t = parts[split].triples[: cfg.max_eval]
            row[split] = ranking_metrics(filtered_ranks(model, t, tr.known, r, cfg.eval_batch))
        result[name] = row
    return save_result(cfg, result)
