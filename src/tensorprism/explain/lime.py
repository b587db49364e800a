r"""LIME: local interpretable model-agnostic explanations (book I11.19, L24932-24936; Ribeiro et
al. 2016).

A linear surrogate :math:`g(z)=w^\top z+b` is fitted to the model's outputs on perturbations
:math:`z` of the explained input, each weighted by its closeness :math:`\pi_x(z)`:

.. math:: \min_{w,b}\sum_i\pi_x(z_i)\,(f(z_i)-w^\top z_i-b)^2+\alpha\lVert w\rVert^2,
          \qquad \pi_x(z)=\sqrt{\exp(-d(x,z)^2/\sigma^2)}

The book leaves the kernel, the surrogate and the number of samples open; the choices below are
those of the reference ``lime`` package:

* :func:`lime_tabular` -- samples drawn feature-wise from a normal with the training data's mean and
  standard deviation (around the explained point with ``sample_around_instance=True``), the first
  sample being the point itself; the surrogate is fitted on standardised features
  :math:`(z-\mu)/s`, distances are Euclidean there, :math:`\sigma=0.75\sqrt F`; ridge
  :math:`\alpha=1`.
* :func:`lime_image` -- the image is cut into segments (:func:`patch_segments` or SLIC
  :func:`superpixel_segments`); a sample switches each segment on (1, the original pixels) or off
  (0, a fill value); :math:`z\in\{0,1\}^d`, the first sample all ones; cosine distance to the
  all-ones vector, :math:`\sigma=0.25`.

What LIME guarantees is local fidelity of the weighted fit, nothing more: when the model *is*
linear in the interpretable representation the surrogate recovers it exactly (``score`` = 1), and a
seeded run is reproducible. The coefficients depend on the sampling distribution and kernel width.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from ..errors import ConfigError, ShapeError

Predict = Callable[[Tensor], Tensor]


@dataclass
class LimeExplanation:
    """The fitted surrogate: ``coef (d,)`` per interpretable feature, ``intercept``, ``score`` (the
    weighted R² of the fit on the samples), ``local_prediction`` (the surrogate at the explained
    point), and the ``samples (S, d)``, model ``outputs (S,)`` and kernel ``weights (S,)`` used."""

    coef: Tensor
    intercept: float
    score: float
    local_prediction: float
    samples: Tensor
    outputs: Tensor
    weights: Tensor


def kernel_weights(distances: Tensor, kernel_width: float) -> Tensor:
    """LIME's exponential kernel ``sqrt(exp(-d² / width²))`` of the distances ``(S,)``."""
    return torch.sqrt(torch.exp(-(distances.double() ** 2) / kernel_width**2))


def weighted_ridge(Z: Tensor, y: Tensor, w: Tensor, alpha: float = 1.0) -> tuple[Tensor, float, float]:
    """``(coef (d,), intercept, weighted R²)`` of ``min Σ w_i (y_i - z_i·coef - b)² + α ||coef||²``
    (the intercept is not penalised), as ``sklearn.linear_model.Ridge(alpha).fit(Z, y, w)``."""
    Z, y, w = Z.double(), y.double(), w.double()
    wsum = w.sum()
    zm, ym = (w[:, None] * Z).sum(0) / wsum, (w * y).sum() / wsum
    Zc, yc = Z - zm, y - ym
    A = Zc.T @ (w[:, None] * Zc) + alpha * torch.eye(Z.shape[1], dtype=torch.float64)
    coef = torch.linalg.lstsq(A, Zc.T @ (w * yc)).solution if alpha == 0 else torch.linalg.solve(A, Zc.T @ (w * yc))
    intercept = float(ym - zm @ coef)
    resid = y - Z @ coef - intercept
    ss_tot = (w * yc**2).sum()
    score = float(1 - (w * resid**2).sum() / ss_tot) if ss_tot > 0 else 1.0
    return coef, intercept, score


def _output(predict: Predict, inputs: Tensor, target: int | None) -> Tensor:
    with torch.no_grad():
        out = predict(inputs)
    if out.dim() == 2:
        if target is None:
            raise ConfigError(f"the model returns {out.shape[1]} outputs per input: pass target=<output index>")
        out = out[:, target]
    return out.reshape(len(inputs)).double()


def _check_common(num_samples: int, kernel_width: float | None, alpha: float) -> None:
    if isinstance(num_samples, bool) or int(num_samples) != num_samples or num_samples < 2:
        raise ConfigError(f"num_samples must be an integer >= 2, got {num_samples!r}")
    if kernel_width is not None and not kernel_width > 0:
        raise ConfigError(f"kernel_width must be > 0, got {kernel_width!r}")
    if not alpha >= 0:
        raise ConfigError(f"the ridge penalty alpha must be >= 0, got {alpha!r}")


