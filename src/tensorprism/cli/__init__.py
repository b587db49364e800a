"""The ``prism`` command.

Each module of this package is one sub-command exposing ``register(subparsers)``, which adds its
parser and sets ``func`` (a function ``args -> int | None``) as the parser default. Modules are
discovered automatically, so adding ``cli/<command>.py`` is all it takes to add ``prism <command>``.

Errors raised on purpose (:class:`~tensorprism.errors.TensorPrismError`) are printed as one line
without a traceback and exit with status 2; any other exception is one line too, with its type,
and exits with status 1 (``prism --traceback ...`` shows the traceback of either). Ctrl-C exits
with status 130; a closed pipe (``prism models | head -1``) ends the command quietly.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

from ..errors import TensorPrismError


def build_parser() -> argparse.ArgumentParser:
    """The ``prism`` argument parser with every sub-command of this package registered."""
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
    """Run ``prism`` with ``argv`` (default: the command line); returns the exit status."""
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
        status = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, inside the handlers, not at interpreter exit
        return status
    except TensorPrismError as exc:
        if args.traceback:
            raise
        return _fail(args.command, exc, 2)
    except KeyboardInterrupt:
        print(f"prism {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`prism models | head -1`): stop quietly; point stdout at devnull
        # so the interpreter's final flush does not raise again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # noqa: BLE001 - anything unexpected becomes one line (or --traceback)
        if args.traceback:
            raise
        return _fail(args.command, exc, 1, unexpected=True)


def _fail(command: str, exc: BaseException, code: int, unexpected: bool = False) -> int:
    """Print ``exc`` as one line on stderr and return the exit status ``code``."""
    message = " ".join(str(exc).split()) or type(exc).__name__
    if unexpected:
        message = f"{type(exc).__name__}: {message} (run `prism --traceback {command} ...` for the full traceback)"
    print(f"prism {command}: error: {message}", file=sys.stderr)
    return code


__all__ = ["main", "build_parser"]
