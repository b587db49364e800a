"""GCN and GAT on the Planetoid public split (Cora, CiteSeer): test accuracy, mean ± std over seeds.

Papers' hyperparameters:
  GCN (Kipf & Welling 2017): hidden 16, dropout 0.5, Adam lr 0.01, L2 5e-4 on the first layer,
      200 epochs, row-normalised features; weights of the best validation epoch.
  GAT (Veličković et al. 2018): 8 heads x 8 hidden, ELU, dropout 0.6 (inputs and attention),
      Adam lr 0.005, L2 5e-4, early stopping with patience 100 (the reference code's rule).

    OMP_NUM_THREADS=1 python benchmarks/ch08_planetoid.py --models gcn gat --datasets cora citeseer --seeds 10
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from tensorprism.data import load_dataset
from tensorprism.models import create_model
from tensorprism.testing import shared_data
from tensorprism.train import Trainer
from tensorprism.train.tasks.graph import KeepBestWeights, NodeClassificationTask, node_split_data

SETTINGS = {
    "gcn": dict(model={}, lr=0.01, weight_decay=0.0, first_wd=5e-4, epochs=200, patience=None),
    "gat": dict(model={}, lr=0.005, weight_decay=5e-4, first_wd=None, epochs=1000, patience=100),
}


def run(model_name: str, dataset: str, seed: int) -> tuple[float, int]:
    g = load_dataset(dataset, root=shared_data(), split="public", normalize_features=True)
    g = g.with_sparse_features()  # O(nnz) first-layer product and input dropout; same maths
    s = SETTINGS[model_name]
    torch.manual_seed(seed)
    model = create_model(model_name, in_channels=g.num_features, num_classes=g.meta["num_classes"],
                         **s["model"])
    keep = KeepBestWeights(s["patience"])
    task = NodeClassificationTask(first_layer_weight_decay=s["first_wd"])
    tr = Trainer(model, task, **node_split_data(g), callbacks=[keep], epochs=s["epochs"],
                 optimizer="adam", lr=s["lr"], weight_decay=s["weight_decay"], seed=seed,
                 progress=False, device="cpu")
    tr.fit()
    return tr.evaluate("test")["test/acc"] * 100, tr.epoch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="+", default=["gcn", "gat"])
    ap.add_argument("--datasets", nargs="+", default=["cora", "citeseer"])
    ap.add_argument("--seeds", type=int, default=10)
    args = ap.parse_args()
    print("| model | dataset | test acc % (mean ± std) | seeds | epochs run (mean) | s / run |")
    print("|---|---|---|---|---|---|")
    for m in args.models:
        for d in args.datasets:
            accs, epochs, t0 = [], [], time.perf_counter()
            for seed in range(args.seeds):
                acc, ep = run(m, d, seed)
                accs.append(acc)
                epochs.append(ep)
            dt = (time.perf_counter() - t0) / args.seeds
            print(f"| {m} | {d} | {statistics.mean(accs):.2f} ± {statistics.stdev(accs):.2f} | "
                  f"{args.seeds} | {statistics.mean(epochs):.0f} | {dt:.1f} |", flush=True)


if __name__ == "__main__":
    main()
