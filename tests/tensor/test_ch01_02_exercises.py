"""Chapter 1–2 exercises with a definite answer (seed l.1229–1279, 2375–2497) and the book's errata
of §2.2 pinned by tests. Indices in the book are 1-based; tensors here are built with 1-based
values and indexed 0-based."""

import math

import pytest
import torch
import torch.nn.functional as F

from tensorprism.errors import ShapeError
from tensorprism.functional.conv import conv1d_reference, conv2d_reference
from tensorprism.tensor import (
    CPTensor,
    TTTensor,
    contract,
    cp_als,
    einsum,
    frobenius_norm,
    hadamard,
    kron,
    mode_dot,
    outer,
    relative_error,
    tt_svd,
    tucker_hosvd,
    unfold,
)
from tensorprism.tensor.geometry import (
    PointCloud,
    affine,
    check_rotation,
    classical_mds,
    divergence,
    pairwise_distances,
    pca,
    rotation_x,
)


def one_based(shape, fn, dtype=torch.float64):
    idx = torch.meshgrid(*[torch.arange(1, s + 1, dtype=dtype) for s in shape], indexing="ij")
    return fn(*idx)


# ---------------------------------------------------------------- Chapter 1


def test_ex1_1_sum_hadamard_and_abt():
    a = torch.tensor([[1.0, 2, 3], [4, 5, 6]])
    b = torch.tensor([[7.0, 8, 9], [10, 11, 12]])
    assert (a + b).tolist() == [[8, 10, 12], [14, 16, 18]]
    assert hadamard(a, b).tolist() == [[7, 16, 27], [40, 55, 72]]
    assert contract(a, b, ([1], [1])).tolist() == [[50, 68], [122, 167]]  # A B^T


def test_ex1_2_and_1_3_forward_pass_and_cross_entropy_gradients():
    """2-2-1 net, ReLU then sigmoid, no biases (as printed); y = 1 with binary cross-entropy."""
    x = torch.tensor([1.0, 2.0], dtype=torch.float64)
    w1 = torch.tensor([[0.5, -0.2], [0.8, 0.4]], dtype=torch.float64, requires_grad=True)
    w2 = torch.tensor([[0.3, -0.7]], dtype=torch.float64, requires_grad=True)
    y_hat = torch.sigmoid(w2 @ torch.relu(w1 @ x))
    assert y_hat.item() == pytest.approx(0.25162, abs=1e-5)
    F.binary_cross_entropy(y_hat, torch.ones(1, dtype=torch.float64)).backward()
    torch.testing.assert_close(w2.grad, torch.tensor([[-0.07484, -1.19741]], dtype=torch.float64), atol=1e-5, rtol=0)
    torch.testing.assert_close(w1.grad, torch.tensor([[-0.22451, -0.44903], [0.52387, 1.04773]], dtype=torch.float64),
                               atol=1e-5, rtol=0)


def test_ex1_4_and_1_5_reshape_keeps_elements_and_slicing_drops_modes():
    c = torch.randn(2, 3, 4)
    r = c.reshape(3, 4, 2)
    assert r.numel() == c.numel() == 24 and torch.equal(r.flatten(), c.flatten())
    d = torch.arange(64).reshape(4, 4, 4)
    # "first two dimensions fixed at indices 1 and 2": a mode-3 fibre with 4 entries
    assert d[1, 2, :].shape == (4,) and d[1, 2].tolist() == [24, 25, 26, 27]  # 0-based reading
    assert d[0, 1].tolist() == [4, 5, 6, 7]  # 1-based reading D(1, 2, :)


def test_ex1_6_contraction_and_frobenius_norm_erratum_e17():
    """l.1253 claims G ∈ R^{3×4×2}: contracting only k gives 3×4×4×2; j must be shared as well."""
    e = one_based((3, 4, 5), lambda i, j, k: i + j + k)
    f = one_based((4, 5, 2), lambda j, k, l: j * k * l)
    assert contract(e, f, ([2], [1])).shape == (3, 4, 4, 2)
    g = einsum("ijk,jkl->ijl", e, f)
    assert g.shape == (3, 4, 2)
    assert frobenius_norm(g).item() == pytest.approx(2887.646, abs=1e-3)


