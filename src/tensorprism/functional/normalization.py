r"""Normalisation layers as reference equations (book §3.6.2), matching PyTorch exactly.

All take ``x`` of shape ``(N, C, *)`` (batch, channels/features, any spatial dims) unless noted.

Batch norm (Ioffe & Szegedy 2015; book L4220–4236), in training mode per channel :math:`c`:

.. math::
    \mu_B=\frac1m\sum_i x_i,\quad \sigma_B^2=\frac1m\sum_i(x_i-\mu_B)^2,\quad
    y_i=\gamma\frac{x_i-\mu_B}{\sqrt{\sigma_B^2+\epsilon}}+\beta

where :math:`m = N\cdot\prod(*)`. Running statistics are updated as PyTorch does — an exponential
moving average of the batch mean and of the **unbiased** batch variance
:math:`\frac m{m-1}\sigma_B^2`:

.. math::
    \hat\mu\leftarrow(1-\text{momentum})\,\hat\mu+\text{momentum}\,\mu_B,\qquad
    \hat\sigma^2\leftarrow(1-\text{momentum})\,\hat\sigma^2+\text{momentum}\,\tfrac m{m-1}\sigma_B^2

with ``momentum = 0.1`` and ``eps = 1e-5`` by default. Keras writes the same EMA with the
decay instead (``keras_momentum = 1 − torch_momentum``, default 0.99, ``epsilon = 1e-3``) and
stores the biased variance.
``momentum=None`` gives the cumulative average :math:`\frac1k\sum_k` over the ``k`` batches seen.
In evaluation mode the running statistics replace the batch statistics.

The book's population statistics (L4246–4248: plain means over all batches, variance by the law of
total variance of the *biased* batch variances) are in :func:`book_population_statistics`; they
are a different estimator and do not match any framework (catalogue E16).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ..errors import ShapeError


def _affine(xhat: Tensor, weight: Tensor | None, bias: Tensor | None, shape: Sequence[int]) -> Tensor:
    if weight is not None:
        xhat = xhat * weight.reshape(shape)
    if bias is not None:
        xhat = xhat + bias.reshape(shape)
    return xhat


def _update_running(running: Tensor, value: Tensor, momentum: float | None, num_batches: Tensor | None) -> None:
    factor = momentum
    if momentum is None:  # cumulative moving average over the batches seen so far
        if num_batches is None:
            raise ValueError("momentum=None (cumulative average) needs num_batches_tracked")
        factor = 1.0 / float(num_batches)
    running.mul_(1.0 - factor).add_(factor * value.detach())


def batch_norm(
    x: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = True,
    momentum: float | None = 0.1,
    eps: float = 1e-5,
    num_batches_tracked: Tensor | None = None,
) -> Tensor:
    """Batch normalisation of ``x (N, C, *)`` per channel; updates running stats in place.

    ``running_mean``/``running_var`` ``(C,)`` may be ``None`` (then batch statistics are always
    used, like ``track_running_stats=False``). ``num_batches_tracked`` (a 0-d long tensor) is
    incremented in training mode, as PyTorch does.
    """
    if x.dim() < 2:
        raise ShapeError(f"batch_norm expects (N, C, *) input, got shape {tuple(x.shape)}")
    dims = [0, *range(2, x.dim())]
    shape = [1, x.shape[1]] + [1] * (x.dim() - 2)
    use_batch = training or running_mean is None
    if use_batch:
        m = x.numel() // x.shape[1]
        if m < 2 and training:
            raise ShapeError(
                f"batch norm in training mode needs more than 1 value per channel, got input "
                f"{tuple(x.shape)}; use a batch size > 1 or call model.eval()"
            )
        mean = x.mean(dim=dims)
        var = x.var(dim=dims, unbiased=False)  # biased σ_B² normalises (book L4228)
        if training and running_mean is not None:
            if num_batches_tracked is not None:
                num_batches_tracked.add_(1)
            _update_running(running_mean, mean, momentum, num_batches_tracked)
            _update_running(running_var, var * m / (m - 1), momentum, num_batches_tracked)
    else:
        mean, var = running_mean, running_var
    xhat = (x - mean.reshape(shape)) / torch.sqrt(var.reshape(shape) + eps)
    return _affine(xhat, weight, bias, shape)


def book_population_statistics(batch_means: Tensor, batch_vars: Tensor) -> tuple[Tensor, Tensor]:
    r"""The book's inference statistics (L4246–4248) from per-batch means/biased variances ``(K, C)``.

    :math:`\mu_{pop}=\frac1K\sum_k\mu_B^k`,
    :math:`\sigma^2_{pop}=\frac1K\sum_k\sigma_B^{2,k}+\frac1K\sum_k(\mu_B^k-\mu_{pop})^2`
    (the biased variance of the pooled data when batches have equal size) — not what any
    framework stores; see the module docstring.
    """
    mu = batch_means.mean(0)
    return mu, batch_vars.mean(0) + ((batch_means - mu) ** 2).mean(0)


def layer_norm(
    x: Tensor,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    r"""Layer norm (Ba et al. 2016): normalise each sample over its last ``len(normalized_shape)``
    dims with the biased variance, then :math:`\gamma\hat x+\beta` (``γ, β`` of ``normalized_shape``)."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(x.shape[-len(shape):]) != shape:
        raise ShapeError(f"layer_norm over {shape} needs input ending in {shape}, got {tuple(x.shape)}")
    dims = tuple(range(-len(shape), 0))
    mean = x.mean(dim=dims, keepdim=True)
    var = x.var(dim=dims, unbiased=False, keepdim=True)
    return _affine((x - mean) / torch.sqrt(var + eps), weight, bias, shape)


def group_norm(
    x: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None, eps: float = 1e-5
) -> Tensor:
    """Group norm (Wu & He 2018): per sample, the C channels split into ``num_groups`` groups, each
    normalised over its channels and spatial positions; per-channel affine ``(C,)``."""
    n, c = x.shape[:2]
    if c % num_groups:
        raise ShapeError(f"group_norm: {c} channels are not divisible into {num_groups} groups")
    g = x.reshape(n, num_groups, -1)
    mean = g.mean(-1, keepdim=True)
    var = g.var(-1, unbiased=False, keepdim=True)
    xhat = ((g - mean) / torch.sqrt(var + eps)).reshape(x.shape)
    return _affine(xhat, weight, bias, [1, c] + [1] * (x.dim() - 2))


def instance_norm(
    x: Tensor,
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Instance norm (Ulyanov et al. 2016): each ``(n, c)`` slice normalised over its spatial dims.

    With running statistics (``track_running_stats=True`` in torch) they are updated with the
    batch average of the per-instance means and unbiased variances, as PyTorch does.
    """
    if x.dim() < 3:
        raise ShapeError(f"instance_norm expects (N, C, L...) input, got {tuple(x.shape)}")
    dims = tuple(range(2, x.dim()))
    shape = [1, x.shape[1]] + [1] * (x.dim() - 2)
    if use_input_stats:
        mean = x.mean(dim=dims, keepdim=True)
        var = x.var(dim=dims, unbiased=False, keepdim=True)
        if running_mean is not None:
            m = x[0, 0].numel()
            _update_running(running_mean, mean.mean(0).reshape(-1), momentum, None)
            _update_running(running_var, (var * m / (m - 1)).mean(0).reshape(-1), momentum, None)
    else:
        mean, var = running_mean.reshape(shape), running_var.reshape(shape)
    return _affine((x - mean) / torch.sqrt(var + eps), weight, bias, shape)


__all__ = ["batch_norm", "book_population_statistics", "layer_norm", "group_norm", "instance_norm"]
