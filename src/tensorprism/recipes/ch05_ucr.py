"""Sequence classification of UCR time series (GunPoint, ItalyPowerDemand) with a BiLSTM, against
a 1-nearest-neighbour Euclidean baseline computed side by side (the UCR archive's reference method).

Each series is z-normalised on its own (the archive's convention); the BiLSTM reads ``(B, T, 1)``,
pools over time (``pooling``, max by default) and classifies; Adam, full-batch or mini-batch epochs.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from . import register_recipe
from .ch05_common import save_result


@dataclass
class UCRConfig:
    dataset: str = "gunpoint"
    hidden_size: int = 64
    pooling: str = "max"  # over time: max, mean, last or attention
    epochs: int = 150
    batch_size: int = 64
    lr: float = 3e-3
    seed: int = 0
    out_dir: str | None = "runs/ch05_ucr"


def _znorm(x: np.ndarray) -> np.ndarray:
    return (x - x.mean(-1, keepdims=True)) / (x.std(-1, keepdims=True) + 1e-8)


@register_recipe("ch05-ucr", config=UCRConfig)
def ucr(cfg: UCRConfig) -> dict:
    """Train the BiLSTM classifier; returns its test accuracy and the 1-NN Euclidean accuracy."""
    from .. import create_model, load_dataset

    tr, te = load_dataset(cfg.dataset, split="train"), load_dataset(cfg.dataset, split="test")
    xtr, xte = _znorm(tr.x[:, 0]), _znorm(te.x[:, 0])  # (N, T)
    d = ((xte[:, None, :] - xtr[None, :, :]) ** 2).sum(-1)
    nn_acc = float((tr.y[d.argmin(1)] == te.y).mean())
    torch.manual_seed(cfg.seed)
    model = create_model("lstm-ucr", hidden_size=cfg.hidden_size, pooling=cfg.pooling, num_classes=len(tr.classes))
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    x, y = torch.tensor(xtr[..., None], dtype=torch.float32), torch.tensor(tr.y)
    t0 = time.perf_counter()
    for _ in range(cfg.epochs):
        model.train()
        for idx in torch.randperm(len(x)).split(cfg.batch_size):
            loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        pred = model(torch.tensor(xte[..., None], dtype=torch.float32)).argmax(1).numpy()
    result = {"dataset": cfg.dataset, "test_acc": float((pred == te.y).mean()), "one_nn_euclidean_acc": nn_acc,
              "train": len(xtr), "test": len(xte), "seconds": round(time.perf_counter() - t0, 1),
              "config": asdict(cfg)}
    return save_result(cfg.out_dir, f"ucr_{cfg.dataset}", result)
