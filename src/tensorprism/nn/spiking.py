"""A layer of leaky integrate-and-fire neurons (:func:`tensorprism.functional.spiking.lif_step`)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from ..functional.spiking import SURROGATE_SLOPE, lif_beta, lif_step


class LIF(nn.Module):
    """LIF neurons stepped over time: input currents ``(T, N, H)`` → spikes ``(T, N, H)``.

    Args:
        tau: membrane time constant in steps (``β = exp(-1/τ)``).
        threshold: firing threshold.
        reset: ``"subtract"`` or ``"zero"``.
        learn_beta: make the decay a trainable parameter (one per layer, kept in ``(0, 1)`` through
            a sigmoid).
        slope: the surrogate gradient's slope.
    """

    def __init__(self, tau: float = 5.0, threshold: float = 1.0, reset: str = "subtract", learn_beta: bool = False,
                 slope: float = SURROGATE_SLOPE):
        super().__init__()
        if threshold <= 0:
            raise ConfigError(f"the LIF threshold must be > 0, got {threshold}")
        if reset not in ("subtract", "zero"):
            raise ConfigError(f"reset must be 'subtract' or 'zero', got {reset!r}")
        beta = lif_beta(tau)
        logit = torch.tensor(math.log(beta / (1 - beta)))
        self.beta_logit = nn.Parameter(logit) if learn_beta else None
        if not learn_beta:
            self.register_buffer("beta_fixed", torch.tensor(beta), persistent=False)
        self.threshold, self.reset, self.slope = threshold, reset, slope

    @property
    def beta(self) -> Tensor:
        return torch.sigmoid(self.beta_logit) if self.beta_logit is not None else self.beta_fixed

    def forward(self, currents: Tensor) -> tuple[Tensor, Tensor]:
        """``currents (T, N, H)`` → ``(spikes, potentials)``, both ``(T, N, H)``."""
        beta = self.beta
        v = torch.zeros_like(currents[0])
        spikes, volts = [], []
        for t in range(currents.shape[0]):
            s, v = lif_step(v, currents[t], beta, self.threshold, self.reset, scale_input=False, slope=self.slope)
            spikes.append(s)
            volts.append(v)
        return torch.stack(spikes), torch.stack(volts)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, reset={self.reset!r}, learn_beta={self.beta_logit is not None}"


__all__ = ["LIF"]