def lime_tabular(predict: Predict, x: Tensor, training: Tensor, *, target: int | None = None,
                 num_samples: int = 5000, kernel_width: float | None = None, alpha: float = 1.0,
                 sample_around_instance: bool = False, seed: int = 0) -> LimeExplanation:
    """LIME for one tabular input ``x (F,)``.

    Args:
        predict: maps ``(S, F)`` to ``(S,)`` or ``(S, K)`` (then ``target`` picks the explained output,
            e.g. a class probability).
        training: ``(M, F)`` data whose per-feature mean and standard deviation scale the samples.
        kernel_width: ``σ``; default ``0.75 * sqrt(F)``.
        sample_around_instance: centre the samples on ``x`` instead of the training mean.
        seed: the samples' seed (same seed, same explanation).

    Returns:
        :class:`LimeExplanation`; ``coef[j]`` is the surrogate's slope per training standard deviation
        of feature ``j`` (``samples`` are the standardised perturbations).
    """
    _check_common(num_samples, kernel_width, alpha)
    x, training = torch.as_tensor(x), torch.as_tensor(training)
    if x.dim() != 1 or training.dim() != 2 or training.shape[1] != x.shape[0] or len(training) < 2:
        raise ShapeError(f"lime_tabular needs x (F,) and training data (M, F) with M >= 2, got {tuple(x.shape)} and "
                         f"{tuple(training.shape)}")
    p = x.shape[0]
    mean, scale = training.double().mean(0), training.double().std(0, unbiased=False)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))  # constant features: no rescaling
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(int(num_samples), p, generator=g, dtype=torch.float64)
    centre = x.double() if sample_around_instance else mean
    raw = z * scale + centre
    raw[0] = x.double()
    scaled = (raw - mean) / scale
    width = kernel_width if kernel_width is not None else 0.75 * math.sqrt(p)
    weights = kernel_weights((scaled - scaled[0]).norm(dim=1), width)
    outputs = _output(predict, raw.to(x.dtype if x.is_floating_point() else torch.float64), target)
    coef, intercept, score = weighted_ridge(scaled, outputs, weights, alpha)
    return LimeExplanation(coef, intercept, score, float(scaled[0] @ coef + intercept), scaled, outputs, weights)


def patch_segments(height: int, width: int, patch: int) -> Tensor:
    """Segment labels ``(H, W)`` of a grid of ``patch × patch`` squares (the last row/column of
    squares may be smaller), numbered row by row from 0."""
    if patch < 1:
        raise ConfigError(f"patch must be >= 1 pixel, got {patch}")
    rows = torch.arange(height) // patch
    cols = torch.arange(width) // patch
    return rows[:, None] * math.ceil(width / patch) + cols[None, :]


def superpixel_segments(image: Tensor, n_segments: int = 50, compactness: float = 10.0, seed: int = 0) -> Tensor:
    """SLIC superpixels (Achanta et al. 2012, scikit-image) of ``image (C, H, W)`` as labels ``(H, W)``
    numbered from 0."""
    from ..optional import require

    seg = require("skimage.segmentation", feature="superpixel segments for LIME")
    img = torch.as_tensor(image).double()
    arr = img.permute(1, 2, 0).numpy()
    labels = seg.slic(arr, n_segments=n_segments, compactness=compactness, start_label=0,
                      channel_axis=-1, enforce_connectivity=True)
    return torch.as_tensor(labels).long()


def lime_image(predict: Predict, image: Tensor, segments: Tensor, *, target: int | None = None,
               num_samples: int = 1000, kernel_width: float = 0.25, alpha: float = 1.0,
               fill: float | str = "mean", batch_size: int = 256, seed: int = 0) -> LimeExplanation:
    """LIME for one image ``(C, H, W)`` over ``segments (H, W)`` (integer labels ``0..d-1``).

    Args:
        predict: maps images ``(S, C, H, W)`` to ``(S,)`` or ``(S, K)`` (``target`` picks the output).
        fill: what a switched-off segment shows: ``"mean"`` (each channel's mean over the segment's
            pixels, LIME's default hiding colour), or a constant.
        kernel_width: ``σ`` on the cosine distance (0.25 in ``lime``).

    Returns:
        :class:`LimeExplanation` with ``coef (d,)`` per segment and binary ``samples (S, d)``.
    """
    _check_common(num_samples, kernel_width, alpha)
    image, segments = torch.as_tensor(image), torch.as_tensor(segments).long()
    if image.dim() != 3 or segments.shape != image.shape[1:]:
        raise ShapeError(f"lime_image needs an image (C, H, W) and segments (H, W), got {tuple(image.shape)} and "
                         f"{tuple(segments.shape)}")
    d = int(segments.max()) + 1
    if segments.min() < 0 or len(torch.unique(segments)) != d:
        raise ShapeError(f"segment labels must be 0..d-1 with every label used, got {torch.unique(segments).tolist()}")
    onehot = torch.nn.functional.one_hot(segments, d).permute(2, 0, 1).to(image.dtype)  # (d, H, W)
    if fill == "mean":
        per_seg = (image[:, None] * onehot[None]).sum((2, 3)) / onehot.sum((1, 2))[None]  # (C, d)
        hidden = torch.einsum("cd,dhw->chw", per_seg, onehot)
    elif isinstance(fill, (int, float)):
        hidden = torch.full_like(image, float(fill))
    else:
        raise ConfigError(f"fill must be 'mean' or a number, got {fill!r}")
    g = torch.Generator().manual_seed(seed)
    z = torch.randint(0, 2, (int(num_samples), d), generator=g, dtype=torch.float64)
    z[0] = 1.0
    outs = []
    for s in range(0, len(z), batch_size):
        keep = torch.einsum("sd,dhw->shw", z[s:s + batch_size].to(image.dtype), onehot)[:, None]  # (s, 1, H, W)
        outs.append(_output(predict, keep * image + (1 - keep) * hidden, target))
    outputs = torch.cat(outs)
    cosine = 1 - (z @ z[0]) / (z.norm(dim=1) * z[0].norm()).clamp_min(1e-12)
    weights = kernel_weights(cosine, kernel_width)
    coef, intercept, score = weighted_ridge(z, outputs, weights, alpha)
    return LimeExplanation(coef, intercept, score, float(z[0] @ coef + intercept), z, outputs, weights)


__all__ = ["LimeExplanation", "kernel_weights", "weighted_ridge", "lime_tabular", "patch_segments",
           "superpixel_segments", "lime_image"]
