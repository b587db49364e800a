import math

import pytest
import torch

import tensorprism.functional.activations as A
from tensorprism.nn.activations import Swish, make_activation

NAMES = sorted(A.ACTIVATIONS)
SMOOTH_AWAY_FROM_KINKS = torch.tensor([-7.0, -3.5, -2.2, -1.3, -0.7, -0.2, 0.3, 0.8, 1.6, 2.5, 4.1, 9.0], dtype=torch.float64)


@pytest.mark.parametrize("name", NAMES)
def test_reference_forward_equals_torch_kernel(name):
    spec = A.ACTIVATIONS[name]
    z = torch.linspace(-12, 12, 2001, dtype=torch.float64)
    torch.testing.assert_close(spec.forward(z), spec.kernel(z), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_analytic_derivative_equals_torch_autograd_of_kernel(name):
    spec = A.ACTIVATIONS[name]
    z = torch.linspace(-12, 12, 2001, dtype=torch.float64)
    z = z[(z.abs() > 1e-9) & ((z.abs() - 3).abs() > 1e-9) & ((z.abs() - 1).abs() > 1e-9)]  # off the kinks
    zk = z.clone().requires_grad_(True)
    if name == "heaviside":  # torch has no derivative for heaviside; ours is 0 a.e.
        with pytest.raises(RuntimeError, match="not implemented"):
            torch.autograd.grad(spec.kernel(zk).sum(), zk)
        assert not spec.derivative(z).any()
        return
    (gk,) = torch.autograd.grad(spec.kernel(zk).sum(), zk)
    torch.testing.assert_close(spec.derivative(z), gk, rtol=1e-7, atol=1e-12)  # torch rounds 1/6 in hardsigmoid's backward to fp32


@pytest.mark.parametrize("name", NAMES)
def test_analytic_backward_passes_gradcheck(name):
    """The autograd.Function backward uses the analytic formula; gradcheck compares it with
    finite differences (points chosen away from kinks: 0, ±1 of hardtanh, ±3 of hardsigmoid)."""
    z = SMOOTH_AWAY_FROM_KINKS.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(A.ACTIVATIONS[name].analytic(), (z,))


def test_kink_conventions_match_torch():
    """ReLU'(0) = 0 (book L3055) and torch agrees; leaky ReLU uses alpha at 0."""
    z = torch.zeros(1, requires_grad=True)
    torch.relu(z).backward()
    assert z.grad.item() == 0.0 == A.relu_grad(torch.zeros(1)).item()
    assert A.leaky_relu_grad(torch.zeros(1)).item() == pytest.approx(0.01)


def test_softmax_and_log_softmax_match_torch_and_have_correct_jacobian():
    z = torch.randn(4, 7, dtype=torch.float64, requires_grad=True)
    torch.testing.assert_close(A.softmax(z), torch.softmax(z, -1))
    torch.testing.assert_close(A.log_softmax(z), torch.log_softmax(z, -1))
    assert torch.autograd.gradcheck(A.softmax_analytic, (z,))
    assert torch.autograd.gradcheck(A.log_softmax_analytic, (z,))
    jac = torch.autograd.functional.jacobian(lambda v: torch.softmax(v, -1), z[0].detach())
    torch.testing.assert_close(A.softmax_jacobian(z[0].detach()), jac)


def test_softmax_is_stable_for_huge_logits():
    z = torch.tensor([[1000.0, 1001.0, 1002.0], [-1000.0, -1000.0, -999.0]])
    naive = torch.exp(z) / torch.exp(z).sum(-1, keepdim=True)
    assert torch.isnan(naive).any()
    out = A.softmax(z)
    torch.testing.assert_close(out, torch.softmax(z, -1))
    assert torch.isfinite(A.log_softmax(z)).all()


def test_sigmoid_softplus_tanh_are_stable_at_extremes():
    z = torch.tensor([-1e4, -800.0, -50.0, 0.0, 50.0, 800.0, 1e4])
    for f in (A.sigmoid, A.softplus, A.tanh, A.mish, A.swish, A.elu, A.gelu):
        out = f(z)
        assert torch.isfinite(out).all(), f.__name__
    torch.testing.assert_close(A.softplus(z), torch.nn.functional.softplus(z))
    torch.testing.assert_close(A.sigmoid(z), torch.sigmoid(z))
    # naive softplus overflows where the stable one gives z itself
    assert torch.isinf(torch.log(1 + torch.exp(torch.tensor(800.0))))


def test_softplus_beta_matches_torch():
    z = torch.linspace(-30, 30, 301, dtype=torch.float64)
    torch.testing.assert_close(A.softplus(z, beta=2.5, threshold=10.0), torch.nn.functional.softplus(z, 2.5, 10.0))


def test_swish_beta_derivative_and_module():
    z = SMOOTH_AWAY_FROM_KINKS.clone().requires_grad_(True)
    f = A.analytic(lambda t: A.swish(t, 1.7), lambda t: A.swish_grad(t, 1.7))
    assert torch.autograd.gradcheck(f, (z,))
    m = Swish(beta=1.7, learnable=True)
    torch.testing.assert_close(m(z.detach().float()), A.swish(z.detach(), 1.7).float())
    assert [n for n, _ in m.named_parameters()] == ["beta"]


@pytest.mark.parametrize("shape, channels", [((5,), 1), ((4, 3), 3), ((2, 3, 4), 3), ((2, 3), 1)])
def test_prelu_matches_torch_in_value_and_both_gradients(shape, channels):
    z = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    alpha = torch.full((channels,), 0.25, dtype=torch.float64) + 0.1 * torch.randn(channels, dtype=torch.float64)
    alpha.requires_grad_(True)
    assert torch.autograd.gradcheck(A.prelu, (z, alpha))
    ours = A.prelu(z, alpha)
    ref = torch.nn.functional.prelu(z, alpha)
    torch.testing.assert_close(ours, ref)
    g = torch.randn_like(ours)
    torch.testing.assert_close(torch.autograd.grad(ours, (z, alpha), g), torch.autograd.grad(ref, (z, alpha), g))


def test_heaviside_layer_backpropagates_zero_gradient():
    z = torch.randn(6, requires_grad=True)
    make_activation("heaviside")(z).sum().backward()
    assert z.grad is not None and not z.grad.any()


def test_make_activation_layers_match_references():
    z = torch.linspace(-5, 5, 101, dtype=torch.float64)
    for name in ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "gelu", "gelu_tanh", "mish", "softplus", "hardsigmoid", "hardtanh", "heaviside", "identity"):
        torch.testing.assert_close(make_activation(name)(z), A.ACTIVATIONS[name].forward(z), msg=name)
    torch.testing.assert_close(make_activation("swish")(z), A.swish(z))


