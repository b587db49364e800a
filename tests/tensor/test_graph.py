"""Graph tensors: formats, degrees, self-loops, normalisations and Laplacians (book §8.2–8.3)."""

import networkx as nx
import pytest
import torch

from tensorprism.errors import ConfigError, ShapeError
from tensorprism.tensor import graph as G

TRIANGLE = torch.tensor([[0.0, 1, 1], [1, 0, 1], [1, 1, 0]])  # book line 17984
CYCLE4 = torch.tensor([[0.0, 1, 0, 1], [1, 0, 1, 0], [0, 1, 0, 1], [1, 0, 1, 0]])  # Exercises 1, 5, 10


def random_graph(n=12, e=30, seed=0, weighted=True):
    g = torch.Generator().manual_seed(seed)
    ei, _ = G.to_undirected(torch.randint(0, n, (2, e), generator=g), num_nodes=n)
    ei, _ = G.remove_self_loops(ei)
    w = torch.rand(ei.size(1), generator=g) + 0.1 if weighted else None
    if w is not None:  # symmetric weights
        a = G.to_dense_adj(ei, n, w)
        a = (a + a.t()) / 2
        ei, w = G.dense_to_edge_index(a)
    return ei, w, n


def test_triangle_adjacency_from_edge_list_matches_book():
    ei = torch.tensor([[0, 1, 0], [1, 2, 2]])
    ei, _ = G.to_undirected(ei)
    assert torch.equal(G.to_dense_adj(ei, 3), TRIANGLE)


def test_dense_coo_csr_round_trips():
    ei, w, n = random_graph()
    a = G.to_dense_adj(ei, n, w)
    ei2, w2 = G.dense_to_edge_index(a)
    torch.testing.assert_close(G.to_dense_adj(ei2, n, w2), a)
    rowptr, col, val = G.to_csr(ei, w, n)
    back = G.csr_to_edge_index(rowptr, col)
    torch.testing.assert_close(G.to_dense_adj(back, n, val), a)
    torch.testing.assert_close(G.to_sparse_adj(ei, w, n, "csr").to_dense(), a)
    torch.testing.assert_close(G.to_sparse_adj(ei, w, n, "coo").to_dense(), a)


def test_duplicate_edges_sum_in_dense_and_coalesce():
    ei = torch.tensor([[0, 0, 1], [1, 1, 0]])
    assert G.to_dense_adj(ei, 2)[1, 0] == 2
    out, w = G.coalesce(ei, torch.ones(3), 2)
    assert out.size(1) == 2 and sorted(w.tolist()) == [1.0, 2.0]


def test_adjacency_list_of_exercise_3_one_based():
    ei, n = G.adjacency_list_to_edge_index({1: [2, 3], 2: [1, 3, 4], 3: [1, 2], 4: [2]}, one_based=True)
    assert n == 4 and ei.size(1) == 8
    a = G.to_dense_adj(ei, n)
    assert torch.equal(a, a.t()) and a[1].tolist() == [1, 0, 1, 1]


def test_degree_matrix_of_triangle_is_2I():
    ei, _ = G.dense_to_edge_index(TRIANGLE)
    assert G.degree(ei[1], 3).tolist() == [2.0, 2.0, 2.0]


def test_self_loops_add_remove_and_remaining():
    ei = torch.tensor([[0, 1, 2], [1, 0, 2]])  # node 2 already has a loop
    full, _ = G.add_self_loops(ei, None, 3)
    assert full.size(1) == 6
    rem, w = G.add_remaining_self_loops(ei, torch.tensor([1.0, 1.0, 5.0]), 3)
    assert rem.size(1) == 5 and w[2] == 5.0  # existing loop keeps its weight
    no, _ = G.remove_self_loops(full)
    assert bool((no[0] != no[1]).all())


@pytest.mark.parametrize("norm", ["none", "row", "sym"])
@pytest.mark.parametrize("loops", [False, True])
def test_gcn_norm_sparse_equals_dense_reference(norm, loops):
    ei, w, n = random_graph()
    ref = G.normalize_adjacency_dense(G.to_dense_adj(ei, n, w), norm, loops)
    e2, w2 = G.gcn_norm(ei, w, n, norm, loops)
    torch.testing.assert_close(G.to_dense_adj(e2, n, w2), ref)
    torch.testing.assert_close(G.gcn_propagation_matrix(ei, n, w, norm, loops).to_dense(), ref)


def test_gcn_propagation_matrix_of_triangle_is_uniform_third():
    """Ã = A + I has degree 3 everywhere, so D̃^-1/2 Ã D̃^-1/2 = Ã / 3 (book eq. at line 18272)."""
    ei, _ = G.dense_to_edge_index(TRIANGLE)
    a = G.gcn_propagation_matrix(ei, 3, layout="dense")
    torch.testing.assert_close(a, torch.full((3, 3), 1 / 3))


def test_isolated_node_normalises_to_zero_not_nan():
    a = torch.zeros(3, 3)
    a[0, 1] = a[1, 0] = 1
    for norm in ("row", "sym"):
        out = G.normalize_adjacency_dense(a, norm, self_loops=False)
        assert torch.isfinite(out).all() and out[2].abs().sum() == 0


def test_laplacian_of_triangle_matches_book_and_spectrum():
    lap = G.laplacian_dense(TRIANGLE)
    assert lap.tolist() == [[2, -1, -1], [-1, 2, -1], [-1, -1, 2]]
    vals, _ = G.laplacian_eigh(TRIANGLE)
    torch.testing.assert_close(vals, torch.tensor([0.0, 3.0, 3.0]), atol=1e-5, rtol=0)


