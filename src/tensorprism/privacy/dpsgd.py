"""DP-SGD on the Trainer: the ``DPSGD`` callback (batches, noise for a budget, accounting).

``Trainer(model, "dp-classification", train_data=..., callbacks=[DPSGD(target_epsilon=3, delta=1e-5)])``:

* ``setup_wrap`` replaces the training loader by **Poisson sampling** (each example joins a batch
  independently with probability ``q = batch_size / N``; the accountant's analysis assumes it), sets
  the task's expected batch size ``q N``, and, for a ``target_epsilon``, the smallest noise
  multiplier that keeps the whole run (``epochs`` × ``1/q`` steps) within it — or refuses a budget
  that cannot be met (:class:`~tensorprism.errors.ConfigError`);
* after every step the RDP accountant records it; each epoch logs ``privacy/epsilon``; training
  stops before a step that would exceed ``target_epsilon`` (e.g. with more epochs than planned).

This is the same protocol as Opacus' ``PrivacyEngine.make_private`` (which the tests use as the
oracle), on per-example gradients from ``torch.func`` instead of module hooks.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import DataLoader, Sampler

from ..errors import ConfigError
from ..train.callbacks import Callback
from .accountant import RDPAccountant, noise_for_epsilon

__all__ = ["DPSGD", "PoissonBatchSampler", "poisson_loader"]


class PoissonBatchSampler(Sampler[list[int]]):
    """``num_batches`` batches; each index joins each batch with probability ``sample_rate``."""

    def __init__(self, num_samples: int, sample_rate: float, num_batches: int | None = None, seed: int = 0):
        if not 0 < sample_rate <= 1:
            raise ConfigError(f"sample_rate must lie in (0, 1], got {sample_rate}")
        self.n, self.q = num_samples, sample_rate
        self.num_batches = num_batches or max(1, round(1 / sample_rate))
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return self.num_batches

    def __iter__(self):
        for _ in range(self.num_batches):
            mask = torch.rand(self.n, generator=self.generator) < self.q
            yield mask.nonzero().flatten().tolist()


def _collate_allowing_empty(example: Any):
    from torch.utils.data import default_collate

    def collate(batch):
        if batch:
            return default_collate(batch)
        return tuple(torch.empty((0, *torch.as_tensor(e).shape), dtype=torch.as_tensor(e).dtype) for e in example)
    return collate


def poisson_loader(dataset: Any, sample_rate: float, seed: int = 0, num_workers: int = 0) -> DataLoader:
    """A loader of Poisson-sampled batches over ``dataset`` (possibly empty batches, as DP needs)."""
    return DataLoader(dataset, batch_sampler=PoissonBatchSampler(len(dataset), sample_rate, seed=seed),
                      collate_fn=_collate_allowing_empty(dataset[0]), num_workers=num_workers)


class DPSGD(Callback):
    """DP-SGD's data sampling, noise calibration and privacy accounting for ``"dp-classification"``.

    Args:
        noise_multiplier: ``σ`` (ignored when ``target_epsilon`` is given).
        max_grad_norm: the per-example clipping bound ``C``.
        target_epsilon: the budget ε for the whole run; ``σ`` is computed from it.
        delta: ``δ``; keep it below ``1 / N``.
        batch_size: the expected batch size ``q N`` (default: the Trainer's ``batch_size``).
    """

    def __init__(self, noise_multiplier: float | None = None, max_grad_norm: float = 1.0,
                 target_epsilon: float | None = None, delta: float = 1e-5, batch_size: int | None = None):
        if noise_multiplier is None and target_epsilon is None:
            raise ConfigError("DPSGD needs a noise_multiplier or a target_epsilon")
        self.noise_multiplier, self.max_grad_norm = noise_multiplier, max_grad_norm
        self.target_epsilon, self.delta, self.batch_size = target_epsilon, delta, batch_size
        self.accountant = RDPAccountant()
        self.sample_rate = 0.0
        self.epsilon_history: list[float] = []  # epsilon spent at the end of each epoch

    def setup_wrap(self, trainer: Any, model: Any, optimizers: list[Any], loaders: dict[str, Any]):
        task = trainer.task
        if not getattr(task, "manual_optimization", False) or not hasattr(task, "expected_batch_size"):
            raise ConfigError("the DPSGD callback works with the 'dp-classification' task (per-example clipping)")
        dataset = trainer.data["train"]
        if dataset is None or isinstance(dataset, DataLoader):
            raise ConfigError("DPSGD samples its own batches: pass the training Dataset, not a DataLoader")
        n = len(dataset)
        if self.delta >= 1 / n:
            raise ConfigError(f"delta={self.delta} is not below 1/N = {1 / n:.3g}: such a delta allows leaking a "
                              "whole example; use delta < 1/N (1e-5 for MNIST)")
        batch = self.batch_size or trainer.config.batch_size
        self.sample_rate = batch / n
        steps = trainer.config.epochs * max(1, round(1 / self.sample_rate))
        if trainer.config.max_steps:
            steps = min(steps, trainer.config.max_steps)
        if self.target_epsilon is not None:
            self.noise_multiplier = noise_for_epsilon(self.target_epsilon, self.delta, self.sample_rate, steps)
        task.noise_multiplier, task.max_grad_norm = float(self.noise_multiplier), float(self.max_grad_norm)
        task.expected_batch_size = batch
        loaders = {**loaders, "train": poisson_loader(dataset, self.sample_rate, seed=trainer.config.seed)}
        return model, optimizers, loaders

    def epsilon(self) -> float:
        return self.accountant.get_epsilon(self.delta)

    def on_train_batch_end(self, trainer: Any, outputs: dict[str, Any]) -> None:
        self.accountant.step(float(self.noise_multiplier), self.sample_rate)
        if self.target_epsilon is not None:
            nxt = RDPAccountant()
            nxt.history = [list(h) for h in self.accountant.history]
            nxt.step(float(self.noise_multiplier), self.sample_rate)
            if nxt.get_epsilon(self.delta) > self.target_epsilon + 1e-9:
                trainer.should_stop = True

    def on_epoch_end(self, trainer: Any, logs: dict[str, float]) -> None:
        self.epsilon_history.append(self.epsilon())
        logs["privacy/epsilon"] = self.epsilon_history[-1]  # reaches the loggers after this callback
        logs["privacy/noise_multiplier"] = float(self.noise_multiplier)

    def state_dict(self) -> dict[str, Any]:
        return {"accountant": self.accountant.state_dict(), "noise_multiplier": self.noise_multiplier}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.accountant.load_state_dict(state.get("accountant", {}))
        self.noise_multiplier = state.get("noise_multiplier", self.noise_multiplier)
