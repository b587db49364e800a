"""Variational autoencoders: minimise the negative ELBO (book §10.2, erratum §5.10 for its sign)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from ...errors import ConfigError
from ...functional.generative import gaussian_kl, negative_elbo, reparameterize
from . import Task, register_task, split_batch


def _mean_metric():
    from torchmetrics import MeanMetric

    return MeanMetric()


@register_task("vae")
class VAETask(Task):
    r"""The VAE objective per example, averaged over the batch:

    .. math:: \mathcal L = -\log p_\theta(x\mid z) + \beta_t\,\mathrm{KL}(q_\phi(z\mid x)\Vert p(z)),
              \quad z = \mu + \sigma\odot\epsilon

    with :math:`\log p(x\mid z)` summed over every data dimension (Bernoulli or Gaussian, the
    model's ``likelihood``) and the closed-form KL summed over latent units, so both terms are in
    nats per example (the book's listing mixes a per-pixel mean with a summed KL, C10-03).

    Args:
        beta: weight of the KL term (1: the negative ELBO; ≠ 1: β-VAE, Higgins et al. 2017).
        warmup_steps: KL annealing — :math:`\beta_t` rises linearly from 0 to ``beta`` over this
            many optimiser steps (Bowman et al. 2016); 0 disables it.
        iwae_k: when > 0, test evaluations also report ``nll``, the importance-weighted estimate
            of :math:`-\log p(x)` with ``iwae_k`` samples (Burda et al. 2016), in nats.

    The model follows the ``vae`` contract: ``model(x[, y]) → (out, mu, logvar)`` and
    ``log_likelihood(out, x)``; conditional models (``num_classes > 0``) get the batch's labels.
    Evaluation reports ``loss`` (the objective at β), ``nelbo`` (β = 1), ``recon`` and ``kl``.
    """

    monitor = "val/nelbo"
    mode = "min"

    def __init__(self, beta: float = 1.0, warmup_steps: int = 0, iwae_k: int = 0):
        if beta < 0 or warmup_steps < 0 or iwae_k < 0:
            raise ConfigError(f"beta, warmup_steps and iwae_k must be >= 0, got {beta}, {warmup_steps}, {iwae_k}")
        self.beta, self.warmup_steps, self.iwae_k = float(beta), int(warmup_steps), int(iwae_k)

    def beta_at(self, step: int) -> float:
        if self.warmup_steps <= 0:
            return self.beta
        return self.beta * min(1.0, step / self.warmup_steps)

    def _net(self, model: nn.Module) -> nn.Module:
        return self.trainer.model if self.trainer is not None else model

    def _terms(self, model: nn.Module, batch: Any, sampled: bool = False
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, Any]:
        x, y = split_batch(batch)
        net = self._net(model)
        cond = y if getattr(net, "num_classes", 0) else None
        if sampled:  # evaluation: the model is in eval mode (z = mu); the ELBO needs a sampled z
            net.check_data(x)
            mu, logvar = net.encode(x, cond)
            out = net.decode(reparameterize(mu, logvar), cond)
        else:
            out, mu, logvar = model(x) if cond is None else model(x, cond)
        ll = net.log_likelihood(out, x)
        return x, ll, gaussian_kl(mu, logvar), (out, cond)

    def training_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        _, ll, kl, _ = self._terms(model, batch)
        step = self.trainer.global_step if self.trainer is not None else 0
        beta = self.beta_at(step)
        loss = negative_elbo(ll, kl, beta).mean()
        return {"loss": loss, "recon": -ll.mean().detach(), "kl": kl.mean().detach(),
                "beta": torch.tensor(beta)}

    def evaluation_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        x, ll, kl, (out, cond) = self._terms(model, batch, sampled=True)
        res = {"loss": negative_elbo(ll, kl, self.beta).mean(), "nelbo": negative_elbo(ll, kl).mean(),
               "recon": -ll.mean(), "kl": kl.mean(), "n": torch.tensor(x.shape[0])}
        if self.iwae_k and self.split == "test":
            from ...metrics.generative import iwae_log_likelihood

            res["nll"] = -iwae_log_likelihood(self._net(model), x, self.iwae_k, y=cond).mean()
        return res

    def metrics(self):
        keys = ["nelbo", "recon", "kl"] + (["nll"] if self.iwae_k and self.split == "test" else [])
        return {k: _mean_metric() for k in keys}

    def update_metrics(self, metrics, out) -> None:
        for k, m in metrics.items():
            m.update(out[k], weight=out["n"])

    def predict_step(self, model: nn.Module, batch: Any) -> torch.Tensor:
        """Reconstructions: the decoder's mean at the posterior mean."""
        x, y = split_batch(batch)
        net = self._net(model)
        return net.reconstruct(x, y if getattr(net, "num_classes", 0) else None)

    def __repr__(self) -> str:
        return f"VAETask(beta={self.beta}, warmup_steps={self.warmup_steps}, iwae_k={self.iwae_k})"
