"""The reference (im2col + einsum) convolutions equal torch.nn.functional, forward and backward."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from tensorprism.errors import ConfigError, ShapeError
from tensorprism.functional import conv as C

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True)


@st.composite
def conv_case(draw, dims):
    groups = draw(st.sampled_from([1, 2, 3]))
    cin = groups * draw(st.integers(1, 2))
    cout = groups * draw(st.integers(1, 2))
    k = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    s = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    d = tuple(draw(st.integers(1, 2)) for _ in range(dims))
    p = tuple(draw(st.integers(0, 2)) for _ in range(dims))
    size = tuple(d[i] * (k[i] - 1) + 1 + draw(st.integers(0, 4)) for i in range(dims))
    bias = draw(st.booleans())
    return dict(groups=groups, cin=cin, cout=cout, k=k, s=s, d=d, p=p, size=size, bias=bias)


def _check_conv(case, dims):
    torch.manual_seed(1)
    x = torch.randn(2, case["cin"], *case["size"], dtype=torch.float64, requires_grad=True)
    w = torch.randn(case["cout"], case["cin"] // case["groups"], *case["k"], dtype=torch.float64, requires_grad=True)
    b = torch.randn(case["cout"], dtype=torch.float64, requires_grad=True)
    kw = dict(stride=case["s"], padding=case["p"], dilation=case["d"], groups=case["groups"])
    fused = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[dims]
    args = (x, w, b) if case["bias"] else (x, w)
    ref_out, out = C.convnd_reference(*args, **kw), fused(*args, **kw)
    assert ref_out.shape == out.shape == C.conv_output_shape(x.shape, case["cout"], case["k"], case["s"], case["p"], case["d"])
    torch.testing.assert_close(ref_out, out)
    cot = torch.randn_like(out)  # one upstream gradient for both paths
    g_ref = torch.autograd.grad(ref_out, args, cot)
    g_fast = torch.autograd.grad(out, args, cot)
    for a, bb in zip(g_ref, g_fast, strict=True):
        torch.testing.assert_close(a, bb)


@SETTINGS
@given(conv_case(1))
def test_conv1d_reference_matches_torch_forward_and_backward(case):
    _check_conv(case, 1)


@SETTINGS
@given(conv_case(2))
def test_conv2d_reference_matches_torch_forward_and_backward(case):
    _check_conv(case, 2)


@settings(max_examples=10, deadline=None, derandomize=True)
@given(conv_case(3))
def test_conv3d_reference_matches_torch_forward_and_backward(case):
    _check_conv(case, 3)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    size=st.integers(1, 9), k=st.integers(1, 4), s=st.integers(1, 3), d=st.integers(1, 2),
)
@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_same_padding_follows_tensorflow_ceil_rule(size, k, s, d):
    """'same' keeps ⌈H/s⌉ outputs (TF semantics, which the book's Keras listings use)."""
    pads = C.resolve_padding("same", (k,), (s,), (d,), (size,))
    assert C.conv_output_size(size, k, s, pads[0], d) == -(-size // s)
    if s == 1:  # equals PyTorch's own padding="same"
        x, w = torch.randn(1, 1, size), torch.randn(1, 1, k)
        torch.testing.assert_close(
            C.conv1d_reference(x, w, padding="same", dilation=d), F.conv1d(x, w, padding="same", dilation=d)
        )


@st.composite
def tconv_case(draw):
    groups = draw(st.sampled_from([1, 2]))
    k = tuple(draw(st.integers(1, 3)) for _ in range(2))
    s = tuple(draw(st.integers(1, 3)) for _ in range(2))
    d = tuple(draw(st.integers(1, 2)) for _ in range(2))
    p = tuple(draw(st.integers(0, 3)) for _ in range(2))
    op = tuple(draw(st.integers(0, max(s[i], d[i]) - 1)) for i in range(2))
    size = tuple(draw(st.integers(1, 4)) for _ in range(2))
    return dict(groups=groups, k=k, s=s, d=d, p=p, op=op, size=size)


@SETTINGS
@given(tconv_case())
def test_conv_transpose2d_reference_matches_torch_forward_and_backward(case):
    out_sizes = [C.conv_transpose_output_size(case["size"][i], case["k"][i], case["s"][i], case["p"][i], case["d"][i], case["op"][i]) for i in range(2)]
    if min(out_sizes) < 1:
        with pytest.raises(RuntimeError):
            F.conv_transpose2d(torch.randn(1, 2, *case["size"]), torch.randn(2, 1, *case["k"]), stride=case["s"], padding=case["p"], output_padding=case["op"], dilation=case["d"])
        return
    g = case["groups"]
    x = torch.randn(2, 2 * g, *case["size"], dtype=torch.float64, requires_grad=True)
    w = torch.randn(2 * g, 3, *case["k"], dtype=torch.float64, requires_grad=True)
    b = torch.randn(3 * g, dtype=torch.float64, requires_grad=True)
    kw = dict(stride=case["s"], padding=case["p"], output_padding=case["op"], groups=g, dilation=case["d"])
    ref = C.conv_transpose_nd_reference(x, w, b, **kw)
    fast = F.conv_transpose2d(x, w, b, **kw)
    assert list(ref.shape[2:]) == out_sizes
    torch.testing.assert_close(ref, fast)
    cot = torch.randn_like(fast)
    for a, bb in zip(torch.autograd.grad(ref, (x, w, b), cot), torch.autograd.grad(fast, (x, w, b), cot), strict=True):
        torch.testing.assert_close(a, bb)


def test_scatter_transposed_conv_equals_zero_insertion_form():
    x, w = torch.randn(2, 3, 4, 5, dtype=torch.float64), torch.randn(3, 2, 3, 2, dtype=torch.float64)
    torch.testing.assert_close(C.conv_transpose2d_scatter(x, w, 2), C.conv_transpose_nd_reference(x, w, stride=2))


def test_erratum_transposed_conv_worked_example_lines_5166_5170():
    """Book lines 5154–5170: the printed Y (flipped indices, last row zero) is wrong.

    The book's own formula on its zero-inserted U gives Y[0, :] = [a k00, a k01, a k02 + b k00, b k01] and
    Y[2, 2] = a k22 + b k20 + c k02 + d k00: the top-left 4×4 of the stride-2 scatter result.
    """
    a, b, c, d = 1.0, 10.0, 100.0, 1000.0
    k = torch.arange(9, dtype=torch.float64).reshape(3, 3) + 1  # k[m, n] = 3m + n + 1
    y = C.conv_transpose2d_scatter(torch.tensor([[[[a, b], [c, d]]]], dtype=torch.float64), k.view(1, 1, 3, 3), 2)[0, 0, :4, :4]
    K = k.tolist()
    assert y[0].tolist() == [a * K[0][0], a * K[0][1], a * K[0][2] + b * K[0][0], b * K[0][1]]
    assert y[2, 2].item() == a * K[2][2] + b * K[2][0] + c * K[0][2] + d * K[0][0]
    assert y[3].tolist() == [c * K[1][0], c * K[1][1], c * K[1][2] + d * K[1][0], d * K[1][1]]  # not zeros
    printed_y00 = a * K[2][2]
    assert y[0, 0].item() != printed_y00


def test_exercise7_transposed_conv_stride2_no_padding():
    """Book Exercise 7 (lines 9570–9578): C=[[1,2],[3,4]], D=[[1,0,1],[0,1,0],[1,0,1]], stride 2 → 5×5."""
    x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    k = torch.tensor([[[[1.0, 0, 1], [0, 1, 0], [1, 0, 1]]]])
    expected = [[1, 0, 3, 0, 2], [0, 1, 0, 2, 0], [4, 0, 10, 0, 6], [0, 3, 0, 4, 0], [3, 0, 7, 0, 4]]
    assert C.conv_transpose_nd_reference(x, k, stride=2)[0, 0].tolist() == expected


def test_exercise1_vertical_edge_kernel_valid_and_same():
    """Book Exercise 1 (lines 9527–9532): cross-correlation, not a flipped convolution (−6, not +6)."""
    img = torch.arange(1.0, 26.0).view(1, 1, 5, 5)
    k = torch.tensor([[1.0, 0, -1]] * 3).view(1, 1, 3, 3)
    assert C.conv2d_reference(img, k, padding="valid").flatten().tolist() == [-6.0] * 9
    same = C.conv2d_reference(img, k, padding="same")[0, 0].tolist()
    assert same[0] == [-9, -4, -4, -4, 13] and same[4] == [-39, -4, -4, -4, 43]


def test_exercise4_strides_and_exercise6_dilation():
    x = torch.arange(1.0, 17.0).view(1, 1, 4, 4)
    k = torch.tensor([[[[1.0, 0], [-1, 1]]]])
    assert C.conv2d_reference(x, k, stride=1)[0, 0].tolist() == [[2, 3, 4], [6, 7, 8], [10, 11, 12]]
    assert C.conv2d_reference(x, k, stride=2)[0, 0].tolist() == [[2, 4], [10, 12]]


def test_erratum_dilated_example_is_output_00_line_5142():
    """Book lines 5138–5144 call the 9-tap dilated sum 'output at (2,2)'; under the top-left-anchored
    formula (line 5134) it is O(0,0), the only valid output of a 3×3, d=2 kernel on 5×5."""
    x = torch.randn(1, 1, 5, 5)
    k = torch.randn(1, 1, 3, 3)
    out = C.conv2d_reference(x, k, dilation=2)
    assert out.shape == (1, 1, 1, 1)
    taps = x[0, 0, ::2, ::2]  # i00, i02, i04, i20, ..., i44
    torch.testing.assert_close(out[0, 0, 0, 0], (taps * k[0, 0]).sum())


def test_output_shape_calculator_book_examples():
    assert C.conv_output_shape((1, 1, 5, 5), 1, 3) == (1, 1, 3, 3)  # line 5103
    assert C.conv_output_shape((1, 1, 5, 5), 1, 3, stride=2) == (1, 1, 2, 2)  # line 5111
    assert C.conv_output_shape((1, 1, 5, 5), 1, 3, padding=1) == (1, 1, 5, 5)  # line 5128
    assert C.conv_output_shape((1, 3, 28, 28), 32, 3, padding="valid") == (1, 32, 26, 26)  # Ex. 2a
    assert C.conv_output_shape((1, 3, 28, 28), 32, 3, padding="same") == (1, 32, 28, 28)  # Ex. 2b
    assert C.conv_output_shape((1, 1, 2, 2), 1, 3, stride=2, transposed=True) == (1, 1, 5, 5)  # Ex. 7


def test_depthwise_separable_cost_ratio_and_macs():
    assert C.depthwise_separable_cost_ratio(64, 3) == pytest.approx(0.1267, abs=1e-4)
    std = C.conv_macs((112, 112), 32, 64, 3)
    sep = C.conv_macs((112, 112), 32, 64, 3, depthwise_separable=True)
    assert sep / std == pytest.approx(C.depthwise_separable_cost_ratio(64, 3))


def test_nhwc_kernel_layout_converter_matches_book_eq_5229():
    """O(i,j,f) = Σ I(i+m, j+n, c) K(m,n,c,f) in TF layout equals the NCHW reference after conversion."""
    img = torch.randn(1, 6, 7, 3)  # (N, H, W, C)
    k = torch.randn(3, 3, 3, 4)  # (kH, kW, C, F)
    o = torch.einsum("zijmnc,mncf->zijf", img.unfold(1, 3, 1).unfold(2, 3, 1).permute(0, 1, 2, 4, 5, 3), k)
    ref = C.conv2d_reference(C.nhwc_to_nchw(img), C.kernel_hwcf_to_fchw(k))
    torch.testing.assert_close(C.nchw_to_nhwc(ref), o)


def test_errors_say_what_was_expected():
    with pytest.raises(ShapeError, match="channels-last"):
        C.conv2d_reference(torch.randn(1, 8, 8, 3), torch.randn(4, 3, 3, 3))
    with pytest.raises(ConfigError, match="groups"):
        C.conv2d_reference(torch.randn(1, 3, 8, 8), torch.randn(4, 1, 3, 3), groups=2)
    with pytest.raises(ShapeError, match="too small"):
        C.conv_output_shape((1, 1, 2, 2), 1, 5)
    with pytest.raises(ConfigError, match="'valid', 'same'"):
        C.resolve_padding("full", (3,), (1,), (1,))


def test_flatten_order_book_d2_and_dense_weight_converter():
    """Book lines 5689–5707: row-major (H, W, C) flatten of [[[1,2,3],[4,5,6]],[[7,8,9],[10,11,12]]] is 1..12;
    PyTorch flattens (C, H, W), so Keras dense weights need their input axis reordered."""
    t = torch.arange(1.0, 13.0).view(1, 2, 2, 3)  # (N, H, W, C)
    assert t.flatten(1).tolist() == [list(range(1, 13))]
    w = torch.randn(10, 12)
    keras_out = t.flatten(1) @ w.T
    torch_out = C.nhwc_to_nchw(t).flatten(1) @ C.dense_weight_nhwc_to_nchw(w, 3, 2, 2).T
    torch.testing.assert_close(torch_out, keras_out)


def test_exercise8_two_filters_then_relu():
    """Book Exercise 8 (lines 9580–9590): F1 gives all −2, F2 all −3, ReLU zeroes both."""
    e = torch.arange(1.0, 17.0).view(1, 1, 4, 4)
    k = torch.tensor([[[[1.0, -1], [1, -1]]], [[[0.0, 1], [-1, 0]]]])
    out = C.conv2d_reference(e, k)
    assert out[0, 0].unique().tolist() == [-2.0] and out[0, 1].unique().tolist() == [-3.0]
    assert (torch.relu(out) == 0).all()
