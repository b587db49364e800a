"""Sequence classification of UCR time series (GunPoint, ItalyPowerDemand) with a BiLSTM, against
a 1-nearest-neighbour Euclidean baseline computed side by side (the UCR archive's reference method).

Each series is z-normalised on its own (the archive's convention); the BiLSTM reads ``(B, T, 1)``,
pools over time (``pooling``, max by default) and classifies; Adam, full-batch or mini-batch epochs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import TensorDataset

from . import register_recipe
from .kit import RecipeConfig, make_trainer, save_result


@dataclass
class UCRConfig(RecipeConfig):
    """Attributes:
    dataset: ``gunpoint`` or ``italypowerdemand`` (UCR archive, bundled with sktime).
    hidden_size: LSTM units per direction.
    pooling: over time: ``max``, ``mean``, ``last`` or ``attention``.
    epochs, batch_size, lr: Adam training of the BiLSTM.
    """

    dataset: str = "gunpoint"
    hidden_size: int = 64
    pooling: str = "max"
    epochs: int = 150
    batch_size: int = 64
    lr: float = 3e-3


def _znorm(x: np.ndarray) -> np.ndarray:
    return (x - x.mean(-1, keepdims=True)) / (x.std(-1, keepdims=True) + 1e-8)


def _series(x: np.ndarray, y: np.ndarray) -> TensorDataset:
    """``(x (N, T, 1) float32, y (N,))`` of z-normalised series ``x (N, T)``."""
    return TensorDataset(torch.tensor(x[..., None], dtype=torch.float32), torch.as_tensor(y))


@register_recipe("ch05-ucr", config=UCRConfig)
def ucr(cfg: UCRConfig) -> dict:
    """Train the BiLSTM classifier; returns its test accuracy and the 1-NN Euclidean accuracy."""
    from ..optional import check_available

    check_available(["sktime"], feature="recipe ch05-ucr")
    from .. import create_model, load_dataset

    tr, te = load_dataset(cfg.dataset, split="train"), load_dataset(cfg.dataset, split="test")
    xtr, xte = _znorm(tr.x[:, 0]), _znorm(te.x[:, 0])  # (N, T)
    d = ((xte[:, None, :] - xtr[None, :, :]) ** 2).sum(-1)
    nn_acc = float((tr.y[d.argmin(1)] == te.y).mean())
    torch.manual_seed(cfg.seed)
    model = create_model("lstm-ucr", hidden_size=cfg.hidden_size, pooling=cfg.pooling, num_classes=len(tr.classes))
    # inputs are z-normalised per series here, so the run records no dataset to re-load raw
    trainer = make_trainer(cfg, model, "classification", _series(xtr, tr.y), test=_series(xte, te.y),
                           optimizer="adam", lr=cfg.lr, epochs=cfg.epochs, batch_size=cfg.batch_size,
                           precision="32")
    t0 = time.perf_counter()
    test = trainer.fit().final_metrics  # the test split is evaluated once, after the last epoch
    result = {"dataset": cfg.dataset, "test_acc": float(test["test/acc"]), "one_nn_euclidean_acc": nn_acc,
              "train": len(xtr), "test": len(xte), "seconds": round(time.perf_counter() - t0, 1)}
    return save_result(cfg, result)
