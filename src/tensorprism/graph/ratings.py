r"""Rating prediction on a user–item matrix with missing entries (book §8.6.2, catalogue ch08 §5,
"silently wrong" code: ratings 0–5 fitted with a sigmoid, and unrated zeros used as targets).

A zero in the ratings matrix means *not rated*, not "rated 0": the loss is taken over the observed
entries only, :math:`\frac{1}{|\Omega|} \sum_{(u,i) \in \Omega} (\hat r_{ui} - r_{ui})^2`. A plain
sigmoid output lies in (0, 1) and can never reach a rating of 5; :func:`bounded_rating` maps a score
onto the rating scale, :math:`r_{min} + (r_{max} - r_{min})\,\sigma(s)`.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["observed_rating_mse", "bounded_rating"]


def observed_rating_mse(pred: Tensor, ratings: Tensor, observed: Tensor | None = None) -> Tensor:
    """MSE over the observed entries of ``ratings (U, I)``; ``observed`` a boolean mask of the same
    shape (default: the non-zero entries, the convention where 0 means unrated)."""
    if observed is None:
        observed = ratings != 0
    observed = observed.bool()
    if not observed.any():
        raise ValueError("no observed ratings")
    return (pred[observed] - ratings[observed].to(pred.dtype)).pow(2).mean()


def bounded_rating(score: Tensor, r_min: float = 0.0, r_max: float = 5.0) -> Tensor:
    """``r_min + (r_max − r_min)·σ(score)``: a prediction on the rating scale (a plain sigmoid stops at 1)."""
    return r_min + (r_max - r_min) * torch.sigmoid(score)
