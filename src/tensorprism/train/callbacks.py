"""Callbacks: everything the training loop does besides training.

A callback overrides any of the hooks below; the Trainer calls them in list order. Callbacks with
state that matters for an exact resume (early stopping's patience counter, the best score so far)
return it from :meth:`Callback.state_dict` as JSON-able values.

Hooks (``trainer`` exposes ``epoch``, ``global_step``, ``batch_in_epoch``, ``model``, ``task``,
``optimizers``, ``config``, ``out_dir``, ``is_main`` and ``history``):

* ``on_fit_start(trainer)`` / ``on_fit_end(trainer)``
* ``on_train_epoch_start(trainer)``
* ``on_train_batch_end(trainer, outputs)``: after each batch (``trainer.at_step_boundary`` says
  whether an optimiser step just happened)
* ``on_epoch_end(trainer, logs)``: after training and validation of an epoch; ``logs`` holds the
  epoch's metrics (``train/loss``, ``val/acc``...). ``trainer.epoch`` already counts this epoch.
* ``on_step_validation(trainer, logs)``: after a validation inside an epoch (every
  ``val_every_steps`` optimiser steps); ``logs`` holds the ``val/...`` scalars.
* ``setup_wrap(trainer, model, optimizers, loaders) -> (model, optimizers, loaders)``: once, before
  training, after the task built its optimisers. Return replacements to wrap them, e.g. DP-SGD à la
  Opacus (``make_private(module, optimizer, data_loader)``). ``loaders`` is
  ``{"train": ..., "val": ..., "test": ...}``; the returned model is the one the task calls
  (``trainer.model`` stays the plain module, which checkpoints save), schedules are built over the
  returned optimisers, and DDP/``torch.compile`` wrap the returned model.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .trainer import Trainer


class Callback:
    def on_fit_start(self, trainer: Trainer) -> None: ...

    def on_train_epoch_start(self, trainer: Trainer) -> None: ...

    def on_train_batch_end(self, trainer: Trainer, outputs: dict[str, Any]) -> None: ...

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, float]) -> None: ...

    def on_fit_end(self, trainer: Trainer) -> None: ...

    def on_step_validation(self, trainer: Trainer, logs: dict[str, float]) -> None: ...

    def setup_wrap(self, trainer: Trainer, model: Any, optimizers: list[Any], loaders: dict[str, Any]
                   ) -> tuple[Any, list[Any], dict[str, Any]]:
        """Replace the model the task calls, the optimisers and the loaders (default: unchanged)."""
        return model, optimizers, loaders

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        del state


def _improved(value: float, best: float | None, mode: str, min_delta: float = 0.0) -> bool:
    if best is None:
        return True
    return value < best - min_delta if mode == "min" else value > best + min_delta


def _monitored(trainer: Trainer, logs: dict[str, float], monitor: str | None) -> tuple[str, float | None]:
    key = monitor or trainer.monitor
    if key not in logs and not key.startswith(("val/", "train/")):
        key = f"val/{key}"
    return key, logs.get(key)


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs."""

    def __init__(self, patience: int = 5, monitor: str | None = None, mode: str | None = None,
                 min_delta: float = 0.0):
        self.patience, self.monitor, self.mode, self.min_delta = patience, monitor, mode, min_delta
        self.best: float | None = None
        self.wait = 0

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        key, value = _monitored(trainer, logs, self.monitor)
        if value is None:
            return
        mode = self.mode or trainer.mode
        if _improved(value, self.best, mode, self.min_delta):
            self.best, self.wait = value, 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            trainer.should_stop = True
            trainer.log(f"early stopping at epoch {trainer.epoch}: {key} has not improved for "
                        f"{self.patience} epochs (best {self.best:.6g})")

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "wait": self.wait}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.wait = state.get("best"), state.get("wait", 0)


class TimeLimit(Callback):
    """Stop training once ``seconds`` of training time have been spent (checked after every batch).

    The time already spent is part of the checkpointed state, so a resumed run keeps to the budget
    of the whole run rather than starting a fresh one.
    """

    def __init__(self, seconds: float):
        if seconds <= 0:
            raise ValueError(f"TimeLimit needs a positive number of seconds, got {seconds}")
        self.seconds = float(seconds)
        self.spent = 0.0
        self._since: float | None = None

    def on_fit_start(self, trainer: Trainer) -> None:
        self._since = time.perf_counter()

    def on_train_batch_end(self, trainer: Trainer, outputs: dict[str, Any]) -> None:
        now = time.perf_counter()
        self.spent += now - self._since
        self._since = now
        if self.spent > self.seconds:
            trainer.should_stop = True

    def state_dict(self) -> dict[str, Any]:
        return {"spent": self.spent}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.spent = float(state.get("spent", 0.0))


