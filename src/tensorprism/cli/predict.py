"""``prism predict``: predictions of a trained model for a dataset split or an array file."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="predict with a run directory or checkpoint")
    p.add_argument("path", metavar="RUN_OR_CHECKPOINT")
    p.add_argument("--input", "-i", help=".npy or .csv file of raw inputs, one example per row/item, or for "
                                         "a sentence classifier a text file of one sentence per line "
                                         "(default: the run's dataset, --split)")
    p.add_argument("--split", help="dataset split (default: test, or val where there is no test split)")
    p.add_argument("--output", "-o", help="write predictions to .npy, .csv or .txt (default: print)")
    p.add_argument("--checkpoint", default="last", choices=("last", "best"))
    p.add_argument("--device", default="auto")
    p.add_argument("--preprocessed", action="store_true",
                   help="the --input values are already preprocessed (by default they are raw, as the dataset "
                        "stores them, and the run's saved preprocessing is applied)")
    p.add_argument("--limit", type=int, default=20, help="how many predictions to print")
    p.set_defaults(func=run)


def read_inputs(path: str):
    """The raw inputs in ``path``: ``.npy`` (no pickle) or ``.csv``/``.txt`` numbers, one example per
    row, as an array ``(N, ...)``."""
    import numpy as np

    from ..errors import ConfigError, DataError, DatasetNotFoundError

    p = Path(path)
    if not p.is_file():
        raise DatasetNotFoundError(f"input file {p} not found")
    try:
        if p.suffix == ".npy":
            return np.load(p, allow_pickle=False)
        if p.suffix in (".csv", ".txt"):
            return np.loadtxt(p, delimiter="," if p.suffix == ".csv" else None, ndmin=2)
    except ValueError as exc:
        raise DataError(f"cannot read {p.name} as an array of numbers (Python objects are not loaded): "
                        f"{' '.join(str(exc).split())}") from None
    raise ConfigError(f"unsupported input file {p.name}; use .npy or .csv (one example per row)")


def read_sentences(path: str) -> list[str]:
    """One sentence per line of a UTF-8 text file (for runs of sentence classifiers; for a hierarchical
    model such as HAN, one document per line, split into sentences at ``.``, ``!`` and ``?``)."""
    from ..errors import DataError, DatasetNotFoundError

    p = Path(path)
    if not p.is_file():
        raise DatasetNotFoundError(f"input file {p} not found")
    try:
        lines = [line for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
    except UnicodeDecodeError:
        raise DataError(f"{p.name} is not UTF-8 text; give one sentence per line") from None
    if not lines:
        raise DataError(f"{p.name} holds no sentences; give one sentence per line")
    return lines


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ._common import load_trained

    cfg, predictor, split_data, _ = load_trained(args.path, args.checkpoint, args.device, args.split,
                                                 need_data=not args.input)
    if split_data is not None:
        data = split_data[1]
    elif predictor.preprocessing is not None and predictor.preprocessing.kind in ("word-vocab", "document-vocab",
                                                                                  "pair-vocab"):
        data = predictor.prepare(read_sentences(args.input))
    else:
        data = predictor.prepare(read_inputs(args.input), preprocessed=args.preprocessed)
    preds = predictor.trainer.predict(data).numpy()
    if predictor.preprocessing is not None and predictor.preprocessing.kind == "pair-vocab":
        # an encoder-decoder's outputs are target ids: shown as text, one output per line
        texts = [predictor.preprocessing.decode(row[1:]) for row in preds.tolist()]
        if args.output:
            Path(args.output).write_text("".join(t + "\n" for t in texts), encoding="utf-8")
            print(f"wrote {len(texts)} outputs to {args.output}")
            return 0
        preds = np.array(texts, dtype=object)
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
