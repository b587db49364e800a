"""GCN and GAT on the Planetoid public split (Cora, CiteSeer): test accuracy, mean ± std over seeds.

Papers' hyperparameters (see ``tensorprism.recipes.ch08_planetoid.PLANETOID_SETTINGS``):
  GCN (Kipf & Welling 2017): hidden 16, dropout 0.5, Adam lr 0.01, L2 5e-4 on the first layer,
      200 epochs, row-normalised features; weights of the best validation epoch.
  GAT (Veličković et al. 2018): 8 heads x 8 hidden, ELU, dropout 0.6 (inputs and attention),
      Adam lr 0.005, L2 5e-4, early stopping with patience 100 (the reference code's rule).

    OMP_NUM_THREADS=1 python benchmarks/ch08_planetoid.py --models gcn gat --datasets cora citeseer --seeds 10

Seeds can be split over processes (``--first-seed 5 --seeds 5``); each run also prints its own
accuracy so that partial results can be pooled.
"""

from __future__ import annotations

import argparse

from tensorprism.recipes import run_recipe


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="+", default=["gcn", "gat"])
    ap.add_argument("--datasets", nargs="+", default=["cora", "citeseer"])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=0)
    args = ap.parse_args()
    print("| model | dataset | test acc % (mean ± std) | seeds | epochs run (mean) | s / run |")
    print("|---|---|---|---|---|---|")
    for m in args.models:
        for d in args.datasets:
            r = run_recipe("ch08-planetoid", model=m, dataset=d, seeds=args.seeds,
                           first_seed=args.first_seed)
            print(f"<!-- {m} {d} seeds {args.first_seed}..{args.first_seed + args.seeds - 1}: "
                  f"{[round(a, 1) for a in r['test_accs']]} -->")
            print(f"| {m} | {d} | {r['test_acc_mean']:.2f} ± {r['test_acc_std']:.2f} | {args.seeds} | "
                  f"{r['epochs_mean']:.0f} | {r['seconds_per_run']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
