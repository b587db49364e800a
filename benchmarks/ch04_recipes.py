"""Run Chapter 4 recipes and print one JSON line of measured numbers per recipe.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/ch04_recipes.py ch04-mnist-lenet5 ch04-mnist-modern
    .venv/bin/python benchmarks/ch04_recipes.py ch04-cifar10-resnet20 time_budget_s=480 threads=1

Arguments are recipe names and ``key=value`` overrides (applied to every recipe named);
one JSON line is printed per recipe (test accuracy, wall time, parameters, epochs run).
"""

from __future__ import annotations

import ast
import json
import sys

from tensorprism.recipes import run_recipe


def main(argv: list[str]) -> None:
    names = [a for a in argv if "=" not in a]
    overrides = {}
    for a in argv:
        if "=" in a:
            k, v = a.split("=", 1)
            try:
                overrides[k] = ast.literal_eval(v)
            except (ValueError, SyntaxError):
                overrides[k] = v
    for name in names:
        result = run_recipe(name, **overrides)
        result.pop("config", None)
        print(json.dumps({"recipe": name, **overrides, **result}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
