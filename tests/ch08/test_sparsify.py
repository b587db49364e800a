"""Graph sparsification (Ch. 8, D8): thresholding, per-node top-k pruning, spectral sparsification."""

import pytest
import torch

from tensorprism.errors import ConfigError, ShapeError
from tensorprism.graph.sparsify import (
    effective_resistance,
    spectral_sparsify,
    threshold_edges,
    top_k_edges,
)
from tensorprism.tensor.graph import laplacian_dense, to_dense_adj, to_undirected


def _random_graph(n=30, p=0.5, seed=0):
    g = torch.Generator().manual_seed(seed)
    i, j = torch.triu_indices(n, n, 1)
    keep = torch.rand(i.numel(), generator=g) < p
    ei = torch.stack([i[keep], j[keep]])
    w = torch.rand(ei.shape[1], generator=g, dtype=torch.float64) + 0.5
    return to_undirected(ei, w, n)


def test_threshold_keeps_heavy_edges_only():
    ei = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 0]])
    w = torch.tensor([0.1, -0.75, 0.5, 0.49])
    out, ow = threshold_edges(ei, w, 0.5)
    assert out.tolist() == [[1, 2], [2, 3]] and ow.tolist() == [-0.75, 0.5]


def test_top_k_keeps_the_k_heaviest_in_edges_per_node():
    ei = torch.tensor([[1, 2, 3, 0, 2, 0], [0, 0, 0, 1, 1, 2]])
    w = torch.tensor([0.2, 0.9, 0.5, 1.0, 0.1, 0.3])
    out, ow = top_k_edges(ei, w, 2)
    kept = {(int(s), int(t)) for s, t in out.T}
    assert kept == {(2, 0), (3, 0), (0, 1), (2, 1), (0, 2)}
    assert len(ow) == 5
    with pytest.raises(ConfigError, match="k >= 1"):
        top_k_edges(ei, w, 0)


def test_effective_resistance_known_values_and_fosters_theorem():
    path = to_undirected(torch.tensor([[0, 1], [1, 2]]), None, 3)[0]
    torch.testing.assert_close(effective_resistance(path), torch.ones(4, dtype=torch.float64))
    tri = to_undirected(torch.tensor([[0, 1, 2], [1, 2, 0]]), None, 3)[0]
    torch.testing.assert_close(effective_resistance(tri), torch.full((6,), 2 / 3, dtype=torch.float64))
    ei, w = _random_graph()
    r = effective_resistance(ei, w)
    once = ei[0] < ei[1]
    assert float((w[once] * r[once]).sum()) == pytest.approx(30 - 1)  # Foster: sum w_e R_e = n - 1


def test_spectral_sparsifier_keeps_fewer_edges_and_preserves_the_quadratic_form():
    ei, w = _random_graph()
    lap = laplacian_dense(to_dense_adj(ei, 30, w))
    out, ow = spectral_sparsify(ei, w, num_samples=600, generator=torch.Generator().manual_seed(1))
    assert out.shape[1] < ei.shape[1]
    sparse_lap = laplacian_dense(to_dense_adj(out, 30, ow))
    torch.testing.assert_close(sparse_lap, sparse_lap.T)
    x = torch.randn(30, 50, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    x = x - x.mean(0)  # the constant vector is in both kernels
    ratio = ((x * (sparse_lap @ x)).sum(0) / (x * (lap @ x)).sum(0))
    assert float(ratio.min()) > 0.7 and float(ratio.max()) < 1.3
    # unbiased: the average of many sparsifiers approaches L
    mean = torch.zeros_like(lap)
    for seed in range(40):
        e, sw = spectral_sparsify(ei, w, 200, generator=torch.Generator().manual_seed(seed))
        mean += laplacian_dense(to_dense_adj(e, 30, sw)) / 40
    assert float((mean - lap).abs().max() / lap.abs().max()) < 0.25


def test_spectral_sparsify_needs_an_undirected_graph():
    with pytest.raises(ConfigError, match="undirected"):
        spectral_sparsify(torch.tensor([[0, 1], [1, 2]]), None, 10)
    with pytest.raises(ShapeError, match=r"\(E,\)"):
        threshold_edges(torch.tensor([[0], [1]]), torch.ones(2), 0.5)
