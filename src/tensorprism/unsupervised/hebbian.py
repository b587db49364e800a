"""Principal components learned by Hebbian plasticity (book §11, I11.15), with scikit-learn's interface.

:class:`HebbianPCA` trains ``k`` linear neurons ``y = W x`` on centred data with Oja's rule (one
neuron), Sanger's generalised Hebbian algorithm (``k`` neurons, the components in order) or the
book's plain Hebbian rule (which diverges: its norm grows at every step, kept only to show it).
The update equations are :mod:`tensorprism.functional.hebbian`; the result is checked against
:class:`~tensorprism.unsupervised.PCA` (and scikit-learn's) in the tests.
"""

from __future__ import annotations

import torch
from sklearn.base import BaseEstimator, TransformerMixin

from ..errors import ConfigError
from ..functional.hebbian import hebb_update, oja_update, sanger_update
from ._base import as_tensor, generator, to_numpy

RULES = ("oja", "sanger", "hebb")


class HebbianPCA(TransformerMixin, BaseEstimator):
    """Components learned online by a Hebbian rule.

    The data are centred and divided by the root-mean-square sample norm (so a learning rate
    means the same on any scale; the directions are unchanged), then shown in shuffled minibatches
    for ``epochs`` passes with the rate ``lr / (1 + step / decay_steps)``.

    Args:
        n_components: neurons ``k`` (``"oja"`` and ``"hebb"``: 1).
        rule: ``"oja"``, ``"sanger"`` or ``"hebb"``.
        lr, epochs, batch_size, decay_steps: the schedule above.
        random_state: seed of the initial weights and of the minibatch order.

    Attributes:
        components_ ``(k, D)`` (the learned weight rows, not renormalised), mean_ ``(D,)``,
        scale_ (the RMS norm divided out), norm_history_ (``‖w_0‖`` after each epoch), n_iter_.
    """

    def __init__(self, n_components: int = 1, *, rule: str = "oja", lr: float = 0.5, epochs: int = 100,
                 batch_size: int = 64, decay_steps: float = 1000.0, random_state=0, dtype="float64"):
        self.n_components = n_components
        self.rule = rule
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.decay_steps = decay_steps
        self.random_state = random_state
        self.dtype = dtype

    def _check(self, d: int) -> int:
        if self.rule not in RULES:
            raise ConfigError(f"HebbianPCA: rule must be one of {RULES}, got {self.rule!r}")
        k = self.n_components
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= d:
            raise ConfigError(f"HebbianPCA: n_components must be an integer in [1, {d}], got {k!r}")
        if self.rule in ("oja", "hebb") and k != 1:
            raise ConfigError(f"HebbianPCA: the {self.rule!r} rule trains one neuron (n_components=1); "
                              "use rule='sanger' for several components")
        if not (self.lr > 0 and self.epochs >= 1 and self.batch_size >= 1 and self.decay_steps > 0):
            raise ConfigError("HebbianPCA: lr and decay_steps must be > 0, epochs and batch_size >= 1, got "
                              f"lr={self.lr}, epochs={self.epochs}, batch_size={self.batch_size}, "
                              f"decay_steps={self.decay_steps}")
        return k

    def fit(self, X, y=None) -> HebbianPCA:
        """Learn ``components_`` from ``X (N, D)``."""
        x = as_tensor(X, estimator="HebbianPCA", dtype=self.dtype, min_samples=2)
        k = self._check(x.shape[1])
        g = generator(self.random_state)
        self.mean_ = x.mean(0)
        x = x - self.mean_
        self.scale_ = float(x.pow(2).sum(1).mean().sqrt()) or 1.0
        x = x / self.scale_
        W = torch.randn(k, x.shape[1], generator=g, dtype=x.dtype)
        W = W / W.norm(dim=1, keepdim=True)
        step, history = 0, []
        for _ in range(self.epochs):
            order = torch.randperm(x.shape[0], generator=g)
            for start in range(0, x.shape[0], self.batch_size):
                xb = x[order[start:start + self.batch_size]]
                lr = self.lr / (1.0 + step / self.decay_steps)
                if self.rule == "sanger":
                    W = sanger_update(W, xb, lr)
                elif self.rule == "oja":
                    W = oja_update(W[0], xb, lr)[None]
                else:
                    W = hebb_update(W[0], xb, lr)[None]
                step += 1
            history.append(float(W[0].norm()))
        self.components_ = to_numpy(W)
        self.norm_history_ = history
        self.n_iter_ = step
        return self

    def transform(self, X):
        """Projections ``(N, k)`` of the centred (and rescaled) data on the learned weights."""
        x = as_tensor(X, estimator="HebbianPCA", dtype=self.dtype)
        w = torch.as_tensor(self.components_, dtype=x.dtype)
        return to_numpy((x - self.mean_) / self.scale_ @ w.T)


__all__ = ["HebbianPCA", "RULES"]
