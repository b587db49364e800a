r"""Principal component analysis (book §9.2.2, L20673-20711).

The book's steps are centre, covariance :math:`C=\frac1{n-1}X_c^\top X_c`, eigendecomposition, project
(:func:`tensorprism.functional.unsupervised.pca_eig` is that reference). The fast path is the SVD of
:math:`X_c=U S V^\top`, which gives the same components without forming :math:`C` (squaring the
condition number): ``explained_variance_`` :math:`=S^2/(n-1)`, ``components_`` :math:`=V_k^\top`.

The book titles step 1 "Standardize" but only centres (erratum §5.8); both are offered:
``standardize=False`` (default, centre only, scikit-learn's PCA) and ``standardize=True`` (z-scores,
the book's Ex. 9.2(a); a constant feature then has no scale and is a clear error).
Signs follow scikit-learn (the largest-magnitude loading of each component is positive), so
results compare equal, not just equal up to sign.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..errors import ConfigError, DataError
from ._base import as_tensor, to_numpy


class PCA(TransformerMixin, BaseEstimator):
    """PCA in torch with scikit-learn's interface.

    Args:
        n_components: components kept: an int ``k``, a float in ``(0, 1)`` (the smallest ``k`` whose
            explained-variance ratio reaches it) or ``None`` (``min(N, D)``).
        standardize: divide each centred feature by its standard deviation (``ddof=1``) first.
        whiten: scale projections to unit variance.
        device, dtype: as for :class:`~tensorprism.unsupervised.KMeans`.

    Attributes:
        components_ ``(k, D)``, explained_variance_ ``(k,)``, explained_variance_ratio_,
        singular_values_, mean_ ``(D,)``, scale_ ``(D,)`` (ones unless standardised), n_components_,
        noise_variance_ (mean of the discarded variances).
    """

    def __init__(self, n_components=None, *, standardize=False, whiten=False, device=None, dtype="float64"):
        self.n_components = n_components
        self.standardize = standardize
        self.whiten = whiten
        self.device = device
        self.dtype = dtype

    def _k(self, n: int, d: int, ratio: torch.Tensor) -> int:
        k = self.n_components
        if k is None:
            return min(n, d)
        if isinstance(k, float) and 0 < k < 1:
            return int(torch.searchsorted(torch.cumsum(ratio, 0), torch.tensor(k, dtype=ratio.dtype)).item()) + 1
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= min(n, d):
            raise ConfigError(f"PCA: n_components must be None, a float in (0, 1) or an integer in "
                              f"[1, min(n_samples, n_features) = {min(n, d)}], got {k!r}")
        return int(k)

    def fit(self, X, y=None):
        self._fit(X)
        return self

    def fit_transform(self, X, y=None):
        del y
        u, s = self._fit(X)
        k = self.n_components_
        out = u[:, :k] * (s[:k] if not self.whiten else (s.new_tensor(u.shape[0] - 1).sqrt()))
        return to_numpy(out)

    def _fit(self, X):
        x = as_tensor(X, estimator="PCA", device=self.device, dtype=self.dtype, min_samples=2)
        n, d = x.shape
        mean = x.mean(0)
        xc = x - mean
        scale = torch.ones_like(mean)
        if self.standardize:
            scale = xc.std(0)
            const = (scale <= torch.finfo(x.dtype).eps * mean.abs().clamp_min(1)).nonzero().flatten()
            if len(const):
                raise DataError(f"PCA(standardize=True): feature(s) {const.tolist()[:10]} are constant, so they "
                                "cannot be scaled to unit variance; drop them or use standardize=False")
            xc = xc / scale
        u, s, vt = torch.linalg.svd(xc, full_matrices=False)
        # sign convention: the largest |loading| of each component is positive (scikit-learn's svd_flip)
        signs = torch.sign(vt.gather(1, vt.abs().argmax(1, keepdim=True))).squeeze(1)
        signs[signs == 0] = 1
        u, vt = u * signs, vt * signs[:, None]
        var = s**2 / (n - 1)
        total = var.sum()
        ratio = var / total if total > 0 else torch.zeros_like(var)
        k = self._k(n, d, ratio)
        self.mean_, self.scale_ = to_numpy(mean), to_numpy(scale)
        self.components_ = to_numpy(vt[:k])
        self.explained_variance_ = to_numpy(var[:k])
        self.explained_variance_ratio_ = to_numpy(ratio[:k])
        self.singular_values_ = to_numpy(s[:k])
        self.n_components_, self.n_features_in_, self.n_samples_ = k, d, n
        rest = var[k:]
        self.noise_variance_ = float(rest.mean()) if len(rest) else 0.0
        self._state = (mean, scale, vt[:k], var[:k])
        return u, s

    def _x(self, X) -> torch.Tensor:
        check_is_fitted(self, "components_")
        mean = self._state[0]
        x = as_tensor(X, estimator="PCA", device=mean.device, dtype=mean.dtype)
        if x.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {x.shape[1]} features, but PCA is expecting {self.n_features_in_} features as input")
        return x

    def transform(self, X):
        """Projections ``(N, k)`` of the (centred, optionally standardised) rows onto the components."""
        mean, scale, comp, var = self._state
        z = (self._x(X) - mean) / scale @ comp.T
        return to_numpy(z / var.sqrt() if self.whiten else z)

    def inverse_transform(self, Z):
        """Back to feature space, ``(N, D)``: the rank-k reconstruction of the data (Ex. 9.13)."""
        check_is_fitted(self, "components_")
        mean, scale, comp, var = self._state
        z = torch.as_tensor(np.asarray(Z), dtype=mean.dtype, device=mean.device)
        if self.whiten:
            z = z * var.sqrt()
        return to_numpy((z @ comp) * scale + mean)

    def reconstruction_error(self, X):
        """Squared error ``||x - x_hat||^2`` of each row's rank-k reconstruction, ``(N,)``: the classical
        anomaly score."""
        x = self._x(X)
        x_hat = torch.as_tensor(self.inverse_transform(self.transform(x)), dtype=x.dtype, device=x.device)
        return to_numpy(((x - x_hat) ** 2).sum(1))


__all__ = ["PCA"]
