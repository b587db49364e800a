"""``prism run``: run one of the book's case studies (a registered recipe)."""

from __future__ import annotations

import argparse
import json

from ._common import add_overrides


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run a recipe (a case study of the book); without a name, list them")
    p.add_argument("recipe", nargs="?", metavar="RECIPE")
    add_overrides(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..recipes import RECIPES, run_recipe
    from ..train.run import parse_assignment
    from ._common import print_table

    if args.recipe is None:
        print_table(("recipe", "description"), [(e.name, e.description[:90]) for e in RECIPES])
        return 0
    RECIPES.get(args.recipe)  # unknown names fail here with suggestions
    result = run_recipe(args.recipe, **dict(parse_assignment(item) for item in args.overrides))
    print(json.dumps(result, indent=1, default=str))
    return 0