def test_ex1_7_kronecker_and_mode2_product_erratum_e18():
    """l.1261: R ×₂ Q of a 2×2×2 tensor is 2×2×2 (not 2×4×2); slices are R(:,:,k) = kP."""
    p = torch.tensor([[1.0, 2], [3, 4]])
    q = torch.tensor([[0.0, 5], [6, 7]])
    assert kron(p, q).tolist() == [[0, 5, 0, 10], [6, 7, 12, 14], [0, 15, 0, 20], [18, 21, 24, 28]]
    r = torch.stack([p, 2 * p], dim=2)
    s = mode_dot(r, q, 1)
    assert s.shape == (2, 2, 2)
    assert s[:, :, 0].tolist() == [[10, 20], [20, 46]] and torch.equal(s[:, :, 1], 2 * s[:, :, 0])  # k P Q^T


def test_ex1_8_mode1_unfolding_and_erratum_e19_eigen_of_gram():
    """T₍₁₎ is 2×4, so (b) is ill-posed: we test the SVD / eigenpairs of T₍₁₎T₍₁₎ᵀ instead."""
    t = one_based((2, 2, 2), lambda i, j, k: i + j - k)
    t1 = unfold(t, 0)
    assert t1.tolist() == [[1, 2, 0, 1], [2, 3, 1, 2]]
    vals = torch.linalg.eigvalsh(t1 @ t1.T)
    torch.testing.assert_close(vals, torch.tensor([12 - math.sqrt(136), 12 + math.sqrt(136)], dtype=torch.float64))
    torch.testing.assert_close(torch.linalg.svdvals(t1) ** 2, vals.flip(0))


def test_ex1_9_contraction_gradients_erratum_e20():
    """Y = X ×₂ W of a 2×2×2 tensor is 2×2×2 (not 2×2). With L = ½‖Y − Ŷ‖² (Ŷ not given; any
    target works): ∂L/∂W = (Y − Ŷ)₍₂₎ X₍₂₎ᵀ and ∂L/∂X = (Y − Ŷ) ×₂ Wᵀ."""
    x = one_based((2, 2, 2), lambda i, j, k: i + 2 * j + 3 * k).requires_grad_()
    w = torch.eye(2, dtype=torch.float64, requires_grad=True)
    target = torch.ones(2, 2, 2, dtype=torch.float64)
    y = mode_dot(x, w, 1)
    assert y.shape == (2, 2, 2) and torch.equal(y, x)
    (0.5 * ((y - target) ** 2).sum()).backward()
    resid = (y - target).detach()
    torch.testing.assert_close(w.grad, unfold(resid, 1) @ unfold(x.detach(), 1).T)
    torch.testing.assert_close(x.grad, mode_dot(resid, w.detach(), 1, transpose=True))


# ---------------------------------------------------------------- Chapter 2


def test_ex2_1_unfoldings_of_a_3x3x3_tensor():
    a = torch.arange(1, 28.0).reshape(3, 3, 3)
    for n in range(3):
        un = unfold(a, n)
        assert un.shape == (3, 9)
        # Kolda–Bader: column index j = i_p + 3 i_q (p < q the remaining modes, p fastest)
        p, q = [m for m in range(3) if m != n]
        for idx in [(0, 1, 2), (2, 0, 1), (1, 2, 2)]:
            assert un[idx[n], idx[p] + 3 * idx[q]] == a[idx]
    assert unfold(a, 0)[0].tolist() == [1, 4, 7, 2, 5, 8, 3, 6, 9]  # a[0, j, k] = 3j + k + 1, j fastest


def test_ex2_2_sum_outer_and_first_mode_contraction():
    b = torch.tensor([[1.0, 2], [3, 4]])
    c = torch.tensor([[5.0, 6], [7, 8]])
    assert (b + c).tolist() == [[6, 8], [10, 12]]
    o = outer(b, c)
    assert o.shape == (2, 2, 2, 2) and o[1, 0, 0, 1] == 3 * 6
    assert contract(b, c, ([0], [0])).tolist() == [[26, 30], [38, 44]]


