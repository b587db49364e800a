"""CP-ALS and Tucker-HOOI: the small-tensor fast paths equal the general ones.

``cp_als`` holds unfolded copies for tensors up to ``_UNFOLD_COPY_MAX`` entries and normalises the
factors once at the end; ``tucker_hooi`` projects with a Kronecker product below
``_KRON_FLOPS_MAX`` and fixes signs once at the end. Setting the thresholds to 0 forces the
copy-free / sequential paths, which must give the same decomposition.
"""

import pytest
import torch

from tensorprism.tensor import CPTensor, cp_als, relative_error, tucker_hooi, tucker_hosvd
from tensorprism.tensor import decompositions as dec
from tensorprism.tensor.algebra import khatri_rao, unfold


def _noisy(shape, rank, seed=0):
    g = torch.Generator().manual_seed(seed)
    factors = [torch.randn(s, rank, generator=g, dtype=torch.float64) for s in shape]
    x = CPTensor(torch.ones(rank, dtype=torch.float64), factors).to_tensor()
    return x + 0.05 * x.std() * torch.randn(x.shape, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("shape", [(6, 7, 8), (4, 5, 3, 6)])
def test_cp_als_copy_free_path_equals_unfolded_copies(monkeypatch, shape):
    x = _noisy(shape, 3)
    fast = cp_als(x, 3, n_iter_max=30, tol=0)
    monkeypatch.setattr(dec, "_UNFOLD_COPY_MAX", 0)
    slow = cp_als(x, 3, n_iter_max=30, tol=0)
    torch.testing.assert_close(fast.weights, slow.weights)
    for a, b in zip(fast.factors, slow.factors, strict=True):
        torch.testing.assert_close(a, b)
    assert fast.errors == pytest.approx(slow.errors, abs=1e-12)


def test_cp_als_batched_copy_free_path_equals_one_at_a_time(monkeypatch):
    x = torch.stack([_noisy((5, 6, 7), 2, seed=s) for s in range(3)])
    monkeypatch.setattr(dec, "_UNFOLD_COPY_MAX", 0)
    batch = cp_als(x, 2, n_iter_max=20, tol=0, batch_dims=1)
    for i in range(3):
        one = cp_als(x[i], 2, n_iter_max=20, tol=0)
        torch.testing.assert_close(batch.weights[i], one.weights)


def test_cp_als_error_trace_is_the_reconstruction_error_and_factors_are_unit_norm():
    x = _noisy((7, 8, 9), 4)
    cp = cp_als(x, 4, n_iter_max=40, tol=0)
    assert cp.errors[-1] == pytest.approx(float(relative_error(x, cp)), abs=1e-9)
    for f in cp.factors:
        torch.testing.assert_close(f.norm(dim=0), torch.ones(4, dtype=torch.float64))
    # the error never increases under exact ALS (monotone fit)
    assert all(b <= a + 1e-12 for a, b in zip(cp.errors, cp.errors[1:], strict=False))


def test_transposed_mttkrp_equals_the_unfolding_times_khatri_rao():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 3, 4, 5, 6, generator=g, dtype=torch.float64)
    fs = [torch.randn(2, s, 3, generator=g, dtype=torch.float64) for s in (3, 4, 5, 6)]
    for n in range(4):
        others = [f for m, f in enumerate(fs) if m != n]
        want = unfold(x, n, "row_major", batch_dims=1) @ khatri_rao(others, "row_major")
        torch.testing.assert_close(dec._mttkrp_t(x, fs, n), want.mT)
        torch.testing.assert_close(dec.mttkrp(x, fs, n), want)


@pytest.mark.parametrize("shape,rank", [((6, 7, 8), (2, 3, 4)), ((4, 5, 3, 6), 2)])
def test_tucker_hooi_kron_path_equals_sequential_mode_products(monkeypatch, shape, rank):
    x = _noisy(shape, 3)
    fast = tucker_hooi(x, rank, n_iter_max=10, tol=0)
    monkeypatch.setattr(dec, "_KRON_FLOPS_MAX", 0)
    slow = tucker_hooi(x, rank, n_iter_max=10, tol=0)
    torch.testing.assert_close(fast.core, slow.core)
    for a, b in zip(fast.factors, slow.factors, strict=True):
        torch.testing.assert_close(a, b)


def test_tucker_hooi_signs_are_deterministic_and_the_core_matches_the_factors():
    x = _noisy((6, 7, 8), 3)
    tk = tucker_hooi(x, (3, 3, 3), n_iter_max=20, tol=0)
    for f in tk.factors:  # the largest-magnitude entry of every column is positive
        pivot = f.gather(0, f.abs().argmax(0, keepdim=True))
        assert bool((pivot > 0).all())
        torch.testing.assert_close(f.T @ f, torch.eye(3, dtype=torch.float64))
    # the core is the projection on the (sign-fixed) factors, and the error trace is the real error
    core = x
    for n, f in enumerate(tk.factors):
        core = torch.movedim(torch.tensordot(core, f, dims=([n], [0])), -1, n)
    torch.testing.assert_close(tk.core, core)
    assert tk.errors[-1] == pytest.approx(float(relative_error(x, tk)), abs=1e-9)
    # HOOI does not do worse than its HOSVD start
    assert float(relative_error(x, tk)) <= float(relative_error(x, tucker_hosvd(x, 3))) + 1e-12


def test_tucker_hooi_rejects_an_unknown_init():
    with pytest.raises(ValueError, match="unknown init"):
        tucker_hooi(torch.randn(3, 4, 5), 2, init="random")
