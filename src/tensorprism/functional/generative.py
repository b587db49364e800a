r"""Latent-variable objectives of Chapter 10 (§10.1–10.4): the readable reference equations.

* reparameterisation :math:`z=\mu+\sigma\odot\epsilon`, :math:`\sigma=\exp(\tfrac12\log\sigma^2)`
  (book L23190);
* closed-form :math:`\mathrm{KL}(\mathcal N(\mu,\sigma^2)\Vert\mathcal N(0,I))=-\tfrac12\sum_j
  (1+\log\sigma_j^2-\mu_j^2-\sigma_j^2)` (L23208);
* log-likelihoods of a decoder: Bernoulli on logits (binary / binarised images) and Gaussian
  (continuous data), summed over the data dimensions of each example;
* the loss to **minimise** is the negative ELBO :math:`-\mathbb E_q[\log p(x\mid z)]+\beta\,
  \mathrm{KL}` (erratum §5.10: the book adds :math:`+\mathbb E[\log p]` and :math:`+\mathrm{KL}`);
* the importance-weighted bound (Burda et al. 2016) :math:`\log\frac1k\sum_i
  \frac{p(x,z_i)}{q(z_i\mid x)}` used for honest test log-likelihoods;
* sparsity penalties of a sparse autoencoder (KL towards a target rate ρ on sigmoid units, L1 on
  the code) and the contractive penalty :math:`\lVert\partial h/\partial x\rVert_F^2` (exact).

Every function works per example (reductions over the batch are the caller's), shapes in the
docstrings. Values are in nats.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import ShapeError

LOG_2PI = math.log(2 * math.pi)


def _flat(t: Tensor) -> Tensor:
    return t.reshape(t.shape[0], -1)


def reparameterize(mu: Tensor, logvar: Tensor, eps: Tensor | None = None) -> Tensor:
    r""":math:`z=\mu+\exp(\tfrac12\log\sigma^2)\odot\epsilon`, ``eps`` ~ N(0, I) unless given.

    ``mu``, ``logvar`` (and ``eps``): ``(..., d)``; returns ``z`` of the same shape (or of ``eps``'s
    shape, broadcasting a leading sample axis ``(k, N, d)``).
    """
    if mu.shape != logvar.shape:
        raise ShapeError(f"mu {tuple(mu.shape)} and logvar {tuple(logvar.shape)} must have the same shape")
    if eps is None:
        eps = torch.randn_like(mu)
    return mu + torch.exp(0.5 * logvar) * eps


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    r"""Per-example :math:`\mathrm{KL}(\mathcal N(\mu,\mathrm{diag}\,\sigma^2)\Vert\mathcal N(0,I))`:
    ``(N, d) → (N,)``, always ≥ 0."""
    return -0.5 * _flat(1 + logvar - mu.pow(2) - logvar.exp()).sum(1)


def log_normal_diag(z: Tensor, mu: Tensor | None = None, logvar: Tensor | None = None) -> Tensor:
    r""":math:`\log\mathcal N(z;\mu,\mathrm{diag}\,\sigma^2)` summed over the last axis:
    ``(..., d) → (...)``; ``mu``/``logvar`` default to the standard normal."""
    mu = torch.zeros_like(z) if mu is None else mu
    logvar = torch.zeros_like(z) if logvar is None else logvar
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) * torch.exp(-logvar)).sum(-1)


def check_unit_interval(x: Tensor, what: str = "Bernoulli likelihood") -> None:
    """:class:`ShapeError` unless every value of ``x`` lies in ``[0, 1]`` (a NaN fails too)."""
    if x.numel() == 0 or x.device.type == "meta":
        return
    lo, hi = (float(v) for v in torch.aminmax(x.detach().float()))
    if not (lo >= 0.0 and hi <= 1.0):
        raise ShapeError(f"a {what} needs targets in [0, 1], got values in [{lo:.4g}, {hi:.4g}]; load the "
                         "images unnormalised (normalize=False) and binarise them, or use a Gaussian likelihood "
                         "for real-valued data")


def bernoulli_log_likelihood(logits: Tensor, x: Tensor, check: bool = True) -> Tensor:
    r""":math:`\sum_i x_i\log\sigma(l_i)+(1-x_i)\log(1-\sigma(l_i))` per example:
    ``logits``, ``x`` ``(N, ...)`` → ``(N,)``. ``x`` must lie in [0, 1] (checked unless ``check=False``)."""
    if logits.shape != x.shape:
        raise ShapeError(f"decoder logits {tuple(logits.shape)} and data {tuple(x.shape)} must have the same shape")
    if check:
        check_unit_interval(x)
    return -_flat(F.binary_cross_entropy_with_logits(logits, x, reduction="none")).sum(1)


def gaussian_log_likelihood(mean: Tensor, x: Tensor, logvar: Tensor | float = 0.0) -> Tensor:
    r""":math:`\sum_i\log\mathcal N(x_i;\hat x_i,\sigma^2)` per example: ``(N, ...) → (N,)``.

    ``logvar`` is a scalar (a fixed decoder variance; 0 gives ½·squared error plus a constant, the
    MSE of the book's listing) or a tensor of ``mean``'s shape (a learned variance)."""
    if mean.shape != x.shape:
        raise ShapeError(f"decoder mean {tuple(mean.shape)} and data {tuple(x.shape)} must have the same shape")
    logvar = torch.as_tensor(logvar, dtype=mean.dtype, device=mean.device).expand_as(mean)
    return -0.5 * _flat(LOG_2PI + logvar + (x - mean).pow(2) * torch.exp(-logvar)).sum(1)


def negative_elbo(log_px_given_z: Tensor, kl: Tensor, beta: float = 1.0) -> Tensor:
    r"""The VAE loss to minimise, per example: :math:`-\log p(x\mid z)+\beta\,\mathrm{KL}` ``(N,)``.

    ``beta = 1`` is the negative ELBO (an upper bound on :math:`-\log p(x)`); β ≠ 1 is the β-VAE
    objective (Higgins et al. 2017).
    """
    return -log_px_given_z + beta * kl


def iwae_bound(log_px_given_z: Tensor, log_pz: Tensor, log_qz: Tensor) -> Tensor:
    r"""Importance-weighted lower bound :math:`\log\frac1k\sum_{i=1}^k\exp(\log p(x\mid z_i)+
    \log p(z_i)-\log q(z_i\mid x))`, from ``(k, N)`` log-densities → ``(N,)``.

    k = 1 is the ELBO; the bound rises towards :math:`\log p(x)` as k grows (Burda et al. 2016).
    """
    if not (log_px_given_z.shape == log_pz.shape == log_qz.shape) or log_pz.dim() != 2:
        raise ShapeError("iwae_bound takes three (k, N) tensors of log-densities, got "
                         f"{tuple(log_px_given_z.shape)}, {tuple(log_pz.shape)}, {tuple(log_qz.shape)}")
    log_w = log_px_given_z + log_pz - log_qz
    return torch.logsumexp(log_w, dim=0) - math.log(log_w.shape[0])


# ------------------------------------------------------------------------------ autoencoder penalties
def kl_sparsity(h: Tensor, rho: float = 0.05) -> Tensor:
    r""":math:`\sum_j\rho\log\frac{\rho}{\hat\rho_j}+(1-\rho)\log\frac{1-\rho}{1-\hat\rho_j}` with
    :math:`\hat\rho_j` the mean activation of unit ``j`` over the batch: ``h (N, m)`` → scalar.

    The units must be rates in (0, 1) — sigmoid activations (erratum: the book's listing uses ReLU,
    whose mean can be 0 or above 1 and makes the KL infinite or NaN); anything else is a
    :class:`ShapeError`. The mean is clamped away from 0 and 1 by 1e-6 so a dead unit gives a large
    finite penalty.
    """
    if not 0.0 < rho < 1.0:
        raise ShapeError(f"the target sparsity rho must lie in (0, 1), got {rho}")
    if h.numel() and h.device.type != "meta":
        lo, hi = (float(v) for v in torch.aminmax(h.detach()))
        if lo < 0.0 or hi > 1.0:
            raise ShapeError(f"KL sparsity needs activations in [0, 1] (sigmoid units), got values in "
                             f"[{lo:.3g}, {hi:.3g}]; use a sigmoid code layer, or the L1 penalty for ReLU codes")
    rho_hat = _flat(h).mean(0).clamp(1e-6, 1 - 1e-6)
    return (rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))).sum()


def l1_sparsity(h: Tensor) -> Tensor:
    r""":math:`\frac1N\sum_n\lVert h_n\rVert_1`: ``h (N, m)`` → scalar."""
    return _flat(h).abs().sum(1).mean()


def jacobian_frobenius(h: Tensor, x: Tensor, create_graph: bool = True) -> Tensor:
    r"""Exact :math:`\lVert\partial h_n/\partial x_n\rVert_F^2` per example by autograd, ``(N,)``.

    ``h (N, m)`` must have been computed from ``x (N, ...)`` example by example (no batch
    statistics), so that row ``n`` depends on ``x_n`` alone; one backward per code unit ``m``.
    """
    if not x.requires_grad:
        raise ShapeError("jacobian_frobenius needs the code computed from an input with requires_grad=True")
    hf = _flat(h)
    total = x.new_zeros(x.shape[0])
    for j in range(hf.shape[1]):
        (g,) = torch.autograd.grad(hf[:, j].sum(), x, create_graph=create_graph, retain_graph=True)
        total = total + _flat(g).pow(2).sum(1)
    return total


def contractive_penalty_sigmoid(h: Tensor, weight: Tensor) -> Tensor:
    r"""Closed form of :math:`\lVert J\rVert_F^2` for one sigmoid layer :math:`h=\sigma(Wx+b)`
    (Rifai et al. 2011): :math:`\sum_j(h_j(1-h_j))^2\sum_i W_{ji}^2`. ``h (N, m)``, ``weight (m, d)``
    → ``(N,)``."""
    if weight.shape[0] != h.shape[-1]:
        raise ShapeError(f"weight {tuple(weight.shape)} must have one row per code unit ({h.shape[-1]})")
    return ((h * (1 - h)).pow(2) * weight.pow(2).sum(1)).sum(-1)


def jacobian_logdet(f: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    r""":math:`\log\lvert\det\partial f(x_n)/\partial x_n\rvert` per example from the full Jacobian
    (``torch.linalg.slogdet``): the slow oracle for flow layers. ``x (N, ...)`` with ``f``
    acting example by example; returns ``(N,)``."""
    out = []
    for xn in x:
        jac = torch.autograd.functional.jacobian(lambda v: f(v.unsqueeze(0)).squeeze(0), xn)
        d = xn.numel()
        out.append(torch.linalg.slogdet(jac.reshape(d, d))[1])
    return torch.stack(out)


__all__ = [
    "reparameterize", "gaussian_kl", "log_normal_diag", "check_unit_interval", "bernoulli_log_likelihood",
    "gaussian_log_likelihood", "negative_elbo", "iwae_bound", "kl_sparsity", "l1_sparsity", "jacobian_frobenius",
    "contractive_penalty_sigmoid", "jacobian_logdet",
]
