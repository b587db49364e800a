"""Helpers shared by the sub-commands."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any


def add_overrides(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="settings such as epochs=5 model.hidden=[256,128] scheduler=cosine")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def print_metrics(metrics: dict[str, Any]) -> None:
    rows = [(k, f"{v:.4f}") for k, v in metrics.items() if isinstance(v, float)]
    if rows:
        print_table(("metric", "value"), rows)
