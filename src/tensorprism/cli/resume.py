"""``prism resume``: continue an interrupted run from its last checkpoint (exactly)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("resume", help="continue an interrupted run from RUN_DIR/checkpoints/last")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--epochs", type=int, help="train up to this many epochs in total (default: as configured)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..train.run import build_resume_trainer
    from ._common import print_metrics

    extra = {"out_dir": str(args.run_dir)}
    if args.epochs is not None:
        extra["epochs"] = args.epochs
    trainer = build_resume_trainer(args.run_dir, **extra)
    trainer.fit(resume_from=args.run_dir)
    if trainer.is_main:
        print_metrics({k: v for k, v in trainer.final_metrics.items() if not k.startswith("train/")})
        print(f"run directory: {trainer.out_dir}  (epoch {trainer.epoch}, step {trainer.global_step})")
    return 0
