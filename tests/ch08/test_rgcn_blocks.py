"""R-GCN block-diagonal decomposition (Schlichtkrull et al. 2018, eq. 4):
``W_r = diag(Q_1r, ..., Q_Br)``, checked against a dense per-relation reference and PyG."""

import pytest
import torch

from tensorprism.errors import ConfigError
from tensorprism.models.gnn.node import RGCN, RGCNConfig
from tensorprism.nn.graph import RGCNConv
from tensorprism.tensor.graph import to_undirected

N, F_IN, F_OUT, R, B = 30, 12, 8, 4, 4  # relation 3 gets no edges: its W_r must not matter


def _graph(dtype=torch.float64):
    g = torch.Generator().manual_seed(0)
    ei, _ = to_undirected(torch.randint(0, N, (2, 120), generator=g), num_nodes=N)
    et = torch.randint(0, R - 1, (ei.size(1),), generator=g)
    x = torch.randn(N, F_IN, generator=g, dtype=dtype)
    return x, ei, et


def _dense_reference(conv, x, ei, et):
    r"""``x W_0 + b + \sum_r D_r^{-1} A_r x W_r`` with ``W_r = block_diag(Q_1r, ..., Q_Br)``."""
    out = x @ conv.root + conv.bias
    for r in range(conv.num_relations):
        w = torch.block_diag(*conv.weight[r])  # (F_in, F_out)
        a = torch.zeros(N, N, dtype=x.dtype)
        a.index_put_((ei[1, et == r], ei[0, et == r]), torch.ones(int((et == r).sum()), dtype=x.dtype),
                     accumulate=True)  # a[i, j] = number of r-edges j -> i
        c = a.sum(1, keepdim=True).clamp(min=1)  # c_{i,r} = |N_r(i)|
        out = out + (a / c) @ x @ w
    return out


def test_block_weights_shape_and_parameter_count():
    conv = RGCNConv(F_IN, F_OUT, R, num_blocks=B)
    assert conv.weight.shape == (R, B, F_IN // B, F_OUT // B)
    assert conv.weight.numel() == R * B * (F_IN // B) * (F_OUT // B) == R * F_IN * F_OUT // B
    assert conv.comp is None
    n_all = sum(p.numel() for p in conv.parameters())
    assert n_all == conv.weight.numel() + F_IN * F_OUT + F_OUT  # + root + bias
    assert "num_blocks=4" in repr(conv)


def test_relation_weights_are_block_diagonal():
    conv = RGCNConv(F_IN, F_OUT, R, num_blocks=B)
    w = conv.relation_weights()
    assert w.shape == (R, F_IN, F_OUT)
    for r in range(R):
        torch.testing.assert_close(w[r], torch.block_diag(*conv.weight[r]), rtol=0, atol=0)
    mask = torch.block_diag(*torch.ones(B, F_IN // B, F_OUT // B)).bool()
    assert bool((w[:, ~mask] == 0).all())


def test_blocks_equal_dense_reference_forward_and_gradients():
    x, ei, et = _graph()
    conv = RGCNConv(F_IN, F_OUT, R, num_blocks=B).double()
    with torch.no_grad():
        conv.bias.normal_()
    params = [conv.weight, conv.root, conv.bias]
    xa, xb = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    a, b = conv(xa, ei, et), _dense_reference(conv, xb, ei, et)
    torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    g = torch.randn_like(a)
    ga = torch.autograd.grad((a * g).sum(), [xa, *params])
    gb = torch.autograd.grad((b * g).sum(), [xb, *params])
    for u, v in zip(ga, gb, strict=True):
        torch.testing.assert_close(u, v, rtol=1e-12, atol=1e-12)
    assert bool((ga[1][R - 1] == 0).all())  # relation without edges gets no gradient
    assert bool((ga[1][0] != 0).any())


def test_blocks_gradcheck():
    x, ei, et = _graph()
    conv = RGCNConv(F_IN, F_OUT, R, num_blocks=2, aggr="sum").double()
    x = x.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x, w: torch.func.functional_call(
        conv, {"weight": w}, (x, ei, et)), (x, conv.weight.detach().clone().requires_grad_(True)))


@pytest.mark.parametrize("aggr", ["mean", "sum"])
def test_blocks_match_pyg_rgcnconv(aggr):
    pyg = pytest.importorskip("torch_geometric.nn")
    x, ei, et = _graph(torch.float32)
    ours = RGCNConv(F_IN, F_OUT, R, num_blocks=B, aggr=aggr)
    theirs = pyg.RGCNConv(F_IN, F_OUT, R, num_blocks=B, aggr={"sum": "add"}.get(aggr, aggr))
    assert theirs.weight.shape == ours.weight.shape  # PyG: (R, B, F_in/B, F_out/B), same layout
    with torch.no_grad():
        ours.bias.normal_()
        theirs.weight.copy_(ours.weight)
        theirs.root.copy_(ours.root)
        theirs.bias.copy_(ours.bias)
    xa, xb = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    a, b = ours(xa, ei, et), theirs(xb, ei, et)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    g = torch.randn_like(a)
    (a * g).sum().backward()
    (b * g).sum().backward()
    torch.testing.assert_close(xa.grad, xb.grad, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours.weight.grad, theirs.weight.grad, atol=1e-5, rtol=1e-5)


def test_rgcn_model_passes_num_blocks_through():
    model = RGCN(RGCNConfig(in_channels=F_IN, hidden=8, num_classes=4, num_relations=R, num_blocks=4))
    assert model.conv1.weight.shape == (R, 4, 3, 2) and model.conv2.weight.shape == (R, 4, 2, 1)
    x, ei, et = _graph(torch.float32)
    assert model(x, ei, et).shape == (N, 4)


def test_bases_and_blocks_together_raise():
    with pytest.raises(ValueError, match="only one of them"):
        RGCNConv(F_IN, F_OUT, R, num_bases=2, num_blocks=2)


@pytest.mark.parametrize("fin, fout", [(10, 8), (12, 6)])
def test_blocks_must_divide_channels(fin, fout):
    with pytest.raises(ConfigError, match=r"must divide both channel counts.*Choose num_blocks from"):
        RGCNConv(fin, fout, R, num_blocks=4)


def test_blocks_must_be_positive():
    with pytest.raises(ValueError, match="positive integer"):
        RGCNConv(F_IN, F_OUT, R, num_blocks=0)


@pytest.mark.parametrize("kwargs, fan", [({}, (64, 32)), ({"num_bases": 2}, (64, 32)), ({"num_blocks": 4}, (16, 8))])
def test_relation_weights_start_with_glorot_variance_per_matrix(kwargs, fan):
    torch.manual_seed(0)
    conv = RGCNConv(64, 32, num_relations=6, **kwargs)
    expected = 2.0 / sum(fan)  # Var U(-b, b) = b²/3 with b = sqrt(6 / (fan_in + fan_out))
    assert conv.weight.var().item() == pytest.approx(expected, rel=0.1)
