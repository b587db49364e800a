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
    p.add_argument("--probe", action="store_true",
                   help="also a linear probe: a linear classifier trained on the frozen encoder's features of the "
                        "training split (eval mode), scored on the evaluated split (self-supervised runs)")
    p.add_argument("--probe-samples", type=int, default=None, dest="probe_samples",
                   help="training images the probe uses (default: all)")
    p.add_argument("--probe-epochs", type=int, default=100, dest="probe_epochs")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cfg, predictor, (split, data), ckpt = load_trained(args.path, args.checkpoint, args.device, args.split,
                                              dataset=args.dataset, batch_size=args.batch_size)
    metrics = predictor.trainer.evaluate(data, prefix=split)
    if args.probe:
        metrics.update(linear_probe_metrics(cfg, predictor.trainer.model, data, split, args))
    if args.json:
        print(json.dumps(metrics))
    else:
        print(f"{ckpt} on {cfg['dataset']['name']}/{split}:")
        print_metrics(metrics)
    return 0


def linear_probe_metrics(cfg: dict, model, data, split: str, args: argparse.Namespace) -> dict[str, float]:
    """``{split}/probe_acc`` (and the probe's ``train/probe_acc``): a linear classifier on the frozen
    features of the run's training split, as SSL papers report alongside kNN (book §9.5)."""
    import torch
    from torch.utils.data import Subset

    from ..errors import ConfigError
    from ..models.ssl import SSLNet
    from ..train.run import run_split
    from ..unsupervised.evaluation import extract_features, linear_probe

    if not isinstance(model, SSLNet):
        raise ConfigError(f"--probe needs a self-supervised encoder (an ssl-net run, e.g. of prism run ch09-ssl), "
                          f"but this run's model is {type(model).__name__}; evaluate it without --probe")
    encoder = model.encoder
    for name, value in (("--probe-samples", args.probe_samples), ("--probe-epochs", args.probe_epochs)):
        if value is not None and value < 1:
            raise ConfigError(f"{name} must be >= 1, got {value}")
    _, train = run_split(cfg, "train")
    if args.probe_samples and args.probe_samples < len(train):  # a seeded random subset, never a prefix
        keep = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[: args.probe_samples]
        train = Subset(train, keep.tolist())
    f_tr, y_tr = extract_features(encoder, train, batch_size=args.batch_size)
    f_te, y_te = extract_features(encoder, data, batch_size=args.batch_size)
    if y_tr is None or y_te is None:
        raise ConfigError("--probe needs labelled data (x, y) in the training and evaluated splits")
    scores = linear_probe(f_tr, y_tr, f_te, y_te, epochs=args.probe_epochs)
    return {f"{split}/probe_acc": scores["test_acc"], "train/probe_acc": scores["train_acc"]}