def test_ex2_3_kronecker():
    d = torch.tensor([[0.0, 1], [2, 3]])
    e = torch.tensor([[4.0, 5], [6, 7]])
    assert kron(d, e).tolist() == [[0, 0, 4, 5], [0, 0, 6, 7], [8, 10, 12, 15], [12, 14, 18, 21]]


def test_ex2_4_rotation_about_z():
    r = torch.tensor([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]])
    check_rotation(r)
    assert (r @ torch.tensor([1.0, 0, 0])).tolist() == [0, 1, 0]


def test_ex2_5_gradient_and_row_divergence_of_the_tensor_field():
    """H(x, y) = [[x, y], [y, x]]: ∂H/∂x = I, ∂H/∂y = [[0,1],[1,0]]; row-wise divergence (2, 0)."""
    def h(p):
        return torch.stack([torch.stack([p[0], p[1]]), torch.stack([p[1], p[0]])])

    p = torch.tensor([0.3, -1.2])
    grad = torch.autograd.functional.jacobian(h, p)  # [a, b, i] = ∂H_ab / ∂x_i
    assert grad[..., 0].tolist() == [[1, 0], [0, 1]] and grad[..., 1].tolist() == [[0, 1], [1, 0]]
    assert divergence(h, p).tolist() == [2, 0]


def test_ex2_6_mesh_vertices_rotated_about_x():
    v = torch.tensor([[1.0, 0, 0, 1], [0, 1, 0, 1], [0, 0, 1, 1]])
    out = PointCloud(v, layout="3N").rotate(rotation_x(math.pi / 4)).as_layout("3N")
    s = math.sqrt(2) / 2
    torch.testing.assert_close(out, torch.tensor([[1, 0, 0, 1], [0, s, -s, 0], [0, s, s, 2 * s]]))
    torch.testing.assert_close(out, rotation_x(math.pi / 4) @ v)


def test_ex2_7_and_2_8_einstein_contractions():
    a = one_based((3, 3), lambda i, j: i + j)
    b = one_based((3, 3), lambda i, j: i * j)
    assert einsum("ij,ji->", a, b).item() == 168
    assert sum(a[i, j] * b[j, i] for i in range(3) for j in range(3)).item() == 168
    c = one_based((2, 2, 2, 2), lambda i, j, k, l: i + j + k + l)
    d = einsum("ijil->jl", c)  # contract dims 1 and 3 (trace over i = k)
    assert d.tolist() == [[10, 12], [12, 14]] and d.sum().item() == 48


def test_ex2_9_and_2_10_outer_hadamard_sqrt():
    u, v = torch.tensor([1.0, 2, 3]), torch.tensor([4.0, 5, 6])
    m = outer(u, v)
    assert m.tolist() == [[4, 5, 6], [8, 10, 12], [12, 15, 18]]
    assert all(m[i, j] == u[i] * v[j] for i in range(3) for j in range(3))
    z = hadamard(torch.tensor([[1.0, 3], [2, 4]]), torch.tensor([[2.0, 0], [1, 5]]))
    assert z.tolist() == [[2, 0], [2, 20]]
    torch.testing.assert_close(z.sqrt(), torch.tensor([[math.sqrt(2), 0], [math.sqrt(2), math.sqrt(20)]]))


def test_ex2_11_hosvd_of_the_delta_tensor():
    h = torch.zeros(2, 2, 2)
    h[0, 0, 0] = 1
    tk = tucker_hosvd(h, 2)
    expected_core = torch.zeros(2, 2, 2)
    expected_core[0, 0, 0] = 1
    torch.testing.assert_close(tk.core, expected_core)
    for f in tk.factors:
        torch.testing.assert_close(f.abs(), torch.eye(2))
    torch.testing.assert_close(tk.to_tensor(), h)


def test_ex2_12_convolution_and_its_input_gradient():
    """Cross-correlation (no flip, as in the book's l.997–1007): every output is −3."""
    img = torch.arange(1, 17.0).reshape(1, 1, 4, 4).requires_grad_()
    k = torch.tensor([[[[0.0, 1], [-1, 0]]]])
    y = conv2d_reference(img, k)
    assert y.squeeze().tolist() == [[-3] * 3] * 3
    torch.testing.assert_close(y, F.conv2d(img, k))
    y.sum().backward()  # ∂(Σ Y)/∂I
    assert img.grad.squeeze().tolist() == [[0, 1, 1, 1], [-1, 0, 0, 1], [-1, 0, 0, 1], [-1, -1, -1, 0]]


