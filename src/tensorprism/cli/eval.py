"""``prism eval``: evaluate a checkpoint (or a run directory's best checkpoint) on a split."""

from __future__ import annotations

import argparse
import json

from ._common import load_trained, print_metrics


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="evaluate a run directory or checkpoint on a dataset split")
    p.add_argument("path", metavar="RUN_OR_CHECKPOINT")
    p.add_argument("--split", help="dataset split (default: test, or val where there is no test split)")
    p.add_argument("--dataset", help="evaluate on another registered dataset of the same kind and shape")
    p.add_argument("--checkpoint", default="last", choices=("last", "best"),
                   help="which checkpoint of a run directory: the final weights (last, default) or the best on validation")
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, default=256, dest="batch_size")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cfg, predictor, (split, data), ckpt = load_trained(args.path, args.checkpoint, args.device, args.split,
                                              dataset=args.dataset, batch_size=args.batch_size)
    metrics = predictor.trainer.evaluate(data, prefix=split)
    if args.json:
        print(json.dumps(metrics))
    else:
        print(f"{ckpt} on {cfg['dataset']['name']}/{split}:")
        print_metrics(metrics)
    return 0
