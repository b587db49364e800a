"""``prism predict``: predictions of a trained model for a dataset split or an array file."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="predict with a run directory or checkpoint")
    p.add_argument("path", metavar="RUN_OR_CHECKPOINT")
    p.add_argument("--input", "-i", help=".npy or .csv file of inputs, one example per row/item "
                                         "(default: the run's dataset, --split)")
    p.add_argument("--split", default="test")
    p.add_argument("--output", "-o", help="write predictions to .npy, .csv or .txt (default: print)")
    p.add_argument("--limit", type=int, default=20, help="how many predictions to print")
    p.add_argument("--checkpoint", default="last", choices=("last", "best"))
    p.add_argument("--device", default="auto")
    p.set_defaults(func=run)


def read_inputs(path: str, expected_shape: list[int] | None, expected_dtype: str | None):
    """Load ``path`` (``.npy`` without pickle, or ``.csv``) and check it against the training inputs."""
    import numpy as np
    import torch

    from ..errors import ConfigError, DatasetNotFoundError, ShapeError

    p = Path(path)
    if not p.is_file():
        raise DatasetNotFoundError(f"input file {p} not found")
    if p.suffix == ".npy":
        try:
            arr = np.load(p, allow_pickle=False)
        except ValueError as exc:
            raise ConfigError(f"{p} holds Python objects, which are not loaded (no pickle): {exc}") from exc
    elif p.suffix in (".csv", ".txt"):
        arr = np.loadtxt(p, delimiter="," if p.suffix == ".csv" else None, ndmin=2)
    else:
        raise ConfigError(f"unsupported input file {p.name}; use .npy or .csv")
    x = torch.from_numpy(np.ascontiguousarray(arr))
    if expected_shape is not None:
        want = tuple(expected_shape)
        if tuple(x.shape[1:]) != want:
            raise ShapeError(
                f"inputs in {p.name} have shape {tuple(x.shape)} but the model was trained on examples of "
                f"shape {want}; expected an array of shape (N, {', '.join(map(str, want))})"
            )
    if expected_dtype and expected_dtype.startswith(("float", "bfloat")):
        if not x.is_floating_point():
            raise ShapeError(f"inputs in {p.name} are {x.dtype} but the model expects floating-point "
                             f"inputs ({expected_dtype}), preprocessed like its training data")
        x = x.to(getattr(torch, expected_dtype))
    return x


def run(args: argparse.Namespace) -> int:
    import numpy as np
    from torch.utils.data import TensorDataset

    from ._common import load_trained

    cfg, trainer, data, _ = load_trained(args.path, args.checkpoint, args.device, args.split,
                                         need_data=not args.input)
    if args.input:
        info = cfg.get("run_info", {}).get("input", {})
        data = TensorDataset(read_inputs(args.input, info.get("shape"), info.get("dtype")))
    preds = trainer.predict(data).numpy()
    if args.output:
        out = Path(args.output)
        if out.suffix == ".npy":
            np.save(out, preds)
        else:
            np.savetxt(out, preds.reshape(len(preds), -1), delimiter="," if out.suffix == ".csv" else " ",
                       fmt="%d" if preds.dtype.kind in "iu" else "%.6g")
        print(f"wrote {len(preds)} predictions to {out}")
    else:
        for i, p in enumerate(preds[: args.limit]):
            print(i, p.tolist() if hasattr(p, "tolist") else p)
        if len(preds) > args.limit:
            print(f"... {len(preds) - args.limit} more (use --output FILE)")
    return 0