def test_ex2_13_temporal_convolution_then_relu():
    s = torch.arange(1, 16.0).reshape(5, 3) / 10
    f = torch.arange(1, 7.0).reshape(2, 3) / 10
    y = torch.relu(conv1d_reference(s.T[None], f.T[None]))  # (N=1, C=3, L=5), kernel (1, 3, 2)
    torch.testing.assert_close(y.squeeze(), torch.tensor([0.91, 1.54, 2.17, 2.80]))


def test_ex2_14_distances_and_mds_of_a_collinear_cloud():
    p = torch.tensor([[1.0, 2, 3, 4, 5], [5, 4, 3, 2, 1], [1, 3, 5, 7, 9]], dtype=torch.float64)
    d = pairwise_distances(p, layout="3N")
    assert d[0, 1].item() == pytest.approx(math.sqrt(6))
    coords, vals = classical_mds(d, 2)
    assert vals[0].item() == pytest.approx(60) and abs(vals[1].item()) < 1e-9
    sign = torch.sign(coords[-1, 0])  # an MDS axis is defined up to sign
    torch.testing.assert_close(sign * coords[:, 0], torch.tensor([-2, -1, 0, 1, 2], dtype=torch.float64) * math.sqrt(6))
    assert coords[:, 1].abs().max() < 1e-6


def test_ex2_15_multichannel_conv_read_as_chw_erratum_e21():
    """I(:,:,k) is printed for a 3×4×4 "3 channels" image: read the slices as I(k,:,:) (CHW)."""
    img = torch.arange(1, 49.0).reshape(1, 3, 4, 4)
    k = torch.tensor([[[0.0, 1], [-1, 0]], [[1, 0], [0, -1]], [[-1, 0], [0, 1]]])[None]
    assert conv2d_reference(img, k).squeeze().tolist() == [[-3] * 3] * 3


def test_ex2_16_rnn_unroll_with_tanh_and_no_bias_erratum_e22():
    """Activation, bias and output map are not given; with h_t = tanh(W_h h_{t-1} + W_x x_t) the
    manual unroll equals torch.nn.RNN (tanh, bias=False) with the same weights."""
    x = torch.arange(1, 25.0, dtype=torch.float64).reshape(6, 4) / 10
    wh = torch.arange(1, 17.0, dtype=torch.float64).reshape(4, 4) / 10
    wx = torch.arange(1, 17.0, dtype=torch.float64).reshape(4, 4) / 5
    h = torch.zeros(4, dtype=torch.float64)
    hs = []
    for t in range(6):
        h = torch.tanh(wh @ h + wx @ x[t])
        hs.append(h)
    rnn = torch.nn.RNN(4, 4, bias=False, batch_first=True).double()
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(wx)
        rnn.weight_hh_l0.copy_(wh)
    out, _ = rnn(x[None])
    torch.testing.assert_close(out[0], torch.stack(hs))
    h1 = torch.tanh(wx @ x[0])
    torch.testing.assert_close(hs[1], torch.tanh(wh @ h1 + wx @ x[1]))  # h_2 in the book's 1-based time


def test_ex2_17_rotate_cloud_then_centred_pca():
    """R is printed with 0.866 ≈ cos 30°: orthogonal only to 4.4e-5, so the strict check rejects it."""
    p = torch.tensor([[1.0, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1], [1, 3, 5, 7, 9, 11]], dtype=torch.float64)
    r = torch.tensor([[0.866, -0.5, 0], [0.5, 0.866, 0], [0, 0, 1]], dtype=torch.float64)
    with pytest.raises(ValueError, match="not orthogonal"):
        check_rotation(r)
    rp = PointCloud(p, "3N").rotate(r, check=False).as_layout("3N")
    torch.testing.assert_close(rp[:, 0], torch.tensor([-2.134, 5.696, 1.0], dtype=torch.float64))
    scores, comps, var = pca(rp.T, 3)
    assert var[1:].abs().max() < 1e-9  # collinear cloud: rank-1 covariance
    direction = r @ torch.tensor([1.0, -1.0, 2.0], dtype=torch.float64)
    torch.testing.assert_close(comps[:, 0].abs(), (direction / direction.norm()).abs())


