r"""t-SNE (van der Maaten & Hinton 2008; book §9.2.2, L20723-20766) with the standard objective.

The book's :math:`p_{ij}` normalises jointly over all pairs with per-point :math:`\sigma_k` and never
mentions perplexity (erratum §5.1). Here, as in the paper and scikit-learn:

1. :math:`p_{j|i}\propto\exp(-\lVert x_i-x_j\rVert^2\beta_i)`, :math:`\beta_i` found by bisection (all
   points at once, on the device) so that :math:`2^{H(P_i)}` = ``perplexity``;
2. :math:`p_{ij}=(p_{j|i}+p_{i|j})/2N`;
3. :math:`q_{ij}=(1+\lVert y_i-y_j\rVert^2)^{-1}/\sum_{k\ne l}(1+\lVert y_k-y_l\rVert^2)^{-1}`;
4. minimise :math:`\mathrm{KL}(P\Vert Q)` by gradient descent with momentum and per-coordinate gains
   (Jacobs 1988), the first ``early_exaggeration_iter`` steps with :math:`P` multiplied by
   ``early_exaggeration`` (momentum 0.5), the rest with momentum 0.8 and fresh gains; gradient :math:`4\sum_j(p_{ij}-q_{ij})(1+\lVert y_i-y_j\rVert^2)^{-1}(y_i-y_j)`.

``method="exact"`` uses the dense :math:`N\times N` matrices (memory :math:`O(N^2)`; on a GPU tens of
thousands of points). ``method="sparse"`` keeps each point's ``3 * perplexity`` nearest neighbours in
:math:`P` (as Barnes-Hut t-SNE does, van der Maaten 2014) and computes the repulsion exactly in row
blocks, so memory is :math:`O(N\cdot\text{block})`; it is *not* the Barnes-Hut tree approximation of
the repulsion (time stays :math:`O(N^2)` per step, which a GPU handles for ~10^5 points).
``method="barnes_hut"`` (van der Maaten 2014, scikit-learn's default) uses the same sparse :math:`P`
and approximates the repulsion with a quadtree (octree in 3-D) and opening angle ``angle``
(:mod:`tensorprism.unsupervised.barnes_hut`): :math:`O(N\log N)` per step; its ``kl_divergence_``
uses the approximated normaliser :math:`Z`, as scikit-learn's does.
``kl_divergence_`` is the objective at the end (reference: :func:`tensorprism.functional.unsupervised.tsne_kl`).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin

from ..errors import ConfigError
from ._base import as_tensor, generator, sq_distances, to_numpy
from .barnes_hut import barnes_hut_repulsion

MACHINE_EPSILON = float(np.finfo(np.double).eps)


def conditional_p(sq_dist: torch.Tensor, perplexity: float, steps: int = 100, tol: float = 1e-5) -> torch.Tensor:
    """Rows ``p_{j|i}`` for every point at once by bisection on ``beta``; ``sq_dist (N, M)`` holds each
    point's squared distances to its candidates (the point itself excluded). Returns ``(N, M)``."""
    n = sq_dist.shape[0]
    target = math.log(perplexity)
    beta = torch.ones(n, dtype=sq_dist.dtype, device=sq_dist.device)
    lo = torch.zeros_like(beta)
    hi = torch.full_like(beta, math.inf)
    d = sq_dist - sq_dist.min(1, keepdim=True).values  # shift: cancels in the normalisation
    for _ in range(steps):
        w = torch.exp(-d * beta[:, None])
        sw = w.sum(1, keepdim=True).clamp_min(1e-300)
        p = w / sw
        # H = log(sum w) + beta * sum p d  (nats)
        entropy = torch.log(sw[:, 0]) + beta * (p * d).sum(1)
        diff = entropy - target
        if diff.abs().max() < tol:
            break
        up = diff > 0  # too flat: sharpen (larger beta)
        lo = torch.where(up, beta, lo)
        hi = torch.where(up, hi, beta)
        beta = torch.where(up, torch.where(torch.isinf(hi), beta * 2, (beta + hi) / 2), (beta + lo) / 2)
    return p


