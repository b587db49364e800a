"""Scatter aggregation == dense-adjacency reference (values and gradients); the book's worked
examples and exercises on message passing (§8.1.3, §8.3.2, Exercises 3, 8)."""

import pytest
import torch
from torch import nn

from tensorprism.functional.graph import (
    dense_aggregate,
    feature_dropout,
    node_linear,
    propagate_sparse,
    scatter,
    scatter_softmax,
)
from tensorprism.nn.graph import LSTMAggregation, MessagePassing
from tensorprism.tensor.graph import (
    adjacency_list_to_edge_index,
    dense_to_edge_features,
    dense_to_edge_index,
    edge_features_to_dense,
    to_dense_adj,
)

TRIANGLE = torch.tensor([[0.0, 1, 1], [1, 0, 1], [1, 1, 0]])


def graph_with_isolated(seed=0, n=9):
    g = torch.Generator().manual_seed(seed)
    a = (torch.rand(n, n, generator=g) < 0.35).float()
    a.fill_diagonal_(0)
    a[-1] = 0  # node n-1 receives nothing
    a = a * (torch.rand(n, n, generator=g) + 0.5)
    return a


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min", "std"])
def test_scatter_aggregation_equals_dense_reference_forward_and_backward(reduce):
    a = graph_with_isolated()
    if reduce != "sum":
        a = (a != 0).float()  # weights only enter the sum form
    ei, w = dense_to_edge_index(a)
    h1 = torch.randn(a.size(0), 4, dtype=torch.float64, requires_grad=True)
    h2 = h1.detach().clone().requires_grad_(True)
    fast = propagate_sparse(ei, w.double() if reduce == "sum" else None, h1, a.size(0), reduce)
    ref = dense_aggregate(a.double(), h2, reduce)
    torch.testing.assert_close(fast, ref)
    assert fast[-1].abs().max() < 1e-2  # isolated node: 0 (std: sqrt(eps))
    g = torch.randn_like(fast)
    (fast * g).sum().backward()
    (ref * g).sum().backward()
    torch.testing.assert_close(h1.grad, h2.grad)


def test_scatter_softmax_is_a_softmax_within_each_group():
    idx = torch.tensor([0, 0, 1, 1, 1, 3])
    src = torch.randn(6, 2) * 50  # large values: must stay finite (max subtracted)
    out = scatter_softmax(src, idx, 4)
    torch.testing.assert_close(scatter(out, idx, 4, "sum")[[0, 1, 3]], torch.ones(3, 2))
    torch.testing.assert_close(out[2:5], torch.softmax(src[2:5], 0))


def test_book_worked_example_sum_then_concat():
    """Book lines 18162-18186: m1=(5,4), m2=(4,3), m3=(3,5); [h1 || m1] = (1,2,5,4)."""
    h = torch.tensor([[1.0, 2], [2, 3], [3, 1]])
    m = dense_aggregate(TRIANGLE, h, "sum")
    assert m.tolist() == [[5, 4], [4, 3], [3, 5]]
    ei, _ = dense_to_edge_index(TRIANGLE)
    assert MessagePassing("sum").propagate(ei, x=h).tolist() == m.tolist()
    assert torch.relu(torch.cat([h, m], 1))[0].tolist() == [1, 2, 5, 4]


def test_exercise_3_sage_mean_aggregation_on_adjacency_list():
    ei, n = adjacency_list_to_edge_index({1: [2, 3], 2: [1, 3, 4], 3: [1, 2], 4: [2]}, one_based=True)
    x = torch.tensor([[1.0, 0], [0, 1], [1, 1], [0, 0]])
    m = MessagePassing("mean").propagate(ei, x=x)
    torch.testing.assert_close(m, torch.tensor([[0.5, 1], [2 / 3, 1 / 3], [0.5, 0.5], [0, 1]]))


class Exercise8(MessagePassing):
    """m_ij = ReLU(W_m x_j); h'_i = ReLU(W_u (x_i + Σ_j m_ij)), W_u = W_m (book lines 20300-20313)."""

    def __init__(self, w):
        super().__init__("sum")
        self.w = w

    def message(self, x_j):
        return torch.relu(x_j @ self.w.t())

    def update(self, aggr_out, x):
        return torch.relu((x + aggr_out) @ self.w.t())

    def forward(self, x, edge_index):
        return self.propagate(edge_index, x=x)


