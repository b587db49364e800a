"""``prism run``: run one of the book's case studies (a registered recipe).

``prism run`` lists the recipes, ``prism run NAME --help`` lists one recipe's settings (name, type,
default, meaning) and ``prism run NAME key=value ...`` runs it with some settings changed.
"""

from __future__ import annotations

import argparse
import json

from ._common import add_overrides


def register(sub: argparse._SubParsersAction) -> None:
    # -h is handled by `run` itself so that `prism run NAME --help` shows that recipe's settings
    p = sub.add_parser("run", add_help=False,
                       help="run a recipe (a case study of the book); without a name, list them")
    p.add_argument("-h", "--help", action="store_true", dest="show_help",
                   help="without RECIPE: this message; with RECIPE: that recipe's settings")
    p.add_argument("recipe", nargs="?", metavar="RECIPE")
    add_overrides(p)
    p.set_defaults(func=run, parser=p)


def run(args: argparse.Namespace) -> int:
    from ..recipes import RECIPES, run_recipe
    from ..train.run import parse_assignment

    if args.recipe is None:
        if args.show_help:
            args.parser.print_help()
            print()
        print_recipes()
        return 0
    entry = RECIPES.get(args.recipe)  # unknown names fail here with suggestions
    if args.show_help:
        print_recipe_help(entry.name)
        return 0
    result = run_recipe(entry.name, **dict(parse_assignment(item) for item in args.overrides))
    print(json.dumps(result, indent=1, default=str))
    return 0


def print_recipes() -> None:
    from ..recipes import RECIPES
    from ._common import print_table

    print_table(("recipe", "description"), [(e.name, e.description[:90]) for e in RECIPES])
    print("\n`prism run NAME --help` lists a recipe's settings; `prism run NAME key=value ...` runs it.")


def print_recipe_help(name: str) -> None:
    """The recipe's description and a table of its settings: name, type, default, meaning."""
    from ..recipes import RECIPES, recipe_settings
    from ._common import print_table

    entry = RECIPES.get(name)
    print(f"usage: prism run {name} [key=value ...]\n")
    if entry.description:
        print(entry.description + "\n")
    rows = [(key, tp, json.dumps(default, default=str), doc) for key, tp, default, doc in recipe_settings(name)]
    print_table(("setting", "type", "default", "description"), rows)
    print(f"\nWithout out_dir the run is written to runs/{name}-<timestamp>.")
