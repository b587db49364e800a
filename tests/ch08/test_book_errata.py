"""The book's Chapter 8 listings reproduced by the library's configurable layers, and the
corrections of its errata (catalogue ``book/ch08.md`` §5), each citing the book line."""

import torch
import torch.nn.functional as F
from torch import nn

from tensorprism.functional.graph import laplacian_smoothness, link_reconstruction_loss
from tensorprism.graph import sample_neighbors
from tensorprism.nn.graph import GATConv, GCNConv
from tensorprism.tensor.graph import (
    dense_to_edge_index,
    laplacian_dense,
    normalize_adjacency_dense,
    to_dense_adj,
)

TRIANGLE = torch.tensor([[0.0, 1, 1], [1, 0, 1], [1, 1, 0]])
PATH5_LOOPS = torch.eye(5) + torch.diag(torch.ones(4), 1) + torch.diag(torch.ones(4), -1)  # 19028
X = torch.tensor([[1.0, 0.5], [0.8, 0.7], [0.9, 0.3]])  # book line 18305


def _conv_from_linear(lin: nn.Linear, **kw) -> GCNConv:
    conv = GCNConv(lin.in_features, lin.out_features, bias=lin.bias is not None, **kw)
    with torch.no_grad():
        conv.lin.weight.copy_(lin.weight)
        if lin.bias is not None:
            conv.bias.copy_(lin.bias)
    return conv


def test_book_gcn_layers_are_options_of_one_layer():
    """Catalogue table C: C1 (17928) Linear(A X); C3/C4 (18201, 18281) Linear(D⁻¹A X);
    C6 (18784) Linear(mm(adj, x)); C7 (19504) adj @ (X W), no bias; C8 (19610) adj @ Linear(X)."""
    torch.manual_seed(0)
    lin = nn.Linear(2, 4)
    ei, _ = dense_to_edge_index(TRIANGLE)
    c1 = lin(TRIANGLE @ X)
    torch.testing.assert_close(_conv_from_linear(lin, normalization="none", self_loops=False)(X, ei), c1)
    c3 = lin((TRIANGLE / TRIANGLE.sum(1, keepdim=True)) @ X)
    torch.testing.assert_close(_conv_from_linear(lin, normalization="row", self_loops=False)(X, ei), c3)
    x5 = torch.randn(5, 2)
    e5, _ = dense_to_edge_index(PATH5_LOOPS)  # the adjacency already holds the loops
    c6 = lin(torch.mm(PATH5_LOOPS, x5))
    torch.testing.assert_close(_conv_from_linear(lin, normalization="none", self_loops=False)(x5, e5), c6)
    w = torch.randn(2, 4)
    c7 = PATH5_LOOPS @ (x5 @ w)
    nobias = nn.Linear(2, 4, bias=False)
    with torch.no_grad():
        nobias.weight.copy_(w.t())
    got = _conv_from_linear(nobias, normalization="none", self_loops=False)(x5, e5)
    torch.testing.assert_close(got, c7)
    c8 = PATH5_LOOPS @ lin(x5)
    conv8 = _conv_from_linear(lin, normalization="none", self_loops=False, bias_before_aggregation=True)
    torch.testing.assert_close(conv8(x5, e5), c8)


def test_erratum_E18_bias_before_aggregation_is_scaled_by_row_sums():
    """Book lines 19610-19618: A(XWᵀ + b) adds b·rowsum(A), not b (eq. 18270)."""
    torch.manual_seed(0)
    lin = nn.Linear(2, 3)
    e5, _ = dense_to_edge_index(PATH5_LOOPS)
    x5 = torch.randn(5, 2)
    before = _conv_from_linear(lin, normalization="none", self_loops=False, bias_before_aggregation=True)
    after = _conv_from_linear(lin, normalization="none", self_loops=False)
    diff = before(x5, e5) - after(x5, e5)
    torch.testing.assert_close(diff, (PATH5_LOOPS.sum(1, keepdim=True) - 1) * lin.bias)


def test_erratum_E2_E3_gcn_uses_degrees_of_A_plus_I_symmetrically():
    """Book line 18262 states c_ij = sqrt(d_i d_j) with degrees of A, line 18272 uses D̃ of A+I,
    and the code (18208) row-normalises A without loops. The default layer is eq. 18272."""
    path = torch.tensor([[0.0, 1, 0], [1, 0, 1], [0, 1, 0]])
    ei, _ = dense_to_edge_index(path)
    conv = GCNConv(3, 3, bias=False)
    with torch.no_grad():
        conv.lin.weight.copy_(torch.eye(3))
    a_tilde = path + torch.eye(3)
    d = a_tilde.sum(1).rsqrt()
    want = d[:, None] * a_tilde * d[None, :]
    torch.testing.assert_close(conv(torch.eye(3), ei), want)
    assert not torch.allclose(want, normalize_adjacency_dense(path, "row", self_loops=False))


