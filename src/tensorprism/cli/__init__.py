"""The ``prism`` command.

Each module of this package is one sub-command exposing ``register(subparsers)``, which adds its
parser and sets ``func`` (a function ``args -> int | None``) as the parser default. Modules are
discovered automatically, so adding ``cli/<command>.py`` is all it takes to add ``prism <command>``.

Errors raised on purpose (:class:`~tensorprism.errors.TensorPrismError`) are printed as one line
without a traceback (``prism --traceback ...`` shows it) and exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from ..errors import TensorPrismError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="prism",
        description="tensorprism: the book's tensors, layers, models and training loops.",
    )
    parser.add_argument("--traceback", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "register"):
            module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # key=value overrides may come after options too (`prism train --out d epochs=3`)
    if extra and hasattr(args, "overrides") and all("=" in e and not e.startswith("-") for e in extra):
        args.overrides = [*args.overrides, *extra]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except TensorPrismError as exc:
        if args.traceback:
            raise
        print(f"prism {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"prism {args.command}: interrupted", file=sys.stderr)
        return 130


__all__ = ["main", "build_parser"]
