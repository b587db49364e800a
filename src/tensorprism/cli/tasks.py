"""``prism tasks``: the registered learning paradigms (what ``task=NAME`` accepts)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tasks", help="list registered tasks (learning paradigms: task=NAME)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..train.tasks import TASKS
    from ._common import print_table

    rows = []
    for entry in TASKS:
        doc = (entry.description or (entry.fn.__doc__ or "")).strip().splitlines()
        rows.append((entry.name, doc[0][:90] if doc else ""))
    print_table(("name", "description"), rows)
    return 0
