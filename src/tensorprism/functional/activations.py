r"""Activation functions of Chapter 3 (§3.3) as reference equations with analytic derivatives.

Each activation is written twice, as the book derives it:

* ``<name>(z)`` — the forward equation, written to be numerically stable
  (sigmoid and softplus never exponentiate a large positive number, softmax subtracts the max);
* ``<name>_grad(z)`` — the analytic derivative :math:`f'(z)` (elementwise), e.g.
  :math:`\sigma'(z)=\sigma(z)(1-\sigma(z))` (book L2880).

:func:`analytic` turns a pair into an :class:`torch.autograd.Function` whose backward is
``grad_output * f'(z)`` — not autograd's own derivative — so ``torch.autograd.gradcheck`` tests
the formula itself. ``ACTIVATIONS`` maps each name to its reference, derivative and torch's fast
kernel; the tests prove the three agree.

Conventions at kinks (a.e. derivatives): ReLU'(0) = 0 (book L3055, as torch), LeakyReLU'(0) = α,
ELU'(0) = α (torch uses the left branch at 0 too), Heaviside'(z) = 0.

Shapes: every elementwise function maps ``(*)`` to ``(*)``; softmax/log-softmax act along ``dim``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_TANH_C = 0.044715


# ---------------------------------------------------------------- forward equations
def sigmoid(z: Tensor) -> Tensor:
    r""":math:`\sigma(z)=1/(1+e^{-z})`, evaluated as :math:`e^{z}/(1+e^{z})` for :math:`z<0`."""
    e = torch.exp(-z.abs())  # in (0, 1]: never overflows
    return torch.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_grad(z: Tensor) -> Tensor:
    r""":math:`\sigma'(z)=\sigma(z)(1-\sigma(z))` (book L2880)."""
    s = sigmoid(z)
    return s * (1.0 - s)


def tanh(z: Tensor) -> Tensor:
    r""":math:`\tanh z=(e^z-e^{-z})/(e^z+e^{-z})`, as :math:`\mathrm{sign}(z)\,(1-e^{-2|z|})/(1+e^{-2|z|})`."""
    t = torch.expm1(-2.0 * z.abs())  # e^{-2|z|} - 1 in (-1, 0]
    return torch.sign(z) * (-t / (2.0 + t))


def tanh_grad(z: Tensor) -> Tensor:
    r""":math:`\tanh'(z)=1-\tanh^2 z` (book L2950)."""
    return 1.0 - tanh(z) ** 2


def relu(z: Tensor) -> Tensor:
    r""":math:`\max(0,z)` (book L3047)."""
    return torch.where(z > 0, z, torch.zeros_like(z))


def relu_grad(z: Tensor) -> Tensor:
    """1 for z > 0, 0 for z ≤ 0 (book L3055)."""
    return (z > 0).to(z.dtype)


def leaky_relu(z: Tensor, alpha: float = 0.01) -> Tensor:
    r""":math:`z` for :math:`z>0`, :math:`\alpha z` otherwise; α = 0.01 as in the book (L3088)."""
    return torch.where(z > 0, z, alpha * z)


def leaky_relu_grad(z: Tensor, alpha: float = 0.01) -> Tensor:
    """Derivative of leaky ReLU: 1 for ``z > 0``, else ``alpha``; same shape as ``z``."""
    return torch.where(z > 0, torch.ones_like(z), torch.full_like(z, alpha))


def elu(z: Tensor, alpha: float = 1.0) -> Tensor:
    r""":math:`z` for :math:`z>0`, :math:`\alpha(e^z-1)` otherwise (book L3149)."""
    return torch.where(z > 0, z, alpha * torch.expm1(torch.clamp(z, max=0.0)))


def elu_grad(z: Tensor, alpha: float = 1.0) -> Tensor:
    r"""1 for :math:`z>0`, :math:`\alpha e^z` otherwise (book L3153)."""
    return torch.where(z > 0, torch.ones_like(z), alpha * torch.exp(torch.clamp(z, max=0.0)))


def selu(z: Tensor) -> Tensor:
    r"""Scaled ELU (Klambauer et al. 2017): :math:`\lambda\,\mathrm{ELU}_\alpha(z)`, λ≈1.0507, α≈1.6733."""
    return SELU_SCALE * elu(z, SELU_ALPHA)


def selu_grad(z: Tensor) -> Tensor:
    """Derivative of SELU: ``scale`` times the ELU derivative with SELU's ``alpha``; same shape as ``z``."""
    return SELU_SCALE * elu_grad(z, SELU_ALPHA)


