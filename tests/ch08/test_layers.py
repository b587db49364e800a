"""Layers: fast paths equal their dense references; the book's variants, exercises and errata."""

import pytest
import torch
from torch import nn

from tensorprism.functional.graph import dense_aggregate, dense_gat, dense_graph_conv
from tensorprism.nn.graph import (
    AttentionalReadout,
    ChebConv,
    DropEdge,
    GATConv,
    GCNConv,
    MPNNLayer,
    PairNorm,
    Readout,
    RGCNConv,
    SAGEConv,
    chebyshev_filter,
    drop_edge,
    global_pool,
)
from tensorprism.tensor.graph import (
    dense_to_edge_index,
    laplacian_dense,
    scaled_laplacian,
    to_dense_adj,
    to_undirected,
)

TRIANGLE = torch.tensor([[0.0, 1, 1], [1, 0, 1], [1, 1, 0]])
CYCLE4 = torch.tensor([[0.0, 1, 0, 1], [1, 0, 1, 0], [0, 1, 0, 1], [1, 0, 1, 0]])


def sym_graph(n=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    ei, _ = to_undirected(torch.randint(0, n, (2, 3 * n), generator=g), num_nodes=n)
    ei = ei[:, ei[0] != ei[1]]
    return ei, to_dense_adj(ei, n)


@pytest.mark.parametrize("norm", ["none", "row", "sym"])
@pytest.mark.parametrize("loops", [False, True])
@pytest.mark.parametrize("bias_before", [False, True])
def test_gcn_fast_path_equals_dense_reference(norm, loops, bias_before):
    ei, a = sym_graph()
    conv = GCNConv(6, 4, norm, loops, bias_before_aggregation=bias_before)
    nn.init.normal_(conv.bias)
    x = torch.randn(10, 6, requires_grad=True)
    x2 = x.detach().clone().requires_grad_(True)
    out = conv(x, ei)
    ref = dense_graph_conv(a, x2, conv.lin.weight, conv.bias, norm, loops, bias_before)
    torch.testing.assert_close(out, ref)
    out.sum().backward()
    ref.sum().backward()
    torch.testing.assert_close(x.grad, x2.grad)


def test_gcn_aggregate_first_order_used_when_widening_gives_same_result():
    ei, a = sym_graph()
    conv = GCNConv(3, 8)
    x = torch.randn(10, 3)
    torch.testing.assert_close(conv(x, ei), dense_graph_conv(a, x, conv.lin.weight, conv.bias))


def test_gcn_edge_weight_gradient_path_equals_cached_path():
    ei, _ = sym_graph()
    w = torch.rand(ei.size(1))
    conv = GCNConv(5, 3)
    x = torch.randn(10, 5)
    wg = w.clone().requires_grad_(True)
    torch.testing.assert_close(conv(x, ei, wg), conv(x, ei, w))
    conv(x, ei, wg).sum().backward()
    assert wg.grad is not None and wg.grad.abs().sum() > 0


def test_gcn_cache_is_invalidated_by_in_place_edit():
    ei, _ = sym_graph()
    conv = GCNConv(4, 2)
    x = torch.randn(10, 4)
    first = conv(x, ei)
    ei[1, 0] = (ei[1, 0] + 1) % 10  # edits the same tensor in place
    torch.testing.assert_close(conv(x, ei), GCNConv.forward(conv, x, ei.clone()))
    assert not torch.allclose(first, conv(x, ei))


@pytest.mark.parametrize("concat", [True, False])
@pytest.mark.parametrize("loops", [True, False])
def test_gat_equals_dense_all_pairs_reference(concat, loops):
    ei, a = sym_graph(seed=3)
    conv = GATConv(5, 4, heads=3, concat=concat, self_loops=loops)
    x = torch.randn(10, 5, requires_grad=True)
    x2 = x.detach().clone().requires_grad_(True)
    adj = a + torch.eye(10) if loops else a
    ref = dense_gat(adj, x2, conv.lin.weight, conv.att_src, conv.att_dst, 0.2, concat) + conv.bias
    out = conv(x, ei)
    torch.testing.assert_close(out, ref)
    out.pow(2).sum().backward()
    ref.pow(2).sum().backward()
    torch.testing.assert_close(x.grad, x2.grad)


def _exercise_gat(adj, x, w, a, edge_bias=False):
    ei, ew = dense_to_edge_index(adj)
    conv = GATConv(x.size(1), w.size(1), heads=1, negative_slope=None, self_loops=False,
                   edge_weight_bias=edge_bias, bias=False)
    with torch.no_grad():
        conv.lin.weight.copy_(w.t())
        conv.att_dst.copy_(a[:2].view(1, 2))  # a = [a_i ; a_j]: first half scores h_i
        conv.att_src.copy_(a[2:].view(1, 2))
    return conv(x, ei, ew if edge_bias else None)


def test_exercise_13_gat_without_leaky_relu():
    x = torch.tensor([[1.0, 0, 2], [0, 1, 3], [1, 1, 1], [2, 0, 0]])
    w = torch.tensor([[0.2, 0.5], [0.3, 0.4], [0.6, 0.1]])
    out = _exercise_gat(CYCLE4, x, w, torch.tensor([0.1, 0.2, 0.3, 0.4]))
    want = torch.tensor([[1.4137, 0.8211], [1.2478, 0.8522], [1.4137, 0.8211], [1.2478, 0.8522]])
    torch.testing.assert_close(out, want, atol=1e-4, rtol=0)


def test_exercise_16_edge_weight_biased_attention():
    a = torch.tensor([[0.0, 2, 1], [2, 0, 1], [1, 1, 0]])
    x = torch.tensor([[1.0, 2], [3, 4], [5, 6]])
    w = torch.tensor([[0.2, 0.3], [0.4, 0.5]])
    out = _exercise_gat(a, x, w, torch.tensor([0.1, 0.2, 0.3, 0.4]), edge_bias=True)
    want = torch.tensor([[2.8, 3.7], [2.7545, 3.6394], [1.8773, 2.4697]])
    torch.testing.assert_close(out, want, atol=1e-4, rtol=0)


def test_gat_attention_coefficients_sum_to_one_and_dropout_only_in_training():
    ei, _ = sym_graph()
    conv = GATConv(4, 3, heads=2, dropout=0.5)
    x = torch.randn(10, 4)
    conv.eval()
    out1, (e2, alpha) = conv(x, ei, return_attention=True)
    s = torch.zeros(10, 2).index_add_(0, e2[1], alpha)
    torch.testing.assert_close(s, torch.ones(10, 2))
    torch.testing.assert_close(out1, conv(x, ei))
    conv.train()
    assert not torch.allclose(conv(x, ei), out1)


def test_sage_mean_equals_book_concat_form():
    """h' = W [h_i || mean_j h_j] + b with W split into root/neighbour halves (book eq. 18491)."""
    ei, a = sym_graph()
    conv = SAGEConv(4, 3, aggr="mean")
    x = torch.randn(10, 4)
    w = torch.cat([conv.lin_root.weight, conv.lin_nbr.weight], 1)  # (3, 8)
    ref = torch.cat([x, dense_aggregate(a, x, "mean")], 1) @ w.t() + conv.lin_nbr.bias
    torch.testing.assert_close(conv(x, ei), ref)


@pytest.mark.parametrize("aggr", ["sum", "max", "pool", "lstm"])
def test_sage_aggregators_run_and_normalize(aggr):
    ei, _ = sym_graph()
    out = SAGEConv(4, 3, aggr=aggr, normalize=True)(torch.randn(10, 4), ei)
    nz = out.norm(dim=1) > 0
    torch.testing.assert_close(out.norm(dim=1)[nz], torch.ones(int(nz.sum())))


def test_rgcn_equals_per_relation_normalised_sum():
    ei, _ = sym_graph()
    et = torch.randint(0, 2, (ei.size(1),), generator=torch.Generator().manual_seed(2))
    conv = RGCNConv(4, 3, num_relations=2, num_bases=2)
    x = torch.randn(10, 4)
    ref = x @ conv.root + conv.bias
    for r, w in enumerate(conv.relation_weights()):
        ar = to_dense_adj(ei[:, et == r], 10)
        ref = ref + dense_aggregate(ar, x, "mean") @ w
    torch.testing.assert_close(conv(x, ei, et), ref)


def test_erratum_R1_rgcn_output_width_is_out_channels():
    """Book listing L9 (line 18694): zeros_like(node_features) made the output (N, F_in)."""
    cyc = torch.tensor([[0.0, 1, 0], [0, 0, 1], [1, 0, 0]])  # book's directed 3-cycle
    ei, _ = dense_to_edge_index(cyc)
    ei2 = torch.cat([ei, ei], 1)
    et = torch.cat([torch.zeros(3), torch.ones(3)]).long()
    out = RGCNConv(2, 4, num_relations=2)(torch.randn(3, 2), ei2, et)
    assert out.shape == (3, 4)


@pytest.mark.parametrize("message", ["edge_network", "concat"])
def test_erratum_M1_M4_mpnn_shapes_isolated_node_and_synchronous_update(message):
    """Book listing L8: Linear(2·in) got [h_i, h_j, e_ij] (M1), the GRU got the wrong width (M2),
    nodes were updated in place one after another (M3) and an isolated node crashed (M4)."""
    torch.manual_seed(0)
    adj = torch.zeros(4, 4)
    adj[:3, :3] = TRIANGLE  # node 3 is isolated
    ei, _ = dense_to_edge_index(adj)
    e_dense = torch.randn(4, 4, 1)
    e = e_dense[ei[1], ei[0]]
    layer = MPNNLayer(4, edge_dim=1, message=message)
    h = torch.randn(4, 4)
    out = layer(h, ei, e)
    assert out.shape == (4, 4)
    h_other = h.clone()
    h_other[:3] = torch.randn(3, 4)  # the isolated node must not see anyone else
    torch.testing.assert_close(layer(h_other, ei, e)[3], out[3])
    perm = torch.tensor([2, 0, 3, 1])
    inv = torch.argsort(perm)
    out_p = layer(h[perm], inv[ei], e)  # relabel nodes: output must permute the same way
    torch.testing.assert_close(out_p, out[perm])


def test_chebyshev_filter_equals_spectral_definition_exercise_9():
    path = torch.tensor([[0.0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=torch.float64)
    x = torch.tensor([[1.0, 2], [3, 4], [5, 6]], dtype=torch.float64)
    lam, u = torch.linalg.eigh(laplacian_dense(path))
    lt = 2 * laplacian_dense(path) / lam.max() - torch.eye(3, dtype=torch.float64)
    c = (0.5, 0.5, 0.25)
    lam_t = 2 * lam / lam.max() - 1
    spectral = u @ torch.diag(c[0] + c[1] * lam_t + c[2] * (2 * lam_t**2 - 1)) @ u.t() @ x
    torch.testing.assert_close(chebyshev_filter(lt, x, c), spectral)
    order1 = chebyshev_filter(lt, x, (0.5, 0.5))  # the exercise's order-1 filter
    torch.testing.assert_close(order1, 0.5 * x + 0.5 * lt @ x)


def test_chebconv_equals_dense_recurrence():
    ei, a = sym_graph()
    conv = ChebConv(4, 3, K=3)
    x = torch.randn(10, 4)
    e2, w2 = scaled_laplacian(ei, None, 10, "sym")
    lt = to_dense_adj(e2, 10, w2)
    t0, t1 = x, lt @ x
    t2 = 2 * lt @ t1 - t0
    ref = sum(lin(t) for lin, t in zip(conv.lins, (t0, t1, t2), strict=True)) + conv.bias
    torch.testing.assert_close(conv(x, ei), ref)


def test_readouts_per_graph_and_permutation_invariant():
    x = torch.randn(7, 3)
    batch = torch.tensor([0, 0, 0, 1, 1, 2, 2])
    torch.testing.assert_close(global_pool(x, batch, "sum")[1], x[3:5].sum(0))
    torch.testing.assert_close(global_pool(x, batch, "mean")[0], x[:3].mean(0))
    torch.testing.assert_close(global_pool(x, batch, "max")[2], x[5:].amax(0))
    att = Readout("attention", channels=3)
    perm = torch.tensor([2, 0, 1, 4, 3, 6, 5])
    torch.testing.assert_close(att(x, batch), att(x[perm], batch[perm]))
    gate = AttentionalReadout(nn.Linear(3, 1))
    one = gate(x[:3])
    assert one.shape == (1, 3)


def test_erratum_E17_drop_edge_symmetric_unscaled_keeps_self_loops():
    """Book line 18864: F.dropout(adj) rescales kept edges by 1/(1-p), drops self-loops and
    breaks symmetry. drop_edge drops undirected pairs whole and keeps weights and loops."""
    ei, _ = sym_graph(n=30)
    loops = torch.arange(30).repeat(2, 1)
    ei = torch.cat([ei, loops], 1)
    w = torch.rand(ei.size(1))
    torch.manual_seed(0)
    e2, w2 = drop_edge(ei, 0.5, w)
    kept = to_dense_adj(e2, 30)
    assert torch.equal(kept, kept.t())
    assert bool((kept.diagonal() == 1).all())
    assert set(w2.tolist()) <= set(w.tolist())
    assert 0 < e2.size(1) < ei.size(1)
    d = DropEdge(0.5).eval()
    assert d(ei)[0] is ei


def test_pairnorm_centres_and_rescales_each_graph():
    x = torch.randn(8, 4) * 5 + 3
    batch = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    out = PairNorm(scale=2.0)(x, batch)
    for g in (0, 1):
        o = out[batch == g]
        torch.testing.assert_close(o.mean(0), torch.zeros(4), atol=1e-5, rtol=0)
        torch.testing.assert_close(o.pow(2).sum(1).mean(), torch.tensor(4.0), atol=1e-3, rtol=0)


def test_layers_have_informative_repr_and_reset():
    for layer in (GCNConv(3, 2), GATConv(3, 2, heads=2), SAGEConv(3, 2), RGCNConv(3, 2, 2),
                  ChebConv(3, 2, K=2)):
        assert "3, 2" in repr(layer)
        layer.reset_parameters()


def test_gat_value_dropout_only_in_training_and_not_on_scores():
    ei, _ = sym_graph()
    x = torch.randn(10, 4)
    conv = GATConv(4, 3, heads=2, value_dropout=0.5)
    plain = GATConv(4, 3, heads=2)
    plain.load_state_dict(conv.state_dict())
    conv.eval(), plain.eval()
    torch.testing.assert_close(conv(x, ei), plain(x, ei))
    conv.train()
    _, (_, alpha) = conv(x, ei, return_attention=True)
    _, (_, alpha_plain) = plain(x, ei, return_attention=True)
    torch.testing.assert_close(alpha, alpha_plain)  # scores untouched (no attention dropout set)
    assert not torch.allclose(conv(x, ei), plain(x, ei))
