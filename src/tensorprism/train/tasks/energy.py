"""Energy-based models trained by contrastive divergence (RBM, book I10.24)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from ...errors import ConfigError, ShapeError
from . import Task, register_task, split_batch


def _mean_metric():
    from torchmetrics import MeanMetric

    return MeanMetric()


@register_task("energy")
class EnergyTask(Task):
    r"""Contrastive divergence for a model with ``free_energy`` and ``gibbs`` (the ``energy`` kind).

    The log-likelihood gradient of :math:`p(v)=e^{-F(v)}/Z` is
    :math:`-\nabla F(v_{data})+\mathbb E_{model}[\nabla F(v)]`; CD-k estimates the model expectation
    with ``k`` Gibbs steps started at the data (Hinton 2002), persistent CD with chains that carry
    over from step to step (Tieleman 2008; the model's ``chains`` buffer, ``num_chains > 0``). The
    loss :math:`\overline{F(v_{data})}-\overline{F(v_{model})}` (negatives detached) has exactly
    that gradient.

    Args:
        k: Gibbs steps per update.
        persistent: use the model's persistent chains (PCD) instead of restarting at the data.

    Evaluation reports ``free_energy`` and ``recon_error`` (mean squared error of the mean-field
    reconstruction) and, when the model's ``log_partition`` is exact (small hidden layers),
    ``nll`` in nats.
    """

    monitor = "val/free_energy"
    mode = "min"

    def __init__(self, k: int = 1, persistent: bool = False):
        if int(k) < 1:
            raise ConfigError(f"k (Gibbs steps) must be >= 1, got {k}")
        self.k, self.persistent = int(k), persistent

    def _net(self, model: nn.Module) -> nn.Module:
        return self.trainer.model if self.trainer is not None else model

    def training_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        x, _ = split_batch(batch)
        net = self._net(model)
        if not bool(((x == 0) | (x == 1)).all()):
            raise ShapeError("an RBM with binary visible units needs data of 0s and 1s: use the 'binarized-mnist' dataset or binarise the images (torch.bernoulli)")
        v = x.flatten(1)
        if self.persistent:
            if net.chains.shape[0] == 0:
                raise ConfigError("persistent CD needs the model's chains: build it with num_chains > 0")
            neg = net.gibbs(net.chains, self.k)
            net.chains.copy_(neg)
        else:
            neg = net.gibbs(v, self.k)
        loss = net.free_energy(v).mean() - net.free_energy(neg).mean()
        return {"loss": loss}

    def evaluation_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        x, _ = split_batch(batch)
        net = self._net(model)
        fe = net.free_energy(x)
        out = {"loss": fe.mean(), "free_energy": fe.mean(), "recon_error": (model(x) - x).pow(2).mean(),
               "n": torch.tensor(x.shape[0])}
        if net.h_bias.shape[0] <= 20:
            out["nll"] = -net.log_prob(x).mean()
        return out

    def metrics(self):
        exact = self.trainer is not None and self.trainer.model.h_bias.shape[0] <= 20
        return {k: _mean_metric() for k in ("free_energy", "recon_error") + (("nll",) if exact else ())}

    def update_metrics(self, metrics, out) -> None:
        for k, m in metrics.items():
            if k in out:
                m.update(out[k], weight=out["n"])

    def __repr__(self) -> str:
        return f"EnergyTask(k={self.k}, persistent={self.persistent})"
