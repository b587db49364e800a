"""CP-ALS, Tucker (HOSVD/HOOI) and TT-SVD: exact recovery, error bounds, batching, constraints."""

import math

import pytest
import torch

from tensorprism.errors import ShapeError
from tensorprism.tensor import (
    CPTensor,
    TTTensor,
    cp_als,
    explained_variance,
    relative_error,
    tt_svd,
    tucker_hooi,
    tucker_hosvd,
)
from tensorprism.tensor.algebra import khatri_rao, unfold
from tensorprism.tensor.decompositions import mttkrp


def low_rank_cp(shape, rank, gen, noise=0.0):
    factors = [torch.randn(s, rank, generator=gen, dtype=torch.float64) for s in shape]
    x = CPTensor(torch.ones(rank, dtype=torch.float64), factors).to_tensor()
    return x + noise * x.std() * torch.randn(x.shape, generator=gen, dtype=torch.float64)


def test_cp_als_recovers_an_exact_low_rank_tensor():
    gen = torch.Generator().manual_seed(1)
    x = low_rank_cp((9, 10, 11), 3, gen)
    cp = cp_als(x, 3, n_iter_max=500, tol=1e-12)
    assert relative_error(x, cp) < 1e-6
    # the error tracked from Gram matrices equals the error of the reconstruction
    assert cp.errors[-1] == pytest.approx(float(relative_error(x, cp)), abs=1e-6)
    for f in cp.factors:  # columns are normalised, scale lives in the weights
        torch.testing.assert_close(f.norm(dim=0), torch.ones(3, dtype=torch.float64))


def test_mttkrp_equals_unfolding_times_khatri_rao():
    x = torch.randn(1, 3, 4, 5, 6, dtype=torch.float64)
    fs = [torch.randn(1, s, 2, dtype=torch.float64) for s in (3, 4, 5, 6)]
    for n in range(4):
        others = [f[0] for m, f in enumerate(fs) if m != n]
        ref = unfold(x[0], n) @ khatri_rao(others)
        torch.testing.assert_close(mttkrp(x, fs, n)[0], ref)


def test_non_negative_cp_keeps_factors_non_negative_and_fits():
    gen = torch.Generator().manual_seed(2)
    factors = [torch.rand(s, 2, generator=gen, dtype=torch.float64) for s in (8, 9, 10)]
    x = CPTensor(torch.ones(2, dtype=torch.float64), factors).to_tensor()
    cp = cp_als(x, 2, non_negative=True, n_iter_max=300, tol=0)
    assert all(bool((f >= 0).all()) for f in cp.factors) and bool((cp.weights >= 0).all())
    assert relative_error(x, cp) < 0.02
    with pytest.raises(ValueError, match="negative"):
        cp_als(x - 1, 2, non_negative=True)


def test_hosvd_is_exact_at_full_multilinear_rank_and_hooi_improves_on_it():
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(6, 7, 8, generator=gen, dtype=torch.float64)
    full = tucker_hosvd(x, (6, 7, 8))
    assert relative_error(x, full) < 1e-12
    for f in full.factors:
        torch.testing.assert_close(f.T @ f, torch.eye(f.shape[1], dtype=torch.float64))
    y = low_rank_cp((12, 13, 14), 6, gen, noise=0.3)
    h0, h1 = tucker_hosvd(y, 3), tucker_hooi(y, 3, tol=1e-10)
    assert relative_error(y, h1) <= relative_error(y, h0) + 1e-12
    # with orthonormal factors the error follows from the core norm
    assert h1.errors[-1] == pytest.approx(float(relative_error(y, h1)), rel=1e-8)
    ev = explained_variance(y, h1)
    assert ev == pytest.approx(1 - float(relative_error(y, h1)) ** 2)


def test_tt_svd_rank_and_tolerance_modes():
    gen = torch.Generator().manual_seed(4)
    cores = [torch.randn(1, 4, 2, generator=gen), torch.randn(2, 5, 3, generator=gen),
             torch.randn(3, 6, 2, generator=gen), torch.randn(2, 7, 1, generator=gen)]
    x = TTTensor([c.double() for c in cores]).to_tensor()
    tt = tt_svd(x, tol=1e-10)
    assert tt.rank == (1, 2, 3, 2, 1) and relative_error(x, tt) < 1e-10
    assert tt_svd(x, rank=[1, 2, 2, 2, 1]).rank == (1, 2, 2, 2, 1)
    noisy = x + 0.05 * x.std() * torch.randn(x.shape, generator=gen, dtype=torch.float64)
    for tol in (0.3, 0.1, 0.03):
        assert relative_error(noisy, tt_svd(noisy, tol=tol)) <= tol  # Oseledets' bound
    with pytest.raises(ShapeError, match="inner ranks"):
        tt_svd(x, rank=[2, 2])


def test_batched_decompositions_equal_one_at_a_time():
    gen = torch.Generator().manual_seed(5)
    xb = torch.stack([low_rank_cp((6, 7, 8), 2, gen, noise=0.1) for _ in range(3)])
    for fit in (lambda t, b: tucker_hooi(t, 3, n_iter_max=5, tol=0, batch_dims=b), lambda t, b: tt_svd(t, rank=3, batch_dims=b),
                lambda t, b: cp_als(t, 2, n_iter_max=30, tol=0, batch_dims=b)):
        batched = relative_error(xb, fit(xb, 1), batch_dims=1)
        single = torch.stack([relative_error(xb[i], fit(xb[i], 0)) for i in range(3)])
        torch.testing.assert_close(batched, single, rtol=1e-6, atol=1e-9)


def test_decompositions_are_differentiable_through_reconstruction():
    x = torch.randn(4, 5, 6, dtype=torch.float64, requires_grad=True)
    loss = tucker_hosvd(x, 2).to_tensor().sum() + tt_svd(x, rank=2).to_tensor().sum()
    loss.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_bad_ranks_are_rejected_with_the_valid_range():
    x = torch.randn(3, 4, 5)
    with pytest.raises(ShapeError, match="between 1 and the mode size 3"):
        tucker_hosvd(x, 4)
    with pytest.raises(ShapeError, match="order >= 2"):
        cp_als(torch.randn(5), 1)


def test_cp_reconstruction_equals_the_sum_of_outer_products():
    w = torch.tensor([2.0, -1.0])
    a, b, c = torch.randn(3, 2), torch.randn(4, 2), torch.randn(5, 2)
    ref = sum(w[r] * torch.einsum("i,j,k->ijk", a[:, r], b[:, r], c[:, r]) for r in range(2))
    torch.testing.assert_close(CPTensor(w, [a, b, c]).to_tensor(), ref)
    assert math.isclose(float(relative_error(ref, CPTensor(w, [a, b, c]))), 0.0, abs_tol=1e-6)


def test_cp_als_survives_a_singular_normal_matrix():
    """Two identical initial columns make the Hadamard product of Gram matrices singular; ALS falls
    back to the pseudo-inverse instead of failing."""
    gen = torch.Generator().manual_seed(6)
    x = low_rank_cp((5, 6, 7), 2, gen)
    col = torch.randn(5, 1, dtype=torch.float64)
    init = CPTensor(torch.ones(2, dtype=torch.float64),
                    [torch.cat([col, col], 1), torch.ones(6, 2, dtype=torch.float64), torch.ones(7, 2, dtype=torch.float64)])
    cp = cp_als(x, 2, init=init, n_iter_max=50)
    assert torch.isfinite(relative_error(x, cp))
