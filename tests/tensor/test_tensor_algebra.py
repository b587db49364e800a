"""Operations of §2.2 (contraction, products, unfoldings, mode-n products) and their error messages."""

import pytest
import torch

from tensorprism.errors import ShapeError
from tensorprism.tensor import (
    contract,
    einsum,
    fold,
    frobenius_norm,
    hadamard,
    inner,
    khatri_rao,
    kron,
    mode_dot,
    multi_mode_dot,
    outer,
    unfold,
)


def kolda_example():
    """Kolda & Bader (2009) §2.4: X in R^{3x4x2} with frontal slices holding 1..12 and 13..24."""
    return torch.arange(1, 25.0).reshape(2, 4, 3).permute(2, 1, 0)


def test_unfold_matches_kolda_bader_paper_example():
    x = kolda_example()
    assert torch.equal(x[:, :, 0], torch.tensor([[1.0, 4, 7, 10], [2, 5, 8, 11], [3, 6, 9, 12]]))
    assert torch.equal(unfold(x, 0), torch.arange(1, 25.0).reshape(8, 3).T)
    assert torch.equal(unfold(x, 1), torch.tensor(
        [[1.0, 2, 3, 13, 14, 15], [4, 5, 6, 16, 17, 18], [7, 8, 9, 19, 20, 21], [10, 11, 12, 22, 23, 24]]))
    assert torch.equal(unfold(x, 2), torch.arange(1, 25.0).reshape(2, 12))


@pytest.mark.parametrize("ordering", ["kolda", "row_major"])
@pytest.mark.parametrize("mode", [0, 1, 2, 3])
def test_fold_inverts_unfold(ordering, mode):
    x = torch.randn(2, 3, 4, 5)
    assert torch.equal(fold(unfold(x, mode, ordering), mode, x.shape, ordering), x)
    xb = torch.randn(6, 2, 3, 4, 5)
    ub = unfold(xb, mode, ordering, batch_dims=1)
    assert torch.equal(ub[4], unfold(xb[4], mode, ordering))
    assert torch.equal(fold(ub, mode, xb.shape, ordering, batch_dims=1), xb)


def test_cp_unfolding_identity_uses_reversed_khatri_rao():
    a, b, c = torch.randn(3, 2), torch.randn(4, 2), torch.randn(5, 2)
    x = torch.einsum("ir,jr,kr->ijk", a, b, c)
    torch.testing.assert_close(unfold(x, 0), a @ khatri_rao([a, b, c][1:]).T)  # A (C kr B)^T
    torch.testing.assert_close(unfold(x, 1), b @ khatri_rao([a, c]).T)
    torch.testing.assert_close(unfold(x, 0, "row_major"), a @ khatri_rao([b, c], "row_major").T)


def test_mode_dot_is_the_unfolded_matrix_product_and_backpropagates():
    x = torch.randn(3, 4, 5, requires_grad=True)
    u = torch.randn(6, 4, requires_grad=True)
    y = mode_dot(x, u, 1)
    assert y.shape == (3, 6, 5)
    torch.testing.assert_close(unfold(y, 1), u @ unfold(x, 1))
    ref = torch.einsum("ijk,aj->iak", x, u)
    gy = torch.randn_like(y)
    g1 = torch.autograd.grad(y, (x, u), gy)
    g2 = torch.autograd.grad(ref, (x, u), gy)
    for a, b in zip(g1, g2, strict=True):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(mode_dot(x, u.T, 1, transpose=True), y)
    assert mode_dot(x, torch.ones(4), 1).shape == (3, 5)


def test_batched_mode_dot_and_multi_mode_dot_skip():
    x = torch.randn(2, 3, 4, 5)
    us = torch.randn(2, 7, 4)
    y = mode_dot(x, us, 1, batch_dims=1)
    for b in range(2):
        torch.testing.assert_close(y[b], mode_dot(x[b], us[b], 1))
    mats = [torch.randn(2, 3), torch.randn(6, 4), torch.randn(1, 5)]
    full = mode_dot(mode_dot(mode_dot(x[0], mats[0], 0), mats[1], 1), mats[2], 2)
    torch.testing.assert_close(multi_mode_dot(x[0], mats), full)
    torch.testing.assert_close(multi_mode_dot(x[0], mats, skip=1), mode_dot(mode_dot(x[0], mats[0], 0), mats[2], 2))


def test_contract_matches_einsum_and_names_the_bad_axis():
    a, b = torch.randn(2, 3, 4), torch.randn(4, 5)
    torch.testing.assert_close(contract(a, b, ([2], [0])), torch.einsum("ijk,kl->ijl", a, b))
    torch.testing.assert_close(contract(a, b), contract(a, b, ([2], [0])))
    with pytest.raises(ShapeError, match="axis 1 of a has size 3 but axis 0 of b has size 4"):
        contract(a, b, ([1], [0]))
    with pytest.raises(ShapeError, match="same length"):
        contract(a, b, ([1, 2], [0]))


def test_products_and_norms():
    assert outer(torch.ones(2), torch.ones(3), torch.ones(4)).shape == (2, 3, 4)
    k = kron(torch.randn(2, 3), torch.randn(4, 5), torch.randn(1, 2))
    assert k.shape == (8, 30)
    a, b = torch.randn(3, 4), torch.randn(2, 2)
    torch.testing.assert_close(kron(a, b), torch.kron(a, b))
    x = torch.randn(3, 4, 5)
    torch.testing.assert_close(frobenius_norm(x), x.norm())
    torch.testing.assert_close(inner(x, x), x.norm() ** 2)
    with pytest.raises(ShapeError, match="equal shapes"):
        hadamard(torch.ones(2, 3), torch.ones(3))


def test_shape_errors_say_how_to_fix():
    x = torch.randn(3, 4, 5)
    with pytest.raises(ShapeError, match="transpose=True"):
        mode_dot(x, torch.randn(4, 6), 1)
    with pytest.raises(ShapeError, match="mode-1 is mode=0"):
        unfold(x, 3)
    with pytest.raises(ShapeError, match="cannot be folded"):
        fold(torch.randn(4, 16), 1, (3, 4, 5))
    with pytest.raises(ValueError, match="ordering"):
        unfold(x, 0, ordering="fortran")


def test_operations_run_on_the_tensor_device_and_dtype():
    x = torch.randn(3, 4, 5, dtype=torch.float64, device="meta")
    assert unfold(x, 1).device.type == "meta"
    assert mode_dot(x, torch.randn(2, 4, dtype=torch.float64, device="meta"), 1).dtype == torch.float64


def test_einsum_front_end_checks_index_sizes():
    a, b = torch.randn(2, 3), torch.randn(3, 4)
    torch.testing.assert_close(einsum("ij,jk->ik", a, b), a @ b)
    torch.testing.assert_close(einsum("...j,jk->...k", torch.randn(5, 2, 3), b).shape, torch.Size([5, 2, 4]))
    torch.testing.assert_close(einsum("ij,ij->ij", a, torch.ones(1, 3)), a)  # size 1 broadcasts
    with pytest.raises(ShapeError, match="index 'j' has size 3 in operand 0 .* but size 4 in operand 1"):
        einsum("ij,jk->ik", a, b.T)
    with pytest.raises(ShapeError, match="name 3"):
        einsum("ijk,jk->i", a, b)
    with pytest.raises(ShapeError, match="2 operand subscripts but 1"):
        einsum("ij,jk->ik", a)
