"""Largest absolute difference between our graph layers and PyTorch Geometric's with the same
weights, forward output and input gradient, on a random undirected graph (float32).

    OMP_NUM_THREADS=1 python benchmarks/ch08_parity.py [--device cuda]
"""

from __future__ import annotations

import argparse

import torch
import torch_geometric.nn as pyg

from tensorprism.nn.graph import GATConv, GCNConv, GINConv, RGCNConv, SAGEConv
from tensorprism.tensor.graph import to_undirected


def copy_gcn(o, t):
    t.lin.weight.copy_(o.lin.weight)
    t.bias.copy_(o.bias)


def copy_gat(o, t):
    t.lin.weight.copy_(o.lin.weight)
    t.att_src.copy_(o.att_src[None])
    t.att_dst.copy_(o.att_dst[None])
    t.bias.copy_(o.bias)


def copy_sage(o, t):
    t.lin_l.load_state_dict(o.lin_nbr.state_dict())
    t.lin_r.weight.copy_(o.lin_root.weight)


def copy_rgcn(o, t):
    t.weight.copy_(o.weight)
    t.comp.copy_(o.comp)
    t.root.copy_(o.root)
    t.bias.copy_(o.bias)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    dev = torch.device(ap.parse_args().device)
    g = torch.Generator().manual_seed(0)
    n = 500
    ei, _ = to_undirected(torch.randint(0, n, (2, 2500), generator=g), num_nodes=n)
    x = torch.randn(n, 32, generator=g)
    et = torch.randint(0, 4, (ei.size(1),), generator=g)
    x, ei, et = x.to(dev), ei.to(dev), et.to(dev)
    mlp = torch.nn.Sequential(torch.nn.Linear(32, 32), torch.nn.ReLU(), torch.nn.Linear(32, 16))
    cases = [
        ("GCNConv", GCNConv(32, 16), pyg.GCNConv(32, 16), copy_gcn, ()),
        ("GATConv (8 heads, concat)", GATConv(32, 8, heads=8), pyg.GATConv(32, 8, heads=8), copy_gat, ()),
        ("SAGEConv (mean)", SAGEConv(32, 16), pyg.SAGEConv(32, 16), copy_sage, ()),
        ("SAGEConv (max)", SAGEConv(32, 16, aggr="max"), pyg.SAGEConv(32, 16, aggr="max"), copy_sage, ()),
        ("GINConv (train_eps)", GINConv(mlp, train_eps=True), pyg.GINConv(mlp, train_eps=True), None, ()),
        ("RGCNConv (4 rel., 2 bases)", RGCNConv(32, 16, 4, num_bases=2), pyg.RGCNConv(32, 16, 4, num_bases=2),
         copy_rgcn, (et,)),
    ]
    print(f"device: {dev}")
    print("| layer | max abs diff, output | max abs diff, dL/dx |")
    print("|---|---|---|")
    for name, ours, theirs, copy, extra in cases:
        ours, theirs = ours.to(dev), theirs.to(dev)
        if copy is not None:
            with torch.no_grad():
                copy(ours, theirs)
        xa, xb = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
        a, b = ours(xa, ei, *extra), theirs(xb, ei, *extra)
        w = torch.randn(a.shape, generator=g).to(dev)
        (a * w).sum().backward()
        (b * w).sum().backward()
        print(f"| {name} | {(a - b).abs().max():.2e} | {(xa.grad - xb.grad).abs().max():.2e} |")


if __name__ == "__main__":
    main()
