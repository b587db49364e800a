"""The decompositions and factorised layers on a CUDA device give what they give on the CPU
(run where a GPU is present; CPU-only machines report these as skipped with the reason)."""

import pytest
import torch
import torch.nn.functional as F

from tensorprism.compress import CPConv2d, TTLinear, TuckerConv2d, compress
from tensorprism.tensor import cp_als, relative_error, tt_svd, tucker_hooi, unfold

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _tensor():
    gen = torch.Generator().manual_seed(0)
    a, b, c = (torch.randn(n, 4, generator=gen, dtype=torch.float64) for n in (20, 24, 28))
    x = torch.einsum("ir,jr,kr->ijk", a, b, c)
    return x + 0.1 * x.std() * torch.randn(x.shape, generator=gen, dtype=torch.float64)


@pytest.mark.parametrize("fit", [
    lambda x, b: cp_als(x, 4, n_iter_max=50, tol=0, batch_dims=b),
    lambda x, b: tucker_hooi(x, 4, n_iter_max=5, tol=0, batch_dims=b),
    lambda x, b: tt_svd(x, rank=4, batch_dims=b),
    lambda x, b: tt_svd(x, tol=0.2, batch_dims=b),
])
def test_decompositions_on_cuda_equal_cpu(fit):
    x = _tensor()
    xb = torch.stack([x, 2 * x])
    for t, b in ((x, 0), (xb, 1)):
        cpu = relative_error(t, fit(t, b), batch_dims=b)
        gpu = relative_error(t.cuda(), fit(t.cuda(), b), batch_dims=b)
        assert gpu.device.type == "cuda"
        torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-6, atol=1e-9)


def test_unfold_and_factorised_layers_on_cuda():
    x = torch.randn(3, 4, 5, device="cuda")
    assert torch.equal(unfold(x, 1).cpu(), unfold(x.cpu(), 1))
    img = torch.randn(2, 3, 16, 16, device="cuda")
    for layer in (CPConv2d(3, 8, 3, 4, padding=1), TuckerConv2d(3, 8, 3, 2, stride=2)):
        layer = layer.cuda()
        ref = F.conv2d(img, layer.full_weight(), layer.bias, layer.stride, layer.padding, layer.dilation)
        torch.testing.assert_close(layer(img), ref, rtol=1e-4, atol=1e-4)
    lin = TTLinear(64, 32, 4).cuda()
    v = torch.randn(5, 64, device="cuda")
    torch.testing.assert_close(lin(v), F.linear(v, lin.full_weight(), lin.bias), rtol=1e-4, atol=1e-4)
    model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10)).cuda()
    small = compress(model, "tt", 0.5)
    assert next(small.parameters()).device.type == "cuda" and small(v).shape == (5, 10)