def test_erratum_E4_E5_gat_heads_concatenate_and_node_attends_to_itself():
    """Book line 18366 garbles the multi-head formula (‖_k σ(...) intended) and listing L6 gives a
    node no attention to itself (zero-diagonal A). Heads are concatenated side by side, and with
    self_loops=True an isolated node still receives its own transformed features."""
    torch.manual_seed(0)
    conv = GATConv(2, 3, heads=2, bias=False)
    ei = torch.tensor([[0, 1], [1, 0]])  # node 2 has no neighbours
    x = torch.randn(3, 2)
    out = conv(x, ei)
    assert out.shape == (3, 6)
    torch.testing.assert_close(out[2], conv.lin(x[2]))  # α_22 = 1: its own W h
    no_self = GATConv(2, 3, heads=2, bias=False, self_loops=False)
    no_self.load_state_dict(conv.state_dict())
    assert no_self(x, ei)[2].abs().sum() == 0


def test_erratum_E6_sage_sampling_is_random_not_first_k():
    """Book listing L7 (18524) takes neighbors[:5]; sampling must draw uniformly."""
    hub = torch.stack([torch.arange(1, 41), torch.zeros(40, dtype=torch.long)])  # 40 → node 0
    seen = set()
    for seed in range(5):
        s = sample_neighbors(hub, 41, 5, generator=torch.Generator().manual_seed(seed))
        assert s.size(1) == 5
        seen |= set(s[0].tolist())
    assert len(seen) > 10 and seen != set(range(1, 6))


def test_erratum_E7_reconstruction_loss_is_bounded_below():
    """Book eq. 18751 (Σ_E‖h_i−h_j‖² − Σ_∉E‖h_i−h_j‖²) → −∞ as embeddings grow; the BCE
    reconstruction loss stays ≥ 0."""
    torch.manual_seed(0)
    z = torch.randn(6, 4)
    pos = torch.tensor([[0, 1, 2], [1, 2, 3]])
    neg = torch.tensor([[0, 4, 5], [5, 1, 3]])

    def book(h):
        d = lambda p: (h[p[0]] - h[p[1]]).pow(2).sum()  # noqa: E731
        return d(pos) - d(neg)

    assert book(1000 * z) < 1000 * book(z) < 0 or book(1000 * z) < -1e5
    for scale in (1.0, 10.0, 1000.0):
        assert link_reconstruction_loss(scale * z, pos, neg) >= 0


def test_erratum_G2_smoothness_penalty_on_learned_embeddings_has_gradient():
    """Book listing L12 (18945-18952) penalises the input features and the constant adjacency:
    zero gradient. On embeddings it equals 2 tr(Hᵀ L H) and back-propagates."""
    ei, _ = dense_to_edge_index(TRIANGLE)
    h = torch.randn(3, 2, requires_grad=True)
    pen = laplacian_smoothness(h, ei)
    torch.testing.assert_close(pen, 2 * torch.trace(h.t() @ laplacian_dense(TRIANGLE) @ h))
    pen.backward()
    assert h.grad.abs().sum() > 0


def test_erratum_G1_nll_needs_log_probabilities():
    """Book listing L12 applies F.nll_loss to raw logits (unbounded below); cross-entropy on
    logits (what the tasks use) equals nll_loss on log_softmax."""
    logits = torch.tensor([[5.0, -3.0], [0.5, 8.0]])
    y = torch.tensor([0, 1])
    assert F.nll_loss(logits * 100, y) < F.nll_loss(logits, y) < 0  # the bug: no lower bound
    torch.testing.assert_close(F.cross_entropy(logits, y), F.nll_loss(F.log_softmax(logits, 1), y))


def test_erratum_E13_bipartite_gcn_shares_w_between_users_and_items():
    """Book eqs. 19205-19207: H_U' = R H_I W and H_I' = Rᵀ H_U W with one W. A GCN layer on the
    user–item graph [[0, R], [Rᵀ, 0]] computes exactly that (here without normalisation)."""
    torch.manual_seed(0)
    r = (torch.rand(4, 5) < 0.5).float()  # 4 users × 5 items (book line 19248)
    big = torch.zeros(9, 9)
    big[:4, 4:], big[4:, :4] = r, r.t()
    ei, _ = dense_to_edge_index(big)
    conv = GCNConv(3, 2, normalization="none", self_loops=False, bias=False)
    hu, hi = torch.randn(4, 3), torch.randn(5, 3)
    out = conv(torch.cat([hu, hi]), ei)
    w = conv.lin.weight.t()
    torch.testing.assert_close(out[:4], r @ hi @ w)
    torch.testing.assert_close(out[4:], r.t() @ hu @ w)


def test_erratum_E19_link_score_is_a_probability_after_sigmoid():
    """Book line 19121: ŷ_uv = h_uᵀ h_v is not a probability; the task reports σ(h_uᵀ h_v)."""
    from tensorprism.train.tasks.graph import LinkPredictionTask

    z = torch.tensor([[3.0, 0.0], [2.0, 0.0], [-2.0, 0.0]])
    s = LinkPredictionTask.score(z, torch.tensor([[0, 0], [1, 2]]))
    assert s.tolist() == [6.0, -6.0]
    p = s.sigmoid()
    assert bool(((p > 0) & (p < 1)).all())


def test_dense_adjacency_of_book_triangle_listing_l2():
    """Listing L2 (18065-18090): dense float32 A of the triangle and its edge list agree."""
    ei, w = dense_to_edge_index(TRIANGLE)
    assert ei.size(1) == 6 and to_dense_adj(ei, 3, w).dtype == torch.float32
