"""Chapter 5 forecasting: choose LSTM settings on a validation tail, then score the test tail once.

``--holdout validation`` scores every setting in the grid on the last test-length tail of the
training series (sunspots: 1943-1975; airline: 1957-1958); ``--holdout test`` runs the given
settings on the real test tail. Each line printed is one run: multi-step and rolling-origin MASE.

    python benchmarks/ch05_forecasting.py --series sunspots --holdout validation
    python benchmarks/ch05_forecasting.py --series sunspots --holdout test --grid direct,sqrt,22
"""

from __future__ import annotations

import argparse
import itertools
import json

from tensorprism.recipes import run_recipe


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", default="sunspots")
    ap.add_argument("--holdout", default="validation", choices=["validation", "test"])
    ap.add_argument("--grid", nargs="*", default=None,
                    help="settings strategy,transform,window[,epochs[,early_stopping]] (window 0: the series default); "
                         "default: {direct,recursive} x {none,sqrt} x {22,44}")
    ap.add_argument("--ensemble", type=int, default=5)
    args = ap.parse_args()
    grid = ([g.split(",") for g in args.grid] if args.grid else
            list(itertools.product(["direct", "recursive"], ["none", "sqrt"], ["22", "44"])))
    for strategy, transform, window, *rest in grid:
        epochs, early = (int(v) for v in rest + ["400", "0"][len(rest):])
        r = run_recipe("ch05-forecasting", series=args.series, holdout=args.holdout, strategy=strategy,
                       transform=transform, window=int(window), epochs=epochs, early_stopping=early,
                       ensemble=args.ensemble, out_dir=None)
        row = {"series": args.series, "holdout": args.holdout, "strategy": strategy, "transform": r["transform"],
               "window": r["window"], "epochs": epochs, "early_stopping": early, "multi_step_mase": {k: round(v["mase"], 3) for k, v in r["scores"].items()},
               "rolling_mase": {h: {k: round(v, 3) for k, v in d.items()} for h, d in r["rolling_mase"].items()},
               "seconds": r["seconds"]}
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
