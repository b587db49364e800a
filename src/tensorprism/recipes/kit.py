"""What every recipe shares: its common settings, its run directory, its Trainer and its result.

* :class:`RecipeConfig` -- the settings every recipe accepts (seed, device, threads, out_dir,
  time budget, progress bar, TensorBoard, plots); a recipe's config dataclass inherits from it.
* :func:`make_trainer` -- a :class:`~tensorprism.train.Trainer` writing into the recipe's run
  directory (config.yaml, metrics.jsonl, checkpoints/, plots/), with the dataset and task recorded
  so that ``prism eval RUN``, ``prism predict RUN`` and ``prism generate RUN`` work on it.
* :func:`save_result` -- ``result.json`` (the measured numbers and the recipe's settings).

A recipe run without ``out_dir`` writes into ``runs/<recipe>-<YYYYmmdd-HHMMSS>`` (a fresh folder,
never an existing run): :func:`~tensorprism.recipes.run_recipe` fills it in.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import setting


@dataclass
class RecipeConfig:
    """Settings every recipe accepts.

    Attributes:
        seed: seed of every random draw of the run (data order, initialisation, splits).
        device: ``"auto"`` (CUDA, then MPS, then CPU) or a torch device string.
        threads: CPU threads torch may use (``None``: torch's default).
        out_dir: the run directory; ``None``: ``runs/<recipe>-<timestamp>``.
        overwrite: replace the run files of an ``out_dir`` that already holds a run (else refused).
        time_budget_s: stop each training after this many seconds (``None``: no limit).
        progress: ``"auto"`` (a bar when a person can see it), ``True`` or ``False``.
        tensorboard: write TensorBoard event files into the run directory.
        plots: draw the training curves into ``<out_dir>/plots``.
    """

    seed: int = setting(0, min=0, max=2**32 - 1)
    device: str = "auto"
    threads: int | None = setting(None, min=1)
    out_dir: str | None = None
    overwrite: bool = False
    time_budget_s: float | None = setting(None, gt=0)
    progress: bool | str = setting("auto", choices=(True, False, "auto"))
    tensorboard: bool = True
    plots: bool = True


def default_out_dir(recipe: str, parent: str | Path = "runs") -> Path:
    """``<parent>/<recipe>-<YYYYmmdd-HHMMSS>``, with ``-2``, ``-3``... when that folder exists."""
    base = Path(parent) / f"{recipe}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def run_dir(cfg: Any, sub: str | None = None) -> Path | None:
    """The run directory of ``cfg`` (or its sub-folder ``sub``, one per model a recipe trains);
    ``None`` for a config without ``out_dir``."""
    out = getattr(cfg, "out_dir", None)
    if not out:
        return None
    return Path(out) / sub if sub else Path(out)


def apply_threads(cfg: Any) -> None:
    """Limit torch's CPU threads to ``cfg.threads`` when it is set."""
    threads = getattr(cfg, "threads", None)
    if threads:
        import torch

        torch.set_num_threads(int(threads))


def make_trainer(cfg: Any, model: Any, task: Any, train: Any = None, val: Any = None, test: Any = None, *,
                 sub: str | None = None, dataset: dict[str, Any] | None = None,
                 task_config: dict[str, Any] | None = None, task_name: str | None = None,
                 callbacks: list | None = None, **trainer_settings: Any):
    """A :class:`~tensorprism.train.Trainer` for ``model`` writing into the recipe's run directory.

    Args:
        cfg: the recipe's config (a :class:`RecipeConfig`): seed, device, out_dir, overwrite,
            progress, tensorboard, plots and time_budget_s are taken from it.
        model: the network (built with :func:`~tensorprism.models.create_model` so its spec is
            recorded and ``prism eval RUN`` can rebuild it).
        task: a task name or :class:`~tensorprism.train.tasks.Task`.
        train, val, test: the splits (datasets or loaders), as for the Trainer.
        sub: a sub-folder of the run directory, for recipes that train several models.
        dataset: ``{"name", "config", "root"}`` of the registered dataset the model was trained on
            (``root`` defaults to the resolved data root), recorded for ``prism eval``/``predict``.
        task_config: the options the task was built with (so the CLI rebuilds the same task).
        task_name: the registered task the CLI evaluates the run with, when ``task`` is a training-
            only variant of it (e.g. with augmentation) whose evaluation is the registered task's.
        callbacks: extra callbacks; a ``TimeLimit`` is added when ``cfg.time_budget_s`` is set.
        **trainer_settings: any :class:`~tensorprism.train.TrainerConfig` field (epochs, lr...);
            they override the ones taken from ``cfg``.
    """
    from ..data import data_root
    from ..train import Trainer
    from ..train.callbacks import TimeLimit
    from ..train.tasks import create_task

    task_obj = create_task(task, **(task_config or {})) if isinstance(task, str) else task
    run_info: dict[str, Any] = {"task": {"name": task_name or task_obj.name, "config": dict(task_config or {})}}
    if dataset is not None:
        run_info["dataset"] = {"name": dataset["name"], "config": dict(dataset.get("config", {})),
                               "root": str(dataset.get("root") or data_root(getattr(cfg, "data_root", None)))}
    budget = getattr(cfg, "time_budget_s", None)
    cbs = list(callbacks or []) + ([TimeLimit(budget)] if budget else [])
    out = run_dir(cfg, sub)
    settings = dict(seed=getattr(cfg, "seed", 0), device=getattr(cfg, "device", "auto"),
                    out_dir=str(out) if out else None, overwrite=getattr(cfg, "overwrite", False),
                    progress=getattr(cfg, "progress", "auto"),
                    tensorboard=getattr(cfg, "tensorboard", True), plots=getattr(cfg, "plots", True))
    settings.update(trainer_settings)
    return Trainer(model, task_obj, train_data=train, val_data=val, test_data=test, callbacks=cbs or None,
                   run_info=run_info, **settings)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def save_result(cfg: Any, result: dict[str, Any], name: str = "result") -> dict[str, Any]:
    """Write ``<out_dir>/<name>.json`` -- ``{"result": result, "config": the recipe's settings}`` --
    when ``cfg.out_dir`` is set, and return ``result``."""
    out = run_dir(cfg)
    if out is not None:
        from ..train.checkpoint import atomic_write_text

        out.mkdir(parents=True, exist_ok=True)
        settings = dataclasses.asdict(cfg) if dataclasses.is_dataclass(cfg) else {}
        doc = {"result": _jsonable(result), "config": _jsonable(settings)}
        atomic_write_text(out / f"{name}.json", json.dumps(doc, indent=2))
        from ..train.report import write_run_report

        write_run_report(out)  # the run's self-contained report.html, with this result in it
    return result


__all__ = ["RecipeConfig", "default_out_dir", "run_dir", "apply_threads", "make_trainer", "save_result"]
