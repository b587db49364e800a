"""Behavioural errata of Chapters 1-2 not pinned elsewhere (catalogue ``book/ch01-02.md`` §5).

Each test names the catalogue entry and the book line, says what the book prints and checks what
the library does instead. E4-E7, E12, E13 are in ``test_ch01_02_exercises.py`` (with E17-E22 in
the exercise tests there), E24 in ``test_tensor_viz.py``.
"""

import pytest
import torch
import torch.nn.functional as F

from tensorprism.errors import ShapeError
from tensorprism.functional.attention import attention_reference
from tensorprism.functional.conv import conv2d_reference
from tensorprism.functional.losses import mse
from tensorprism.functional.pooling import avg_pool_reference, max_pool_reference, pool_output_size
from tensorprism.nn.mlp import MLP
from tensorprism.tensor.geometry import Mesh
from tensorprism.tensor.graph import gcn_propagation_matrix


def test_erratum_e9_conv_example_is_a_2x2_output_l1722():
    """E9 (l.1722, vs l.1007): the Ch. 2 3x3 example prints each row partial sum as a separate output
    column (four columns). A 3x3 kernel on a 4x4 input with stride 1 and no padding gives 2x2 outputs,
    all -6, as Ch. 1 states at l.1007."""
    image = torch.arange(1.0, 17.0).reshape(1, 1, 4, 4)
    kernel = torch.tensor([[1.0, 0.0, -1.0]] * 3).reshape(1, 1, 3, 3)
    y = conv2d_reference(image, kernel)
    assert y.shape == (1, 1, 2, 2)
    assert torch.equal(y[0, 0], torch.full((2, 2), -6.0))
    # the printed "(5*1 + 6*0 + 7*-1)" is a partial sum of the same (0, 0) window, not y[0, 1]
    assert (1 * 1 + 2 * 0 + 3 * -1) + (5 * 1 + 6 * 0 + 7 * -1) + (9 * 1 + 10 * 0 + 11 * -1) == float(y[0, 0, 0, 0])


def test_erratum_e10_e27_pooling_has_a_stride_defaulting_to_the_window_and_floors_l1660():
    """E10 (l.1660/1672/1726 vs 1666/1678) and E27 (l.1067/1071): the pooling formulas index
    X_{i+m-1, j+n-1} (stride 1) while the examples use stride 2, and the output size H/pH assumes
    divisibility. The library takes an explicit stride that defaults to the window (PyTorch/TF) and
    floors the output size."""
    x = torch.arange(25.0).reshape(1, 1, 5, 5)
    y = max_pool_reference(x, 2)  # stride defaults to the window: non-overlapping windows
    assert y.shape == (1, 1, 2, 2)  # floor(5 / 2), the last row and column are dropped
    assert torch.equal(y, F.max_pool2d(x, 2))
    assert torch.equal(y[0, 0], torch.tensor([[6.0, 8.0], [16.0, 18.0]]))
    # the book's formula as printed (stride 1) is a different operation, with a 4x4 output
    assert max_pool_reference(x, 2, stride=1).shape == (1, 1, 4, 4)
    assert pool_output_size(5, 2, 2) == 2 and pool_output_size(5, 2, 2, ceil_mode=True) == 3
    torch.testing.assert_close(avg_pool_reference(x, 2), F.avg_pool2d(x, 2))


def test_erratum_e11_gcn_propagation_adds_self_loops_so_isolated_nodes_are_finite_l1883():
    """E11 (l.1883): the book's D^{-1/2} A D^{-1/2} has no self-loops, so an isolated node has degree 0
    and the formula divides by zero. The library's GCN operator is D̂^{-1/2}(A+I)D̂^{-1/2}."""
    edge_index = torch.tensor([[0, 1], [1, 0]])  # node 2 is isolated
    a_hat = gcn_propagation_matrix(edge_index, num_nodes=3, layout="dense")
    assert torch.isfinite(a_hat).all()
    torch.testing.assert_close(a_hat[2], torch.tensor([0.0, 0.0, 1.0]))  # the isolated node keeps itself
    torch.testing.assert_close(a_hat[:2, :2], torch.full((2, 2), 0.5))
    # the printed formula, without A + I, is not finite on this graph
    a = torch.zeros(3, 3)
    a[0, 1] = a[1, 0] = 1.0
    d = a.sum(1).pow(-0.5)
    assert not torch.isfinite(d[:, None] * a * d[None, :]).all()


def test_erratum_e14_weights_are_stored_out_by_in_l608():
    """E14 (l.608-618 vs 636-644, 1310/1690/2272): the chapters mix W in R^{out x in} (Wx) and
    W in R^{in x out} (XW). The library stores every dense weight out x in and computes y = x W^T + b,
    as PyTorch does."""
    mlp = MLP(4, [3], 2)
    linears = [m for m in mlp.modules() if isinstance(m, torch.nn.Linear)]
    assert [tuple(m.weight.shape) for m in linears] == [(3, 4), (2, 3)]
    first = linears[0]
    x = torch.randn(5, 4)
    torch.testing.assert_close(first(x), x @ first.weight.T + first.bias)


def test_erratum_e15_mse_offers_half_sum_and_mean_l622():
    """E15 (l.622 vs 2317): MSE is ½·Σ in Ch. 1 and the 1/N mean in Ch. 2. Both are offered by name;
    the default is the mean (Keras/PyTorch), whose gradient is 2(ŷ-y)/N, while ½Σ has gradient ŷ-y."""
    pred = torch.tensor([1.0, 2.0, 4.0], requires_grad=True)
    target = torch.tensor([0.0, 2.0, 2.0])
    assert float(mse(pred.detach(), target)) == pytest.approx(5.0 / 3)
    assert float(mse(pred.detach(), target, reduction="half_sum")) == pytest.approx(2.5)
    (g,) = torch.autograd.grad(mse(pred, target, reduction="half_sum"), pred)
    torch.testing.assert_close(g, pred.detach() - target)
    (g,) = torch.autograd.grad(mse(pred, target), pred)
    torch.testing.assert_close(g, 2 * (pred.detach() - target) / 3)


def test_erratum_e28_mesh_faces_are_integer_and_zero_based_l1799():
    """E28 (l.1799): the faces are printed 1-based in a "real" tensor F in R^{M x 3}. The library keeps
    faces as 0-based integers; the book's faces are imported with Mesh.from_one_based, and passing them
    as they are is an error that says they look 1-based."""
    vertices = torch.randn(4, 3)
    book_faces = [[1, 2, 3], [2, 3, 4]]
    mesh = Mesh.from_one_based(vertices, book_faces)
    assert mesh.faces.dtype == torch.long
    assert mesh.faces.tolist() == [[0, 1, 2], [1, 2, 3]]
    with pytest.raises(ShapeError, match="1-based"):
        Mesh(vertices, torch.tensor(book_faces))


def test_erratum_e29_attention_weights_are_normalised_over_the_keys_l2234():
    """E29 (l.2234): α_ij is "between input i and output j" but normalised over the second index of
    e_ik. The library normalises each query's row over the keys: weights (..., L, S) sum to 1 over S."""
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 4, generator=g), torch.randn(2, 5, 4, generator=g), torch.randn(2, 5, 6, generator=g))
    out, w = attention_reference(q, k, v)
    assert w.shape == (2, 3, 5)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 3))
    assert not torch.allclose(w.sum(-2), torch.ones(2, 5))
    torch.testing.assert_close(out, w @ v)
