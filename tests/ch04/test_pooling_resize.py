"""Reference pooling / resizing / RoI ops against torch kernels and hand-derived values."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from tensorprism.functional import pooling as P
from tensorprism.functional.resize import interpolation_matrix, resize_reference

SETTINGS = settings(max_examples=30, deadline=None, derandomize=True)


@st.composite
def pool_case(draw):
    k = tuple(draw(st.integers(1, 3)) for _ in range(2))
    s = tuple(draw(st.integers(1, 3)) for _ in range(2))
    p = tuple(draw(st.integers(0, k[i] // 2)) for i in range(2))
    d = tuple(draw(st.integers(1, 2)) for _ in range(2))
    size = tuple(d[i] * (k[i] - 1) + 1 + draw(st.integers(0, 4)) for i in range(2))
    return k, s, p, d, size, draw(st.booleans())


@SETTINGS
@given(pool_case())
def test_max_pool_reference_matches_torch_forward_and_backward(case):
    k, s, p, d, size, ceil = case
    x = torch.randn(2, 3, *size, dtype=torch.float64, requires_grad=True)
    ref = P.max_pool_reference(x, k, s, p, d, ceil)
    fast = F.max_pool2d(x, k, s, p, d, ceil_mode=ceil)
    torch.testing.assert_close(ref, fast)
    cot = torch.randn_like(fast)
    torch.testing.assert_close(torch.autograd.grad(ref, x, cot)[0], torch.autograd.grad(fast, x, cot)[0])


@SETTINGS
@given(pool_case())
def test_avg_pool_reference_matches_torch(case):
    k, s, p, _, size, include = case
    x = torch.randn(2, 3, *size, dtype=torch.float64)
    torch.testing.assert_close(P.avg_pool_reference(x, k, s, p, include), F.avg_pool2d(x, k, s, p, count_include_pad=include))


def test_pooling_book_examples():
    x = torch.arange(1.0, 17.0).view(1, 1, 4, 4)
    assert P.max_pool_reference(x, 2)[0, 0].tolist() == [[6, 8], [14, 16]]  # Exercise 3
    assert P.avg_pool_reference(x, 2).shape == (1, 1, 2, 2)  # line 5531
    a = torch.randn(1, 96, 55, 55)
    assert P.max_pool_reference(a, 3, 2).shape == (1, 96, 27, 27)  # AlexNet overlapping pool, line 6239
    torch.testing.assert_close(P.global_avg_pool(a), F.adaptive_avg_pool2d(a, 1).flatten(1))
    torch.testing.assert_close(P.global_max_pool(a), F.adaptive_max_pool2d(a, 1).flatten(1))


@pytest.mark.parametrize("mode", ["avg", "max"])
@pytest.mark.parametrize("size,out", [((7, 9), (3, 4)), ((5, 5), (5, 5)), ((6, 4), (4, 3)), ((3, 3), (5, 2))])
def test_adaptive_pool_reference_matches_torch(mode, size, out):
    x = torch.randn(2, 3, *size)
    fast = (F.adaptive_avg_pool2d if mode == "avg" else F.adaptive_max_pool2d)(x, out)
    torch.testing.assert_close(P.adaptive_pool_reference(x, out, mode), fast)


@pytest.mark.parametrize("size,k,out", [((10, 9), 2, (6, 5)), ((7, 7), 3, (4, 4)), ((12, 12), 2, (8, 8))])
def test_fractional_max_pool_reference_matches_torch_with_same_samples(size, k, out):
    x = torch.randn(2, 3, *size, dtype=torch.float64)
    samples = torch.rand(2, 3, 2, dtype=torch.float64)
    fast = F.fractional_max_pool2d(x, k, output_size=out, _random_samples=samples)
    torch.testing.assert_close(P.fractional_max_pool2d_reference(x, k, out, samples), fast)


def test_roi_pool_equals_adaptive_max_pool_of_the_crop():
    x = torch.randn(2, 4, 16, 20)
    boxes = torch.tensor([[0, 2.0, 3.0, 13.0, 11.0], [1, 0.0, 0.0, 19.0, 15.0], [1, 5.0, 5.0, 6.0, 7.0]])
    out = P.roi_pool(x, boxes, (3, 4))
    for r, (b, x1, y1, x2, y2) in enumerate(boxes.long().tolist()):
        crop = x[b : b + 1, :, y1 : y2 + 1, x1 : x2 + 1]
        torch.testing.assert_close(out[r : r + 1], F.adaptive_max_pool2d(crop, (3, 4)))


def test_roi_align_identity_box_reads_pixel_centres():
    x = torch.randn(1, 2, 6, 8)
    out = P.roi_align(x, torch.tensor([[0, 0.0, 0.0, 8.0, 6.0]]), (6, 8), sampling_ratio=1, aligned=True)
    torch.testing.assert_close(out[0], x[0])


def test_roi_align_matches_grid_sample_inside_the_map_and_is_differentiable():
    x = torch.randn(1, 3, 12, 12, dtype=torch.float64, requires_grad=True)
    x1, y1, x2, y2 = 2.3, 3.1, 9.7, 8.2
    out = P.roi_align(x, torch.tensor([[0, x1, y1, x2, y2]], dtype=torch.float64), (2, 3), sampling_ratio=2, aligned=True)
    # the same 4x6 sample points through F.grid_sample (align_corners=False: pixel i has centre i + 0.5)
    ys = y1 + (torch.arange(4, dtype=torch.float64) + 0.5) * (y2 - y1) / 4
    xs = x1 + (torch.arange(6, dtype=torch.float64) + 0.5) * (x2 - x1) / 6
    gy, gx = torch.meshgrid(ys / 12 * 2 - 1, xs / 12 * 2 - 1, indexing="ij")
    samples = F.grid_sample(x, torch.stack([gx, gy], -1)[None], align_corners=False)
    expected = samples.view(1, 3, 2, 2, 3, 2).mean(dim=(3, 5))
    torch.testing.assert_close(out, expected)
    out.sum().backward()
    assert x.grad.abs().sum() > 0


@pytest.mark.parametrize("align", [True, False])
@pytest.mark.parametrize("out", [(3, 3), (8, 5), (1, 1), (4, 4)])
def test_bilinear_resize_matches_interpolate_both_alignments(align, out):
    x = torch.randn(2, 3, 4, 4, dtype=torch.float64)
    ref = resize_reference(x, out, "bilinear", align)
    torch.testing.assert_close(ref, F.interpolate(x, size=out, mode="bilinear", align_corners=align))


@pytest.mark.parametrize("out", [(8, 8), (3, 5), (4, 4)])
def test_nearest_resize_matches_interpolate(out):
    x = torch.randn(1, 2, 4, 6)
    torch.testing.assert_close(resize_reference(x, out, "nearest"), F.interpolate(x, size=out, mode="nearest"))


def test_interpolation_rows_sum_to_one():
    for ac in (True, False):
        A = interpolation_matrix(7, 3, "bilinear", ac, torch.float64)
        torch.testing.assert_close(A.sum(1), torch.ones(3, dtype=torch.float64))
