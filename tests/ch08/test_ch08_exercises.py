"""Chapter 8 exercises 4, 6, 7, 11, 12 and 15 (book §8.11, l.20265-20425) on the library's graph
layers. Expected values are written out by hand. Where the exercise leaves a choice open (the
catalogue's notes), the docstring says which reading is tested. Exercises 1, 3, 5, 8-10, 13 and 16
are in ``test_layers.py`` and ``test_message_passing.py``."""

import math

import pytest
import torch

from tensorprism.functional.regularization import l2_penalty
from tensorprism.nn.graph import GATConv, GCNConv, SAGEConv
from tensorprism.tensor.graph import dense_to_edge_index

CYCLE4 = torch.tensor([[0.0, 1, 0, 1], [1, 0, 1, 0], [0, 1, 0, 1], [1, 0, 1, 0]])
PATH3 = torch.tensor([[0.0, 1, 0], [1, 0, 1], [0, 1, 0]])
TRIANGLE = torch.tensor([[0.0, 1, 1], [1, 0, 1], [1, 1, 0]])
X12 = torch.arange(1.0, 13.0).reshape(4, 3)


def _gat(adj, x, w, att_dst, att_src):
    """One head, no LeakyReLU, softmax over N(i) without self-loops, no bias: the exercises' GAT."""
    ei, _ = dense_to_edge_index(adj)
    conv = GATConv(x.size(1), w.size(1), heads=1, negative_slope=None, self_loops=False, bias=False)
    with torch.no_grad():
        conv.lin.weight.copy_(w.t())
        conv.att_dst.copy_(att_dst.view(1, -1))
        conv.att_src.copy_(att_src.view(1, -1))
    return conv(x, ei)


def _hand_gat(adj, h, att_dst, att_src):
    out = []
    for i in range(len(adj)):
        nbrs = [j for j in range(len(adj)) if adj[i][j]]
        e = [sum(a * b for a, b in zip(att_dst, h[i], strict=True)) + sum(a * b for a, b in zip(att_src, h[j], strict=True))
             for j in nbrs]
        z = [math.exp(v - max(e)) for v in e]
        out.append([sum(zk / sum(z) * h[j][c] for zk, j in zip(z, nbrs, strict=True)) for c in range(len(h[0]))])
    return torch.tensor(out)


def test_exercise_6_gat_with_a_six_vector_and_identity_w_l20283():
    """4-cycle, X = [[1..12]], W = I, a = (0.1..0.6): e_ij = a[x_i || x_j]. Only a's second half
    separates the neighbours: a_src.x_j = 3.2, 7.7, 12.2, 16.7, so every node gives its higher-index
    neighbour weight sigmoid(9) = 0.99988."""
    a = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    out = _gat(CYCLE4, X12, torch.eye(3), a[:3], a[3:])
    torch.testing.assert_close(out, _hand_gat(CYCLE4.tolist(), X12.tolist(), a[:3].tolist(), a[3:].tolist()))
    s = 1 / (1 + math.exp(-9.0))
    torch.testing.assert_close(out[0], (1 - s) * X12[1] + s * X12[3])
    torch.testing.assert_close(out[1], (1 - s) * X12[0] + s * X12[2])


def test_exercise_7_sage_mean_aggregation_then_w_and_relu_l20294():
    """4-cycle, X of Exercise 5, W (3x2) of Exercise 5 (the exercise's pointer to Exercise 1 is wrong,
    erratum E15). Read literally, h_i = ReLU(mean_{j in N(i)} x_j W) without a self term
    (root_weight=False): neighbour means [7,8,9] / [4,5,6] give [7.6, 10.0] / [4.9, 6.4]."""
    w = torch.tensor([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]])
    conv = SAGEConv(3, 2, aggr="mean", root_weight=False, bias=False)
    with torch.no_grad():
        conv.lin_nbr.weight.copy_(w.t())
    out = torch.relu(conv(X12, dense_to_edge_index(CYCLE4)[0]))
    torch.testing.assert_close(out, torch.tensor([[7.6, 10.0], [4.9, 6.4], [7.6, 10.0], [4.9, 6.4]]))


def test_exercise_11_two_layer_gcn_on_the_path_graph_l20344():
    """Path graph, X = [[1,2],[3,4],[5,6]], W1 = [[.1,.3],[.2,.4]], W2 = [.5,.6]^T. Normalisation and
    activation are not specified: the library's default D̃^{-1/2}(A+I)D̃^{-1/2} (degrees 2, 3, 2) and
    ReLU between the layers (all values are positive, so ReLU changes nothing here)."""
    ei, _ = dense_to_edge_index(PATH3)
    x = torch.tensor([[1.0, 2], [3, 4], [5, 6]])
    l1, l2 = GCNConv(2, 2, bias=False), GCNConv(2, 1, bias=False)
    with torch.no_grad():
        l1.lin.weight.copy_(torch.tensor([[0.1, 0.3], [0.2, 0.4]]).t())
        l2.lin.weight.copy_(torch.tensor([[0.5], [0.6]]).t())
    h1 = torch.relu(l1(x, ei))
    h2 = l2(h1, ei)
    d = [2, 3, 2]
    a_hat = [[(PATH3[i][j] + (i == j)) / math.sqrt(d[i] * d[j]) for j in range(3)] for i in range(3)]
    xw = [[r[0] * 0.1 + r[1] * 0.2, r[0] * 0.3 + r[1] * 0.4] for r in x.tolist()]  # X W1
    want1 = [[sum(float(a_hat[i][j]) * xw[j][c] for j in range(3)) for c in range(2)] for i in range(3)]
    hw = [r[0] * 0.5 + r[1] * 0.6 for r in want1]
    want2 = [[sum(float(a_hat[i][j]) * hw[j] for j in range(3))] for i in range(3)]
    torch.testing.assert_close(h1, torch.tensor(want1))
    torch.testing.assert_close(h2, torch.tensor(want2))
    assert want1[0] == pytest.approx([0.5 * 0.5 + 1.1 / math.sqrt(6), 1.1 * 0.5 + 2.5 / math.sqrt(6)])


