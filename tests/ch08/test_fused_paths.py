"""Every graph layer on the MessagePassing base: its fused fast path (CSR products) equals the
generic message/aggregate reference path, forward and backward, and is really the one taken."""

import pytest
import torch
from torch import nn

from tensorprism.nn.graph import ChebConv, GATConv, GCNConv, GINConv, MessagePassing, RGCNConv
from tensorprism.nn.graph.message_passing import reference_path

N, F_IN, F_OUT, R = 12, 5, 4, 3


def graph(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    a = (torch.rand(N, N, generator=g) < 0.3) & ~torch.eye(N, dtype=torch.bool)
    a[5] = False  # node 5 receives nothing: empty rows must agree too
    ei = a.nonzero().t().flip(0)  # (2, E): row 0 sources, row 1 targets
    x = torch.randn(N, F_IN, generator=g)
    w = torch.rand(ei.size(1), generator=g) + 0.5
    et = torch.randint(0, R, (ei.size(1),), generator=g)
    return x, ei, w, et


LAYERS = {
    "gcn-sym": (lambda: GCNConv(F_IN, F_OUT), lambda x, ei, w, et: (x, ei)),
    "gcn-row-weighted": (lambda: GCNConv(F_IN, F_OUT, normalization="row"), lambda x, ei, w, et: (x, ei, w)),
    "gcn-aggregate-first": (lambda: GCNConv(F_IN, 2 * F_IN), lambda x, ei, w, et: (x, ei)),
    "cheb": (lambda: ChebConv(F_IN, F_OUT, K=3), lambda x, ei, w, et: (x, ei, w)),
    "gin": (lambda: GINConv(nn.Sequential(nn.Linear(F_IN, F_OUT), nn.ReLU(), nn.Linear(F_OUT, F_OUT)),
                            train_eps=True), lambda x, ei, w, et: (x, ei)),
    "gat": (lambda: GATConv(F_IN, F_OUT, heads=2), lambda x, ei, w, et: (x, ei)),
    "gat-mean-heads": (lambda: GATConv(F_IN, F_OUT, heads=3, concat=False), lambda x, ei, w, et: (x, ei)),
    "rgcn-mean": (lambda: RGCNConv(F_IN, F_OUT, R), lambda x, ei, w, et: (x, ei, et)),
    "rgcn-sum-bases": (lambda: RGCNConv(F_IN, F_OUT, R, num_bases=2, aggr="sum"),
                       lambda x, ei, w, et: (x, ei, et)),
    "rgcn-blocks": (lambda: RGCNConv(4, 6, R, num_blocks=2), lambda x, ei, w, et: (x[:, :4], ei, et)),
}


def run(layer: nn.Module, args) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Output and the gradients of a fixed scalar function of it w.r.t. the input and parameters."""
    x = args[0].clone().requires_grad_(True)
    layer.zero_grad()
    out = layer(x, *args[1:])
    (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
    return out.detach(), [x.grad, *(p.grad for p in layer.parameters())]


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_fused_path_equals_generic_path(name, monkeypatch):
    build, pick = LAYERS[name]
    torch.manual_seed(0)
    layer = build()
    args = pick(*graph())
    with reference_path(layer):
        assert not layer.use_fused
        ref_out, ref_grads = run(layer, args)
    assert layer.use_fused  # restored

    def generic_not_allowed(*a, **k):
        raise AssertionError("the fused path fell back to the generic one")

    monkeypatch.setattr(MessagePassing, "_message_inputs", generic_not_allowed)
    out, grads = run(layer, args)
    torch.testing.assert_close(out, ref_out, rtol=1e-5, atol=1e-6)
    for got, want in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("layer", [GCNConv(F_IN, F_OUT), ChebConv(F_IN, F_OUT, K=3)], ids=["gcn", "cheb"])
def test_edge_weights_that_need_gradients_take_the_reference_path_and_get_them(layer):
    x, ei, w, _ = graph(1)
    w = w.requires_grad_(True)
    layer(x, ei, w).sum().backward()
    assert w.grad is not None and w.grad.abs().sum() > 0


def test_the_fused_operator_is_rebuilt_when_the_graph_changes_in_place():
    x, ei, _, _ = graph(2)
    layer = GCNConv(F_IN, F_OUT)
    before = layer(x, ei)
    ei[:, 0] = torch.tensor([5, 0])  # a new edge 5 -> 0; same tensor, new version
    with reference_path(layer):
        want = layer(x, ei)
    torch.testing.assert_close(layer(x, ei), want)
    assert not torch.allclose(before, want)
