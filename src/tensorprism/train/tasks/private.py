"""Differentially private classification: DP-SGD's step (per-example clipping + Gaussian noise).

The step is :func:`tensorprism.functional.privacy.privatize_grads` on the per-example gradients of
:func:`~tensorprism.functional.privacy.per_example_grads` (``torch.func``). Use it with the
:class:`tensorprism.privacy.dpsgd.DPSGD` callback, which samples the batches (Poisson), sets the
noise for a privacy budget and accounts for ε; the task alone clips and noises but proves nothing
about privacy (fixed-size shuffled batches are not what the accountant analyses).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...errors import ConfigError
from ...functional.privacy import per_example_grads, privatize_grads
from . import register_task, split_batch
from .classification import ClassificationTask


@register_task("dp-classification")
class DPClassificationTask(ClassificationTask):
    """Cross-entropy classification trained with DP-SGD (manual optimisation, one optimiser).

    Args:
        noise_multiplier: ``σ``; the noise's standard deviation is ``σ C``.
        max_grad_norm: ``C``, the bound on each example's gradient norm (all parameters together).
        expected_batch_size: ``B = q N``, the divisor of the noisy sum (set by ``DPSGD``; without it
            the actual batch size is used).
        seed: seed of the noise generator (reproducible runs; the noise is drawn on the CPU).
    """

    manual_optimization = True

    def __init__(self, noise_multiplier: float = 1.0, max_grad_norm: float = 1.0,
                 expected_batch_size: int | None = None, seed: int = 0, **kw: Any):
        super().__init__(**kw)
        if noise_multiplier < 0 or not max_grad_norm > 0:
            raise ConfigError(f"DP-SGD needs noise_multiplier >= 0 and max_grad_norm > 0, got {noise_multiplier} "
                              f"and {max_grad_norm}")
        self.noise_multiplier, self.max_grad_norm = float(noise_multiplier), float(max_grad_norm)
        self.expected_batch_size = expected_batch_size
        self.generator = torch.Generator().manual_seed(seed)
        self.steps = 0

    def training_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        x, y = split_batch(batch)
        net = self.trainer.model  # the plain module: torch.func calls it functionally
        if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules()):
            raise ConfigError("DP-SGD cannot train BatchNorm: its statistics mix the examples of a batch, so one "
                              "example's influence is not bounded by clipping; use GroupNorm or no norm layer")
        opt = self.trainer.optimizers[0]
        params = dict((k, p) for k, p in net.named_parameters() if p.requires_grad)
        if len(y):
            grads = per_example_grads(net, F.cross_entropy, x, y)
        else:  # an empty Poisson batch: the step still adds the noise
            grads = {k: torch.zeros((0, *p.shape), device=p.device) for k, p in params.items()}
        noisy = privatize_grads(grads, self.max_grad_norm, self.noise_multiplier,
                                self.expected_batch_size or max(len(y), 1), self.generator)
        for k, p in params.items():
            p.grad = noisy[k].to(p.dtype)
        self.trainer.optimizer_step(opt)
        self.steps += 1
        with torch.no_grad():
            loss = F.cross_entropy(model(x), y) if len(y) else torch.zeros((), device=x.device)
        return {"loss": loss}

    def state_dict(self) -> dict:
        return {"steps": self.steps, "generator": self.generator.get_state().tolist()}

    def load_state_dict(self, state: dict) -> None:
        self.steps = int(state.get("steps", 0))
        if "generator" in state:
            self.generator.set_state(torch.tensor(state["generator"], dtype=torch.uint8))

    def __repr__(self) -> str:
        return (f"DPClassificationTask(noise_multiplier={self.noise_multiplier}, max_grad_norm={self.max_grad_norm}, "
                f"expected_batch_size={self.expected_batch_size})")