# ---------------------------------------------------------------- errata of §2.2–2.3


def test_erratum_e4_three_way_contraction_example_l1426():
    """l.1426–1434: C_ijl = Σ_k A_ijk B_kl of a 2×2×2 tensor and a 2×2 matrix is 2×2×2 (the book
    says 2×2) and C(:,:,1) = A(:,:,1)·9 + A(:,:,2)·11 = [[64,84],[104,124]]; the printed
    [[31,63],[99,141]] mixes indices and is not even its own arithmetic (3·9 + 4·11 = 71)."""
    a = torch.stack([torch.tensor([[1.0, 2], [3, 4]]), torch.tensor([[5.0, 6], [7, 8]])], dim=2)  # A(:,:,k)
    b = torch.tensor([[9.0, 10], [11, 12]])
    c = contract(a, b, ([2], [0]))
    assert c.shape == (2, 2, 2)
    assert c[:, :, 0].tolist() == [[64, 84], [104, 124]] and c[:, :, 1].tolist() == [[70, 92], [114, 136]]
    assert c[:, :, 0].tolist() != [[31, 63], [99, 141]]


def test_erratum_e5_a_batch_of_colour_images_is_a_4d_tensor_l1293():
    """l.1293 calls (N, H, W, C) a "3D tensor"; it has order 4 (the tensor's order, not CP rank)."""
    batch = torch.zeros(8, 28, 28, 3)
    assert batch.dim() == 4 and unfold(batch, 3).shape == (3, 8 * 28 * 28)


def test_erratum_e6_rank1_cp_example_is_a_poor_fit_l1488():
    """l.1488–1498: a = (1, 2), b = c = (1, 1) reconstructs [[1,1],[2,2]] per slice, far from X."""
    x = torch.stack([torch.tensor([[1.0, 2], [3, 4]]), torch.tensor([[5.0, 6], [7, 8]])], dim=2)
    book = CPTensor(torch.ones(1), [torch.tensor([[1.0], [2]]), torch.ones(2, 1), torch.ones(2, 1)])
    assert book.to_tensor()[:, :, 0].tolist() == [[1, 1], [2, 2]]
    assert relative_error(x, book).item() == pytest.approx(0.728, abs=1e-3)
    fitted = cp_als(x, 1, n_iter_max=200, tol=1e-12)
    assert relative_error(x, fitted) < 0.1


def test_erratum_e7_inconsistent_tt_example_l1514():
    """The printed cores I₂, 1₂ₓ₂ and (1, 2)ᵀ do not chain (A⁽²⁾ must be 3-way); TT-SVD cores do."""
    with pytest.raises(ShapeError, match="3-way"):
        TTTensor([torch.eye(2)[None], torch.ones(2, 2), torch.tensor([[1.0], [2.0]])])
    x = torch.randn(2, 2, 2)
    tt = tt_svd(x, rank=2)
    assert tt.rank == (1, 2, 2, 1) and relative_error(x, tt) < 1e-5


def test_erratum_e12_pca_needs_centring_l2043():
    """C = XᵀX/N without centring makes the mean the 'first principal direction'."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(200, 2, generator=gen, dtype=torch.float64) * torch.tensor([1.0, 0.1], dtype=torch.float64)
    x = x + torch.tensor([0.0, 10.0], dtype=torch.float64)  # large offset along the low-variance axis
    uncentred = torch.linalg.eigh(x.T @ x / len(x))[1][:, -1]
    assert uncentred.abs()[1] > 0.99  # points at the mean, not the spread
    _, comps, _ = pca(x, 1)
    assert comps[:, 0].abs()[0] > 0.99


def test_erratum_e13_affine_maps_are_not_linear_l1530():
    a, b = torch.diag(torch.tensor([2.0, 3.0])), torch.ones(2)
    x, y = torch.tensor([[1.0, 2.0]]), torch.tensor([[-3.0, 0.5]])
    assert not torch.allclose(affine(x + y, a, b), affine(x, a, b) + affine(y, a, b))
    torch.testing.assert_close(affine(x + y, a), affine(x, a) + affine(y, a))  # linear when b = 0
