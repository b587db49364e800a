r"""Chapter 9's unsupervised objectives as their equations (reference paths, book §9.2, L20517-20804).

Each function is written to be read next to the book, with loops where the book sums; the fast
estimators of :mod:`tensorprism.unsupervised` are tested equal to these.

==============================  ===================================================================
k-means WCSS (L20520)           :math:`\sum_{i=1}^k\sum_{x\in C_i}\lVert x-\mu_i\rVert^2`
Lloyd step (L20525-20530)       assign to the nearest centre, then each centre := mean of its points
GMM density (L20580)            :math:`p(x)=\sum_i\pi_i\mathcal N(x\mid\mu_i,\Sigma_i)`
E-step (L20596)                 :math:`\gamma_i(x)=\pi_i\mathcal N(x\mid\mu_i,\Sigma_i)/\sum_j\pi_j\mathcal N(x\mid\mu_j,\Sigma_j)`
M-step (L20600-20604)           :math:`\pi_i=\frac1n\sum_j\gamma_{ij}`, :math:`\mu_i`, :math:`\Sigma_i` weighted by
                                :math:`\gamma` (divided by :math:`N_i`, the maximum-likelihood estimate)
PCA (L20675-20696)              :math:`C=\frac1{n-1}X_c^\top X_c,\ CV=V\Lambda,\ X_{red}=X_cV_k`
t-SNE (L20727-20735)            standard form: conditional :math:`p_{j|i}` with :math:`\sigma_i` set by the
                                perplexity, :math:`p_{ij}=(p_{j|i}+p_{i|j})/2n` (the book's jointly
                                normalised :math:`p_{ij}` is erratum §5.1), Student-t :math:`q_{ij}`,
                                :math:`\mathrm{KL}(P\Vert Q)`
UMAP (L20772)                   the fuzzy-set cross-entropy
                                :math:`\sum w\log\frac{w}{v}+(1-w)\log\frac{1-w}{1-v}`,
                                :math:`v=(1+a d^{2b})^{-1}` (the book's loss is erratum §5.2)
==============================  ===================================================================
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def wcss(x: Tensor, centers: Tensor, labels: Tensor) -> Tensor:
    """Within-cluster sum of squares, summed cluster by cluster as the book writes it.

    Args:
        x: points ``(N, D)``; centers: ``(K, D)``; labels: cluster of each point ``(N,)``.
    """
    total = x.new_zeros(())
    for i in range(centers.shape[0]):
        members = x[labels == i]
        total = total + ((members - centers[i]) ** 2).sum()
    return total


def lloyd_step(x: Tensor, centers: Tensor) -> tuple[Tensor, Tensor]:
    """One Lloyd iteration ``(labels (N,), new centres (K, D))``; an empty cluster keeps its centre."""
    labels = torch.stack([((x[n] - centers) ** 2).sum(1).argmin() for n in range(x.shape[0])])
    new = centers.clone()
    for i in range(centers.shape[0]):
        if (labels == i).any():
            new[i] = x[labels == i].mean(0)
    return labels, new


def gaussian_density(x: Tensor, mean: Tensor, cov: Tensor) -> Tensor:
    r""":math:`\mathcal N(x\mid\mu,\Sigma)=(2\pi)^{-D/2}|\Sigma|^{-1/2}\exp(-\tfrac12(x-\mu)^\top\Sigma^{-1}(x-\mu))`, ``(N,)``."""
    d = x.shape[1]
    diff = x - mean
    maha = (diff @ torch.linalg.inv(cov) * diff).sum(1)
    return torch.exp(-0.5 * maha) / math.sqrt((2 * math.pi) ** d) / torch.linalg.det(cov).sqrt()


def gmm_e_step(x: Tensor, weights: Tensor, means: Tensor, covs: Tensor) -> Tensor:
    """Responsibilities ``gamma (N, K)`` of the book's E-step (densities, not log-densities)."""
    dens = torch.stack([weights[i] * gaussian_density(x, means[i], covs[i]) for i in range(len(weights))], 1)
    return dens / dens.sum(1, keepdim=True)


def gmm_m_step(x: Tensor, gamma: Tensor, reg_covar: float = 0.0) -> tuple[Tensor, Tensor, Tensor]:
    """``(weights (K,), means (K, D), covariances (K, D, D))`` from responsibilities ``(N, K)``;
    ``reg_covar`` is added to each covariance's diagonal (the floor the book omits)."""
    n, k = gamma.shape
    nk = gamma.sum(0)
    weights = nk / n
    means = torch.stack([(gamma[:, i:i + 1] * x).sum(0) / nk[i] for i in range(k)])
    covs = []
    for i in range(k):
        diff = x - means[i]
        covs.append((gamma[:, i, None, None] * diff[:, :, None] * diff[:, None, :]).sum(0) / nk[i]
                    + reg_covar * torch.eye(x.shape[1], dtype=x.dtype))
    return weights, means, torch.stack(covs)


