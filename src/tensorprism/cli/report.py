"""``prism report``: self-contained HTML pages of run directories, and a comparison across runs."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="write a self-contained HTML report per run directory (and a comparison page)",
        description="Write RUN_DIR/report.html for each run: configuration, metric curves, confusion "
                    "matrix and per-class metrics, sample predictions, the run's pictures, timings and "
                    "system. With several runs, also a comparison page. The pages need no network and "
                    "no server: open them from the file system.")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--compare", metavar="FILE",
                   help="where to write the comparison page (default: compare.html in the runs' common "
                        "parent folder; only with two or more runs)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..train.report import read_run, write_comparison, write_run_report

    runs = [read_run(d) for d in args.runs]  # every folder checked before anything is written
    for r in runs:
        print(f"report: {write_run_report(r.path)}")
    if len(runs) > 1 or args.compare:
        out = Path(args.compare) if args.compare else Path(os.path.commonpath(
            [str(r.path.resolve().parent) for r in runs])) / "compare.html"
        print(f"comparison: {write_comparison([r.path for r in runs], out)}")
    return 0