class Checkpoint(Callback):
    """Write ``checkpoints/last.safetensors`` (every epoch and every ``every_n_steps`` optimiser
    steps, for mid-epoch resume) and ``checkpoints/best.safetensors`` when ``monitor`` improves."""

    def __init__(self, every_n_steps: int | None = None, monitor: str | None = None,
                 mode: str | None = None, save_best: bool = True):
        self.every_n_steps, self.monitor, self.mode, self.save_best = every_n_steps, monitor, mode, save_best
        self.best: float | None = None

    def on_train_batch_end(self, trainer: Trainer, outputs: dict[str, Any]) -> None:
        n = self.every_n_steps
        total = trainer.batches_per_epoch  # None for unsized data: the epoch's end is not known ahead
        inside_epoch = total is None or trainer.batch_in_epoch < total  # the epoch end saves anyway
        if n and trainer.at_step_boundary and trainer.global_step % n == 0 and inside_epoch:
            trainer.save_checkpoint("last")

    def _save_if_best(self, trainer: Trainer, logs: dict[str, float]) -> None:
        key, value = _monitored(trainer, logs, self.monitor)
        if self.save_best and value is not None and _improved(value, self.best, self.mode or trainer.mode):
            self.best = value
            trainer.save_checkpoint("best", metrics=logs)

    def on_step_validation(self, trainer: Trainer, logs: dict[str, float]) -> None:
        self._save_if_best(trainer, logs)

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        self._save_if_best(trainer, logs)
        trainer.save_checkpoint("last", metrics=logs)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state.get("best")


class JSONLLogger(Callback):
    """Append one JSON record per epoch (and per ``every_n_steps`` steps) to ``metrics.jsonl``,
    and a final one with the test metrics.

    On resume, records written after the checkpoint by the interrupted run are dropped so the file
    reads as if the run had never stopped.
    """

    def __init__(self, path: str | Path | None = None, every_n_steps: int | None = None):
        self.path = Path(path) if path else None
        self.every_n_steps = every_n_steps
        self._t0 = 0.0

    def on_fit_start(self, trainer: Trainer) -> None:
        if self.path is None:
            self.path = trainer.out_dir / "metrics.jsonl"
        self._t0 = time.perf_counter() - trainer.elapsed
        if self.path.exists():
            records = [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]
            keep = [json.dumps(r) for r in records if r.get("step", 0) <= trainer.global_step and not r.get("final")]
            self.path.write_text("".join(line + "\n" for line in keep))

    def write(self, record: dict[str, Any]) -> None:
        record = {**record, "time": round(time.perf_counter() - self._t0, 3)}
        with open(self.path, "a") as fh:
            fh.write(json.dumps(record) + "\n")

    def on_train_batch_end(self, trainer: Trainer, outputs: dict[str, Any]) -> None:
        n = self.every_n_steps
        if n and trainer.at_step_boundary and trainer.global_step % n == 0:
            record = {"epoch": trainer.epoch, "batch": trainer.batch_in_epoch, "step": trainer.global_step,
                      "lr": trainer.lr}
            record.update({f"train/{k}": float(v.detach() if hasattr(v, "detach") else v)
                           for k, v in outputs.items() if _is_scalar(v)})
            self.write(record)

    def on_step_validation(self, trainer: Trainer, logs: dict[str, float]) -> None:
        self.write({"epoch": trainer.epoch, "batch": trainer.batch_in_epoch, "step": trainer.global_step,
                    "lr": trainer.lr, **logs})

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        self.write({"epoch": trainer.epoch, "step": trainer.global_step, "lr": trainer.lr, **logs})

    def on_fit_end(self, trainer: Trainer) -> None:
        """A last record, marked ``"final": true``, with the test metrics (when there is test data)."""
        test = {k: v for k, v in trainer.scalars(trainer.final_metrics).items() if k.startswith("test/")}
        if test:
            self.write({"epoch": trainer.epoch, "step": trainer.global_step, "final": True, **test})


def _is_scalar(v: Any) -> bool:
    import torch

    return isinstance(v, (int, float)) or (isinstance(v, torch.Tensor) and v.numel() == 1)