def test_exercise4_sigmoid_values():
    out = A.sigmoid(torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64))
    torch.testing.assert_close(out, torch.tensor([0.26894142, 0.5, 0.73105858], dtype=torch.float64))


def test_exercise5_tanh_and_its_derivative():
    z = torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64)
    torch.testing.assert_close(A.tanh(z), torch.tensor([-0.76159416, 0.0, 0.76159416], dtype=torch.float64))
    torch.testing.assert_close(A.tanh_grad(z), torch.tensor([0.41997434, 1.0, 0.41997434], dtype=torch.float64))


def test_exercise6_relu_leaky_elu_values():
    z = torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64)
    torch.testing.assert_close(A.relu(z), torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64))
    torch.testing.assert_close(A.leaky_relu(z, 0.01), torch.tensor([-0.01, 0.0, 1.0], dtype=torch.float64))
    torch.testing.assert_close(A.elu(z, 1.0), torch.tensor([math.exp(-1) - 1, 0.0, 1.0], dtype=torch.float64))


def test_erratum_mish_derivative_L3254():
    """Book L3254 prints Mish'(z) = Mish(z) + z σ(z)(1 - Mish(z)^2); the correct derivative is
    tanh(sp(z)) + z σ(z)(1 - tanh^2(sp(z))). The printed one is -19.64 at z = 3 (true 1.021)."""
    z = torch.tensor([3.0, -1.0], dtype=torch.float64)
    zr = z.clone().requires_grad_(True)
    (true,) = torch.autograd.grad(torch.nn.functional.mish(zr).sum(), zr)
    torch.testing.assert_close(A.mish_grad(z), true)
    printed = A.mish_grad_as_printed(z)
    assert printed[0].item() == pytest.approx(-19.64, abs=0.01)
    assert true[0].item() == pytest.approx(1.021, abs=1e-3)
    assert printed[1].item() == pytest.approx(-0.548, abs=1e-3) and true[1].item() == pytest.approx(0.059, abs=1e-3)


def test_swish_derivative_as_printed_is_correct():
    """Book L3203: σ(z) + z σ'(−z) equals σ(z) + z σ(z)(1 − σ(z)) since σ' is even."""
    z = torch.linspace(-6, 6, 61, dtype=torch.float64)
    torch.testing.assert_close(A.sigmoid(z) + z * A.sigmoid_grad(-z), A.swish_grad(z))
