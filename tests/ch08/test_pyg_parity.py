"""Our layers equal PyTorch Geometric's with the same weights (≤ 1e-5), forward and backward."""

import pytest
import torch

pyg = pytest.importorskip("torch_geometric.nn")

from tensorprism.nn.graph import GATConv, GCNConv, GINConv, RGCNConv, SAGEConv  # noqa: E402
from tensorprism.tensor.graph import to_undirected  # noqa: E402

TOL = 1e-5


@pytest.fixture
def graph():
    g = torch.Generator().manual_seed(0)
    n = 40
    ei = torch.randint(0, n, (2, 160), generator=g)
    ei, _ = to_undirected(ei, num_nodes=n)
    x = torch.randn(n, 12, generator=g)
    return x, ei


def _check(ours, theirs, x, *args):
    xa = x.clone().requires_grad_(True)
    xb = x.clone().requires_grad_(True)
    a, b = ours(xa, *args), theirs(xb, *args)
    assert a.shape == b.shape
    torch.testing.assert_close(a, b, atol=TOL, rtol=TOL)
    g = torch.randn_like(a)
    (a * g).sum().backward()
    (b * g).sum().backward()
    torch.testing.assert_close(xa.grad, xb.grad, atol=TOL, rtol=TOL)


@pytest.mark.parametrize("weighted", [False, True])
def test_gcn_matches_pyg_gcnconv(graph, weighted):
    x, ei = graph
    w = torch.rand(ei.size(1)) if weighted else None
    ours, theirs = GCNConv(12, 7), pyg.GCNConv(12, 7)
    with torch.no_grad():
        theirs.lin.weight.copy_(ours.lin.weight)
        theirs.bias.copy_(torch.randn(7))
        ours.bias.copy_(theirs.bias)
    _check(ours, theirs, x, ei, w)


@pytest.mark.parametrize("concat", [True, False])
def test_gat_matches_pyg_gatconv(graph, concat):
    x, ei = graph
    ours, theirs = GATConv(12, 5, heads=3, concat=concat), pyg.GATConv(12, 5, heads=3, concat=concat)
    with torch.no_grad():
        theirs.lin.weight.copy_(ours.lin.weight)
        theirs.att_src.copy_(ours.att_src.unsqueeze(0))
        theirs.att_dst.copy_(ours.att_dst.unsqueeze(0))
        ours.bias.copy_(torch.randn_like(ours.bias))
        theirs.bias.copy_(ours.bias)
    _check(ours, theirs, x, ei)


@pytest.mark.parametrize("aggr", ["mean", "max", "sum", "lstm"])
def test_sage_matches_pyg_sageconv(graph, aggr):
    x, ei = graph
    if aggr == "lstm":
        # PyG's LSTMAggregation reads zero-padded neighbour lists up to the largest degree, ours
        # packs them (padding is not a neighbour); the two agree on a regular graph, sorted by target.
        n = x.size(0)
        i = torch.arange(n).repeat(4)
        j = (i + torch.tensor([1, -1, 3, -3]).repeat_interleave(n)) % n
        ei = torch.stack([j, i])[:, torch.argsort(i * n + j, stable=True)]
    ours, theirs = SAGEConv(12, 6, aggr=aggr), pyg.SAGEConv(12, 6, aggr=aggr)
    with torch.no_grad():
        theirs.lin_l.weight.copy_(ours.lin_nbr.weight)
        theirs.lin_l.bias.copy_(ours.lin_nbr.bias)
        theirs.lin_r.weight.copy_(ours.lin_root.weight)
        if aggr == "lstm":
            theirs.aggr_module.lstm.load_state_dict(ours.aggr.lstm.state_dict())
    _check(ours, theirs, x, ei)


def test_sage_pool_matches_pyg_projected_max(graph):
    x, ei = graph
    ours, theirs = SAGEConv(12, 6, aggr="pool"), pyg.SAGEConv(12, 6, aggr="max", project=True)
    with torch.no_grad():
        theirs.lin.load_state_dict(ours.pool.state_dict())
        theirs.lin_l.load_state_dict(ours.lin_nbr.state_dict())
        theirs.lin_r.weight.copy_(ours.lin_root.weight)
    _check(ours, theirs, x, ei)


@pytest.mark.parametrize("train_eps", [False, True])
def test_gin_matches_pyg_ginconv(graph, train_eps):
    x, ei = graph
    mlp = torch.nn.Sequential(torch.nn.Linear(12, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    ours = GINConv(mlp, eps=0.3, train_eps=train_eps)
    theirs = pyg.GINConv(mlp, eps=0.3, train_eps=train_eps)
    _check(ours, theirs, x, ei)


@pytest.mark.parametrize("num_bases", [None, 2])
def test_rgcn_matches_pyg_rgcnconv(graph, num_bases):
    x, ei = graph
    et = torch.randint(0, 3, (ei.size(1),), generator=torch.Generator().manual_seed(1))
    ours = RGCNConv(12, 5, num_relations=3, num_bases=num_bases)
    theirs = pyg.RGCNConv(12, 5, num_relations=3, num_bases=num_bases)
    with torch.no_grad():
        theirs.weight.copy_(ours.weight)
        if num_bases:
            theirs.comp.copy_(ours.comp)
        theirs.root.copy_(ours.root)
        ours.bias.copy_(torch.randn(5))
        theirs.bias.copy_(ours.bias)
    _check(ours, theirs, x, ei, et)
