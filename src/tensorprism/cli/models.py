"""``prism models``: the registered models with family and parameter count."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list registered models (name, family, parameters)")
    p.add_argument("pattern", nargs="?", help="glob pattern, e.g. 'resnet*'")
    p.add_argument("--family", help="only this family (mlp, cnn, rnn, transformer, gnn, ...)")
    p.set_defaults(func=run)


def parameter_count(name: str) -> str:
    """Parameters of the default configuration, built on the meta device (no memory, fast)."""
    import torch

    from ..models import count_parameters, create_model

    for device in ("meta", "cpu"):
        try:
            with torch.device(device):
                return f"{count_parameters(create_model(name)):,}"
        except Exception:  # a builder that cannot run on meta tensors is retried on the CPU
            continue
    return "?"


def run(args: argparse.Namespace) -> int:
    from ..models import list_models, model_entry
    from ._common import print_table

    names = list_models(args.pattern, args.family)
    if not names:
        from ..errors import ConfigError

        what = " and ".join(f"{k} {v!r}" for k, v in (("pattern", args.pattern), ("family", args.family)) if v)
        raise ConfigError(f"no registered model matches {what}; run `prism models` to list all of them")
    rows = []
    for name in names:
        entry = model_entry(name)
        rows.append((name, entry.family, parameter_count(name), entry.description[:70]))
    print_table(("name", "family", "parameters", "description"), rows)
    return 0
