r"""Gaussian mixture by expectation-maximisation (book §9.2.1, L20578-20611; Dempster et al. 1977).

:math:`p(x)=\sum_i\pi_i\mathcal N(x\mid\mu_i,\Sigma_i)`. The E-step computes responsibilities in log
space (log-sum-exp; the book's densities underflow in a few dozen dimensions), the M-step the
maximum-likelihood weights, means and covariances of the book (L20600-20604) plus ``reg_covar`` on
every covariance's diagonal -- the floor that keeps a component that collapses onto one point (or
constant features) from making :math:`\Sigma` singular. ``covariance_type`` is ``"full"`` or
``"diag"``. The mean log-likelihood per sample is recorded after every E-step (``lower_bounds_``)
and never decreases (EM's monotonicity; tested).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClusterMixin, DensityMixin
from sklearn.utils.validation import check_is_fitted

from ..errors import ConfigError
from ._base import as_tensor, check_n_clusters, generator, to_numpy
from .kmeans import KMeans


def log_gaussian(x: torch.Tensor, means: torch.Tensor, chol_prec: torch.Tensor, kind: str) -> torch.Tensor:
    """``log N(x | mu_k, Sigma_k)`` for every point and component, ``(N, K)``.

    ``chol_prec`` is the Cholesky factor ``U_k`` of each precision (``Sigma^-1 = U U^T``), ``(K, D, D)``
    for ``"full"``, or ``1/sigma`` ``(K, D)`` for ``"diag"``.
    """
    d = x.shape[1]
    if kind == "full":
        log_det = torch.log(torch.diagonal(chol_prec, dim1=1, dim2=2)).sum(1)  # log|U| = -1/2 log|Sigma|
        y = torch.einsum("nd,kde->nke", x, chol_prec) - torch.einsum("kd,kde->ke", means, chol_prec)[None]
        maha = (y * y).sum(2)
    else:
        log_det = torch.log(chol_prec).sum(1)
        y = x[:, None, :] * chol_prec[None] - (means * chol_prec)[None]
        maha = (y * y).sum(2)
    return -0.5 * (d * math.log(2 * math.pi) + maha) + log_det[None]


def precision_cholesky(covs: torch.Tensor, kind: str) -> torch.Tensor:
    """Cholesky factors of the precisions from covariances (raises a clear error when one is singular)."""
    if kind == "diag":
        if (covs <= 0).any():
            raise ConfigError("GaussianMixture: a diagonal covariance is not positive; increase reg_covar")
        return covs.rsqrt()
    chol, info = torch.linalg.cholesky_ex(covs)
    if (info != 0).any():
        raise ConfigError("GaussianMixture: a covariance is not positive definite (a component collapsed or "
                          "features are collinear); increase reg_covar or use covariance_type='diag'")
    eye = torch.eye(covs.shape[1], dtype=covs.dtype, device=covs.device).expand_as(covs)
    # Sigma = L L^T  =>  Sigma^-1 = L^-T L^-1, so U = L^-T is an upper factor with U U^T = Sigma^-1
    return torch.linalg.solve_triangular(chol, eye, upper=False).transpose(1, 2)


def m_step(x: torch.Tensor, resp: torch.Tensor, kind: str, reg_covar: float):
    """Weights ``(K,)``, means ``(K, D)`` and covariances (``(K, D, D)`` or ``(K, D)``) from ``resp (N, K)``."""
    nk = resp.sum(0) + 10 * torch.finfo(resp.dtype).eps
    means = resp.T @ x / nk[:, None]
    if kind == "full":
        diff = x[None] - means[:, None]  # (K, N, D)
        covs = torch.einsum("kn,knd,kne->kde", resp.T, diff, diff) / nk[:, None, None]
        covs = covs + reg_covar * torch.eye(x.shape[1], dtype=x.dtype, device=x.device)
    else:
        avg_x2 = resp.T @ (x * x) / nk[:, None]
        covs = avg_x2 - means**2 + reg_covar
    return nk / x.shape[0], means, covs


class GaussianMixture(DensityMixin, ClusterMixin, BaseEstimator):
    """Gaussian mixture fitted by EM, in torch, with scikit-learn's interface.

    Args:
        n_components: number of Gaussians ``K``.
        covariance_type: ``"full"`` or ``"diag"``.
        tol: stop when the mean log-likelihood improves by less than this.
        reg_covar: added to covariance diagonals (the floor).
        max_iter: EM iterations. n_init: restarts, the highest likelihood kept.
        init_params: ``"kmeans"`` (responsibilities from a k-means labelling) or ``"random"``.
        weights_init, means_init, precisions_init: explicit starting parameters (the book's Ex. 9.16
            gives them); they replace those computed from ``init_params``.
        random_state, device, dtype: as for :class:`~tensorprism.unsupervised.KMeans`.

    Attributes:
        weights_ ``(K,)``, means_ ``(K, D)``, covariances_, precisions_cholesky_, labels_, converged_,
        n_iter_, lower_bound_ (final mean log-likelihood), lower_bounds_ (one per iteration).
    """

    def __init__(self, n_components=1, *, covariance_type="full", tol=1e-3, reg_covar=1e-6, max_iter=100,
                 n_init=1, init_params="kmeans", weights_init=None, means_init=None, precisions_init=None,
                 random_state=None, device=None, dtype="float64"):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.device = device
        self.dtype = dtype

    def _check_settings(self) -> None:
        if self.covariance_type not in ("full", "diag"):
            raise ConfigError(f"GaussianMixture: covariance_type must be 'full' or 'diag', got {self.covariance_type!r}")
        if self.init_params not in ("kmeans", "random"):
            raise ConfigError(f"GaussianMixture: init_params must be 'kmeans' or 'random', got {self.init_params!r}")
        if not float(self.reg_covar) >= 0:
            raise ConfigError(f"GaussianMixture: reg_covar must be >= 0, got {self.reg_covar!r}")
        for name in ("max_iter", "n_init"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ConfigError(f"GaussianMixture: {name} must be an integer >= 1, got {v!r}")

    def _init(self, x: torch.Tensor, k: int, gen: torch.Generator):
        n = x.shape[0]
        if self.init_params == "kmeans":
            seed = int(torch.randint(2**31 - 1, (1,), generator=gen))
            labels = torch.as_tensor(KMeans(k, n_init=1, random_state=seed, device=x.device, dtype=x.dtype)
                                     .fit(x).labels_, device=x.device)
            resp = torch.nn.functional.one_hot(labels, k).to(x.dtype)
        else:
            resp = torch.rand(n, k, generator=gen, dtype=x.dtype).to(x.device)
            resp = resp / resp.sum(1, keepdim=True)
        weights, means, covs = m_step(x, resp, self.covariance_type, float(self.reg_covar))
        prec = precision_cholesky(covs, self.covariance_type)
        as_t = lambda a: torch.as_tensor(np.asarray(a), dtype=x.dtype, device=x.device)  # noqa: E731
        if self.weights_init is not None:
            weights = as_t(self.weights_init)
        if self.means_init is not None:
            means = as_t(self.means_init)
        if self.precisions_init is not None:
            p = as_t(self.precisions_init)
            if self.covariance_type == "full":
                prec = torch.linalg.cholesky(p)  # lower L with L L^T = P: its role is U's
            else:
                prec = p.sqrt()
        return weights, means, prec

    def _e_step(self, x, weights, means, prec):
        weighted = log_gaussian(x, means, prec, self.covariance_type) + torch.log(weights)[None]
        norm = torch.logsumexp(weighted, 1)
        return norm.mean(), weighted - norm[:, None]

    def fit(self, X, y=None):
        self.fit_predict(X, y)
        return self

    def fit_predict(self, X, y=None):
        del y
        self._check_settings()
        x = as_tensor(X, estimator="GaussianMixture", device=self.device, dtype=self.dtype, min_samples=2)
        k = check_n_clusters(self.n_components, x.shape[0], name="n_components", estimator="GaussianMixture")
        gen = generator(self.random_state)
        best = None
        for _ in range(int(self.n_init)):
            weights, means, prec = self._init(x, k, gen)
            bounds, converged, prev = [], False, -math.inf
            it = 0
            for it in range(1, int(self.max_iter) + 1):  # noqa: B007 - it is the iteration count after the loop
                ll, log_resp = self._e_step(x, weights, means, prec)
                bounds.append(float(ll))
                weights, means, covs = m_step(x, log_resp.exp(), self.covariance_type, float(self.reg_covar))
                prec = precision_cholesky(covs, self.covariance_type)
                if abs(float(ll) - prev) < self.tol:
                    converged = True
                    break
                prev = float(ll)
            if best is None or bounds[-1] > best[0]:
                best = (bounds[-1], weights, means, covs, prec, bounds, converged, it)
        _, weights, means, covs, prec, bounds, converged, it = best
        self.weights_, self.means_, self.covariances_ = to_numpy(weights), to_numpy(means), to_numpy(covs)
        self.precisions_cholesky_ = to_numpy(prec)
        self._params = (weights, means, prec)
        self.lower_bounds_, self.lower_bound_ = bounds, bounds[-1]
        self.converged_, self.n_iter_, self.n_features_in_ = converged, it, x.shape[1]
        # labels from the final parameters, consistent with predict(X)
        self.labels_ = to_numpy(self._e_step(x, *self._params)[1].argmax(1))
        return self.labels_

    def _x(self, X) -> torch.Tensor:
        check_is_fitted(self, "means_")
        w = self._params[0]
        x = as_tensor(X, estimator="GaussianMixture", device=w.device, dtype=w.dtype)
        if x.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {x.shape[1]} features, but GaussianMixture is expecting "
                             f"{self.n_features_in_} features as input")
        return x

    def score_samples(self, X):
        """Log-likelihood ``log p(x)`` of each row, ``(N,)``."""
        x = self._x(X)
        w, m, p = self._params
        return to_numpy(torch.logsumexp(log_gaussian(x, m, p, self.covariance_type) + torch.log(w)[None], 1))

    def score(self, X, y=None):
        """Mean log-likelihood per sample."""
        del y
        return float(np.mean(self.score_samples(X)))

    def predict_proba(self, X):
        """Responsibilities ``(N, K)``."""
        return to_numpy(self._e_step(self._x(X), *self._params)[1].exp())

    def predict(self, X):
        return self.predict_proba(X).argmax(1)

    def _n_parameters(self) -> int:
        k, d = self.means_.shape
        cov = k * d * (d + 1) / 2 if self.covariance_type == "full" else k * d
        return int(cov + k * d + k - 1)

    def bic(self, X):
        """Bayesian information criterion (lower is better)."""
        n = len(X)
        return -2 * self.score(X) * n + self._n_parameters() * math.log(n)

    def aic(self, X):
        return -2 * self.score(X) * len(X) + 2 * self._n_parameters()


__all__ = ["GaussianMixture", "log_gaussian", "precision_cholesky", "m_step"]
