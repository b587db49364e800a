"""Helpers shared by the sub-commands."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any


def add_overrides(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="settings such as epochs=5 model.hidden=[256,128] scheduler=cosine")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def print_metrics(metrics: dict[str, Any]) -> None:
    rows = [(k, f"{v:.4f}") for k, v in metrics.items() if isinstance(v, float)]
    if rows:
        print_table(("metric", "value"), rows)


def load_trained(path: str, prefer: str, device: str, split: str, *, dataset: str | None = None,
                 need_data: bool = True, **trainer_kw: Any):
    """``(run config, Trainer around the checkpoint's model and task, data of split, checkpoint)``.

    ``dataset`` replaces the run's dataset; with ``need_data=False`` no data is loaded (``None``).
    """
    from ..errors import ConfigError
    from ..train import Trainer
    from ..train.run import load_run, load_split
    from ..train.tasks import create_task

    cfg, model, ckpt = load_run(path, prefer=prefer)
    if dataset:
        cfg["dataset"] = {"name": dataset, "config": {}, "root": cfg["dataset"].get("root")}
    data = None
    if need_data:
        if not cfg["dataset"].get("name"):
            raise ConfigError(f"{ckpt} does not record its dataset; name one (--dataset / --input)")
        data = load_split(cfg, split)
        if data is None:
            raise ConfigError(f"dataset {cfg['dataset']['name']!r} has no split {split!r}")
    task = create_task(cfg["task"]["name"], **cfg["task"].get("config", {}))
    trainer = Trainer(model, task, device=device, progress=False, **trainer_kw)
    return cfg, trainer, data, ckpt
