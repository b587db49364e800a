"""Training-epoch time of our GCN and GAT vs PyTorch Geometric's, side by side in one run.

One epoch = full-batch forward, cross-entropy on the training nodes, backward, Adam step.
Both sides build the same architecture (GCN: 2 layers, hidden 16, dropout 0.5; GAT: 8 heads x 8,
ELU, dropout 0.6, 1 output head) on the same graph and features; runs alternate ours/PyG so that
load on a shared machine hits both alike; the median epoch time is reported.

Graphs: Cora (2,708 nodes, 10,556 edges, 1,433 bag-of-words features) and a synthetic random
graph with 100,000 nodes and 1,000,000 directed edges (500,000 undirected pairs), 64 features.
"Ours, sparse x" also gives our model Cora's features as a CSR matrix (1.3 % nonzero), which our
first layer and input dropout exploit; PyG's layers take dense features.

    OMP_NUM_THREADS=2 python benchmarks/ch08_speed.py [--device cuda] [--repeats 20]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from tensorprism.data import load_dataset
from tensorprism.models import create_model
from tensorprism.tensor.graph import coalesce, remove_self_loops, to_undirected
from tensorprism.testing import shared_data


class PygGCN(nn.Module):
    def __init__(self, fin, hidden, classes, cached):
        super().__init__()
        from torch_geometric.nn import GCNConv

        self.c1, self.c2 = GCNConv(fin, hidden, cached=cached), GCNConv(hidden, classes, cached=cached)

    def forward(self, x, ei):
        x = F.dropout(F.relu(self.c1(x, ei)), 0.5, self.training)
        return self.c2(x, ei)


class PygGAT(nn.Module):
    def __init__(self, fin, classes):
        super().__init__()
        from torch_geometric.nn import GATConv

        self.c1 = GATConv(fin, 8, heads=8, dropout=0.6)
        self.c2 = GATConv(64, classes, heads=1, concat=False, dropout=0.6)

    def forward(self, x, ei):
        x = F.dropout(x, 0.6, self.training)
        x = F.dropout(F.elu(self.c1(x, ei)), 0.6, self.training)
        return self.c2(x, ei)


def synthetic(n=100_000, pairs=500_000, f=64, classes=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    ei = torch.randint(0, n, (2, int(pairs * 2.1)), generator=g)
    ei, _ = remove_self_loops(ei)
    ei, _ = coalesce(ei[:, ei[0] < ei[1]], None, n)
    ei = ei[:, torch.randperm(ei.size(1), generator=g)[:pairs]]
    ei, _ = to_undirected(ei, num_nodes=n)
    x = torch.randn(n, f, generator=g)
    y = torch.randint(0, classes, (n,), generator=g)
    mask = torch.rand(n, generator=g) < 0.1
    return x, ei, y, mask, classes


def epoch_fn(model, x, ei, y, mask):
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    model.train()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x, ei)[mask], y[mask])
        loss.backward()
        opt.step()

    return step


def timed(step, device):
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t


def compare(title, contenders, repeats, device):
    steps = {name: fn() for name, fn in contenders}
    for s in steps.values():  # warm-up (caches, allocator)
        s(), s()
    times = {name: [] for name in steps}
    for _ in range(repeats):
        for name, s in steps.items():
            times[name].append(timed(s, device))
    base = statistics.median(times[contenders[-1][0]])
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"| {title} | {name} | {med * 1e3:.1f} | {med / base:.2f} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--big-repeats", type=int, default=5)
    ap.add_argument("--skip-big", action="store_true")
    ap.add_argument("--skip-cora", action="store_true", help="no Planetoid files on this machine")
    args = ap.parse_args()
    dev = torch.device(args.device)
    print(f"device: {dev}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    print("| graph / model | implementation | ms / epoch (median) | ratio to PyG |")
    print("|---|---|---|---|")
    if not args.skip_cora:
        run_cora(dev, args.repeats)
    if not args.skip_big:
        run_synthetic(dev, args.big_repeats)


def run_cora(dev, repeats: int) -> None:
    cora = load_dataset("cora", root=shared_data(), normalize_features=True).to(dev)
    xs = cora.with_sparse_features().x
    fin, c = cora.num_features, cora.meta["num_classes"]
    args_cora = (cora.edge_index, cora.y, cora.train_mask)

    def ours(name, x, **kw):
        torch.manual_seed(0)
        return epoch_fn(create_model(name, in_channels=fin, num_classes=c, **kw).to(dev), x, *args_cora)

    def pyg(model, x):
        torch.manual_seed(0)
        return epoch_fn(model.to(dev), x, *args_cora)

    compare("Cora GCN", [("ours (sparse x)", lambda: ours("gcn", xs)), ("ours", lambda: ours("gcn", cora.x)),
                         ("PyG cached=True", lambda: pyg(PygGCN(fin, 16, c, True), cora.x)),
                         ("PyG", lambda: pyg(PygGCN(fin, 16, c, False), cora.x))], repeats, dev)
    compare("Cora GAT", [("ours (sparse x)", lambda: ours("gat", xs)), ("ours", lambda: ours("gat", cora.x)),
                         ("PyG", lambda: pyg(PygGAT(fin, c), cora.x))], repeats, dev)


def run_synthetic(dev, repeats: int) -> None:
    x, ei, y, mask, c2 = (t.to(dev) if torch.is_tensor(t) else t for t in synthetic())
    print(f"| synthetic: {x.size(0):,} nodes, {ei.size(1):,} edges | | | |")

    def big(model):
        torch.manual_seed(0)
        return epoch_fn(model.to(dev), x, ei, y, mask)

    compare("1M-edge GCN", [("ours", lambda: big(create_model("gcn", in_channels=64, num_classes=c2))),
                            ("PyG cached=True", lambda: big(PygGCN(64, 16, c2, True))),
                            ("PyG", lambda: big(PygGCN(64, 16, c2, False)))], repeats, dev)
    compare("1M-edge GAT", [("ours", lambda: big(create_model("gat", in_channels=64, num_classes=c2))),
                            ("PyG", lambda: big(PygGAT(64, c2)))], repeats, dev)


if __name__ == "__main__":
    main()
