"""Factorised layers: fast chain of contractions == dense reference weight (forward and backward),
exactness at full rank, initial variance, and compress() on a trained-like model."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tensorprism.compress import (
    CPConv2d,
    CPLinear,
    TTConv2d,
    TTLinear,
    TuckerConv2d,
    TuckerLinear,
    balanced_factors,
    compress,
    parameter_ratio,
    rank_for_ratio,
)
from tensorprism.errors import ConfigError, ShapeError
from tensorprism.models import count_parameters

LINEARS = [
    lambda: CPLinear(12, 10, 3),
    lambda: CPLinear(12, 10, 3, in_shape=(3, 4), out_shape=(2, 5)),
    lambda: TuckerLinear(12, 10, 3),
    lambda: TuckerLinear(12, 10, (2, 3, 2, 2), in_shape=(3, 4), out_shape=(2, 5)),
    lambda: TTLinear(12, 10, 3),
    lambda: TTLinear(24, 30, [2, 3], in_shape=(2, 3, 4), out_shape=(5, 3, 2)),
]
CONVS = [
    lambda: CPConv2d(3, 5, 3, rank=4, stride=2, padding=1),
    lambda: TuckerConv2d(3, 5, (3, 2), rank=(4, 2), padding=(1, 0), dilation=2),
    lambda: TTConv2d(3, 5, 3, rank=3, stride=(1, 2), padding=2, bias=False),
]


def _check_fast_equals_reference(layer, x, reference):
    x = x.requires_grad_()
    y, ref = layer(x), reference(x)
    torch.testing.assert_close(y, ref, rtol=1e-4, atol=1e-5)
    g = torch.randn_like(y)
    params = [x, *layer.parameters()]
    for a, b in zip(torch.autograd.grad(y, params, g), torch.autograd.grad(ref, params, g), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("make", LINEARS)
def test_factorized_linear_forward_backward_equal_dense_reference(make):
    layer = make()
    x = torch.randn(2, 7, layer.in_features)
    _check_fast_equals_reference(layer, x, lambda t: F.linear(t, layer.full_weight(), layer.bias))
    assert "rank=" in repr(layer)


@pytest.mark.parametrize("make", CONVS)
def test_factorized_conv_forward_backward_equal_dense_reference(make):
    layer = make()
    x = torch.randn(2, 3, 9, 8)
    _check_fast_equals_reference(layer, x, lambda t: F.conv2d(
        t, layer.full_weight(), layer.bias, layer.stride, layer.padding, layer.dilation))


def test_full_rank_factorisations_reproduce_the_dense_layer_exactly():
    torch.manual_seed(0)
    lin = nn.Linear(6, 4).double()
    conv = nn.Conv2d(2, 3, 3, padding=1).double()
    x, img = torch.randn(5, 6, dtype=torch.float64), torch.randn(1, 2, 6, 6, dtype=torch.float64)
    torch.testing.assert_close(TuckerLinear.from_linear(lin, 6)(x), lin(x))
    torch.testing.assert_close(TTLinear.from_linear(lin, 100)(x), lin(x))
    torch.testing.assert_close(TuckerConv2d.from_conv2d(conv, 3)(img), conv(img))
    torch.testing.assert_close(TTConv2d.from_conv2d(conv, 100)(img), conv(img))
    cp = CPLinear.from_linear(lin, 4, n_iter_max=500, tol=1e-14)  # a 4x6 matrix has rank 4
    torch.testing.assert_close(cp(x), lin(x))


def test_cp_linear_from_linear_is_the_best_low_rank_approximation():
    torch.manual_seed(1)
    lin = nn.Linear(20, 15)
    w = lin.weight.detach()
    u, s, vh = torch.linalg.svd(w)
    best = torch.linalg.norm(w - (u[:, :3] * s[:3]) @ vh[:3])
    cp = CPLinear.from_linear(lin, 3, n_iter_max=200, tol=1e-10)
    assert torch.linalg.norm(w - cp.full_weight()).item() == pytest.approx(float(best), rel=1e-3)


@pytest.mark.parametrize("make", [lambda: nn.Linear(64, 48), *LINEARS[:1], lambda: TTLinear(64, 48, 4),
                                  lambda: TuckerConv2d(16, 32, 3, 4), lambda: CPConv2d(16, 32, 3, 6)])
def test_reset_parameters_matches_torch_default_weight_variance(make):
    torch.manual_seed(2)
    layer = make()
    w = layer.weight if isinstance(layer, nn.Linear) else layer.full_weight()
    fan_in = w[0].numel()
    assert w.detach().var().item() == pytest.approx(1 / (3 * fan_in), rel=0.5)


def test_balanced_factors():
    assert balanced_factors(784) == (28, 28)
    assert balanced_factors(10) == (2, 5)
    assert balanced_factors(64, 3) == (4, 4, 4)
    assert balanced_factors(13) == (1, 13)


def _small_cnn():
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(256, 64), nn.ReLU(), nn.Linear(64, 10))


@pytest.mark.parametrize("method", ["cp", "tucker", "tt"])
def test_compress_replaces_layers_and_shrinks_the_model(method):
    torch.manual_seed(3)
    model = _small_cnn()
    small = compress(model, method, 4, n_iter_max=20) if method == "cp" else compress(model, method, 4)
    kinds = {type(m).__name__ for m in small.modules()}
    assert kinds & {"CPLinear", "TuckerLinear", "TTLinear"} and kinds & {"CPConv2d", "TuckerConv2d", "TTConv2d"}
    assert parameter_ratio(small, model) < 0.5
    assert small(torch.randn(2, 1, 8, 8)).shape == (2, 10)
    assert isinstance(model[0], nn.Conv2d)  # the original is untouched


def test_compress_with_a_parameter_fraction_and_exclusions():
    torch.manual_seed(4)
    model = _small_cnn()
    small = compress(model, "tucker", 0.3, exclude={"8"})
    assert isinstance(small[8], nn.Linear)
    for name in ("2", "6"):
        assert count_parameters(small.get_submodule(name)) <= 0.3 * count_parameters(model.get_submodule(name))
    assert rank_for_ratio(nn.Linear(100, 100), "cp", 0.1) == 4  # 4 * (100 + 100) + 100 <= 1010 < 5 * 200 + 100
    with pytest.raises(ConfigError, match="expected one of"):
        compress(model, "svd", 2)
    with pytest.raises(ShapeError, match="integer padding"):
        CPConv2d(1, 1, 3, 2, padding="same")


def test_a_low_rank_weight_compresses_without_changing_outputs():
    torch.manual_seed(5)
    lin = nn.Linear(30, 20)
    with torch.no_grad():
        lin.weight.copy_(torch.randn(20, 2) @ torch.randn(2, 30))
    x = torch.randn(4, 30)
    for method in ("cp", "tucker"):
        small = compress(nn.Sequential(lin), method, 2)
        torch.testing.assert_close(small(x), lin(x), rtol=1e-4, atol=1e-4)


def test_compress_leaves_small_layers_dense():
    model = _small_cnn()
    small = compress(model, "tt", 0.5, min_params=1000)
    assert isinstance(small[0], nn.Conv2d) and isinstance(small[8], nn.Linear)  # 80 and 650 parameters
    assert type(small[6]).__name__ == "TTLinear"