class TensorBoardLogger(Callback):
    """Mirror the run to TensorBoard event files under ``<out_dir>/tensorboard``: the epoch metrics
    and learning rate as scalars; at the end the test (and final validation) metrics as scalars,
    the hyper-parameters with the final metrics (``add_hparams``, the HParams tab), and images:
    the confusion matrix and a grid of sample predictions (classification runs)."""

    def __init__(self, log_dir: str | Path | None = None):
        self.log_dir = log_dir
        self.writer = None

    @staticmethod
    def available() -> bool:
        import importlib.util

        return importlib.util.find_spec("tensorboard") is not None

    def on_fit_start(self, trainer: Trainer) -> None:
        from ..optional import require

        SummaryWriter = require("torch.utils.tensorboard", feature="TensorBoard logging").SummaryWriter
        self.writer = SummaryWriter(str(self.log_dir or trainer.out_dir / "tensorboard"),
                                    purge_step=trainer.global_step or None)

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        for key, value in logs.items():
            self.writer.add_scalar(key, value, trainer.global_step)
        self.writer.add_scalar("lr", trainer.lr, trainer.global_step)
        self.writer.flush()

    def on_fit_end(self, trainer: Trainer) -> None:
        if self.writer is None:
            return
        final = trainer.scalars(trainer.final_metrics)
        for key, value in final.items():
            if key.startswith(("test/", "val/")) and isinstance(value, float) and math.isfinite(value):
                self.writer.add_scalar(f"final/{key}", value, trainer.global_step)
        self.writer.add_hparams(hparams(trainer), {f"hparam/{k}": v for k, v in final.items()
                                                   if isinstance(v, float) and math.isfinite(v)},
                                run_name=".")
        self._add_images(trainer)
        self.writer.close()

    def _add_images(self, trainer: Trainer) -> None:
        import matplotlib.pyplot as plt

        from .plots import confusion_matrix_figure
        from .report import sample_grid_figure, sample_predictions

        final = trainer.final_metrics
        for split in ("test", "val"):
            cm = final.get(f"{split}/confusion_matrix")
            if cm is not None:
                fig = confusion_matrix_figure(cm, title=f"confusion matrix, {split} split")
                self.writer.add_figure(f"{split}/confusion_matrix", fig, trainer.global_step)
                plt.close(fig)
                break
        samples = sample_predictions(trainer)
        if samples is not None:
            fig = sample_grid_figure(samples, f"{samples['split']} split (true → predicted)")
            if fig is not None:
                self.writer.add_figure(f"{samples['split']}/sample_predictions", fig, trainer.global_step)
                plt.close(fig)
        self.writer.flush()


def hparams(trainer: Trainer) -> dict[str, Any]:
    """The run's hyper-parameters as TensorBoard takes them (numbers, strings and booleans): the
    trainer settings, ``model.<option>`` of the model spec and the task's name."""
    import dataclasses

    def ok(v: Any) -> bool:
        return isinstance(v, (bool, int, float, str))

    out = {k: v for k, v in dataclasses.asdict(trainer.config).items() if ok(v) and k != "out_dir"}
    spec = getattr(trainer.model, "prism_spec", None) or {}
    out["model"] = str(spec.get("name", type(trainer.model).__name__))
    for k, v in (spec.get("config") or {}).items():
        if ok(v):
            out[f"model.{k}"] = v
        elif isinstance(v, (list, tuple)):
            out[f"model.{k}"] = str(list(v))
    out["task"] = str(getattr(trainer.task, "name", type(trainer.task).__name__))
    return out


def progress_visible() -> bool:
    """Whether a person would see a progress bar: stderr is a terminal, or we run in a notebook."""
    if sys.stderr is not None and hasattr(sys.stderr, "isatty") and sys.stderr.isatty():
        return True
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return type(shell).__name__ == "ZMQInteractiveShell"  # Jupyter / VS Code / Colab kernels


def epoch_line(trainer: Trainer, logs: dict[str, Any]) -> str:
    """``epoch 3/10  train/loss 0.3121  val/acc 0.9712  (12.4 s)``"""
    shown = "  ".join(f"{k} {v:.4g}" for k, v in logs.items() if isinstance(v, float))
    return f"epoch {trainer.epoch}/{trainer.config.epochs}  {shown}  ({trainer.elapsed:.1f} s)"


