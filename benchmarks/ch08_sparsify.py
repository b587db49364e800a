"""Graph sparsification (Ch. 8, D8) on Cora: a two-layer GCN trained on the full citation graph,
on spectral sparsifiers (Spielman & Srivastava) of several sizes, and on random edge subsets with
as many edges as a sparsifier keeps.

Standard Planetoid split (140 / 500 / 1000 nodes), GCN 16 hidden, dropout 0.5, Adam 0.01 with weight
decay 5e-4, 200 full-batch epochs, test accuracy at the best validation epoch; mean over seeds.

    OMP_NUM_THREADS=1 python benchmarks/ch08_sparsify.py --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from tensorprism import load_dataset
from tensorprism.graph.sparsify import spectral_sparsify
from tensorprism.nn.graph import GCNConv
from tensorprism.tensor.graph import coalesce, remove_self_loops


class GCN(nn.Module):
    def __init__(self, f_in, classes, hidden=16):
        super().__init__()
        self.c1, self.c2 = GCNConv(f_in, hidden), GCNConv(hidden, classes)

    def forward(self, x, ei, ew=None):
        x = F.dropout(x, 0.5, self.training)
        x = F.dropout(F.relu(self.c1(x, ei, ew)), 0.5, self.training)
        return self.c2(x, ei, ew)


def train(g, ei, ew, seed, epochs=200):
    torch.manual_seed(seed)
    model = GCN(g.x.shape[1], int(g.y.max()) + 1)
    opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    best_val, test_at_best = -1.0, 0.0
    for _ in range(epochs):
        model.train()
        opt.zero_grad()
        F.cross_entropy(model(g.x, ei, ew)[g.train_mask], g.y[g.train_mask]).backward()
        opt.step()
        model.eval()
        with torch.no_grad():
            pred = model(g.x, ei, ew).argmax(-1)
        val = float((pred[g.val_mask] == g.y[g.val_mask]).float().mean())
        if val > best_val:
            best_val, test_at_best = val, float((pred[g.test_mask] == g.y[g.test_mask]).float().mean())
    return test_at_best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--factors", type=float, nargs="+", default=[0.5, 1.0, 2.0],
                    help="draws per undirected edge of the original graph")
    args = ap.parse_args()
    torch.set_num_threads(1)
    g = load_dataset("cora")
    ei, _ = coalesce(remove_self_loops(g.edge_index)[0], None, g.num_nodes)
    m = int((ei[0] < ei[1]).sum())
    print(f"Cora: {g.num_nodes} nodes, {m} undirected edges; seeds {args.seeds}")
    print("| graph | undirected edges kept | test accuracy (mean) | per seed |")
    print("|---|---|---|---|")

    def report(name, e, w):
        kept = int((e[0] < e[1]).sum())
        accs = [train(g, e, w, s) for s in args.seeds]
        print(f"| {name} | {kept} ({100 * kept / m:.0f} %) | {100 * statistics.mean(accs):.2f} % | "
              f"{', '.join(f'{100 * a:.1f}' for a in accs)} |", flush=True)
        return kept

    report("full graph", ei, None)
    for f in args.factors:
        t0 = time.perf_counter()
        se, sw = spectral_sparsify(ei, None, int(f * m), g.num_nodes, torch.Generator().manual_seed(0))
        secs = time.perf_counter() - t0
        kept = report(f"spectral sparsifier, q = {f:g}·m draws ({secs:.0f} s)", se, sw)
        gen = torch.Generator().manual_seed(1)
        once = ei[:, ei[0] < ei[1]]
        pick = once[:, torch.randperm(m, generator=gen)[:kept]]
        re, _ = coalesce(torch.cat([pick, pick.flip(0)], 1), None, g.num_nodes)
        report(f"random edges, same count as q = {f:g}·m", re, None)


if __name__ == "__main__":
    main()