class TSNE(TransformerMixin, BaseEstimator):
    """t-SNE embedding with scikit-learn's interface (``fit_transform``; no out-of-sample ``transform``).

    Args:
        n_components: embedding dimension. perplexity: effective number of neighbours (< N).
        early_exaggeration, early_exaggeration_iter: P multiplier and the steps it lasts (12, 250).
        learning_rate: step size or ``"auto"`` (``max(N / early_exaggeration / 4, 50)``).
        max_iter: total gradient steps. min_grad_norm: stop when the gradient norm falls below it.
        init: ``"pca"`` (scaled to std 1e-4), ``"random"`` (N(0, 1e-4)) or an array ``(N, n_components)``.
        method: ``"exact"``, ``"sparse"`` or ``"barnes_hut"`` (see the module docstring).
        angle: Barnes-Hut opening angle θ (0.5 as scikit-learn; 0 visits every leaf).
        block: rows per repulsion block (``"sparse"``).
        random_state, device, dtype: as for KMeans.

    Attributes:
        embedding_ ``(N, n_components)``, kl_divergence_, n_iter_, learning_rate_, n_features_in_.
    """

    def __init__(self, n_components=2, *, perplexity=30.0, early_exaggeration=12.0, learning_rate="auto",
                 max_iter=1000, early_exaggeration_iter=250, min_grad_norm=1e-7, init="pca", method="exact",
                 angle=0.5, block=2048, random_state=None, device=None, dtype="float64"):
        self.n_components = n_components
        self.perplexity = perplexity
        self.early_exaggeration = early_exaggeration
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.early_exaggeration_iter = early_exaggeration_iter
        self.min_grad_norm = min_grad_norm
        self.init = init
        self.method = method
        self.angle = angle
        self.block = block
        self.random_state = random_state
        self.device = device
        self.dtype = dtype

    # --- P --------------------------------------------------------------------------------------
    def _joint_p(self, x: torch.Tensor):
        n = x.shape[0]
        d2 = sq_distances(x, x)
        if self.method == "exact":
            off = ~torch.eye(n, dtype=torch.bool, device=x.device)
            cond = torch.zeros_like(d2)
            cond[off] = conditional_p(d2[off].view(n, n - 1), float(self.perplexity)).flatten()
            p = cond + cond.T
            return (p / p.sum()).clamp_min(MACHINE_EPSILON).masked_fill(~off, 0.0)
        k = min(n - 1, int(3 * float(self.perplexity) + 1))
        d2.fill_diagonal_(float("inf"))
        nd, nbr = d2.topk(k, dim=1, largest=False)
        cond = conditional_p(nd, float(self.perplexity))
        rows = torch.arange(n, device=x.device).repeat_interleave(k)
        p = torch.sparse_coo_tensor(torch.stack([rows, nbr.flatten()]), cond.flatten(), (n, n),
                                    check_invariants=False)
        p = (p + p.t()).coalesce()
        return p / p.values().sum()

    # --- objective and gradient ------------------------------------------------------------------
    def _kl_grad(self, p, y: torch.Tensor, exaggeration: float, need_kl: bool = True):
        n = y.shape[0]
        if self.method == "exact":
            num = 1.0 / (1.0 + sq_distances(y, y))
            num.fill_diagonal_(0.0)
            q = (num / num.sum()).clamp_min(MACHINE_EPSILON)
            pe = p * exaggeration if exaggeration != 1.0 else p
            # p's diagonal is 0, so the diagonal adds nothing to the sum
            kl = (pe * torch.log(pe.clamp_min(MACHINE_EPSILON) / q)).sum() if need_kl else None
            w = (pe - q) * num
            grad = 4.0 * (w.sum(1, keepdim=True) * y - w @ y)
            return kl, grad
        # sparse attraction over the kept pairs; repulsion exact in row blocks or by Barnes-Hut
        idx, val = p.indices(), p.values() * exaggeration
        diff = y[idx[0]] - y[idx[1]]
        pair_num = 1.0 / (1.0 + (diff * diff).sum(1))
        attract = torch.zeros_like(y).index_add_(0, idx[0], (val * pair_num)[:, None] * diff)
        if self.method == "barnes_hut":
            rep, z = barnes_hut_repulsion(y, float(self.angle))
            q_pairs = (pair_num / z).clamp_min(MACHINE_EPSILON)
            kl = (val * torch.log(val.clamp_min(MACHINE_EPSILON) / q_pairs)).sum() if need_kl else None
            return kl, 4.0 * (attract - rep / z)
        z = y.new_zeros(())
        rep = torch.zeros_like(y)
        for s in range(0, n, int(self.block)):
            num = 1.0 / (1.0 + sq_distances(y[s:s + self.block], y))
            num[torch.arange(num.shape[0]), torch.arange(s, s + num.shape[0])] = 0.0
            z = z + num.sum()
            num2 = num * num
            rep[s:s + self.block] = num2.sum(1, keepdim=True) * y[s:s + self.block] - num2 @ y
        q_pairs = (pair_num / z).clamp_min(MACHINE_EPSILON)
        kl = (val * torch.log(val.clamp_min(MACHINE_EPSILON) / q_pairs)).sum()
        return kl, 4.0 * (attract - rep / z)

    def _initial(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        n, k = x.shape[0], int(self.n_components)
        if isinstance(self.init, str) and self.init == "pca":
            from .pca import PCA

            y = torch.as_tensor(PCA(k, device=x.device, dtype=x.dtype).fit_transform(x), device=x.device)
            return y / y[:, 0].std() * 1e-4
        if isinstance(self.init, str) and self.init == "random":
            return 1e-4 * torch.randn(n, k, generator=gen, dtype=x.dtype).to(x.device)
        if isinstance(self.init, str):
            raise ConfigError(f"TSNE: init must be 'pca', 'random' or an array, got {self.init!r}")
        y = torch.as_tensor(np.asarray(self.init), dtype=x.dtype, device=x.device)
        if y.shape != (n, k):
            raise ConfigError(f"TSNE: init array has shape {tuple(y.shape)}, expected {(n, k)}")
        return y.clone()

    def fit_transform(self, X, y=None):
        del y
        if self.method not in ("exact", "sparse", "barnes_hut"):
            raise ConfigError(f"TSNE: method must be 'exact', 'sparse' or 'barnes_hut', got {self.method!r}")
        if self.method == "barnes_hut" and not 1 <= int(self.n_components) <= 3:
            raise ConfigError(f"TSNE: method='barnes_hut' needs n_components <= 3 (a quad/octree), got "
                              f"{self.n_components}; use method='exact' or 'sparse'")
        x = as_tensor(X, estimator="TSNE", device=self.device, dtype=self.dtype, min_samples=2)
        n = x.shape[0]
        if not 0 < float(self.perplexity) < n:
            raise ConfigError(f"TSNE: perplexity must be in (0, n_samples = {n}), got {self.perplexity!r}; "
                              "a perplexity of 5-50 suits most data")
        gen = generator(self.random_state)
        lr = max(n / float(self.early_exaggeration) / 4, 50.0) if self.learning_rate == "auto" else float(self.learning_rate)
        p = self._joint_p(x)
        emb = self._initial(x, gen)
        update = torch.zeros_like(emb)
        gains = torch.ones_like(emb)
        it = 0
        for it in range(1, int(self.max_iter) + 1):
            early = it <= int(self.early_exaggeration_iter)
            momentum = 0.5 if early else 0.8
            if it == int(self.early_exaggeration_iter) + 1:  # a fresh start of the optimiser, as scikit-learn
                update, gains = torch.zeros_like(emb), torch.ones_like(emb)
            kl, grad = self._kl_grad(p, emb, float(self.early_exaggeration) if early else 1.0, need_kl=False)
            inc = update * grad < 0
            gains = torch.where(inc, gains + 0.2, gains * 0.8).clamp_min(0.01)
            update = momentum * update - lr * gains * grad
            emb = emb + update
            if not early and float(grad.norm()) < self.min_grad_norm:
                break
        kl, _ = self._kl_grad(p, emb, 1.0)
        self.embedding_ = to_numpy(emb)
        self.kl_divergence_ = float(kl)
        self.n_iter_, self.learning_rate_, self.n_features_in_ = it, lr, x.shape[1]
        self._p = p
        return self.embedding_

    def fit(self, X, y=None):
        self.fit_transform(X, y)
        return self


__all__ = ["TSNE", "conditional_p"]
