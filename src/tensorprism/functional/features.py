"""Feature scaling and feature construction of Chapter 3 (§3.2, items P4 and P8).

* Min-max normalisation (l.2640-2644): :math:`x'=(x-\\min x)/(\\max x-\\min x)` per feature, mapped
  to ``feature_range`` (``(0, 1)`` as printed; the text's ``[-1, 1]`` is ``(-1, 1)``). A constant
  feature (zero range) is only shifted, as scikit-learn's ``MinMaxScaler`` does, instead of
  dividing by zero.
* Polynomial and interaction features (l.2674): for :math:`x_1, x_2` and degree 2 the columns are
  :math:`1, x_1, x_2, x_1^2, x_1x_2, x_2^2`, in scikit-learn's ``PolynomialFeatures`` order
  (by degree, then lexicographic multisets of feature indices).

Both are tested equal to scikit-learn; :class:`~tensorprism.data.preprocessing.MinMaxScale` is the
fitted, JSON-described form that a run directory stores.
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import Tensor

from ..errors import ConfigError, ShapeError

__all__ = ["min_max_statistics", "min_max_scale", "polynomial_feature_indices", "polynomial_features"]


def _check_2d(x: Tensor, what: str) -> None:
    if x.dim() != 2:
        raise ShapeError(f"{what} needs a table (N, F), got shape {tuple(x.shape)}")


def min_max_statistics(x: Tensor) -> tuple[Tensor, Tensor]:
    """Per-feature ``(min, max)`` of the training rows ``x (N, F)``, each ``(F,)``; NaN-free input required."""
    _check_2d(x, "min_max_statistics")
    if len(x) == 0:
        raise ShapeError("min_max_statistics needs at least one row")
    if bool(torch.isnan(x).any()):
        raise ConfigError("min_max_statistics: the table holds NaN; impute or drop missing values first")
    return x.amin(0), x.amax(0)


def min_max_scale(x: Tensor, data_min: Tensor, data_max: Tensor,
                  feature_range: tuple[float, float] = (0.0, 1.0)) -> Tensor:
    """``x (N, F)`` -> ``lo + (x - min) (hi - lo) / (max - min)`` per feature (``range 0 -> 1``)."""
    _check_2d(x, "min_max_scale")
    lo, hi = feature_range
    if not lo < hi:
        raise ConfigError(f"feature_range must be (lo, hi) with lo < hi, got {feature_range}")
    if data_min.shape != (x.shape[1],) or data_max.shape != (x.shape[1],):
        raise ShapeError(f"min/max statistics of shape {tuple(data_min.shape)} do not fit {x.shape[1]} features")
    span = data_max - data_min
    span = torch.where(span == 0, torch.ones_like(span), span)
    return lo + (x - data_min) * ((hi - lo) / span)


def polynomial_feature_indices(n_features: int, degree: int = 2, interaction_only: bool = False,
                               include_bias: bool = True) -> list[tuple[int, ...]]:
    """The monomials as tuples of feature indices (``()`` is the bias column), in output order."""
    if degree < 1 or n_features < 1:
        raise ConfigError(f"polynomial features need degree >= 1 and at least one feature, got degree={degree}, "
                          f"n_features={n_features}")
    combos = itertools.combinations if interaction_only else itertools.combinations_with_replacement
    out: list[tuple[int, ...]] = [()] if include_bias else []
    for d in range(1, degree + 1):
        out.extend(combos(range(n_features), d))
    return out


def polynomial_features(x: Tensor, degree: int = 2, interaction_only: bool = False,
                        include_bias: bool = True) -> Tensor:
    """``x (N, F)`` -> ``(N, M)`` with every monomial of total degree <= ``degree``.

    ``M = C(F + degree, degree)`` with the bias (minus 1 without it); ``interaction_only`` keeps the
    products of distinct features. Each column is the product of the columns its indices name.
    """
    _check_2d(x, "polynomial_features")
    cols = []
    for idx in polynomial_feature_indices(x.shape[1], degree, interaction_only, include_bias):
        cols.append(x[:, list(idx)].prod(1) if idx else x.new_ones(len(x)))
    out = torch.stack(cols, dim=1)
    if not interaction_only:
        assert out.shape[1] == math.comb(x.shape[1] + degree, degree) - (0 if include_bias else 1)
    return out
