"""Run the Chapter 3 recipes at their full settings and print one result line each.

    python benchmarks/ch03_recipes.py                     # all of them (tens of minutes on 2 CPU cores)
    python benchmarks/ch03_recipes.py mnist-mlp sst2-bow  # some
    python benchmarks/ch03_recipes.py mnist-mlp-bn epochs=20   # key=value overrides for one recipe

Results are also written to runs/<recipe>/result.json.
"""

from __future__ import annotations

import sys

import yaml

from tensorprism.recipes import run_recipe

RECIPES = ["xor", "digits-multilabel", "diabetes-regression", "sst2-bow", "mnist-mlp", "mnist-mlp-bn"]
KEYS = ["test_acc", "val_acc", "parameters", "train_seconds", "epochs", "mlp_test_acc", "mlp_dev_acc",
        "mlp_best_epoch", "logreg_test_acc", "logreg_dev_acc", "logreg_C", "features", "mlp_test_mse", "mlp_test_r2",
        "linear_test_mse", "linear_test_r2", "test_label_acc", "test_exact_match", "test_micro_f1", "solved", "restarts"]


def main(argv: list[str]) -> None:
    names = [a for a in argv if "=" not in a] or RECIPES
    overrides = dict(a.split("=", 1) for a in argv if "=" in a)
    overrides = {k: yaml.safe_load(v) for k, v in overrides.items()}
    for name in names:
        res = run_recipe(name, **(overrides if len(names) == 1 else {}))
        shown = ", ".join(f"{k}={res[k]:.4f}" if isinstance(res[k], float) else f"{k}={res[k]}" for k in KEYS if k in res)
        print(f"{name}: {shown}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
