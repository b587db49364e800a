"""Learning paradigms as :class:`Task` objects: what differs between paradigms lives here.

The :class:`~tensorprism.train.Trainer` loop is generic (data order, devices, precision,
accumulation, clipping, schedules, callbacks, checkpoints, distributed). A task says how one batch
becomes a loss, how a model is evaluated and which metrics are reported. Add a paradigm by
dropping a module in this package that registers a :class:`Task` subclass::

    @register_task("my-paradigm")
    class MyTask(Task):
        def training_step(self, model, batch):
            x, y = batch
            return {"loss": my_loss(model(x), y)}

Tasks are discovered automatically, like models; ``create_task("my-paradigm", **kwargs)`` builds
one. See ``docs/training.md`` for sequence-to-sequence, language-modelling, graph, GAN,
self-supervised (EMA) and VAE tasks written against this interface.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import torch
import torch.nn as nn

from ...errors import ShapeError
from ...registry import Registry

if TYPE_CHECKING:  # pragma: no cover
    from torchmetrics import Metric

    from ..trainer import Trainer

TASKS: Registry[Any] = Registry("task", discover=__name__)


def register_task(name: str, *, description: str = "") -> Callable[[type], type]:
    """Class decorator registering a :class:`Task` subclass under ``name``."""

    def decorator(cls: type) -> type:
        TASKS.register(name, family="task", description=description or (cls.__doc__ or ""))(cls)
        cls.name = name
        return cls

    return decorator


def create_task(name: str, **kwargs: Any) -> Task:
    """Build registered task ``name`` (unknown names raise with suggestions)."""
    return TASKS.get(name).fn(**kwargs)


def list_tasks() -> list[str]:
    """Names of the registered tasks, sorted."""
    return TASKS.names()


def split_batch(batch: Any) -> tuple[Any, Any]:
    """``(inputs, target)`` of a batch given as a pair/sequence or a mapping with ``x``/``y``."""
    if isinstance(batch, Mapping):
        return batch["x"], batch.get("y")
    if isinstance(batch, (tuple, list)):
        if len(batch) == 1:
            return batch[0], None
        return batch[0], batch[1]
    return batch, None


class Task(abc.ABC):
    """Base class of a learning paradigm.

    Override :meth:`training_step` (required) and, as needed, :meth:`evaluation_step`,
    :meth:`metrics`, :meth:`predict_step`, :meth:`configure_optimizers` (several optimisers),
    :meth:`on_after_optimizer_step` (EMA targets, weight clipping...). Set ``manual_optimization =
    True`` for paradigms that step their optimisers themselves (GANs); they call
    ``self.trainer.backward(loss)`` and ``self.trainer.optimizer_step(opt)`` inside
    :meth:`training_step`, so that precision, clipping and NaN checks stay the Trainer's job.
    In manual optimisation every backward after a step starts from zero gradients (all of the
    model's), ``with self.trainer.toggled(opt):`` keeps a loss to ``opt``'s parameters, and under
    torch.distributed the model is not DDP-wrapped (``optimizer_step`` averages the gradients), so
    sub-modules may be called directly through ``self.trainer.model``.

    Attributes:
        split: set by the Trainer before each pass: ``"train"``, the evaluated split's name
            (``"val"``, ``"test"``, ``"eval"``) or ``"predict"`` (full-batch graph tasks pick their
            node mask with it).
        monitor: the metric the best checkpoint and early stopping follow by default.
        mode: ``"min"`` or ``"max"`` for ``monitor``.
    """

    name = "task"
    monitor = "val/loss"
    mode = "min"
    manual_optimization = False
    split = "train"
    trainer: Trainer | None = None

    def attach(self, trainer: Trainer) -> None:
        """Called once by the Trainer before training (gives access to optimisers, device...)."""
        self.trainer = trainer

    # --- training --------------------------------------------------------------------------
    @abc.abstractmethod
    def training_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        """Return ``{"loss": scalar tensor, ...}``; other scalar entries are logged as ``train/<key>``."""

    def configure_optimizers(self, model: nn.Module, build: Callable[..., torch.optim.Optimizer]):
        """Optimisers for ``model``. ``build(params)`` makes the Trainer's configured optimiser.

        Return one optimiser or a list (e.g. generator and discriminator). The default optimises
        all parameters that require gradients with the Trainer's optimiser.
        """
        return build([p for p in model.parameters() if p.requires_grad])

    def on_after_optimizer_step(self, model: nn.Module, step: int) -> None:  # noqa: B027 - optional hook
        """Hook after every optimiser step, e.g. to update an EMA target network."""

    # --- evaluation --------------------------------------------------------------------------
    def evaluation_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        """Return ``{"loss": ..., "preds": ..., "target": ...}`` for one evaluation batch.

        The default reuses :meth:`training_step` (under ``torch.no_grad`` and ``model.eval()``).
        """
        return self.training_step(model, batch)

    def metrics(self) -> dict[str, Metric]:
        """Fresh torchmetrics objects for one evaluation pass (keys become ``<split>/<key>``)."""
        return {}

    def update_metrics(self, metrics: dict[str, Metric], out: dict[str, torch.Tensor]) -> None:
        """Feed one evaluation step's outputs to the metrics (default: ``preds`` vs ``target``)."""
        for metric in metrics.values():
            metric.update(out["preds"], out["target"])

    def predict_step(self, model: nn.Module, batch: Any) -> torch.Tensor:
        """Model outputs for the inputs of ``batch`` (targets, if any, are ignored)."""
        x, _ = split_batch(batch)
        return model(x)

    # --- helpers ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """JSON-serialisable state saved in checkpoints (tensors belong to the model)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        del state

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def check_target(target: torch.Tensor, *, dtype_kind: str, what: str) -> None:
    """Raise a one-line :class:`ShapeError` when ``target`` is not of the expected dtype kind."""
    ok = target.is_floating_point() if dtype_kind == "float" else not target.is_floating_point()
    if not ok:
        expected = "floating-point" if dtype_kind == "float" else "integer (torch.long)"
        raise ShapeError(
            f"{what} expects {expected} targets but got dtype {target.dtype} of shape "
            f"{tuple(target.shape)}; convert the dataset's targets (e.g. y.long() for class labels)"
        )


__all__ = ["TASKS", "Task", "register_task", "create_task", "list_tasks", "split_batch", "check_target"]
