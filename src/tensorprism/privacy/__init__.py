"""Privacy-preserving and federated learning (book §11, I11.05 and I11.22).

* :mod:`.accountant` — Rényi-DP accounting of DP-SGD (sampled Gaussian mechanism), ε for given
  noise, and the noise for a target ε;
* :mod:`.dpsgd` — the ``DPSGD`` callback (Poisson-sampled batches, privacy accounting and a budget
  that stops training) for the ``"dp-classification"`` task, whose per-example clipped and noised
  gradient step is :mod:`tensorprism.functional.privacy`;
* :mod:`.federated` — federated averaging over simulated clients (IID and label-skew splits).
"""

from .accountant import (
    DEFAULT_ORDERS,
    RDPAccountant,
    compute_epsilon,
    epsilon_from_rdp,
    noise_for_epsilon,
    rdp_sampled_gaussian,
)

__all__ = ["DEFAULT_ORDERS", "RDPAccountant", "compute_epsilon", "epsilon_from_rdp", "noise_for_epsilon",
           "rdp_sampled_gaussian"]
