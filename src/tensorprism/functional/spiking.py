r"""Leaky integrate-and-fire (LIF) neurons and the surrogate gradient of a spike (book §11, I11.14).

The book (L24812–24816) gives the leaky integrator :math:`\tau\,dV_i/dt = -V_i + \sum_j w_{ij}S_j(t)`
and leaves the threshold, the reset and the integration step unspecified. Here, as in snnTorch's
``Leaky`` and Neftci, Mostafa & Zenke (2019), one step of length ``dt`` of the exact solution for a
current held constant over the step is

.. math::
    V[t] = \beta V[t-1] + (1 - \beta)\,I[t], \qquad \beta = e^{-dt/\tau},

a spike :math:`S[t] = \Theta(V[t] - \vartheta)` is emitted when the potential crosses the threshold
:math:`\vartheta`, and the potential is reset by subtracting :math:`\vartheta` (``"subtract"``, keeps
the excess) or set to zero (``"zero"``). With ``scale_input=False`` the input enters unscaled,
:math:`V[t] = \beta V[t-1] + I[t]` (snnTorch's convention, the weights absorb :math:`1-\beta`).

The Heaviside step has zero derivative almost everywhere, so backpropagation through it learns
nothing; the *surrogate gradient* (Zenke & Ganguli 2018, SuperSpike) keeps the step in the forward
pass and uses the derivative of a fast sigmoid in the backward pass:
:math:`\partial S/\partial V \approx 1 / (1 + k\,\lvert V - \vartheta\rvert)^2`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..errors import ConfigError

__all__ = ["lif_beta", "spike", "lif_step", "lif_sequence", "lif_euler_reference", "SURROGATE_SLOPE"]

SURROGATE_SLOPE = 25.0  # k of the fast sigmoid (snnTorch's default)


def lif_beta(tau: float, dt: float = 1.0) -> float:
    """The per-step decay ``β = exp(-dt / τ)`` of a membrane with time constant ``τ``."""
    if not (tau > 0 and dt > 0):
        raise ConfigError(f"the membrane time constant tau and the step dt must be > 0, got tau={tau}, dt={dt}")
    return math.exp(-dt / tau)


class _SpikeFn(torch.autograd.Function):
    """Heaviside forward, fast-sigmoid derivative backward."""

    @staticmethod
    def forward(ctx, x: Tensor, slope: float) -> Tensor:
        ctx.save_for_backward(x)
        ctx.slope = slope
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        (x,) = ctx.saved_tensors
        return grad / (1.0 + ctx.slope * x.abs()) ** 2, None


def spike(x: Tensor, slope: float = SURROGATE_SLOPE) -> Tensor:
    """``Θ(x)`` (1 where ``x > 0``, same shape), differentiable through the surrogate
    ``1 / (1 + slope |x|)²``; ``x`` is the potential minus the threshold."""
    if slope <= 0:
        raise ConfigError(f"the surrogate slope must be > 0, got {slope}")
    return _SpikeFn.apply(x, slope)


def lif_step(v: Tensor, current: Tensor, beta: float | Tensor, threshold: float = 1.0, reset: str = "subtract",
             scale_input: bool = True, slope: float = SURROGATE_SLOPE) -> tuple[Tensor, Tensor]:
    """One time step of a layer of LIF neurons.

    Args:
        v: membrane potentials before the step, ``(N, H)`` (any shape).
        current: input current during the step, the same shape.
        beta: decay ``exp(-dt/τ)`` in ``[0, 1]`` (a float, or a tensor broadcasting to ``v``).
        threshold: firing threshold ``ϑ > 0``.
        reset: ``"subtract"`` (``V - ϑ``) or ``"zero"`` after a spike.
        scale_input: ``V = βV + (1-β)I`` (the ODE's exact step) instead of ``V = βV + I``.

    Returns:
        ``(spikes, v_new)``, both shaped like ``v``; ``v_new`` is after the reset.
    """
    if reset not in ("subtract", "zero"):
        raise ConfigError(f"reset must be 'subtract' or 'zero', got {reset!r}")
    v = beta * v + ((1 - beta) * current if scale_input else current)
    s = spike(v - threshold, slope)
    # The reset is not differentiated through (as in snnTorch's default): the surrogate already
    # carries the spike's gradient, and the reset path makes it unstable.
    v = v - s.detach() * threshold if reset == "subtract" else v * (1 - s.detach())
    return s, v


def lif_sequence(currents: Tensor, beta: float | Tensor, threshold: float = 1.0, reset: str = "subtract",
                 scale_input: bool = True, slope: float = SURROGATE_SLOPE) -> tuple[Tensor, Tensor]:
    """Run LIF neurons from rest over input currents ``(T, N, H)``; returns spikes and the
    potentials after each step's reset, both ``(T, N, H)``."""
    v = torch.zeros_like(currents[0])
    spikes, volts = [], []
    for i in range(currents.shape[0]):
        s, v = lif_step(v, currents[i], beta, threshold, reset, scale_input, slope)
        spikes.append(s)
        volts.append(v)
    return torch.stack(spikes), torch.stack(volts)


def lif_euler_reference(current: float, tau: float, t_end: float, dt: float, threshold: float = 1.0
                        ) -> list[float]:
    """Spike times of one neuron under a constant current ``I``, integrating the book's ODE
    ``τ dV/dt = -V + I`` with forward Euler at step ``dt`` (reset to 0 on a spike): the reference the
    discrete LIF is checked against. Analytically the first spike is at ``τ ln(I / (I - ϑ))`` (``I > ϑ``)."""
    v, t, times = 0.0, 0.0, []
    while t < t_end:
        v += dt / tau * (-v + current)
        t += dt
        if v >= threshold:
            times.append(t)
            v = 0.0
    return times
