r"""Permutation feature importance (book I11.20, L24944-24948; Breiman 2001, Fisher et al. 2019).

Shuffle one feature's column, breaking its link to the target while keeping its distribution, and
measure how much the model's score drops:

.. math:: I_j = s(f, X, y) - s(f, X_{\pi(j)}, y) = \mathcal L(f, X_{\pi(j)}, y) - \mathcal L(f, X, y)

(``s`` a score, higher is better; :math:`\mathcal L` a loss). An important feature has a positive
importance; a feature the model ignores has exactly zero. The book writes
:math:`\mathbb E[\mathcal L(f(x))-\mathcal L(f(x_{perm(j)}))]`, the negative of this (erratum §5.24).

The permutations are drawn exactly as :func:`sklearn.inspection.permutation_importance` draws
them (one ``numpy`` ``RandomState`` seeded from ``seed``, each repeat reshuffling the already
shuffled column), so the same seed gives the same numbers as scikit-learn for the same model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..errors import ConfigError, ShapeError

SCORINGS = ("accuracy", "neg_cross_entropy", "r2", "neg_mean_squared_error")


@dataclass
class PermutationImportance:
    """``importances (F, R)``: score drop of each feature under each of ``R`` shuffles;
    ``importances_mean`` / ``importances_std`` over the shuffles; ``baseline``: the unshuffled score."""

    importances: np.ndarray
    importances_mean: np.ndarray
    importances_std: np.ndarray
    baseline: float


def _score_fn(scoring: str | Callable[[Tensor, Tensor], float]) -> Callable[[Tensor, Tensor], float]:
    if callable(scoring):
        return scoring
    if scoring == "accuracy":  # outputs: class scores (N, K) or labels (N,)
        return lambda out, y: float(((out.argmax(1) if out.dim() > 1 else out) == y).double().mean())
    if scoring == "neg_cross_entropy":  # outputs: logits (N, K)
        return lambda out, y: -float(torch.nn.functional.cross_entropy(out.double(), y.long()))
    if scoring == "neg_mean_squared_error":
        return lambda out, y: -float(((out.double().reshape(y.shape) - y.double()) ** 2).mean())
    if scoring == "r2":
        def r2(out: Tensor, y: Tensor) -> float:
            y = y.double()
            ss_res = ((out.double().reshape(y.shape) - y) ** 2).sum()
            return float(1 - ss_res / ((y - y.mean()) ** 2).sum())
        return r2
    raise ConfigError(f"unknown scoring {scoring!r}; expected one of {', '.join(SCORINGS)} or a callable "
                      "score(outputs, y) -> float (higher is better)")


def permutation_importance(predict: Callable[[Tensor], Tensor], X: Tensor | np.ndarray, y: Tensor | np.ndarray, *,
                           scoring: str | Callable[[Tensor, Tensor], float] = "accuracy", n_repeats: int = 5,
                           seed: int = 0) -> PermutationImportance:
    """Permutation importance of each column of ``X (N, F)`` for the model ``predict``.

    Args:
        predict: maps a batch ``(N, F)`` (a float64 tensor for numpy input, else ``X``'s dtype) to
            outputs: logits / class scores ``(N, K)``, labels ``(N,)`` or regression values.
        y: targets ``(N,)``.
        scoring: ``"accuracy"``, ``"neg_cross_entropy"`` (outputs are logits), ``"r2"``,
            ``"neg_mean_squared_error"``, or ``score(outputs, y) -> float``, higher is better (to
            use a loss ``L``, pass ``lambda out, y: -L(out, y)``).
        n_repeats: shuffles per feature.
        seed: the permutations' seed (the same draws as scikit-learn's ``random_state=seed``).

    Returns:
        :class:`PermutationImportance`; ``importances[j, r] = baseline - score after shuffle r of j``.
    """
    if isinstance(n_repeats, bool) or int(n_repeats) != n_repeats or n_repeats < 1:
        raise ConfigError(f"n_repeats must be an integer >= 1, got {n_repeats!r}")
    Xt = torch.as_tensor(X)
    yt = torch.as_tensor(y)
    if Xt.dim() != 2 or yt.shape[:1] != Xt.shape[:1] or len(Xt) < 2:
        raise ShapeError(f"permutation importance needs X (N, F) with N >= 2 and y (N,), got {tuple(Xt.shape)} "
                         f"and {tuple(yt.shape)}")
    score = _score_fn(scoring)
    with torch.no_grad():
        baseline = score(predict(Xt), yt)
        # scikit-learn's draws: one seed for every column, then each repeat shuffles the index again
        column_seed = np.random.RandomState(seed).randint(np.iinfo(np.int32).max + 1)
        out = np.empty((Xt.shape[1], int(n_repeats)))
        for j in range(Xt.shape[1]):
            rng = np.random.RandomState(column_seed)
            Xp = Xt.clone()
            order = np.arange(len(Xt))
            for r in range(int(n_repeats)):
                rng.shuffle(order)
                Xp[:, j] = Xp[torch.from_numpy(order), j]
                out[j, r] = baseline - score(predict(Xp), yt)
    return PermutationImportance(out, out.mean(axis=1), out.std(axis=1), baseline)


__all__ = ["SCORINGS", "PermutationImportance", "permutation_importance"]