def test_exercise_9_path_laplacian_eigenvalues():
    path = torch.tensor([[0.0, 1, 0], [1, 0, 1], [0, 1, 0]])
    vals, vecs = G.laplacian_eigh(path)
    torch.testing.assert_close(vals, torch.tensor([0.0, 1.0, 3.0]), atol=1e-5, rtol=0)
    torch.testing.assert_close(G.laplacian_dense(path) @ vecs, vecs * vals, atol=1e-5, rtol=0)


def test_zero_eigenvalue_multiplicity_counts_components():
    a = torch.block_diag(TRIANGLE, CYCLE4, torch.tensor([[0.0, 1], [1, 0]]))
    vals, _ = G.laplacian_eigh(a)
    assert int((vals.abs() < 1e-5).sum()) == 3


@pytest.mark.parametrize("kind", ["combinatorial", "sym", "rw"])
def test_sparse_laplacians_equal_dense_and_networkx(kind):
    ei, w, n = random_graph()
    a = G.to_dense_adj(ei, n, w)
    ref = G.laplacian_dense(a, kind)
    e2, w2 = G.laplacian(ei, w, n, kind)
    torch.testing.assert_close(G.to_dense_adj(e2, n, w2), ref)
    g = nx.from_numpy_array(a.double().numpy())
    oracle = {"combinatorial": nx.laplacian_matrix, "sym": nx.normalized_laplacian_matrix}
    if kind in oracle:
        want = torch.tensor(oracle[kind](g, nodelist=range(n), weight="weight").toarray()).float()
        if kind == "sym":  # networkx leaves isolated nodes' diagonal at 0; ours is I − D^-1/2AD^-1/2
            want[a.sum(1) == 0, a.sum(1) == 0] = 1.0
        torch.testing.assert_close(ref, want, atol=1e-5, rtol=1e-5)


def test_random_walk_laplacian_rows_sum_to_zero():
    ei, w, n = random_graph()
    lap = G.laplacian_dense(G.to_dense_adj(ei, n, w), "rw")
    deg = G.to_dense_adj(ei, n, w).sum(1)
    torch.testing.assert_close(lap.sum(1)[deg > 0], torch.zeros(int((deg > 0).sum())), atol=1e-6, rtol=0)


def test_scaled_laplacian_spectrum_in_unit_interval():
    ei, w, n = random_graph(weighted=False)
    e2, w2 = G.scaled_laplacian(ei, None, n, "sym")
    vals = torch.linalg.eigvalsh(G.to_dense_adj(e2, n, w2))
    assert vals.min() >= -1 - 1e-5 and vals.max() <= 1 + 1e-5


def test_erratum_E1_incidence_sign_convention_source_positive():
    """Book lines 17999-18005: the text says +1 at the head, the example gives +1 to the source
    (e1 = 1→2: B11 = +1, B21 = -1). We follow the example and document it."""
    ei = torch.tensor([[0, 1, 0], [1, 2, 2]])  # e1=1→2, e2=2→3, e3=1→3
    b = G.incidence_matrix(ei, 3, directed=True)
    assert b.tolist() == [[1, 0, 1], [-1, 1, 0], [0, -1, -1]]
    torch.testing.assert_close(b @ b.t(), G.laplacian_dense(TRIANGLE))


def test_exercises_1_5_10_gcn_without_self_loops():
    """Book Exercises 1, 5, 10 (lines 20234-20342): Â = D^-1/2 A D^-1/2 on the 4-cycle, H = ÂXW."""
    a = G.normalize_adjacency_dense(CYCLE4, "sym", self_loops=False)
    torch.testing.assert_close(a, CYCLE4 / 2)
    x1 = torch.tensor([[1.0, 0], [0, 1], [1, 1], [0, 0]])
    h1 = torch.relu(a @ x1 @ torch.tensor([[0.2, 0.3], [0.4, 0.5]]))
    torch.testing.assert_close(h1, torch.tensor([[0.2, 0.25], [0.4, 0.55], [0.2, 0.25], [0.4, 0.55]]))
    x5 = torch.arange(1.0, 13).view(4, 3)
    w5 = torch.tensor([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]])
    h5 = a @ x5 @ w5
    torch.testing.assert_close(h5, torch.tensor([[7.6, 10.0], [4.9, 6.4], [7.6, 10.0], [4.9, 6.4]]))
    x10 = torch.tensor([[1.0, 0, 2], [0, 1, 3], [1, 1, 1], [2, 0, 0]])
    w10 = torch.tensor([[0.2, 0.5], [0.3, 0.4], [0.6, 0.1]])
    torch.testing.assert_close(a @ x10 @ w10, torch.tensor([[1.25, 0.85]]).expand(4, 2))


def test_bad_edge_index_shapes_raise_clear_errors():
    with pytest.raises(ShapeError, match=r"\(2, E\)"):
        G.to_dense_adj(torch.zeros(3, 2, dtype=torch.long))
    with pytest.raises(ShapeError, match="0-based"):
        G.to_dense_adj(torch.tensor([[0, 5], [1, 0]]), num_nodes=3)
    with pytest.raises(ConfigError, match="normalization"):
        G.gcn_norm(torch.tensor([[0], [1]]), normalization="left")


def test_is_undirected_and_to_undirected():
    ei = torch.tensor([[0, 1], [1, 2]])
    assert not G.is_undirected(ei)
    und, _ = G.to_undirected(ei)
    assert G.is_undirected(und) and und.size(1) == 4