def test_exercise_8_custom_message_and_update():
    ei, _ = dense_to_edge_index(TRIANGLE)
    x = torch.tensor([[1.0, 0], [0, 1], [1, 1]])
    out = Exercise8(torch.tensor([[0.2, 0.3], [0.4, 0.5]]))(x, ei)
    torch.testing.assert_close(out, torch.tensor([[0.78, 1.42], [0.83, 1.43], [0.87, 1.55]]))


def test_message_gets_target_and_source_features_and_edge_inputs():
    class Diff(MessagePassing):
        def message(self, x_i, x_j, edge_attr):
            return (x_j - x_i) * edge_attr

    ei = torch.tensor([[0, 1], [1, 2]])
    x = torch.tensor([[1.0], [3.0], [7.0]])
    out = Diff("sum").propagate(ei, x=x, edge_attr=torch.tensor([[2.0], [10.0]]))
    assert out.view(-1).tolist() == [0.0, -4.0, -40.0]


def test_lstm_aggregation_reads_neighbours_in_edge_order_and_zero_for_isolated():
    torch.manual_seed(0)
    agg = LSTMAggregation(3, 5)
    msg = torch.randn(4, 3)
    idx = torch.tensor([2, 0, 2, 0])
    out = agg(msg, idx, 3)
    assert out.shape == (3, 5) and out[1].abs().sum() == 0
    _, (h, _) = agg.lstm(msg[[0, 2]].unsqueeze(0))
    torch.testing.assert_close(out[2], h[-1, 0])


def test_edge_feature_layouts_round_trip():
    """Catalogue A11: (m, d') edge list ↔ (n, n, d') dense edge tensor of the MPNN listing."""
    ei, _ = dense_to_edge_index(TRIANGLE)
    e = torch.randn(ei.size(1), 2)
    dense = edge_features_to_dense(ei, e, 3)
    assert dense.shape == (3, 3, 2) and dense[0, 0].abs().sum() == 0
    torch.testing.assert_close(dense_to_edge_features(dense, ei), e)


def test_sparse_feature_dropout_and_linear_match_dense():
    x = torch.zeros(6, 5)
    x[[0, 2, 5], [1, 3, 4]] = torch.tensor([1.0, 2.0, 3.0])
    w = torch.randn(4, 5)
    xs = x.to_sparse_csr()
    torch.testing.assert_close(node_linear(xs, w), x @ w.t())
    torch.manual_seed(0)
    d = feature_dropout(xs, 0.5, True).to_dense()
    kept = d[x != 0]
    assert set(kept.tolist()) <= {0.0, 2.0, 4.0, 6.0} and d[x == 0].abs().sum() == 0
    assert feature_dropout(xs, 0.5, False) is xs


def test_dense_adjacency_helper_is_target_major():
    ei = torch.tensor([[0], [2]])  # 0 → 2: node 2 receives
    assert to_dense_adj(ei, 3)[2, 0] == 1 and to_dense_adj(ei, 3)[0, 2] == 0


def test_message_passing_rejects_unknown_aggregation():
    with pytest.raises(ValueError, match="aggr"):
        MessagePassing("median")
    assert isinstance(MessagePassing(nn.Identity()).aggr, nn.Module)


def test_attention_csr_products_equal_scatter_of_messages_forward_and_backward():
    from tensorprism.functional.graph import attention_aggregate, csr_structure
    from tensorprism.tensor.graph import sort_edge_index

    a = graph_with_isolated(seed=4, n=12)
    ei, _ = dense_to_edge_index(a)
    ei, _ = sort_edge_index(ei, None, 12, by="target")
    alpha = torch.rand(ei.size(1), 3, dtype=torch.float64, requires_grad=True)
    h = torch.randn(12, 3, 5, dtype=torch.float64, requires_grad=True)
    fast = attention_aggregate(alpha, h, csr_structure(ei, 12))
    ref = scatter(h[ei[0]] * alpha.unsqueeze(-1), ei[1], 12, "sum")
    torch.testing.assert_close(fast, ref)
    g = torch.randn_like(fast)
    ga, gh = torch.autograd.grad((fast * g).sum(), (alpha, h))
    ra, rh = torch.autograd.grad((ref * g).sum(), (alpha, h))
    torch.testing.assert_close(ga, ra)
    torch.testing.assert_close(gh, rh)
