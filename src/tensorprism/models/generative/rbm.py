r"""Restricted Boltzmann machine (book I10.24, L24187–24209): binary visible ``v`` and hidden ``h``
units with energy :math:`E(v,h)=-v^\top Wh-b^\top v-c^\top h` and :math:`p(v,h)=e^{-E}/Z`.

Summing out ``h`` gives the free energy :math:`F(v)=-b^\top v-\sum_j\mathrm{softplus}(c_j+W_{:j}
^\top v)`, :math:`p(v)=e^{-F(v)}/Z`. The book gives no training algorithm; here
:class:`~tensorprism.train.tasks.energy.EnergyTask` trains by contrastive divergence (CD-k,
Hinton 2002) or persistent CD (Tieleman 2008), whose chains live in the ``chains`` buffer (so a
resumed run continues them). :meth:`RBM.log_partition` is **exact** by enumerating the
:math:`2^H` hidden states (``H ≤ 24``), so :meth:`RBM.log_prob` is an exact log-likelihood for
small hidden layers; :meth:`RBM.log_partition_ais` estimates it by annealed importance sampling
(:func:`~tensorprism.functional.ais.ais_log_partition`) for any size.

``forward(v)`` returns the mean-field reconstruction :math:`p(v\mid E[h\mid v])` ``(N, *data_shape)``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ...config import setting
from ...errors import ConfigError
from .. import register_model
from ..contract import GenerativeMixin

MAX_EXACT_HIDDEN = 24


@dataclass
class RBMConfig:
    """``data_shape`` of the binary visible units (flattened inside), ``hidden`` units,
    ``num_chains`` persistent chains kept for PCD (0: none, CD only)."""

    data_shape: tuple[int, ...] = (1, 28, 28)
    hidden: int = setting(16, min=1)
    num_chains: int = setting(0, min=0)


class RBM(GenerativeMixin, nn.Module):
    """Bernoulli–Bernoulli RBM; see the module docstring."""

    kind = "energy"

    def __init__(self, cfg: RBMConfig):
        super().__init__()
        self.data_shape = tuple(cfg.data_shape)
        d = int(torch.Size(self.data_shape).numel())
        self.weight = nn.Parameter(0.01 * torch.randn(d, cfg.hidden))
        self.v_bias = nn.Parameter(torch.zeros(d))
        self.h_bias = nn.Parameter(torch.zeros(cfg.hidden))
        self.register_buffer("chains", torch.bernoulli(torch.full((cfg.num_chains, d), 0.5)))

    def example_input(self, batch_size: int = 2) -> Tensor:
        return torch.bernoulli(torch.full((batch_size, *self.data_shape), 0.5, device=self._example_device()))

    def free_energy(self, v: Tensor) -> Tensor:
        r""":math:`F(v)=-b^\top v-\sum_j\mathrm{softplus}(c_j+(v^\top W)_j)` per example ``(N,)``."""
        v = v.flatten(1)
        return -v @ self.v_bias - F.softplus(v @ self.weight + self.h_bias).sum(1)

    def energy(self, v: Tensor, h: Tensor) -> Tensor:
        """:math:`E(v,h)` per example ``(N,)`` for ``v (N, D)``, ``h (N, H)``."""
        v = v.flatten(1)
        return -((v @ self.weight) * h).sum(1) - v @ self.v_bias - h @ self.h_bias

    def hidden_probs(self, v: Tensor) -> Tensor:
        return torch.sigmoid(v.flatten(1) @ self.weight + self.h_bias)

    def visible_probs(self, h: Tensor) -> Tensor:
        return torch.sigmoid(h @ self.weight.t() + self.v_bias)

    @torch.no_grad()
    def gibbs(self, v: Tensor, steps: int = 1, generator: torch.Generator | None = None) -> Tensor:
        """``steps`` rounds of block Gibbs sampling ``v → h → v`` from flattened ``v (N, D)``."""
        for _ in range(steps):
            h = torch.bernoulli(self.hidden_probs(v), generator=generator)
            v = torch.bernoulli(self.visible_probs(h), generator=generator)
        return v

    def forward(self, v: Tensor) -> Tensor:
        self.check_data(v)
        return self.visible_probs(self.hidden_probs(v)).view(v.shape[0], *self.data_shape)

    def log_partition(self) -> Tensor:
        r"""Exact :math:`\log Z=\log\sum_h e^{c^\top h}\prod_i(1+e^{b_i+W_{i:}h})` over all
        :math:`2^H` hidden states (``H ≤ 24``, else :class:`ConfigError`)."""
        hdim = self.h_bias.shape[0]
        if hdim > MAX_EXACT_HIDDEN:
            raise ConfigError(f"the exact partition function enumerates 2^{hdim} hidden states; it is offered for "
                              f"at most {MAX_EXACT_HIDDEN} hidden units; estimate it by AIS with log_partition_ais()")
        total = []
        states = torch.tensor(list(itertools.product((0.0, 1.0), repeat=hdim)), dtype=self.weight.dtype,
                              device=self.weight.device)
        for chunk in states.split(65536):
            total.append(chunk @ self.h_bias + F.softplus(chunk @ self.weight.t() + self.v_bias).sum(1))
        return torch.logsumexp(torch.cat(total), 0)

    def log_partition_ais(self, num_chains: int = 100, num_betas: int = 10000, base_bias: Tensor | None = None,
                          generator: torch.Generator | None = None) -> Tensor:
        """Annealed-importance-sampling estimate of :math:`\\log Z` (any number of hidden units);
        ``base_bias (D,)``: visible biases of the base model, e.g. the log-odds of the training
        data's pixel means (Salakhutdinov & Murray 2008)."""
        from ...functional.ais import ais_log_partition

        return ais_log_partition(self.weight, self.v_bias, self.h_bias, num_chains, num_betas, base_bias,
                                 generator)[0]

    def log_prob(self, v: Tensor) -> Tensor:
        """Exact :math:`\\log p(v)=-F(v)-\\log Z` ``(N,)`` in nats (small hidden layers)."""
        return -self.free_energy(v) - self.log_partition()

    @torch.no_grad()
    def sample(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None,
               steps: int = 1000) -> Tensor:
        """Visible means after ``steps`` Gibbs rounds from random states ``(n, *data_shape)``."""
        self.sample_labels(n, y)
        v = torch.bernoulli(torch.full((n, self.weight.shape[0]), 0.5, device=self.weight.device), generator=generator)
        v = self.gibbs(v, steps, generator)
        return self.visible_probs(torch.bernoulli(self.hidden_probs(v), generator=generator)).view(n, *self.data_shape)


@register_model("rbm", config=RBMConfig, family="energy")
def rbm(cfg: RBMConfig) -> RBM:
    """Bernoulli–Bernoulli RBM (16 hidden units by default, exact log-likelihood)."""
    return RBM(cfg)
