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

import copy
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from . import register_recipe


@dataclass
class SentimentGraphConfig:
    max_train: int | None = None  # first phrases of the 67,349 GLUE training phrases (None: all)
    window: int = 2  # 2 = adjacent words (the book's tridiagonal A); the baseline uses 1
    weighted: bool = True  # co-occurrence counts as edge weights
    baseline: bool = True  # also train the no-edge (window=1) model
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
    seed: int = 0
    data_root: str | None = None
    out_dir: str | None = None


def _accuracy(model, data, batch_size: int) -> float:
    model.eval()
    correct = 0
    with torch.no_grad():
        for lo in range(0, len(data), batch_size):
            b = data.batch(range(lo, min(lo + batch_size, len(data))))
            correct += int((model(b.x, b.edge_index, b.batch, b.edge_weight).argmax(1) == b.y).sum())
    return correct / len(data)


def train_text_graph(cfg: SentimentGraphConfig, vocab_size: int, train, dev, test) -> dict:
    """Train ``gcn-text-graph`` on ``train`` graphs, keep the best-dev epoch, score it on ``test``."""
    from ..models import create_model

    torch.manual_seed(cfg.seed)
    model = create_model("gcn-text-graph", vocab_size=vocab_size, embed_dim=cfg.embed_dim,
                         hidden=cfg.hidden, num_layers=cfg.num_layers, readout=cfg.readout,
                         dropout=cfg.dropout)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    gen = torch.Generator().manual_seed(cfg.seed)
    best, dev_curve, losses, t0 = {"dev_acc": -1.0}, [], [], time.perf_counter()
    for epoch in range(cfg.epochs):
        model.train()
        total, perm = 0.0, torch.randperm(len(train), generator=gen)
        for lo in range(0, len(train), cfg.batch_size):
            b = train.batch(perm[lo:lo + cfg.batch_size])
            loss = F.cross_entropy(model(b.x, b.edge_index, b.batch, b.edge_weight), b.y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * b.num_graphs
        losses.append(total / len(train))
        dev_curve.append(_accuracy(model, dev, 256))
        print(f"window={train.window} epoch {epoch + 1}: train loss {losses[-1]:.4f}, "
              f"dev acc {dev_curve[-1]:.4f}", flush=True)
        if dev_curve[-1] > best["dev_acc"]:
            best = {"dev_acc": dev_curve[-1], "epoch": epoch + 1,
                    "state": copy.deepcopy(model.state_dict())}
    model.load_state_dict(best.pop("state"))
    return {"test_acc": _accuracy(model, test, 256), "best_dev_acc": best["dev_acc"],
            "best_epoch": best["epoch"], "dev_acc_per_epoch": dev_curve, "train_loss_per_epoch": losses,
            "parameters": sum(p.numel() for p in model.parameters()),
            "seconds": round(time.perf_counter() - t0, 1)}


@register_recipe("ch08-sentiment-graph", config=SentimentGraphConfig)
def sentiment_graph(cfg: SentimentGraphConfig) -> dict:
    """Co-occurrence-graph GCN vs the no-edge baseline on SST-2: test accuracy of each."""
    from ..data import load_dataset
    from ..data.text import WordTokenizer
    from ..data.text.cooccurrence import TextGraphDataset

    t0 = time.perf_counter()
    from ..testing import shared_data

    root = cfg.data_root or shared_data()  # $TENSORPRISM_DATA, as the other Chapter 8 recipes
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
        result["no_edge_baseline"] = train_text_graph(cfg, len(tok), *graphs(1))
        result["test_acc_gain"] = result["graph"]["test_acc"] - result["no_edge_baseline"]["test_acc"]
    result["seconds"] = round(time.perf_counter() - t0, 1)
    result["threads"] = torch.get_num_threads()
    if cfg.out_dir:
        out = Path(cfg.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "result.json").write_text(json.dumps({"config": asdict(cfg), "result": result}, indent=2))
    return result