def softplus(z: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    r""":math:`\frac1\beta\ln(1+e^{\beta z})` = :math:`\max(z,0)+\frac1\beta\ln(1+e^{-\beta|z|})`.

    As ``torch.nn.functional.softplus``, returns ``z`` itself where :math:`\beta z>` ``threshold``.
    """
    bz = beta * z
    stable = torch.clamp(z, min=0.0) + torch.log1p(torch.exp(-bz.abs())) / beta
    return torch.where(bz > threshold, z, stable)


def softplus_grad(z: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    r""":math:`\mathrm{softplus}'(z)=\sigma(\beta z)` (1 above the linear threshold, as torch)."""
    return torch.where(beta * z > threshold, torch.ones_like(z), sigmoid(beta * z))


def swish(z: Tensor, beta: float = 1.0) -> Tensor:
    r"""Swish / SiLU: :math:`z\,\sigma(\beta z)`; β = 1 is the book's form (L3192) and torch's SiLU."""
    return z * sigmoid(beta * z)


def swish_grad(z: Tensor, beta: float = 1.0) -> Tensor:
    r""":math:`\sigma(\beta z)+\beta z\,\sigma(\beta z)(1-\sigma(\beta z))` (book L3203 with β = 1)."""
    s = sigmoid(beta * z)
    return s + beta * z * s * (1.0 - s)


def mish(z: Tensor) -> Tensor:
    r""":math:`z\tanh(\mathrm{softplus}(z))` (book L3239)."""
    return z * tanh(softplus(z))


def mish_grad(z: Tensor) -> Tensor:
    r""":math:`\tanh(\mathrm{sp}(z))+z\,\sigma(z)\,(1-\tanh^2(\mathrm{sp}(z)))`.

    The book (L3254) prints :math:`\mathrm{Mish}(z)+z\sigma(z)(1-\mathrm{Mish}(z)^2)`, which is
    wrong (−19.6 instead of 1.02 at z = 3); this is the correct derivative.
    """
    t = tanh(softplus(z))
    return t + z * sigmoid(z) * (1.0 - t * t)


def mish_grad_as_printed(z: Tensor) -> Tensor:
    """The book's (incorrect) Mish derivative of L3254, kept only so a test can pin the erratum."""
    m = mish(z)
    return m + z * sigmoid(z) * (1.0 - m * m)


def _std_normal_cdf(z: Tensor) -> Tensor:
    return 0.5 * (1.0 + torch.erf(z / math.sqrt(2.0)))


def gelu(z: Tensor) -> Tensor:
    r"""GELU (Hendrycks & Gimpel 2016), exact form :math:`z\,\Phi(z)`."""
    return z * _std_normal_cdf(z)


def gelu_grad(z: Tensor) -> Tensor:
    r""":math:`\Phi(z)+z\,\varphi(z)`."""
    return _std_normal_cdf(z) + z * torch.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


def gelu_tanh(z: Tensor) -> Tensor:
    r"""GELU tanh approximation :math:`\frac z2(1+\tanh(\sqrt{2/\pi}(z+0.044715z^3)))`."""
    u = _SQRT_2_OVER_PI * (z + _GELU_TANH_C * z**3)
    return 0.5 * z * (1.0 + tanh(u))


def gelu_tanh_grad(z: Tensor) -> Tensor:
    """Derivative of the tanh approximation of GELU; same shape as ``z``."""
    u = _SQRT_2_OVER_PI * (z + _GELU_TANH_C * z**3)
    t = tanh(u)
    du = _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_TANH_C * z * z)
    return 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * du


def heaviside(z: Tensor, at_zero: float = 0.0) -> Tensor:
    """Step function H(z): 1 for z > 0, 0 for z < 0 and ``at_zero`` at 0 (the perceptron's output)."""
    return torch.where(z > 0, 1.0, torch.where(z < 0, 0.0, at_zero)).to(z.dtype)


def heaviside_grad(z: Tensor, at_zero: float = 0.0) -> Tensor:
    """H'(z) = 0 almost everywhere: the reason a step network cannot be trained by backprop."""
    return torch.zeros_like(z)


def hardsigmoid(z: Tensor) -> Tensor:
    """Piecewise-linear sigmoid ``clamp(z/6 + 1/2, 0, 1)`` (torch's definition)."""
    return torch.clamp(z / 6.0 + 0.5, 0.0, 1.0)


def hardsigmoid_grad(z: Tensor) -> Tensor:
    """Derivative of hard sigmoid: 1/6 inside ``(-3, 3)``, else 0; same shape as ``z``."""
    return ((z > -3.0) & (z < 3.0)).to(z.dtype) / 6.0


def hardtanh(z: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """``clamp(z, min_val, max_val)``."""
    return torch.clamp(z, min_val, max_val)


def hardtanh_grad(z: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """Derivative of hardtanh: 1 inside ``(min_val, max_val)``, else 0; same shape as ``z``."""
    return ((z > min_val) & (z < max_val)).to(z.dtype)


def identity(z: Tensor) -> Tensor:
    """Linear output :math:`y=z` (regression heads, book L2801)."""
    return z


def identity_grad(z: Tensor) -> Tensor:
    """Derivative of the identity: ones shaped like ``z``."""
    return torch.ones_like(z)


# ---------------------------------------------------------------- vector-valued: softmax
def softmax(z: Tensor, dim: int = -1) -> Tensor:
    r""":math:`y_i=e^{z_i-m}/\sum_j e^{z_j-m}` with :math:`m=\max_j z_j` (never overflows)."""
    e = torch.exp(z - z.amax(dim=dim, keepdim=True))
    return e / e.sum(dim=dim, keepdim=True)


def log_softmax(z: Tensor, dim: int = -1) -> Tensor:
    r""":math:`z_i-m-\ln\sum_j e^{z_j-m}` (log-sum-exp trick)."""
    shifted = z - z.amax(dim=dim, keepdim=True)
    return shifted - torch.log(torch.exp(shifted).sum(dim=dim, keepdim=True))


def softmax_jacobian(z: Tensor) -> Tensor:
    r"""Full Jacobian :math:`\partial y_i/\partial z_j=y_i(\delta_{ij}-y_j)`: ``(*, K)`` → ``(*, K, K)``.

    The book never gives it (catalogue E15); the backward uses the cheaper vector–Jacobian product
    :math:`\bar z=y\odot(\bar y-\langle\bar y,y\rangle)`.
    """
    y = softmax(z, dim=-1)
    return torch.diag_embed(y) - y.unsqueeze(-1) * y.unsqueeze(-2)


class _SoftmaxFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z: Tensor, dim: int, log: bool) -> Tensor:
        out = log_softmax(z, dim) if log else softmax(z, dim)
        ctx.save_for_backward(out)
        ctx.dim, ctx.log = dim, log
        return out

    @staticmethod
    def backward(ctx, g: Tensor):
        (out,) = ctx.saved_tensors
        if ctx.log:  # d log_softmax: g - softmax * sum(g)
            return g - torch.exp(out) * g.sum(dim=ctx.dim, keepdim=True), None, None
        return out * (g - (g * out).sum(dim=ctx.dim, keepdim=True)), None, None


def softmax_analytic(z: Tensor, dim: int = -1) -> Tensor:
    """Softmax whose backward is the analytic Jacobian–vector product."""
    return _SoftmaxFn.apply(z, dim, False)


def log_softmax_analytic(z: Tensor, dim: int = -1) -> Tensor:
    """Log-softmax whose backward is the analytic vector–Jacobian product ``g - y Σg``."""
    return _SoftmaxFn.apply(z, dim, True)


# ---------------------------------------------------------------- analytic autograd
class _Elementwise(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z: Tensor, fn: Callable, grad_fn: Callable) -> Tensor:
        ctx.save_for_backward(z)
        ctx.grad_fn = grad_fn
        return fn(z)

    @staticmethod
    def backward(ctx, g: Tensor):
        (z,) = ctx.saved_tensors
        return g * ctx.grad_fn(z), None, None


class _PReLUFn(torch.autograd.Function):
    """PReLU with a learnable slope: ∂/∂z = 1 or α, ∂/∂α = z for z ≤ 0 (summed over shared axes)."""

    @staticmethod
    def forward(ctx, z: Tensor, alpha: Tensor) -> Tensor:
        a = _broadcast_channel(alpha, z)
        ctx.save_for_backward(z, alpha)
        return torch.where(z > 0, z, a * z)

    @staticmethod
    def backward(ctx, g: Tensor):
        z, alpha = ctx.saved_tensors
        a = _broadcast_channel(alpha, z)
        gz = torch.where(z > 0, g, a * g)
        ga = torch.where(z > 0, torch.zeros_like(z), g * z)
        if alpha.numel() == 1:
            ga = ga.sum()
        elif z.dim() > 1:
            ga = ga.sum(dim=[d for d in range(z.dim()) if d != 1])
        return gz, ga.reshape(alpha.shape)


def _broadcast_channel(alpha: Tensor, z: Tensor) -> Tensor:
    """Shape a PReLU slope, one ``(1,)`` or per channel ``(C,)``, to broadcast over ``(N, C, *)``."""
    if alpha.numel() == 1:
        return alpha.reshape(())
    if z.dim() < 2:
        return alpha
    return alpha.reshape(1, -1, *([1] * (z.dim() - 2)))


def prelu(z: Tensor, alpha: Tensor) -> Tensor:
    r"""PReLU (He et al. 2015): leaky ReLU with learnable slope(s) α, one or one per channel (dim 1).

    Analytic gradients with respect to both ``z`` and ``alpha`` (book L3111).
    """
    return _PReLUFn.apply(z, alpha)


def analytic(fn: Callable[[Tensor], Tensor], grad_fn: Callable[[Tensor], Tensor]) -> Callable:
    """Wrap ``fn`` so that its backward multiplies by ``grad_fn(z)`` (the analytic derivative)."""

    def apply(z: Tensor) -> Tensor:
        return _Elementwise.apply(z, fn, grad_fn)

    apply.__name__ = getattr(fn, "__name__", "activation")
    apply.__doc__ = fn.__doc__
    return apply


# ---------------------------------------------------------------- the table
@dataclass(frozen=True)
class ActivationSpec:
    """An activation's reference equation, its analytic derivative and torch's fast kernel."""

    name: str
    forward: Callable[[Tensor], Tensor]
    derivative: Callable[[Tensor], Tensor]
    kernel: Callable[[Tensor], Tensor]

    def analytic(self) -> Callable[[Tensor], Tensor]:
        return analytic(self.forward, self.derivative)


def _spec(name, fwd, grad, kernel, **kw) -> ActivationSpec:
    if kw:
        fwd, grad = partial(fwd, **kw), partial(grad, **kw)
    return ActivationSpec(name, fwd, grad, kernel)


ACTIVATIONS: dict[str, ActivationSpec] = {
    s.name: s
    for s in [
        _spec("sigmoid", sigmoid, sigmoid_grad, torch.sigmoid),
        _spec("tanh", tanh, tanh_grad, torch.tanh),
        _spec("relu", relu, relu_grad, F.relu),
        _spec("leaky_relu", leaky_relu, leaky_relu_grad, partial(F.leaky_relu, negative_slope=0.01), alpha=0.01),
        _spec("elu", elu, elu_grad, F.elu, alpha=1.0),
        _spec("selu", selu, selu_grad, F.selu),
        _spec("gelu", gelu, gelu_grad, F.gelu),
        _spec("gelu_tanh", gelu_tanh, gelu_tanh_grad, partial(F.gelu, approximate="tanh")),
        _spec("swish", swish, swish_grad, F.silu, beta=1.0),
        _spec("mish", mish, mish_grad, F.mish),
        _spec("softplus", softplus, softplus_grad, F.softplus),
        _spec("hardsigmoid", hardsigmoid, hardsigmoid_grad, F.hardsigmoid),
        _spec("hardtanh", hardtanh, hardtanh_grad, F.hardtanh),
        _spec("heaviside", heaviside, heaviside_grad, lambda z: torch.heaviside(z, torch.zeros_like(z))),
        _spec("identity", identity, identity_grad, lambda z: z),
    ]
}

__all__ = [
    "ACTIVATIONS", "ActivationSpec", "analytic", "SELU_ALPHA", "SELU_SCALE",
    "sigmoid", "sigmoid_grad", "tanh", "tanh_grad", "relu", "relu_grad", "leaky_relu",
    "leaky_relu_grad", "elu", "elu_grad", "selu", "selu_grad", "softplus", "softplus_grad",
    "swish", "swish_grad", "mish", "mish_grad", "mish_grad_as_printed", "gelu", "gelu_grad",
    "gelu_tanh", "gelu_tanh_grad", "heaviside", "heaviside_grad", "hardsigmoid",
    "hardsigmoid_grad", "hardtanh", "hardtanh_grad", "identity", "identity_grad", "softmax",
    "log_softmax", "softmax_jacobian", "softmax_analytic", "log_softmax_analytic", "prelu",
]
