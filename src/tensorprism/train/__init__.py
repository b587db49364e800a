"""Training: a generic :class:`Trainer` loop plus one :class:`Task` per learning paradigm.

    from tensorprism.train import Trainer
    trainer = Trainer(model, "classification", train_data=train, val_data=val,
                      epochs=10, lr=1e-3, scheduler="cosine", out_dir="runs/demo")
    trainer.fit()

See ``docs/training.md`` for the task interface, callbacks, checkpoints and distributed runs.
"""

from __future__ import annotations

from ..errors import NonFiniteError
from .callbacks import (
    Callback,
    Checkpoint,
    EarlyStopping,
    EpochLines,
    JSONLLogger,
    LRMonitor,
    ProgressBar,
    RunArtifacts,
    TensorBoardLogger,
    TimeLimit,
)
from .checkpoint import (
    RunLock,
    load_model,
    load_weights,
    read_checkpoint,
    resolve_checkpoint,
    save_checkpoint,
)
from .data import FullBatch, ResumableSampler
from .schedules import build_scheduler, schedule_factor
from .seeding import seed_everything
from .sharded import consolidate as consolidate_checkpoint
from .tasks import TASKS, Task, create_task, list_tasks, register_task
from .trainer import Trainer, TrainerConfig

__all__ = [
    "Trainer", "TrainerConfig", "Task", "TASKS", "register_task", "create_task", "list_tasks",
    "Callback", "Checkpoint", "EarlyStopping", "EpochLines", "RunLock", "JSONLLogger", "LRMonitor", "ProgressBar",
    "RunArtifacts", "TensorBoardLogger", "TimeLimit", "save_checkpoint", "read_checkpoint", "resolve_checkpoint",
    "load_model", "load_weights", "FullBatch", "ResumableSampler", "build_scheduler",
    "schedule_factor", "seed_everything", "NonFiniteError", "consolidate_checkpoint",
]
