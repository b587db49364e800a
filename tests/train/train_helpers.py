"""Tiny models and data shared by the trainer tests."""

import torch
import torch.nn as nn
from torch.utils.data import TensorDataset

from tensorprism.train import Callback


def make_blobs(n: int = 96, features: int = 6, classes: int = 3, seed: int = 0) -> TensorDataset:
    """Separable Gaussian blobs: a classification problem a tiny MLP solves in a few epochs."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    centers = torch.randn(classes, features, generator=g) * 3
    x = centers[y] + torch.randn(n, features, generator=g)
    return TensorDataset(x, y)


def make_mlp(features: int = 6, out: int = 3, dropout: float = 0.0, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(features, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, out))


QUIET = {"progress": False, "tensorboard": False}


class Interrupt(Exception):
    """Stands for a crash or kill part-way through training."""


class StopAt(Callback):
    """Raises :class:`Interrupt` after batch ``batch_in_epoch`` of epoch ``epoch`` (0-based)."""

    def __init__(self, batch_in_epoch: int, epoch: int):
        self.where = (epoch, batch_in_epoch)

    def on_train_batch_end(self, trainer, outputs):
        if (trainer.epoch, trainer.batch_in_epoch) == self.where:
            raise Interrupt