def test_exercise_12_aggregation_weighted_by_edge_features_l20364():
    """Triangle with E_ij = A_ij, X = [[1..9]], W (3x2). "Include E in the aggregation" read as
    h_i = sum_j E_ij x_j W (edge weights, no normalisation, no self-loop): [12.5, 16.4], [9.8, 12.8],
    [7.1, 9.2]."""
    ei, ew = dense_to_edge_index(TRIANGLE)
    conv = GCNConv(3, 2, normalization="none", self_loops=False, bias=False)
    with torch.no_grad():
        conv.lin.weight.copy_(torch.tensor([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]).t())
    x = torch.arange(1.0, 10.0).reshape(3, 3)
    out = conv(x, ei, ew)
    torch.testing.assert_close(out, torch.tensor([[12.5, 16.4], [9.8, 12.8], [7.1, 9.2]]))
    # an edge feature of 0.5 on one edge halves that neighbour's contribution
    ew2 = ew.clone()
    ew2[(ei[0] == 1) & (ei[1] == 0)] = 0.5
    torch.testing.assert_close(conv(x, ei, ew2)[0], out[0] - 0.5 * (x[1] @ conv.lin.weight.t()))


def test_exercise_15_positional_encodings_added_before_graph_attention_l20420():
    """X' = X + P, then GAT. W and a are not restated; the 4-node setting of Exercise 13 is used
    (4-cycle, X of Exercise 10, W = [[.2,.5],[.3,.4],[.6,.1]], a = (.1,.2,.3,.4))."""
    x = torch.tensor([[1.0, 0, 2], [0, 1, 3], [1, 1, 1], [2, 0, 0]])
    p = torch.tensor([[0.1, 0.2, 0.3], [0.2, 0.3, 0.1], [0.3, 0.1, 0.2], [0.1, 0.3, 0.2]])
    w = torch.tensor([[0.2, 0.5], [0.3, 0.4], [0.6, 0.1]])
    a = torch.tensor([0.1, 0.2, 0.3, 0.4])
    out = _gat(CYCLE4, x + p, w, a[:2], a[2:])
    h = [[sum(r[k] * w[k, c].item() for k in range(3)) for c in range(2)] for r in (x + p).tolist()]
    torch.testing.assert_close(out, _hand_gat(CYCLE4.tolist(), h, a[:2].tolist(), a[2:].tolist()))
    assert not torch.allclose(out, _gat(CYCLE4, x, w, a[:2], a[2:]))  # the encodings change the result


def test_exercise_4_l2_regularised_gcn_loss_and_its_effect_on_training_l20265():
    """Path graph, X = [[1,2],[2,3],[3,4]]. The exercise gives no W, labels or λ: one GCN layer to two
    classes with labels (0, 1, 1), λ = 0.1. (b) the regularised loss is CE + λ Σ ||W||², written out;
    (c) with the penalty, full-batch gradient descent ends with a smaller weight norm and a larger
    training loss than without it."""
    ei, _ = dense_to_edge_index(PATH3)
    x = torch.tensor([[1.0, 2], [2, 3], [3, 4]])
    y = torch.tensor([0, 1, 1])

    def train(lam):
        torch.manual_seed(0)
        conv = GCNConv(2, 2)
        opt = torch.optim.SGD(conv.parameters(), lr=0.1)
        for _ in range(60):
            opt.zero_grad()
            ce = torch.nn.functional.cross_entropy(conv(x, ei), y)
            loss = ce + l2_penalty([conv.lin.weight], lam)
            loss.backward()
            opt.step()
        return conv, float(ce.detach()), float(conv.lin.weight.detach().norm())

    torch.manual_seed(0)
    conv = GCNConv(2, 2)
    ce = torch.nn.functional.cross_entropy(conv(x, ei), y)
    reg = l2_penalty([conv.lin.weight], 0.1)
    assert float(reg.detach()) == pytest.approx(0.1 * float((conv.lin.weight.detach() ** 2).sum()))
    assert float((ce + reg).detach()) > float(ce.detach())
    _, ce_plain, norm_plain = train(0.0)
    _, ce_reg, norm_reg = train(0.1)
    assert norm_reg < norm_plain and ce_reg > ce_plain