def gmm_log_likelihood(x: Tensor, weights: Tensor, means: Tensor, covs: Tensor) -> Tensor:
    r"""Mean log-likelihood per sample :math:`\frac1n\sum_j\log\sum_i\pi_i\mathcal N(x_j\mid\mu_i,\Sigma_i)`."""
    dens = sum(weights[i] * gaussian_density(x, means[i], covs[i]) for i in range(len(weights)))
    return torch.log(dens).mean()


def pca_eig(x: Tensor, k: int) -> tuple[Tensor, Tensor, Tensor]:
    """The book's PCA: ``(projection (N, k), components (k, D), eigenvalues (k,))`` from the
    eigendecomposition of the ``1/(n-1)`` covariance, largest eigenvalues first (signs as ``eigh``
    returns them)."""
    xc = x - x.mean(0)
    cov = xc.T @ xc / (x.shape[0] - 1)
    vals, vecs = torch.linalg.eigh(cov)
    order = vals.argsort(descending=True)[:k]
    v = vecs[:, order]
    return xc @ v, v.T, vals[order]


def tsne_conditional_p(sq_dist: Tensor, perplexity: float, tol: float = 1e-5, steps: int = 100) -> Tensor:
    r"""Conditional :math:`p_{j|i}=\exp(-d_{ij}^2\beta_i)/\sum_{k\ne i}\exp(-d_{ik}^2\beta_i)` with each
    :math:`\beta_i=1/2\sigma_i^2` found by bisection so that :math:`2^{H(P_i)}` equals ``perplexity``.

    Args:
        sq_dist: squared distances ``(N, N)``. Returns ``(N, N)`` with rows summing to 1.
    """
    n = sq_dist.shape[0]
    target = math.log(perplexity)  # entropy in nats
    p = torch.zeros_like(sq_dist)
    for i in range(n):
        d = torch.cat([sq_dist[i, :i], sq_dist[i, i + 1:]])
        lo, hi, beta = 0.0, math.inf, 1.0
        for _ in range(steps):
            w = torch.exp(-(d - d.min()) * beta)  # shift for stability: cancels in the ratio
            row = w / w.sum()
            entropy = -(row * torch.log(row.clamp_min(1e-300))).sum().item()
            if abs(entropy - target) < tol:
                break
            if entropy > target:
                lo, beta = beta, beta * 2 if hi == math.inf else (beta + hi) / 2
            else:
                hi, beta = beta, (beta + lo) / 2
        p[i, :i], p[i, i + 1:] = row[:i], row[i:]
    return p


def tsne_joint_p(conditional: Tensor) -> Tensor:
    r""":math:`p_{ij}=(p_{j|i}+p_{i|j})/2n` (sums to 1 over :math:`i\ne j`)."""
    return (conditional + conditional.T) / (2 * conditional.shape[0])


def tsne_kl(p: Tensor, y: Tensor) -> Tensor:
    r"""The t-SNE objective :math:`\mathrm{KL}(P\Vert Q)=\sum_{i\ne j}p_{ij}\log(p_{ij}/q_{ij})` with
    :math:`q_{ij}=(1+\lVert y_i-y_j\rVert^2)^{-1}/\sum_{k\ne l}(1+\lVert y_k-y_l\rVert^2)^{-1}`."""
    n = y.shape[0]
    num = 1.0 / (1.0 + torch.cdist(y, y) ** 2)
    off = ~torch.eye(n, dtype=torch.bool, device=y.device)
    q = num / num[off].sum()
    mask = off & (p > 0)
    return (p[mask] * torch.log(p[mask] / q[mask])).sum()


def umap_cross_entropy(w: Tensor, d: Tensor, a: float = 1.577, b: float = 0.8951, eps: float = 1e-12) -> Tensor:
    r"""UMAP's objective: the cross-entropy between the high-dimensional fuzzy graph ``w (N, N)`` and
    the low-dimensional one :math:`v=(1+a d^{2b})^{-1}` on embedding distances ``d (N, N)``, over
    :math:`i\ne j`. The defaults ``a, b`` are umap-learn's fit for ``min_dist=0.1, spread=1``."""
    off = ~torch.eye(w.shape[0], dtype=torch.bool, device=w.device)
    w, d = w[off], d[off]
    v = 1.0 / (1.0 + a * d ** (2 * b))
    attract = torch.where(w > 0, w * torch.log(w.clamp_min(eps) / v.clamp_min(eps)), torch.zeros_like(w))
    repel = torch.where(w < 1, (1 - w) * torch.log((1 - w).clamp_min(eps) / (1 - v).clamp_min(eps)),
                        torch.zeros_like(w))
    return (attract + repel).sum()


__all__ = [
    "wcss", "lloyd_step", "gaussian_density", "gmm_e_step", "gmm_m_step", "gmm_log_likelihood", "pca_eig",
    "tsne_conditional_p", "tsne_joint_p", "tsne_kl", "umap_cross_entropy",
]
