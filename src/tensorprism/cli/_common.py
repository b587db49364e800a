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


def load_trained(path: str, prefer: str, device: str, split: str | None, *, dataset: str | None = None,
                 need_data: bool = True, batch_size: int = 256):
    """``(run config, Predictor around the checkpoint, (split name, data) or None, checkpoint)``.

    ``dataset`` replaces the run's dataset (it must fit the model); with ``need_data=False`` no data
    is loaded. The split is prepared as in training (:func:`~tensorprism.train.run.run_split`).
    """
    from ..train import TrainerConfig
    from ..train.run import Predictor, load_run, run_split, run_task

    TrainerConfig.validate_settings({"eval_batch_size": batch_size, "device": device})
    cfg, model, ckpt = load_run(path, prefer=prefer)
    if dataset:
        cfg["dataset"] = {"name": dataset, "config": {}, "root": cfg["dataset"].get("root")}
    task = run_task(cfg, ckpt)
    data = run_split(cfg, split) if need_data else None  # (name, dataset)
    return cfg, Predictor(model, task, cfg["run_info"], device=device, batch_size=batch_size), data, ckpt
