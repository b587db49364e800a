"""The generic training loop.

:class:`Trainer` owns what every paradigm shares (data order, device, precision, gradient
accumulation and clipping, LR schedules, callbacks, checkpoints, distributed data parallelism);
a :class:`~tensorprism.train.tasks.Task` owns what differs (loss, evaluation, metrics).

    >>> trainer = Trainer(model, "classification", train_data=train, val_data=val, epochs=5)
    >>> trainer.fit()
    >>> trainer.evaluate("val")          # {'val/loss': ..., 'val/acc': ..., ...}
    >>> trainer.predict(test)            # predictions, concatenated over batches

One optimiser step per ``accumulate`` batches:

.. math:: \\theta \\leftarrow \\theta - \\eta_t\\,\\mathrm{clip}\\Big(\\frac1k\\sum_{j=1}^{k}
          \\nabla_\\theta \\mathcal L(B_j)\\Big)
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import math
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset, IterableDataset

from ..config import setting, validate_dataclass, validate_values
from ..errors import CheckpointError, ConfigError, NonFiniteError, ShapeError
from ..optim import OPTIMIZERS, make_optimizer, resolve_optimizer
from ..registry import build_config
from . import distributed as D
from .callbacks import (
    Callback,
    Checkpoint,
    EarlyStopping,
    EpochLines,
    JSONLLogger,
    ProgressBar,
    RunArtifacts,
    TensorBoardLogger,
    progress_visible,
)
from .checkpoint import (
    RUN_MARKERS,
    RunLock,
    atomic_write_text,
    clean_temporary_files,
    load_weights,
    read_checkpoint,
    remove_run_files,
    resolve_checkpoint,
    save_checkpoint,
)
from .data import ResumableSampler, batch_size_of, to_device
from .fsdp import apply_activation_checkpointing, is_sharded, mixed_precision_policy, shard_model
from .schedules import build_scheduler
from .seeding import rng_state, seed_everything, set_rng_state
from .sharded import (
    OPTIM_KEY,
    clean_orphans,
    load_sharded,
    resolve_manifest,
    save_sharded,
    set_full_or_sharded,
)
from .sharded import SUFFIX as SHARDED_SUFFIX
from .tasks import TASKS, Task, create_task

PRECISIONS = ("auto", "32", "bf16", "16")
#: how several processes share the work: ``auto``/``ddp`` replicate the model (DistributedDataParallel),
#: ``fsdp`` shards parameters, gradients and optimiser state (FSDP2, :mod:`tensorprism.train.fsdp`)
STRATEGIES = ("auto", "ddp", "fsdp")


@dataclass
class TrainerConfig:
    """Everything that controls a training run (all overridable from YAML / ``key=value``).

    Every field is checked by type and range when the config is built (one schema,
    :mod:`tensorprism.config`); a bad value raises :class:`~tensorprism.errors.ConfigError` naming
    it. :meth:`validate_settings` checks a partial mapping before anything is built.

    Attributes:
        optimizer: a name of :mod:`tensorprism.optim`'s table (``sgd, momentum, nesterov, adam,
            adamw, rmsprop, adagrad, adadelta, adamax, nadam, radam, ...``) or a callable
            ``fn(params, lr=..., **kw) -> Optimizer``.
        optimizer_kwargs: extra optimiser arguments (``momentum``, ``betas``...).
        lr (> 0), weight_decay (>= 0): base learning rate and weight decay.
        epochs (>= 1): number of passes over ``train_data``; ``max_steps`` stops earlier if set.
        batch_size: examples per batch *per process* (the global batch is ``batch_size ×
            world_size × accumulate``).
        scheduler: ``None`` or a name or ``{"name": ..., **options}`` from
            :mod:`tensorprism.train.schedules`; ``scheduler_interval`` is ``"step"`` or ``"epoch"``.
        grad_clip_norm (> 0): clip the global gradient L2 norm (or each tensor's, with
            ``grad_clip_per_tensor``) to this value; ``grad_clip_value`` (> 0) clamps each element.
        accumulate: batches whose gradients are summed (loss divided by ``accumulate``) per step.
        precision: ``"auto"`` (bf16 autocast on GPUs that support it, fp16 + loss scaling on older
            GPUs, fp32 on CPUs, where bf16 is emulated and slower), ``"32"``, ``"bf16"``, ``"16"``.
        compile: ``True`` or a backend name to run the model through :func:`torch.compile`.
        device: ``"auto"`` (CUDA, then MPS, then CPU) or a torch device string.
        seed, deterministic: seeding (see :func:`~tensorprism.train.seeding.seed_everything`).
        out_dir: run directory (config.yaml, metrics.jsonl, checkpoints/, plots/, report.md);
            ``None`` keeps everything in memory. A directory that already holds a run is refused
            unless ``overwrite=True`` (its run files are replaced) or the run is resumed.
        val_every: validate every N epochs; ``val_every_steps`` also every N optimiser steps.
        checkpoint_every_steps: also write ``last`` every N optimiser steps (mid-epoch resume).
        early_stopping_patience: stop after that many validations without improvement of ``monitor``.
        restore_best: keep an in-memory (CPU) copy of the best weights by ``monitor`` and load them
            at the end of ``fit``; the final metrics are then those of the restored weights.
        monitor, mode: metric followed for the best checkpoint/early stopping (default: the task's).
        check_finite: raise :class:`~tensorprism.errors.NonFiniteError` when the loss is NaN/Inf.
        check_finite_every: read the losses back to the host (one sync) every N batches to check
            and log them; default 1 on CPUs (free there), 32 on accelerators (keeps the GPU queue
            full; a NaN is then reported up to 31 batches late, with its exact batch number).
        strategy: ``"auto"``/``"ddp"`` (every process holds the whole model; gradients are averaged
            by DistributedDataParallel) or ``"fsdp"`` (FSDP2: each process holds ``1/world_size`` of
            every parameter, gradient and optimiser moment, per transformer block; checkpoints are
            sharded and re-shard to any world size, see ``docs/distributed.md``).
        activation_checkpointing: recompute each block's forward during the backward pass instead of
            keeping its activations (less memory, one more forward); any strategy.
        progress: ``"auto"`` (a tqdm bar when stderr is a terminal or in a notebook, else one line
            per epoch on stderr), ``True`` (always a bar, e.g. for CI logs or ``| tee``), ``False``
            (no bar; the per-epoch lines go to the ``tensorprism.train`` logger only).
    """

    optimizer: str | Callable[..., Any] = "adamw"
    optimizer_kwargs: dict[str, Any] = field(default_factory=dict)
    lr: float = setting(1e-3, gt=0)
    weight_decay: float = setting(0.0, min=0)
    epochs: int = setting(10, min=1)
    max_steps: int | None = setting(None, min=1)
    batch_size: int = setting(64, min=1)
    eval_batch_size: int | None = setting(None, min=1)
    shuffle: bool = True
    drop_last: bool = False
    num_workers: int = setting(0, min=0)
    scheduler: str | dict[str, Any] | None = None
    scheduler_interval: str = setting("step", choices=("step", "epoch"))
    grad_clip_norm: float | None = setting(None, gt=0)
    grad_clip_per_tensor: bool = False
    grad_clip_value: float | None = setting(None, gt=0)
    accumulate: int = setting(1, min=1)
    precision: str = setting("auto", choices=PRECISIONS)
    compile: bool | str = False
    device: str = "auto"
    seed: int = setting(0, min=0, max=2**32 - 1)
    deterministic: bool = False
    out_dir: str | None = None
    overwrite: bool = False
    val_every: int = setting(1, min=1)
    val_every_steps: int | None = setting(None, min=1)
    checkpoint_every_steps: int | None = setting(None, min=1)
    log_every_steps: int | None = setting(None, min=1)
    early_stopping_patience: int | None = setting(None, min=1)
    restore_best: bool = False
    monitor: str | None = None
    mode: str | None = setting(None, choices=("min", "max"))
    check_finite: bool = True
    check_finite_every: int | None = setting(None, min=1)
    progress: bool | str = setting("auto", choices=(True, False, "auto"))
    strategy: str = setting("auto", choices=STRATEGIES)
    activation_checkpointing: bool = False
    tensorboard: bool = True
    plots: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.out_dir, os.PathLike):
            self.out_dir = os.fspath(self.out_dir)
        validate_dataclass(self)
        _check_names(self)

    @classmethod
    def validate_settings(cls, values: dict[str, Any]) -> dict[str, Any]:
        """Check a partial mapping of settings (e.g. ``{"epochs": -5}`` from ``prism resume``)
        before anything is built or written; returns the coerced values, raises ConfigError."""
        checked = validate_values(cls, values, owner="trainer", skip_defaults=False)
        cls(**checked)  # the cross-table checks of __post_init__ (optimiser name, device string)
        if "device" in checked:
            resolve_device(checked["device"])
        return checked


def _check_names(cfg: TrainerConfig) -> None:
    """Settings whose valid values live in other tables (the optimiser, the device string) or that
    must not be empty (an empty ``out_dir`` would be the current directory)."""
    for name in ("out_dir", "monitor"):
        if getattr(cfg, name) is not None and not str(getattr(cfg, name)).strip():
            raise ConfigError(f"{name} must be a non-empty string or null, got {getattr(cfg, name)!r}")
    if isinstance(cfg.optimizer, str):
        resolve_optimizer(cfg.optimizer)
    if cfg.device != "auto":
        try:
            torch.device(cfg.device)
        except (RuntimeError, ValueError):
            raise ConfigError(f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', "
                              f"got {cfg.device!r}") from None


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """The torch device for a ``device`` setting; a device this machine lacks is a ConfigError."""
    if str(device) != "auto":
        dev = torch.device(device)
        if dev.type == "cuda" and (not torch.cuda.is_available() or (dev.index or 0) >= torch.cuda.device_count()):
            have = f"{torch.cuda.device_count()} CUDA device(s)" if torch.cuda.is_available() else \
                f"no CUDA (torch {torch.__version__})"
            raise ConfigError(f"device={str(device)!r} is not available: this machine has {have}; "
                              f"use device='cpu' or 'auto'")
        if dev.type == "mps" and not (getattr(torch.backends, "mps", None) is not None
                                      and torch.backends.mps.is_available()):
            raise ConfigError(f"device={str(device)!r} is not available (no Apple MPS backend here); "
                              f"use device='cpu' or 'auto'")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda", D.local_rank())
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def resolve_precision(precision: str, device: torch.device) -> str:
    """``"auto"`` picks the fastest precision the device really gains from (never bf16 on a CPU)."""
    if precision == "auto":
        if device.type == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "16"
        return "32"
    if precision in ("bf16", "16") and device.type == "cpu":
        warnings.warn(f"precision={precision!r} on a CPU: low-precision matmuls are usually emulated "
                      f"and slower than fp32 there", stacklevel=3)
    return precision


class Trainer:
    """Generic training loop; see the module docstring and ``docs/training.md``.

    Args:
        model: any :class:`torch.nn.Module` (models from ``create_model`` also record their spec in
            checkpoints so ``prism eval``/``load_model`` can rebuild them).
        task: a :class:`Task`, a registered task name, or ``None`` for ``"classification"``.
        train_data, val_data, test_data: :class:`~torch.utils.data.Dataset` objects (the Trainer
            builds seeded, resumable loaders; a dataset's ``collate_fn`` attribute is honoured) or
            ready :class:`~torch.utils.data.DataLoader` objects.
        callbacks: extra :class:`~tensorprism.train.callbacks.Callback` objects.
        config: a :class:`TrainerConfig`; keyword arguments override its fields.
        run_info: extra JSON-able facts written to ``config.yaml`` (e.g. the dataset's name).
    """

    def __init__(self, model: nn.Module, task: Task | str | None = None, *, train_data: Any = None,
                 val_data: Any = None, test_data: Any = None, callbacks: list[Callback] | None = None,
                 config: TrainerConfig | None = None, run_info: dict[str, Any] | None = None,
                 **overrides: Any):
        base = dataclasses.asdict(config) if config is not None else {}
        self.config: TrainerConfig = build_config(TrainerConfig, {**base, **overrides}, owner="Trainer")
        cfg = self.config
        self.task: Task = create_task(task or "classification") if not isinstance(task, Task) else task
        self.model = model
        self.data = {"train": train_data, "val": val_data, "test": test_data}
        self.run_info = dict(run_info or {})
        if "task" not in self.run_info and self.task.name in TASKS:  # so a run dir can be rebuilt
            self.run_info["task"] = {"name": self.task.name}
        self.device = resolve_device(cfg.device)
        self.distributed = D.init_distributed(self.device)
        self.rank, self.world_size = D.rank(), D.world_size()
        self.is_main = self.rank == 0
        self.precision = resolve_precision(cfg.precision, self.device)
        self.out_dir = Path(cfg.out_dir) if cfg.out_dir else None
        self.monitor = cfg.monitor or self.task.monitor
        self.mode = cfg.mode or self.task.mode
        self.user_callbacks = list(callbacks or [])
        self.callbacks: list[Callback] = []
        # loop state (saved in checkpoints)
        self.epoch = 0
        self.global_step = 0
        self.batch_in_epoch = 0
        self.elapsed = 0.0
        self.should_stop = False
        self.at_step_boundary = False
        self.last_batch_size = 0
        self._epoch_loss = 0.0
        self.last_loss = 0.0
        self._epoch_batches = 0
        self._pending_losses: list[torch.Tensor] = []
        self.history: dict[str, list[Any]] = {}
        self.final_metrics: dict[str, Any] = {}
        self.optimizers: list[torch.optim.Optimizer] = []
        self.schedulers: list[Any] = []
        self.scaler: torch.amp.GradScaler | None = None
        self._loaders: dict[str, Any] = {}
        self._setup_done = False
        self.batches_per_epoch: int | None = 0  # None: unsized training data (an IterableDataset)
        self._grads_stale = True  # manual optimisation: zero all gradients before the next backward
        self._frozen: dict[int, tuple[nn.Parameter, bool]] = {}  # toggle_optimizer's frozen params
        self._last_val: tuple[int, dict[str, Any]] | None = None  # (global_step, val metrics)
        self._best_score: float | None = None  # restore_best
        self._best_state: dict[str, torch.Tensor] | None = None
        self._lock: RunLock | None = None
        self._own_generators: list[torch.Generator] = []  # of the loaders we built (kept alive)
        self._wrote_run = False  # out_dir holds this Trainer's own run (a second fit continues it)
        self._sync_every = cfg.check_finite_every or (1 if self.device.type == "cpu" else 32)
        self.sharded = False  # strategy="fsdp" on several processes: the model is fully_shard-ed
        self._fsdp_mp: Any = None  # FSDP's mixed-precision policy (CUDA bf16), replacing autocast
        self.model.to(self.device)
        self.forward_model: nn.Module = self.model

    # ------------------------------------------------------------------ setup
    def _make_loader(self, data: Any, train: bool) -> Any:
        if data is None or isinstance(data, DataLoader):
            if isinstance(data, DataLoader) and train and self.distributed and not isinstance(
                    data.sampler, torch.utils.data.DistributedSampler) and not isinstance(
                    data.dataset, IterableDataset):
                warnings.warn("a DataLoader without a DistributedSampler under torch.distributed: "
                              "every process will see the whole dataset", stacklevel=3)
            return data
        cfg = self.config
        batch_size = cfg.batch_size if train else (cfg.eval_batch_size or cfg.batch_size)
        if isinstance(data, IterableDataset) and callable(getattr(data, "batched", None)):
            # a stream that assembles whole batches itself (StreamingDataset): one gather per batch
            data.set_position(0, batch_size)
            return DataLoader(data.batched(), batch_size=None, num_workers=cfg.num_workers,
                              pin_memory=self.device.type == "cuda", generator=self._generator())
        if isinstance(data, IterableDataset):
            # No sampler: the dataset yields its own order (shard by rank and seed by epoch inside
            # it; ``set_epoch(epoch)`` is called when it has one). An epoch ends with the iterator.
            return DataLoader(data, batch_size=batch_size, num_workers=cfg.num_workers,
                              collate_fn=getattr(data, "collate_fn", None),
                              pin_memory=self.device.type == "cuda", generator=self._generator())
        if not isinstance(data, Dataset) and not hasattr(data, "__getitem__"):
            raise ConfigError(f"expected a Dataset, an IterableDataset or a DataLoader, got {type(data).__name__}")
        sampler = ResumableSampler(data, num_replicas=self.world_size, rank=self.rank,
                                   shuffle=cfg.shuffle and train, seed=cfg.seed,
                                   drop_last=cfg.drop_last and train)
        return DataLoader(
            data, batch_size=batch_size,
            sampler=sampler, num_workers=cfg.num_workers, drop_last=cfg.drop_last and train,
            collate_fn=getattr(data, "collate_fn", None), pin_memory=self.device.type == "cuda",
            generator=self._generator(), persistent_workers=cfg.num_workers > 0,
        )

    def _generator(self) -> torch.Generator:
        """A private generator for a loader we build: creating its iterators (worker seeds) must
        not consume the global RNG, or a resumed run would see other dropout masks than an
        uninterrupted one. Reseeded at each epoch's start."""
        generator = torch.Generator().manual_seed(self.config.seed)
        self._own_generators.append(generator)
        return generator

    def loader(self, split: str) -> Any:
        if split not in self._loaders:
            if split not in self.data:
                raise ConfigError(f"unknown split {split!r}; use train, val or test (or pass data)")
            self._loaders[split] = self._make_loader(self.data[split], train=split == "train")
        return self._loaders[split]

    def _build_optimizer(self, params: Any) -> torch.optim.Optimizer:
        """The configured optimiser over ``params`` (``build`` in ``Task.configure_optimizers``)."""
        cfg = self.config
        try:
            if callable(cfg.optimizer):
                kwargs = {"lr": cfg.lr, **({"weight_decay": cfg.weight_decay} if cfg.weight_decay else {})}
                return cfg.optimizer(params, **kwargs, **cfg.optimizer_kwargs)
            return make_optimizer(cfg.optimizer, params, lr=cfg.lr, weight_decay=cfg.weight_decay or None,
                                  **cfg.optimizer_kwargs)
        except (TypeError, ValueError) as exc:  # an option the optimiser lacks, or a bad value
            if isinstance(exc, ConfigError):
                raise
            name = cfg.optimizer if isinstance(cfg.optimizer, str) else getattr(cfg.optimizer, "__name__", "optimizer")
            raise ConfigError(f"cannot build optimizer {name!r} with optimizer_kwargs={cfg.optimizer_kwargs!r}: "
                              f"{exc}; check the option names and values") from None

    def _callbacks(self) -> list[Callback]:
        """Early stopping, the user's callbacks, then logging/checkpointing (which must see the
        state the other callbacks left), then plots/report and the progress display."""
        cfg = self.config
        cbs: list[Callback] = []
        if cfg.early_stopping_patience:
            cbs.append(EarlyStopping(cfg.early_stopping_patience))
        cbs += self.user_callbacks
        if self.out_dir is not None:
            cbs.append(JSONLLogger(every_n_steps=cfg.log_every_steps))
            if cfg.tensorboard and TensorBoardLogger.available():
                cbs.append(TensorBoardLogger())
            cbs.append(Checkpoint(every_n_steps=cfg.checkpoint_every_steps))
            if cfg.plots:
                cbs.append(RunArtifacts())
        if cfg.progress is True or (cfg.progress == "auto" and progress_visible()):
            cbs.append(ProgressBar())
        else:  # nobody sees a bar: one line per epoch (stderr for "auto", the logger for False)
            cbs.append(EpochLines(stderr=cfg.progress == "auto"))
        return cbs

    def setup(self) -> None:
        """Build loaders, optimisers, schedule, precision and wrappers (idempotent).

        Order: callbacks, loaders, the task's optimisers, the callbacks' ``setup_wrap`` (which may
        replace the model called by the task, the optimisers and the loaders, e.g. for DP-SGD),
        then schedules over the final optimisers, loss scaling, DDP and ``torch.compile``.
        """
        if self._setup_done:
            return
        cfg = self.config
        self.callbacks = self._callbacks()
        if self.loader("train") is None:
            raise ConfigError("Trainer.fit needs train_data")
        self.task.attach(self)
        self._prepare_model()
        opts = self.task.configure_optimizers(self.model, self._build_optimizer)
        self.optimizers = list(opts) if isinstance(opts, (list, tuple)) else [opts]
        fmodel = self._wrap()
        self.batches_per_epoch = _length(self._loaders["train"])
        if self.batches_per_epoch == 0:
            raise ConfigError("train_data gives no batches (empty dataset, or drop_last with a "
                              "dataset smaller than batch_size)")
        self.schedulers = [s for s in (build_scheduler(o, cfg.scheduler, total=self._schedule_length())
                                       for o in self.optimizers) if s is not None]
        if self.precision == "16" and self.device.type == "cuda":
            self.scaler = torch.amp.GradScaler("cuda")
        if self.distributed and self.task.manual_optimization:
            # No DDP wrapper: a manual task may call sub-modules (model.generator) directly, which
            # DDP's hooks would not see; optimizer_step averages the stepped parameters' gradients.
            D.broadcast_tensors([*self.model.parameters(), *self.model.buffers()])
        elif self.distributed and not self.sharded:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            fmodel = DDP(fmodel, device_ids=ids)
        if cfg.compile:
            fmodel = torch.compile(fmodel, backend=cfg.compile if isinstance(cfg.compile, str) else "inductor")
        self.forward_model = fmodel
        self._setup_done = True

    def _prepare_model(self) -> None:
        """Activation checkpointing and FSDP sharding, in place on ``self.model`` (before the
        optimisers are built, so that they hold the sharded parameters)."""
        cfg = self.config
        if cfg.activation_checkpointing:
            apply_activation_checkpointing(self.model)
        if cfg.strategy != "fsdp":
            return
        if self.task.manual_optimization:
            raise ConfigError(f"strategy='fsdp' does not support manual optimisation (task "
                              f"{self.task.name!r} steps its optimisers itself); use strategy='ddp'")
        if self.precision == "16" and self.device.type == "cuda":
            raise ConfigError("strategy='fsdp' with precision='16' is not supported (fp16 loss scaling of "
                              "sharded gradients); use precision='bf16' or '32'")
        if self.distributed and not is_sharded(self.model):
            self._fsdp_mp = mixed_precision_policy(self.precision, self.device)
            shard_model(self.model, self.device, self._fsdp_mp)
        self.sharded = self.distributed

    def _wrap(self) -> nn.Module:
        """Let each callback's ``setup_wrap`` replace the model the task calls, the optimisers and
        the loaders; ``self.model`` stays the plain module (checkpoints, spec)."""
        model: nn.Module = self.model
        loaders = {split: self.loader(split) for split in ("train", "val", "test")}
        for cb in self.callbacks:
            if hasattr(cb, "setup_wrap"):
                model, opts, loaders = cb.setup_wrap(self, model, list(self.optimizers), dict(loaders))
                self.optimizers = list(opts)
        self._loaders.update(loaders)
        return model

    def _schedule_length(self) -> int | None:
        """Schedule units (epochs, or optimiser steps); ``None`` when unknown (unsized data)."""
        cfg = self.config
        if cfg.scheduler_interval == "epoch":
            return cfg.epochs
        if self.batches_per_epoch is None:
            return cfg.max_steps
        total = math.ceil(self.batches_per_epoch / cfg.accumulate) * cfg.epochs
        return min(total, cfg.max_steps) if cfg.max_steps else total

    # ------------------------------------------------------------------ helpers
    def autocast(self):
        if self.precision == "32" or self._fsdp_mp is not None:  # FSDP casts the gathered parameters
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    @property
    def lr(self) -> float:
        return float(self.optimizers[0].param_groups[0]["lr"]) if self.optimizers else self.config.lr

    def log(self, message: str) -> None:
        if self.is_main:
            print(message, file=sys.stderr, flush=True)

    def _call(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:  # duck-typed callbacks (not Callback subclasses) may lack a hook
            fn = getattr(cb, hook, None)
            if fn is not None:
                fn(self, *args)

    def _record_loss(self, loss: torch.Tensor) -> None:
        self._pending_losses.append(loss.detach())
        if len(self._pending_losses) >= self._sync_every:
            self._flush_losses()

    def _flush_losses(self) -> None:
        """Read pending batch losses to the host (one sync), check them, add them to the epoch mean."""
        if not self._pending_losses:
            return
        pending = self._pending_losses
        values = [float(pending[0])] if len(pending) == 1 else torch.stack(pending).float().cpu().tolist()
        first = self.batch_in_epoch - len(values) + 1
        self._pending_losses = []
        for i, value in enumerate(values):
            if self.config.check_finite and not math.isfinite(value):
                raise NonFiniteError(
                    f"the loss became {value} at epoch {self.epoch + 1}, batch {first + i} "
                    f"(optimiser step {self.global_step}); lower the learning rate (now {self.lr:.3g}), "
                    f"set grad_clip_norm, or check the inputs for NaN/Inf"
                )
            self._epoch_loss += value
            self._epoch_batches += 1
        self.last_loss = values[-1]

    def backward(self, loss: torch.Tensor) -> None:
        """Backpropagate ``loss`` (scaled for fp16); manual-optimisation tasks call this.

        In manual optimisation every gradient of the model is zeroed before the first backward
        after an optimiser step (and at the start of each training step), so a loss never adds to
        gradients left by another loss: several backward calls before one step still accumulate.
        """
        if self._grads_stale:
            self.model.zero_grad(set_to_none=True)
            self._grads_stale = False
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
        else:
            loss.backward()

    def clip_gradients(self, optimizer: torch.optim.Optimizer) -> None:
        """Clip by value then by norm, as configured (book §3.5.4 G1/G2; errata E7/E23)."""
        cfg = self.config
        if cfg.grad_clip_norm is None and cfg.grad_clip_value is None:
            return
        if self.scaler is not None:
            self.scaler.unscale_(optimizer)
        params = [p for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
        if cfg.grad_clip_value is not None:
            torch.nn.utils.clip_grad_value_(params, cfg.grad_clip_value)
        if cfg.grad_clip_norm is not None:
            if cfg.grad_clip_per_tensor:
                for p in params:
                    torch.nn.utils.clip_grad_norm_([p], cfg.grad_clip_norm)
            else:
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip_norm)

    def optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Clip, step and zero one optimiser (manual-optimisation tasks call this too).

        Under torch.distributed in manual optimisation the gradients of ``optimizer``'s parameters
        are first averaged across processes (the model is not DDP-wrapped then).
        """
        if self.distributed and self.task.manual_optimization:
            D.average_gradients(_params_of(optimizer))
        self.clip_gradients(optimizer)
        if self.scaler is not None:
            self.scaler.step(optimizer)
            self.scaler.update()
        else:
            optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        self._grads_stale = self.task.manual_optimization

    def toggle_optimizer(self, optimizer: torch.optim.Optimizer) -> None:
        """Until :meth:`untoggle_optimizer`, only ``optimizer``'s parameters receive gradients: the
        parameters of the other optimisers get ``requires_grad=False`` (as in Lightning), so e.g. a
        generator loss computes no discriminator gradients."""
        own = {id(p) for p in _params_of(optimizer)}
        for other in self.optimizers:
            for p in _params_of(other):
                if id(p) not in own and id(p) not in self._frozen:
                    self._frozen[id(p)] = (p, p.requires_grad)
                    p.requires_grad_(False)

    def untoggle_optimizer(self, optimizer: torch.optim.Optimizer | None = None) -> None:
        """Give back ``requires_grad`` to the parameters :meth:`toggle_optimizer` froze."""
        del optimizer  # one toggle at a time: everything frozen is restored
        for p, flag in self._frozen.values():
            p.requires_grad_(flag)
        self._frozen.clear()

    @contextlib.contextmanager
    def toggled(self, optimizer: torch.optim.Optimizer):
        """``with trainer.toggled(opt): loss = ...; trainer.backward(loss)`` (see toggle_optimizer)."""
        self.toggle_optimizer(optimizer)
        try:
            yield optimizer
        finally:
            self.untoggle_optimizer(optimizer)

    def _no_sync(self, sync: bool):
        if self.sharded:  # FSDP2: reduce-scatter gradients only at the accumulation boundary; unsized
            # data does not know its last batch in advance, so it reduces every batch
            self.model.set_requires_gradient_sync(sync or self.batches_per_epoch is None)
            return contextlib.nullcontext()
        if self.distributed and not sync and hasattr(self.forward_model, "no_sync"):
            return self.forward_model.no_sync()
        return contextlib.nullcontext()

    def _first_batch_error(self, exc: RuntimeError, batch: Any) -> ShapeError:
        def describe(b: Any) -> str:
            if isinstance(b, torch.Tensor):
                return f"{tuple(b.shape)} {str(b.dtype).replace('torch.', '')}"
            if isinstance(b, (list, tuple)):
                return ", ".join(describe(v) for v in b)
            if isinstance(b, dict):
                return ", ".join(f"{k}: {describe(v)}" for k, v in b.items())
            return type(b).__name__

        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        name = getattr(self.model, "prism_spec", {}).get("name", type(self.model).__name__)
        return ShapeError(f"model {name!r} cannot take the batch [{describe(batch)}]: {first}. "
                          f"Check that the model's input size and dtype match the data")

    # ------------------------------------------------------------------ training
    def _train_step(self, batch: Any) -> dict[str, Any]:
        cfg = self.config
        self.batch_in_epoch += 1
        boundary = self.batch_in_epoch % cfg.accumulate == 0 or self.batch_in_epoch == self.batches_per_epoch
        if self.task.manual_optimization:
            self._grads_stale = True
            if self.distributed:  # like DDP's broadcast_buffers: rank 0's BatchNorm statistics
                D.broadcast_tensors(list(self.model.buffers()))
            with self.autocast():
                out = self.task.training_step(self.forward_model, batch)
            self._record_loss(out["loss"])
        else:
            with self._no_sync(boundary):
                with self.autocast():
                    out = self.task.training_step(self.forward_model, batch)
                loss = out["loss"]
                self._record_loss(loss)
                self.backward(loss / cfg.accumulate if cfg.accumulate > 1 else loss)
            if boundary:
                for opt in self.optimizers:
                    self.optimizer_step(opt)
        self.at_step_boundary = boundary
        if boundary:
            self._end_of_step()
        return out

    def _end_of_step(self) -> None:
        self.global_step += 1
        self.task.on_after_optimizer_step(self.model, self.global_step)
        if self.config.scheduler_interval == "step":
            for s in self.schedulers:
                s.step()

    def _finish_partial_accumulation(self) -> None:
        """An unsized epoch ended inside an accumulation group: step on what was accumulated
        (a sized one knows its last batch in advance and steps there)."""
        if self.task.manual_optimization or self.at_step_boundary or self.batch_in_epoch == 0:
            return
        if self.distributed and not self.sharded:  # the last backward ran under no_sync
            D.average_gradients([p for opt in self.optimizers for p in _params_of(opt)])
        for opt in self.optimizers:
            self.optimizer_step(opt)
        self.at_step_boundary = True
        self._end_of_step()

    def _epoch_iterator(self) -> Any:
        """This epoch's batches from the current position (a resumed run skips those seen)."""
        cfg = self.config
        loader = self.loader("train")
        start = self.batch_in_epoch
        sampler = getattr(loader, "sampler", None)
        generator = getattr(loader, "generator", None)
        if any(generator is g for g in self._own_generators):  # our loaders' seeds, not the global RNG
            generator.manual_seed(cfg.seed * 100003 + self.epoch)
        if isinstance(sampler, ResumableSampler):
            sampler.set_epoch(self.epoch)
            sampler.set_position(start * cfg.batch_size)
            return iter(loader)
        # a user DataLoader or an IterableDataset: re-create the epoch's order, skip what was seen
        dataset = getattr(loader, "dataset", None)
        for owner in (sampler, dataset):
            if hasattr(owner, "set_epoch"):
                owner.set_epoch(self.epoch)
        if callable(getattr(dataset, "set_position", None)):  # a stream that seeks to the position itself
            dataset.set_position(start, cfg.batch_size)  # (StreamingDataset: no re-reading of seen data)
            return iter(loader)
        return itertools.islice(iter(loader), start, None)

    def _train_epoch(self) -> bool:
        """Train until the epoch's data ends (True) or training must stop (False)."""
        cfg = self.config
        self.forward_model.train()
        batches = self._epoch_iterator()
        self._call("on_train_epoch_start")
        self.task.split = "train"
        finished = True
        for batch in batches:
            batch = to_device(batch, self.device)
            self.last_batch_size = batch_size_of(batch)
            try:
                out = self._train_step(batch)
            except RuntimeError as exc:
                if self.global_step == 0 and self.batch_in_epoch <= 1 and _is_input_error(exc):
                    raise self._first_batch_error(exc, batch) from exc
                raise
            self._call("on_train_batch_end", out)
            if cfg.val_every_steps and self.at_step_boundary and self.global_step % cfg.val_every_steps == 0:
                self._validate_within_epoch()
            if self.should_stop or (cfg.max_steps and self.global_step >= cfg.max_steps and self.at_step_boundary):
                self.should_stop = True
                finished = False
                break
        if finished and self.batches_per_epoch is None:
            self._finish_partial_accumulation()
        self._flush_losses()
        return finished

    def _validate_within_epoch(self) -> None:
        """Validation every ``val_every_steps`` optimiser steps (callbacks: ``on_step_validation``)."""
        if self.loader("val") is None:
            return
        val = self.evaluate("val")
        self.task.split = "train"
        self._last_val = (self.global_step, val)
        logs = self.scalars(val)
        self._track_best(logs)
        self._call("on_step_validation", logs)

    def _track_best(self, logs: dict[str, Any]) -> None:
        """``restore_best``: keep a CPU copy of the weights when ``monitor`` improves."""
        if not self.config.restore_best:
            return
        key = self.monitor if self.monitor in logs or "/" in self.monitor else f"val/{self.monitor}"
        value = logs.get(key)
        if value is None or not math.isfinite(value):
            return
        if self._best_score is None or (value < self._best_score if self.mode == "min" else value > self._best_score):
            self._best_score = value
            self._best_state = {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}

    def fit(self, resume_from: str | Path | None = None) -> Trainer:
        """Train for ``config.epochs`` epochs (continuing from a checkpoint or run directory if given).

        Returns ``self``; ``self.history`` holds the per-epoch logs and ``self.final_metrics`` the
        last validation (and test, when ``test_data`` was given) metrics. With ``out_dir``, the run
        directory is locked for the whole call, and one that already holds another run is refused
        unless ``overwrite=True``.
        """
        cfg = self.config
        if resume_from is None:
            seed_everything(cfg.seed, cfg.deterministic)
        self.setup()
        try:
            if self.out_dir is not None:
                self._claim_out_dir_on_rank0(resume_from)
            if resume_from is not None:
                self.load_state(resume_from)
            if self.is_main and self.out_dir is not None:
                self.write_config()
            if not self.is_main:  # only rank 0 logs and writes; Checkpoint stays (every rank's RNG)
                self.callbacks = [cb for cb in self.callbacks if not isinstance(
                    cb, (JSONLLogger, TensorBoardLogger, RunArtifacts, ProgressBar, EpochLines))]
            self._fit_loop()
        finally:
            if self._lock is not None:
                self._lock.release()
                self._lock = None
        return self

    def _fit_loop(self) -> None:
        cfg = self.config
        t0 = time.perf_counter() - self.elapsed
        self._call("on_fit_start")
        logs: dict[str, Any] = {}
        while self.epoch < cfg.epochs and not self.should_stop:
            finished = self._train_epoch()
            totals = D.all_reduce_sum(torch.tensor([self._epoch_loss, self._epoch_batches], dtype=torch.float64,
                                                   device=self.device if self.device.type == "cuda" else "cpu"))
            logs = {"train/loss": float(totals[0] / totals[1].clamp(min=1))}
            if finished:
                self.epoch += 1
                self.batch_in_epoch, self._epoch_loss, self._epoch_batches = 0, 0.0, 0
                if cfg.scheduler_interval == "epoch":
                    for s in self.schedulers:
                        s.step()
            if self.loader("val") is not None and (self.epoch % cfg.val_every == 0 or self.should_stop):
                logs.update(self.scalars(self._current_validation()))
            self._track_best(logs)
            self.elapsed = time.perf_counter() - t0
            for key, value in logs.items():
                self.history.setdefault(key, []).append(value)
            self._call("on_epoch_end", logs)
        self.final_metrics = dict(logs)
        restored = self._restore_best()
        if self.loader("val") is not None:
            self.final_metrics.update(self.evaluate("val") if restored else self._current_validation())
        if self.loader("test") is not None:
            self.final_metrics.update(self.evaluate("test"))
        self.elapsed = time.perf_counter() - t0
        self._call("on_fit_end")

    def _current_validation(self) -> dict[str, Any]:
        """Validation metrics of the current weights (reused when already computed at this step)."""
        if self._last_val is None or self._last_val[0] != self.global_step:
            self._last_val = (self.global_step, self.evaluate("val"))
        return self._last_val[1]

    def _restore_best(self) -> bool:
        if not self.config.restore_best:
            return False
        if self._best_state is None:
            warnings.warn(f"restore_best: {self.monitor!r} was never logged (no val_data?); keeping the "
                          f"final weights", stacklevel=3)
            return False
        self.model.load_state_dict(self._best_state)
        self.log(f"restored the best weights ({self.monitor} {self._best_score:.6g})")
        return True

    def _claim_out_dir_on_rank0(self, resume_from: str | Path | None) -> None:
        """Rank 0 claims the run directory; every process raises its error (no rank is left
        waiting in a collective for a rank 0 that gave up)."""
        error = None
        if self.is_main:
            try:
                self._claim_out_dir(resume_from)
            except ConfigError as exc:
                error = str(exc)
        errors = D.all_gather_object(error) if self.distributed else [error]
        if errors[0] is not None:
            raise ConfigError(errors[0])

    def _claim_out_dir(self, resume_from: str | Path | None) -> None:
        """Check, lock and clean the run directory before anything is written to it. A directory
        this Trainer wrote in an earlier ``fit`` call is its own run, not another one."""
        out = self.out_dir
        if out.exists() and not out.is_dir():
            raise ConfigError(f"out_dir {out} is a file, expected a directory; choose another out_dir")
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create out_dir {out}: {exc.strerror or exc}; choose a writable "
                              f"directory") from None
        if not os.access(out, os.W_OK | os.X_OK):
            raise ConfigError(f"out_dir {out} is not writable; choose a writable directory")
        self._lock = RunLock(out).acquire()
        clean_temporary_files(out)
        clean_orphans(out / "checkpoints")
        held = [name for name in RUN_MARKERS if (out / name).exists()]
        own = self._wrote_run or (resume_from is not None and _inside(resolve_checkpoint(resume_from), out))
        self._wrote_run = True
        if not held or own:
            return
        if not self.config.overwrite:
            raise ConfigError(
                f"out_dir {out} already holds a run ({', '.join(held)}); pass overwrite=True "
                f"(prism: --overwrite) to replace it, resume it (fit(resume_from=...) / prism resume), "
                f"or choose another out_dir")
        remove_run_files(out)

    # ------------------------------------------------------------------ evaluation
    @staticmethod
    def scalars(metrics: dict[str, Any]) -> dict[str, float]:
        return {k: v for k, v in metrics.items() if isinstance(v, float)}

    @torch.no_grad()
    def evaluate(self, data: str | Any = "val", prefix: str | None = None) -> dict[str, Any]:
        """Loss and task metrics on a split (``"val"``, ``"test"``, ``"train"``) or a dataset/loader.

        Scalars come back as floats, others (e.g. the confusion matrix) as nested lists; keys are
        ``"<prefix>/<name>"`` with ``prefix`` defaulting to the split name (``"eval"`` for data).
        """
        if isinstance(data, str):
            loader, prefix = self.loader(data), prefix or data
        else:
            loader, prefix = self._make_loader(data, train=False), prefix or "eval"
        if loader is None:
            raise ConfigError(f"no {prefix} data was given to the Trainer")
        self.task.attach(self)
        self.task.split = prefix
        model = self.forward_model
        was_training = model.training
        model.eval()
        metrics = None
        loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        count = torch.zeros((), dtype=torch.float64, device=self.device)
        with self.autocast():
            for batch in loader:
                batch = to_device(batch, self.device)
                out = self.task.evaluation_step(model, batch)
                if metrics is None:
                    metrics = {k: m.to(self.device) for k, m in self.task.metrics().items()}
                n = batch_size_of(batch)
                if "loss" in out:
                    loss_sum += out["loss"].detach().double() * n
                    count += n
                if metrics:
                    self.task.update_metrics(metrics, out)
        model.train(was_training)
        D.all_reduce_sum(loss_sum)
        D.all_reduce_sum(count)
        results: dict[str, Any] = {}
        if count > 0:
            results[f"{prefix}/loss"] = float(loss_sum / count)
        for key, metric in (metrics or {}).items():
            value = metric.compute()
            results[f"{prefix}/{key}"] = float(value) if value.numel() == 1 else value.cpu().tolist()
        return results

    @torch.no_grad()
    def predict(self, data: Any) -> torch.Tensor:
        """``task.predict_step`` over ``data`` (a dataset, loader or split name), concatenated on CPU."""
        loader = self.loader(data) if isinstance(data, str) else self._make_loader(data, train=False)
        self.task.attach(self)
        self.task.split = "predict"
        model = self.forward_model
        was_training = model.training
        model.eval()
        outs = []
        with self.autocast():
            for batch in loader:
                outs.append(self.task.predict_step(model, to_device(batch, self.device)).cpu())
        model.train(was_training)
        return torch.cat(outs) if outs else torch.empty(0)

    # ------------------------------------------------------------------ state
    def state(self) -> dict[str, Any]:
        """Everything besides the weights needed to continue exactly where the loop is now."""
        self._flush_losses()
        return {
            "model_spec": getattr(self.model, "prism_spec", None),
            "config": _jsonable(dataclasses.asdict(self.config)),
            "run_info": self.run_info,
            "epoch": self.epoch,
            "global_step": self.global_step,
            "batch_in_epoch": self.batch_in_epoch,
            "epoch_loss": [self._epoch_loss, self._epoch_batches],
            "elapsed": self.elapsed,
            "history": self.history,
            "world_size": self.world_size,
            # under FSDP the optimisers are saved in the sharded files (sharded.OPTIM_KEY)
            "optimizers": [] if self.config.strategy == "fsdp" else [o.state_dict() for o in self.optimizers],
            "schedulers": [s.state_dict() for s in self.schedulers],
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "task": self.task.state_dict(),
            "callbacks": {key: cb.state_dict() for key, cb in self._callback_keys()},
            "rng": rng_state(),
            "best_score": self._best_score,
            "train_data": self._train_dataset_state(),
        }

    def _train_dataset(self) -> Any:
        return getattr(self._loaders.get("train"), "dataset", None)

    def _train_dataset_state(self) -> Any:
        """The training dataset's own resumable state (a streaming dataset's layout), if it has one."""
        fn = getattr(self._train_dataset(), "state_dict", None)
        return fn() if callable(fn) else None

    def _callback_keys(self) -> list[tuple[str, Callback]]:
        """Callbacks keyed by class name (``Name#2`` for a second one), independent of list order."""
        counts: dict[str, int] = {}
        out = []
        for cb in self.callbacks:
            name = type(cb).__name__
            counts[name] = counts.get(name, 0) + 1
            out.append((name if counts[name] == 1 else f"{name}#{counts[name]}", cb))
        return out

    def save_checkpoint(self, name: str = "last", metrics: dict[str, Any] | None = None) -> Path | None:
        """Write ``<out_dir>/checkpoints/<name>.safetensors`` (rank 0 writes; under
        torch.distributed every rank must call this, as the RNG states of all ranks are stored)."""
        if self.out_dir is None:
            return None
        rng_ranks = D.all_gather_object(rng_state()) if self.distributed else None
        epoch_loss = self._mean_epoch_loss()
        if self.config.strategy == "fsdp":  # every process writes its shards
            state = {**self.state(), "epoch_loss": epoch_loss}
            state["metrics"] = self.scalars(metrics or {})
            if rng_ranks is not None:
                state["rng_ranks"] = rng_ranks
            return save_sharded(self.out_dir / "checkpoints", name, self.model, self.optimizers, state)
        if not self.is_main:
            return None
        state = {**self.state(), "epoch_loss": epoch_loss}
        state["metrics"] = self.scalars(metrics or {})
        if rng_ranks is not None:
            state["rng_ranks"] = rng_ranks
        return save_checkpoint(self.out_dir / "checkpoints" / f"{name}.safetensors",
                               self.model.state_dict(), state)

    def _mean_epoch_loss(self) -> list[float]:
        """The epoch's running loss sum and batch count so far, averaged over processes (every
        process must call this): a resume on any number of processes continues the same mean."""
        self._flush_losses()
        totals = torch.tensor([self._epoch_loss, self._epoch_batches], dtype=torch.float64,
                              device=self.device if self.device.type == "cuda" else "cpu")
        return (D.all_reduce_sum(totals) / self.world_size).tolist()

    def load_state(self, path: str | Path) -> None:
        """Restore weights and the full loop state from a checkpoint file or run directory.

        A checkpoint that does not fit this run (another model, optimiser or task) raises
        :class:`~tensorprism.errors.CheckpointError`.
        """
        self.setup()
        ckpt = self._resolve_resume(path)
        if ckpt.name.endswith(SHARDED_SUFFIX):
            state = load_sharded(ckpt, self.model, self.optimizers)
        else:
            weights, state = read_checkpoint(ckpt)
            if OPTIM_KEY in state:  # a consolidated FSDP checkpoint: full tensors, optimiser by name
                full = {**{f"model.{k}": v for k, v in weights.items()}, **state[OPTIM_KEY].get("tensors", {})}
                set_full_or_sharded(self.model, self.optimizers, full, state[OPTIM_KEY].get("groups", {}), full=True)
            elif self.sharded:
                raise CheckpointError(f"{ckpt} was written with strategy 'ddp' (one optimiser state for the "
                                      f"whole model); resume it with strategy='ddp', or start a new FSDP run "
                                      f"from its weights (load_weights)")
            else:
                load_weights(self.model, weights, source=str(ckpt))
        self._check_world_size(ckpt, state)
        try:
            self._restore_loop_state(state)
        except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as exc:
            raise CheckpointError(f"{ckpt} cannot resume this run: {type(exc).__name__}: {exc}; resume "
                                  f"with the model, task and optimiser settings it was written with") from None
        if self.config.restore_best and not self.sharded and (ckpt.parent / "best.safetensors").is_file():
            best_weights, best = read_checkpoint(ckpt.parent / "best.safetensors")
            self._best_state = {k: v.clone() for k, v in best_weights.items()}
            self._best_score = state.get("best_score", best.get("best_score"))

    def _resolve_resume(self, path: str | Path) -> Path:
        """The checkpoint a resume reads: a file, or in a run directory ``last`` in this strategy's
        format (sharded manifest for FSDP, ``.safetensors`` otherwise), else the other format."""
        p = Path(path)
        if p.is_file():
            return p
        kinds = [resolve_manifest, resolve_checkpoint]
        if self.config.strategy != "fsdp":
            kinds.reverse()
        for resolve in kinds:
            try:
                return resolve(p, "last")
            except CheckpointError:
                continue
        return resolve_checkpoint(p, "last")  # raises the usual "no checkpoint" error

    def _check_world_size(self, ckpt: Path, state: dict[str, Any]) -> None:
        """A checkpoint written mid-epoch by another number of processes continues exactly only with
        the same global batch (the sampler's permutation is split by rank: the first ``k`` global
        batches are the same examples for any world size); otherwise it would repeat or skip data."""
        saved = int(state.get("world_size") or len(state.get("rng_ranks") or [None]))
        if saved == self.world_size or not int(state.get("batch_in_epoch", 0)):
            return
        old = state.get("config", {}).get("batch_size")
        if old is not None and int(old) * saved != self.config.batch_size * self.world_size:
            raise CheckpointError(
                f"{ckpt} was written mid-epoch by {saved} process(es) with batch_size={old} (global batch "
                f"{int(old) * saved}); this run has {self.world_size} process(es) with batch_size="
                f"{self.config.batch_size} (global batch {self.config.batch_size * self.world_size}), so the "
                f"rest of the epoch cannot continue exactly: set batch_size={int(old) * saved // self.world_size}"
                f" to keep the global batch, resume with {saved} process(es), or resume from a checkpoint "
                f"written at the end of an epoch")
        dataset = self._train_dataset()
        check = getattr(dataset, "check_resume", None)
        if callable(check):
            check(state.get("train_data"), world_size=self.world_size)

    def _restore_loop_state(self, state: dict[str, Any]) -> None:
        if OPTIM_KEY in state and not state.get("optimizers"):
            state = {**state, "optimizers": [opt.state_dict() for opt in self.optimizers]}  # loaded by name
        for opt, s in zip(self.optimizers, state["optimizers"], strict=True):
            saved = {k for g in s["param_groups"] for k in g if k != "params"}
            now = {k for g in opt.param_groups for k in g if k != "params"}
            if saved != now:  # torch would load another optimiser's state and fail at its first step
                raise ValueError(f"the checkpoint's optimiser has the settings {sorted(saved)}, this "
                                 f"run's {type(opt).__name__} has {sorted(now)}")
            opt.load_state_dict(s)
        for sched, s in zip(self.schedulers, state["schedulers"], strict=True):
            sched.load_state_dict(s)
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.task.load_state_dict(state.get("task", {}))
        saved_cbs = state.get("callbacks", {})
        for key, cb in self._callback_keys():
            cb.load_state_dict(saved_cbs.get(key, {}))
        self.epoch, self.global_step = int(state["epoch"]), int(state["global_step"])
        self.batch_in_epoch = int(state["batch_in_epoch"])
        loss, n = state["epoch_loss"]  # means over the writer's processes; rank 0 carries them
        share = self.world_size if self.is_main else 0
        self._epoch_loss, self._epoch_batches = float(loss) * share, int(round(float(n) * share))
        self.elapsed = float(state.get("elapsed", 0.0))
        self.history = dict(state.get("history", {}))
        dataset = self._train_dataset()
        if state.get("train_data") is not None and callable(getattr(dataset, "load_state_dict", None)):
            dataset.load_state_dict(state["train_data"])
        ranks = state.get("rng_ranks")
        set_rng_state(ranks[self.rank] if ranks and len(ranks) == self.world_size else state["rng"])

    def write_config(self) -> Path:
        """``config.yaml``: the trainer config, model spec, task and run info (re-runnable)."""
        import yaml

        doc = {
            "model": getattr(self.model, "prism_spec", None) or {"class": type(self.model).__name__},
            "task": {"name": self.task.name},
            # overwrite is a choice of one invocation: replaying this file must not overwrite silently
            "trainer": _jsonable({k: v for k, v in dataclasses.asdict(self.config).items() if k != "overwrite"}),
            **self.run_info,
        }
        path = self.out_dir / "config.yaml"
        atomic_write_text(path, yaml.safe_dump(doc, sort_keys=False))
        return path


def _params_of(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    return [p for g in optimizer.param_groups for p in g["params"]]


def _length(loader: Any) -> int | None:
    """Batches per epoch, or ``None`` for an unsized loader (an IterableDataset without __len__)."""
    try:
        return len(loader)
    except TypeError:
        return None


def _inside(path: Path, folder: Path) -> bool:
    return Path(path).resolve().is_relative_to(Path(folder).resolve())


def _is_input_error(exc: RuntimeError) -> bool:
    """Whether a RuntimeError from the first forward pass looks like a shape/dtype mismatch."""
    msg = str(exc).lower()
    return any(word in msg for word in ("shape", "size", "dtype", "scalar type", "expected", "dimension"))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


__all__ = ["Trainer", "TrainerConfig", "OPTIMIZERS", "resolve_device", "resolve_precision"]
