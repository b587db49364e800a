r"""Ensembles of networks (book §4.5.5, lines 7937–8114): averaging, bagging, snapshots, stacking.

* Averaging: :math:`\hat p(x) = \frac1M \sum_m \text{softmax}(f_m(x))` (book line 7945 with soft votes).
* Bagging: each member trains on a bootstrap resample :math:`D_m` of the training set.
* Snapshot ensembles (Huang et al. 2017): one run with ``M`` cosine cycles; the weights at the end of
  each cycle (an LR minimum) are the members — ``M`` models for the price of one.
* Stacking: a meta-model :math:`g` on the members' predicted probabilities
  :math:`D' = \{(f_1(x_i), …, f_M(x_i), y_i)\}` (line 8015). Fitting ``g`` on in-sample predictions, as
  the formula reads, leaks; here ``D'`` is built on a held-out split (blending) or by cross-validation
  (sklearn's ``StackingClassifier``), erratum 24.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn as nn
from torch import Tensor

from ..train.callbacks import Callback

__all__ = ["average_probabilities", "bootstrap_indices", "SnapshotCollector", "StackedEnsemble"]


@torch.no_grad()
def average_probabilities(models: Sequence[nn.Module], x: Tensor, batch_size: int = 1000) -> Tensor:
    """Mean softmax ``(N, C)`` of ``models`` on ``x`` (models are put in eval mode)."""
    out = 0
    for m in models:
        m.eval()
        out = out + torch.cat([m(x[i : i + batch_size]).softmax(1) for i in range(0, len(x), batch_size)])
    return out / len(models)


def bootstrap_indices(n: int, seed: int) -> Tensor:
    """``n`` indices drawn with replacement (a bagging resample, ≈63.2 % distinct)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, n, (n,), generator=g)


class SnapshotCollector(Callback):
    """Trainer callback: keep a copy of the weights at the end of every cosine cycle (every ``steps_per_cycle``
    steps; train with ``scheduler={"name": "cosine", "cycle": steps_per_cycle}``). The snapshots live in
    memory only (not in checkpoints)."""

    def __init__(self, steps_per_cycle: int):
        self.steps_per_cycle, self.snapshots = steps_per_cycle, []

    def on_train_batch_end(self, trainer, outputs) -> None:
        if trainer.global_step % self.steps_per_cycle == 0:
            self.snapshots.append(copy.deepcopy(trainer.model).cpu().eval())


class StackedEnsemble:
    """Meta-model (multinomial logistic regression) on concatenated member probabilities, fitted on held-out data."""

    def __init__(self, models: Sequence[nn.Module], C: float = 1.0):
        from sklearn.linear_model import LogisticRegression

        self.models, self.meta = list(models), LogisticRegression(C=C, max_iter=2000)

    @torch.no_grad()
    def features(self, x: Tensor) -> Tensor:
        return torch.cat([average_probabilities([m], x) for m in self.models], 1)

    def fit(self, x: Tensor, y: Tensor) -> StackedEnsemble:
        self.meta.fit(self.features(x).numpy(), y.numpy())
        return self

    def predict(self, x: Tensor) -> Tensor:
        return torch.from_numpy(self.meta.predict(self.features(x).numpy()))