class ProgressBar(Callback):
    """A tqdm bar per epoch (``tqdm.auto``: a widget in notebooks) with the running loss, samples/s
    and tqdm's ETA, then one line with the epoch's metrics."""

    def __init__(self, refresh_every: int = 10, mininterval: float = 0.1):
        self.refresh_every, self.mininterval = refresh_every, mininterval
        self.bar = None
        self._t, self._n = 0.0, 0

    def on_train_epoch_start(self, trainer: Trainer) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=trainer.batches_per_epoch, initial=trainer.batch_in_epoch,
                        desc=f"epoch {trainer.epoch + 1}/{trainer.config.epochs}", unit="batch",
                        leave=False, dynamic_ncols=True, mininterval=self.mininterval, file=sys.stderr)
        self._t, self._n = time.perf_counter(), 0

    def on_train_batch_end(self, trainer: Trainer, outputs: dict[str, Any]) -> None:
        self.bar.update(1)
        self._n += trainer.last_batch_size
        if self.bar.n % self.refresh_every == 0:
            rate = self._n / max(time.perf_counter() - self._t, 1e-9)
            self.bar.set_postfix(loss=f"{trainer.last_loss:.4g}", samples_s=f"{rate:,.0f}", refresh=False)

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        trainer.log(epoch_line(trainer, logs))

    def on_fit_end(self, trainer: Trainer) -> None:
        if self.bar is not None:  # stopped inside an epoch
            self.bar.close()
            self.bar = None


class EpochLines(Callback):
    """Without a bar: one line per epoch with its metrics and the elapsed time, on stderr
    (``stderr=True``, for logs and ``| tee``) or to the ``tensorprism.train`` logger at INFO level."""

    logger = logging.getLogger("tensorprism.train")

    def __init__(self, stderr: bool = True):
        self.stderr = stderr

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        line = epoch_line(trainer, logs)
        if self.stderr:
            trainer.log(line)
        else:
            self.logger.info(line)


class LRMonitor(Callback):
    """Records the learning rate after every optimiser step in ``trainer.history['lr']`` (tests, plots)."""

    def on_train_batch_end(self, trainer: Trainer, outputs: dict[str, Any]) -> None:
        if trainer.at_step_boundary:
            trainer.history.setdefault("lr", []).append(trainer.lr)


class RunArtifacts(Callback):
    """At the end of ``fit``: PNG plots of the logged curves (and the confusion matrix for
    classification), a short ``report.md``, ``summary.json`` (final metrics, confusion matrix,
    sample predictions, timings, system) and the self-contained ``report.html`` of the run."""

    def on_fit_end(self, trainer: Trainer) -> None:
        from .plots import plot_confusion_matrix, plot_metrics
        from .report import write_run_report, write_summary

        out = trainer.out_dir
        plots = plot_metrics(out / "metrics.jsonl", out / "plots")
        final = trainer.final_metrics
        split = "test" if final.get("test/confusion_matrix") is not None else "val"
        cm = final.get(f"{split}/confusion_matrix")
        if cm is not None:
            plots.append(plot_confusion_matrix(cm, out / "plots" / "confusion_matrix.png",
                                               title=f"confusion matrix, {split} split"))
        write_report(trainer, plots)
        write_summary(trainer)
        write_run_report(out)


def write_report(trainer: Trainer, plots: list[Path]) -> Path:
    """``report.md``: what was trained, how long, the final numbers and links to the plots."""
    from .checkpoint import atomic_write_text

    spec = getattr(trainer.model, "prism_spec", None)
    cfg = trainer.config
    lines = [
        "# Training report", "",
        f"- model: `{spec['name'] if spec else type(trainer.model).__name__}` "
        f"({sum(p.numel() for p in trainer.model.parameters()):,} parameters)",
        f"- task: `{trainer.task!r}`",
        f"- optimiser: {cfg.optimizer}, lr {cfg.lr}, schedule {cfg.scheduler or 'constant'}, "
        f"batch size {cfg.batch_size}, epochs run {trainer.epoch}/{cfg.epochs}",
        f"- device: {trainer.device}, precision {trainer.precision}, processes {trainer.world_size}",
        f"- optimiser steps: {trainer.global_step}, wall time {trainer.elapsed:.1f} s", "",
        "| metric | value |", "|---|---|",
    ]
    for key, value in trainer.final_metrics.items():
        if isinstance(value, float) and math.isfinite(value):
            lines.append(f"| {key} | {value:.4f} |")
    lines.append("")
    lines += [f"![{p.stem}](plots/{p.name})" for p in plots]
    path = trainer.out_dir / "report.md"
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path
