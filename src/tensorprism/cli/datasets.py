"""``prism datasets``: the registered datasets, their size, and whether they are on disk."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("datasets", help="list datasets (task, model, size, available locally, how to obtain)")
    p.add_argument("--root", help="data root to check (default: $TENSORPRISM_DATA or ~/.cache/tensorprism/data)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..data import data_root, dataset_info, is_available, list_datasets
    from ._common import print_table

    rows = []
    for name in list_datasets():
        info = dataset_info(name)
        try:
            here = "yes" if is_available(name, args.root) else "no"
        except OSError:
            here = "no"
        rows.append((name, info.task, info.model, here, info.size, info.source))
    print(f"data root: {data_root(args.root)}")
    print_table(("name", "task", "model", "available", "size", "source / how to obtain"), rows)
    return 0
