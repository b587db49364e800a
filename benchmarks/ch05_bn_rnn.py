"""Batch-normalised hidden states (Ch. 5, R8) vs a plain Elman RNN on real sequences.

The 8x8 scikit-learn digits (1,797 scans of handwritten digits, bundled with scikit-learn) are read
row by row: 8 steps of 8 pixel values (scaled to [0, 1]); the last hidden state feeds a linear
classifier. Same split (75/25, stratified, seed 0), hidden size, optimiser (Adam), epochs and
seeds for the three layers; reports test accuracy (mean and per seed) and the training loss after
the first epoch (how fast each starts).

    OMP_NUM_THREADS=1 python benchmarks/ch05_bn_rnn.py --epochs 15 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

from tensorprism.nn.bn_recurrent import BatchNormRecurrent
from tensorprism.nn.recurrent import RecurrentLoop


class Classifier(nn.Module):
    def __init__(self, rnn: nn.Module, hidden: int):
        super().__init__()
        self.rnn, self.head = rnn, nn.Linear(hidden, 10)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


def make(kind: str, hidden: int) -> nn.Module:
    if kind == "plain":
        return Classifier(RecurrentLoop("rnn", 8, hidden), hidden)
    return Classifier(BatchNormRecurrent("rnn", 8, hidden, per_step=kind == "bn-per-step", max_steps=8), hidden)


def run(kind, seed, data, epochs, hidden, lr, batch):
    x_tr, y_tr, x_te, y_te = data
    torch.manual_seed(seed)
    model = make(kind, hidden)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    first = None
    t0 = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(x_tr))
        total = 0.0
        for i in range(0, len(perm) - 1, batch):
            idx = perm[i:i + batch]
            if len(idx) < 2:
                continue
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x_tr[idx]), y_tr[idx])
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        if epoch == 0:
            first = total / len(x_tr)
    model.eval()
    with torch.no_grad():
        acc = float((model(x_te).argmax(-1) == y_te).float().mean())
    return acc, first, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args()
    torch.set_num_threads(1)
    digits = load_digits()
    x = torch.tensor(digits.data, dtype=torch.float32).reshape(-1, 8, 8) / 16.0
    y = torch.tensor(digits.target)
    i_tr, i_te = train_test_split(range(len(y)), test_size=0.25, stratify=digits.target, random_state=0)
    data = (x[i_tr], y[i_tr], x[i_te], y[i_te])
    print(f"digits as 8-step sequences: {len(i_tr)} train / {len(i_te)} test, hidden {args.hidden}, Adam {args.lr}, "
          f"batch {args.batch}, {args.epochs} epochs, seeds {args.seeds}")
    print("| layer | test accuracy mean | per seed | epoch-1 train loss (mean) | s per run (mean) |")
    print("|---|---|---|---|---|")
    for kind in ("plain", "bn-shared", "bn-per-step"):
        res = [run(kind, s, data, args.epochs, args.hidden, args.lr, args.batch) for s in args.seeds]
        accs = [r[0] for r in res]
        print(f"| {kind} | {100 * statistics.mean(accs):.2f} % | {', '.join(f'{100 * a:.2f}' for a in accs)} | "
              f"{statistics.mean(r[1] for r in res):.3f} | {statistics.mean(r[2] for r in res):.1f} |", flush=True)


if __name__ == "__main__":
    main()
