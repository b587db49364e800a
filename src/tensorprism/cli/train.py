"""``prism train``: train a registered model on a registered dataset, leaving a run directory."""

from __future__ import annotations

import argparse
import time

from ._common import add_overrides, print_metrics

FLAGS = {  # --flag -> run setting
    "model": "model", "dataset": "dataset", "task": "task", "epochs": "epochs",
    "batch_size": "batch_size", "optimizer": "optimizer", "lr": "lr", "scheduler": "scheduler",
    "device": "device", "seed": "seed", "out": "out_dir", "checkpoint_every": "checkpoint_every_steps",
    "overwrite": "overwrite",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="train a model (default: mlp on digits) and write a run directory",
        description="Train a model. Settings come from the defaults, then --config FILE, then the "
                    "flags, then key=value overrides (YAML values; dots address nested keys).",
    )
    p.add_argument("--config", "-c", help="YAML run configuration (same layout as a run's config.yaml)")
    p.add_argument("--model", help="registered model name (prism models); its options that depend on the data "
                                   "(classes, channels, vocabulary, sequence length...) are taken from the dataset")
    p.add_argument("--dataset", help="registered dataset name (prism datasets)")
    p.add_argument("--task", help="task name (default: the dataset's, as `prism datasets` shows it)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int, dest="batch_size")
    p.add_argument("--optimizer", help="sgd, adam, adamw, rmsprop, adagrad, nadam, ...")
    p.add_argument("--lr", type=float, help="base learning rate")
    p.add_argument("--scheduler", "--schedule", dest="scheduler",
                   help="step, exponential, polynomial, cosine, warmup, noam, onecycle")
    p.add_argument("--device", help="auto, cpu, cuda, cuda:1, mps")
    p.add_argument("--seed", type=int)
    p.add_argument("--out", "--out-dir", dest="out", help="run directory (default runs/<model>-<dataset>-<time>)")
    p.add_argument("--overwrite", action="store_true", default=None,
                   help="replace the run in --out if there is one (default: refuse, so no run is lost)")
    p.add_argument("--checkpoint-every", type=int, dest="checkpoint_every",
                   help="also checkpoint every N optimiser steps (mid-epoch resume)")
    add_overrides(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..train.run import build_trainer, load_config

    flags = [f"{FLAGS[k]}={getattr(args, k)}" for k in FLAGS if getattr(args, k) is not None]
    cfg = load_config(args.config, flags + list(args.overrides))
    trainer_cfg = cfg.setdefault("trainer", {})
    if not trainer_cfg.get("out_dir"):
        stamp = time.strftime("%Y%m%d-%H%M%S")
        trainer_cfg["out_dir"] = f"runs/{cfg['model']['name']}-{cfg['dataset']['name']}-{stamp}"
    trainer = build_trainer(cfg)
    if trainer.is_main:
        print(f"training {cfg['model']['name']} on {cfg['dataset']['name']} "
              f"({sum(p.numel() for p in trainer.model.parameters()):,} parameters, device {trainer.device})")
    trainer.fit()
    if trainer.is_main:
        print_metrics({k: v for k, v in trainer.final_metrics.items() if not k.startswith("train/")})
        print(f"run directory: {trainer.out_dir}  ({trainer.elapsed:.1f} s)")
    return 0
