r"""Metrics of generative models (Chapter 10): importance-weighted log-likelihood, Fréchet distance
and precision/recall of samples.

* :func:`iwae_log_likelihood` — :math:`\log p(x)\approx\log\frac1k\sum_i p(x,z_i)/q(z_i\mid x)`
  for any model under the ``vae`` contract (``encode``, ``decode``, ``log_likelihood``), in nats.
* :func:`frechet_distance` / :func:`fid_from_features` — the Fréchet distance between Gaussians
  fitted to two feature sets (Heusel et al. 2017). Here the features come from **a classifier we
  train on the same data** (:func:`classifier_features`), so the numbers are "FID with our
  MNIST/CIFAR classifier": comparable between models measured with the same classifier, never with
  Inception-v3 FID numbers of papers.
* :func:`precision_recall` — improved precision and recall (Kynkäänniemi et al. 2019): the share
  of generated samples inside the k-NN manifold of real features (precision) and of real samples
  inside the k-NN manifold of generated ones (recall).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..errors import ShapeError
from ..functional.generative import iwae_bound, log_normal_diag


@torch.no_grad()
def iwae_log_likelihood(model, x: Tensor, k: int, y: Tensor | None = None, chunk: int = 250) -> Tensor:
    r"""Importance-weighted estimate of :math:`\log p(x)` per example ``(N,)`` (nats) with ``k``
    samples from the model's encoder :math:`q(z\mid x)`, drawn ``chunk`` at a time (memory
    ``chunk × N`` decodes). ``k = 1`` is the ELBO; the estimate increases with ``k``."""
    if k < 1:
        raise ShapeError(f"k (importance samples) must be >= 1, got {k}")
    was = model.training
    model.eval()
    try:
        mu, logvar = model.encode(x, y)
        std = torch.exp(0.5 * logvar)
        n = x.shape[0]
        log_ws = []
        for start in range(0, k, chunk):
            kc = min(chunk, k - start)
            z = mu + std * torch.randn(kc, *mu.shape, device=mu.device, dtype=mu.dtype)  # (kc, N, d)
            yy = None if y is None else y.repeat(kc)
            out = model.decode(z.reshape(kc * n, -1), yy)
            ll = model.log_likelihood(out, x.repeat(kc, *([1] * (x.dim() - 1))), check=False).view(kc, n)
            log_ws.append(iwae_bound(ll, log_normal_diag(z), log_normal_diag(z, mu, logvar)) + math.log(kc))
        # combine chunks: log (1/k) Σ_chunks Σ_i w = logsumexp over chunk sums − log k
        return torch.logsumexp(torch.stack(log_ws), 0) - math.log(k)
    finally:
        model.train(was)


def _cov(f: Tensor) -> Tensor:
    f = f - f.mean(0, keepdim=True)
    return f.t() @ f / (f.shape[0] - 1)


def frechet_distance(mu1: Tensor, cov1: Tensor, mu2: Tensor, cov2: Tensor) -> float:
    r""":math:`\lVert\mu_1-\mu_2\rVert^2+\mathrm{tr}(\Sigma_1+\Sigma_2-2(\Sigma_1\Sigma_2)^{1/2})`.

    The trace of the matrix square root is computed from the eigenvalues of
    :math:`\Sigma_1^{1/2}\Sigma_2\Sigma_1^{1/2}` (symmetric PSD, so its square root is real), in
    float64."""
    mu1, mu2, cov1, cov2 = (t.double() for t in (mu1, mu2, cov1, cov2))
    ev1, vec1 = torch.linalg.eigh(cov1)
    sqrt1 = vec1 @ torch.diag(ev1.clamp_min(0).sqrt()) @ vec1.t()
    mid = sqrt1 @ cov2 @ sqrt1
    tr_sqrt = torch.linalg.eigvalsh((mid + mid.t()) / 2).clamp_min(0).sqrt().sum()
    return float((mu1 - mu2).pow(2).sum() + torch.trace(cov1) + torch.trace(cov2) - 2 * tr_sqrt)


def fid_from_features(real: Tensor, fake: Tensor) -> float:
    """Fréchet distance between Gaussians fitted to features ``real (N, F)`` and ``fake (M, F)``."""
    if real.dim() != 2 or fake.dim() != 2 or real.shape[1] != fake.shape[1]:
        raise ShapeError(f"features must be (N, F) and (M, F), got {tuple(real.shape)} and {tuple(fake.shape)}")
    if min(real.shape[0], fake.shape[0]) < 2:
        raise ShapeError("the Fréchet distance needs at least 2 samples on each side")
    return frechet_distance(real.mean(0), _cov(real.double()), fake.mean(0), _cov(fake.double()))


def _kth_radius(feats: Tensor, k: int) -> Tensor:
    d = torch.cdist(feats, feats)
    return d.kthvalue(k + 1, dim=1).values  # k+1: the point itself is at distance 0


def precision_recall(real: Tensor, fake: Tensor, k: int = 3) -> dict[str, float]:
    r"""Improved precision and recall (Kynkäänniemi et al. 2019) of features ``real (N, F)`` and
    ``fake (M, F)``: a sample is inside a set's manifold when it lies within the distance from some
    member of the set to that member's ``k``-th nearest neighbour (k = 3 in the paper)."""
    if real.shape[0] <= k or fake.shape[0] <= k:
        raise ShapeError(f"precision/recall with k={k} needs more than {k} samples on each side")
    real, fake = real.double(), fake.double()
    r_real, r_fake = _kth_radius(real, k), _kth_radius(fake, k)
    d = torch.cdist(fake, real)  # (M, N)
    precision = (d <= r_real.unsqueeze(0)).any(1).double().mean()
    recall = (d.t() <= r_fake.unsqueeze(0)).any(1).double().mean()
    return {"precision": float(precision), "recall": float(recall)}


@torch.no_grad()
def classifier_features(classifier, images: Tensor, batch_size: int = 500, transform=None) -> Tensor:
    """Penultimate features ``(N, F)`` of an image classifier under the ``image`` contract
    (``forward_head(forward_features(x), pre_logits=True)``), in evaluation mode; ``transform``
    maps the images first (e.g. the normalisation the classifier was trained with)."""
    was = classifier.training
    classifier.eval()
    try:
        out = []
        dev = next(classifier.parameters()).device
        for start in range(0, images.shape[0], batch_size):
            x = images[start:start + batch_size].to(dev)
            if transform is not None:
                x = transform(x)
            out.append(classifier.forward_head(classifier.forward_features(x), pre_logits=True).flatten(1).cpu())
        return torch.cat(out)
    finally:
        classifier.train(was)


__all__ = ["iwae_log_likelihood", "frechet_distance", "fid_from_features", "precision_recall", "classifier_features"]
