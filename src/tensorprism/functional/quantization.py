r"""Uniform min–max quantisation (book §11, I11.13, lines 24758–24762), with its dequantisation.

The book gives only the forward map to ``b``-bit integers,

.. math:: w_q = \mathrm{round}\Big(\frac{w - \min w}{\max w - \min w}\,(2^b - 1)\Big),

and stops there (erratum §5: no dequantisation, and a division by zero for a constant tensor).
This module is the readable reference of the whole round trip, in the integer-zero-point form that
int8 kernels (and ``torch.ao.quantization``) use:

.. math::

    s = \frac{\max - \min}{q_{max} - q_{min}},\qquad z = q_{min} - \mathrm{round}(\min / s),\qquad
    q = \mathrm{clamp}(\mathrm{round}(w / s) + z,\ q_{min}, q_{max}),\qquad \hat w = s\,(q - z).

* **affine** (the book's scheme): ``q`` in ``[0, 2^b - 1]``; ``min``/``max`` are widened to include
  0 (``include_zero``) so that 0 — zero padding, ReLU outputs — is represented exactly, as torch's
  observers do. ``z`` is then an integer in the range; the book's real-valued offset
  ``min / s`` differs from it by less than one step.
* **symmetric**: ``q`` in ``[-2^{b-1}, 2^{b-1} - 1]``, ``z = 0``,
  ``s = \max|w| / ((q_{max} - q_{min}) / 2)`` (torch's convention).
* **per-tensor** (``axis=None``) or **per-channel** (one ``(s, z)`` per index of ``axis``, the
  statistics taken over every other axis).

``fake_quantize_minmax(w)`` = ``dequantize(quantize(w))`` is proven equal to
``torch.fake_quantize_per_tensor_affine`` / ``torch.fake_quantize_per_channel_affine`` in the tests,
and :func:`minmax_qparams` equal to ``torch.ao.quantization.MinMaxObserver`` /
``PerChannelMinMaxObserver``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from ..errors import ConfigError, ShapeError

__all__ = ["QParams", "minmax_qparams", "quantize", "dequantize", "fake_quantize_minmax", "quantization_error"]

# the smallest scale: an all-zero tensor (max = min = 0) gets this instead of 0 (torch's guard)
_EPS = torch.finfo(torch.float32).eps


class QParams(NamedTuple):
    """Scale ``()`` or ``(C,)``, integer zero point of the same shape, the integer range, the axis."""

    scale: Tensor
    zero_point: Tensor
    qmin: int
    qmax: int
    axis: int | None


def _check(x: Tensor, bits: int, axis: int | None) -> None:
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise ShapeError(f"quantisation needs a floating-point tensor, got "
                         f"{x.dtype if isinstance(x, Tensor) else type(x).__name__}")
    if x.numel() == 0:
        raise ShapeError(f"cannot quantise an empty tensor (shape {tuple(x.shape)}): min and max are "
                         "undefined; quantise a tensor with at least one element")
    if not isinstance(bits, int) or not 2 <= bits <= 16:
        raise ConfigError(f"bits must be an integer in [2, 16], got {bits!r}")
    if axis is not None and not -x.dim() <= axis < x.dim():
        raise ShapeError(f"axis={axis} is out of range for a tensor of shape {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise ShapeError("cannot quantise a tensor holding NaN or Inf: its min/max range is not finite")


def minmax_qparams(x: Tensor, bits: int = 8, *, symmetric: bool = False, axis: int | None = None,
                   include_zero: bool = True) -> QParams:
    """Scale and zero point from the min and max of ``x`` (per tensor, or per index of ``axis``).

    Args:
        x: any floating tensor, e.g. a weight ``(C_out, C_in, kH, kW)``.
        bits: integer width ``b``; the range is ``[0, 2^b - 1]`` (affine) or
            ``[-2^{b-1}, 2^{b-1} - 1]`` (symmetric).
        symmetric: ``z = 0`` and a range symmetric around 0.
        axis: ``None`` for one scale, or the channel axis for one scale per channel.
        include_zero: widen ``[min, max]`` to contain 0 (exact zeros). ``False`` is the book's
            formula as written; a constant tensor then has ``max == min`` and is refused (affine).

    Raises:
        ShapeError: empty, non-finite or non-float input; a constant tensor with ``include_zero=False``.
    """
    _check(x, bits, axis)
    if axis is None:
        lo, hi = x.detach().amin(), x.detach().amax()
    else:
        axis = axis % x.dim()
        flat = x.detach().movedim(axis, 0).reshape(x.shape[axis], -1)  # (C, rest)
        lo, hi = flat.amin(1), flat.amax(1)
    lo, hi = lo.float(), hi.float()
    if include_zero:
        lo, hi = lo.clamp(max=0), hi.clamp(min=0)
    elif not symmetric and bool((hi == lo).any()):
        raise ShapeError(
            "a constant tensor (or channel) has max == min, so the book's scale (max - min) / (2^b - 1) "
            "is 0 and (w - min) / (max - min) divides by zero; use include_zero=True (the range then "
            "contains 0 and a zero tensor gets the smallest positive scale), or skip quantising it")
    if symmetric:
        qmin, qmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
        scale = torch.maximum(-lo, hi) / ((qmax - qmin) / 2)
        scale = scale.clamp(min=_EPS)
        zero = torch.zeros_like(scale, dtype=torch.int32)
    else:
        qmin, qmax = 0, 2**bits - 1
        scale = ((hi - lo) / (qmax - qmin)).clamp(min=_EPS)
        zero = (qmin - torch.round(lo / scale)).clamp(qmin, qmax).to(torch.int32)
    return QParams(scale, zero, qmin, qmax, axis)


def _shaped(t: Tensor, x: Tensor, axis: int | None) -> Tensor:
    """Broadcast a per-channel ``(C,)`` parameter along ``axis`` of ``x``."""
    if axis is None:
        return t
    shape = [1] * x.dim()
    shape[axis] = -1
    return t.reshape(shape)


def quantize(x: Tensor, qp: QParams) -> Tensor:
    """``q = clamp(round(x / s) + z, qmin, qmax)`` as an integer tensor (``int32``), shape of ``x``."""
    s, z = _shaped(qp.scale, x, qp.axis), _shaped(qp.zero_point, x, qp.axis)
    # multiply by the reciprocal, as torch's kernels do, so that ties round the same way
    return (torch.round(x * (1.0 / s)) + z).clamp(qp.qmin, qp.qmax).to(torch.int32)


def dequantize(q: Tensor, qp: QParams) -> Tensor:
    """``x_hat = s (q - z)`` (float32), the value each integer stands for."""
    s, z = _shaped(qp.scale, q, qp.axis), _shaped(qp.zero_point, q, qp.axis)
    return s * (q.float() - z.float())


def fake_quantize_minmax(x: Tensor, bits: int = 8, *, symmetric: bool = False, axis: int | None = None,
                         include_zero: bool = True) -> Tensor:
    """``dequantize(quantize(x))`` with min–max parameters: what ``x`` becomes after the round trip."""
    qp = minmax_qparams(x, bits, symmetric=symmetric, axis=axis, include_zero=include_zero)
    return dequantize(quantize(x, qp), qp)


def quantization_error(x: Tensor, bits: int = 8, **kw) -> dict[str, float]:
    """Max and RMS error of the round trip; the max is at most half a step (``s / 2``) inside the range."""
    err = (fake_quantize_minmax(x, bits, **kw) - x.float()).abs()
    return {"max_abs": float(err.max()), "rms": float(err.pow(2).mean().sqrt())}
