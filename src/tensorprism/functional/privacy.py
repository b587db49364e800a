r"""DP-SGD's gradient step (Abadi et al. 2016), the reference equations.

The book (§11, L24978) writes DP-SGD as :math:`g = \frac1N\sum_i g_i + \mathcal N(0, \sigma^2)`:
noise on the averaged gradient, with no per-example clipping and no scale for the noise. That
gives no privacy guarantee (erratum 25): one example's gradient can be arbitrarily large, so no
noise level hides it. The mechanism that is differentially private bounds each example's
influence first:

.. math::

    \bar g_i = g_i \big/ \max\!\big(1, \lVert g_i\rVert_2 / C\big),\qquad
    \tilde g = \frac{1}{B}\Big(\sum_{i\in\text{batch}} \bar g_i + \mathcal N(0, \sigma^2 C^2 I)\Big),

with ``C`` the clipping norm over *all* parameters of example ``i`` together, ``σ`` the noise
multiplier and ``B`` the **expected** batch size ``q N`` of Poisson sampling (Opacus' convention).
The privacy of ``T`` such steps is accounted for by :mod:`tensorprism.privacy.accountant`.

:func:`per_example_grads` computes every ``g_i`` in one pass with ``torch.func`` (``vmap`` over
``grad`` of a one-example loss), tested equal to a loop of single-example backward passes and to
Opacus' hook-based per-sample gradients.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from ..errors import ConfigError

__all__ = ["per_example_grads", "clip_per_example", "privatize_grads"]


def per_example_grads(model: nn.Module, loss_fn: Callable[[Tensor, Tensor], Tensor], x: Tensor, y: Tensor
                      ) -> dict[str, Tensor]:
    """``{name: (N, *param.shape)}``: the gradient of ``loss_fn(model(x_i), y_i)`` for each example.

    ``loss_fn`` receives one example's output with a batch axis of 1 and its target ``(1, ...)``
    and returns a scalar (e.g. ``F.cross_entropy``). Only parameters with ``requires_grad`` are
    differentiated; buffers are read as they are (use models without batch statistics — BatchNorm
    mixes examples, so DP-SGD models use GroupNorm or no norm, as in Opacus).
    """
    from torch.func import functional_call, grad, vmap

    params = {k: v.detach() for k, v in model.named_parameters() if v.requires_grad}
    buffers = {k: v.detach() for k, v in model.named_buffers()}

    def one(p, xi, yi):
        out = functional_call(model, (p, buffers), (xi.unsqueeze(0),))
        return loss_fn(out, yi.unsqueeze(0))

    return vmap(grad(one), in_dims=(None, 0, 0), randomness="different")(params, x, y)


def clip_per_example(grads: dict[str, Tensor], max_norm: float) -> tuple[dict[str, Tensor], Tensor]:
    """Scale each example's whole gradient to L2 norm at most ``max_norm``; returns the clipped
    gradients and the per-example norms ``(N,)`` before clipping."""
    if not max_norm > 0:
        raise ConfigError(f"max_grad_norm (the clipping bound C) must be > 0, got {max_norm}")
    norms = torch.stack([g.reshape(g.shape[0], -1).norm(dim=1) for g in grads.values()], 1).norm(dim=1)  # (N,)
    factor = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    return {k: g * factor.view(-1, *[1] * (g.dim() - 1)) for k, g in grads.items()}, norms


def privatize_grads(grads: dict[str, Tensor], max_norm: float, noise_multiplier: float, expected_batch_size: int,
                    generator: torch.Generator | None = None) -> dict[str, Tensor]:
    """``(sum_i clip(g_i) + N(0, sigma^2 C^2)) / B``: the noisy average gradient of one DP-SGD step."""
    if noise_multiplier < 0:
        raise ConfigError(f"noise_multiplier must be >= 0, got {noise_multiplier}")
    if expected_batch_size < 1:
        raise ConfigError(f"expected_batch_size must be >= 1, got {expected_batch_size}")
    clipped, _ = clip_per_example(grads, max_norm)
    out = {}
    for k, g in clipped.items():
        total = g.sum(0)
        if noise_multiplier > 0:
            noise = torch.randn(total.shape, generator=generator, device="cpu" if generator is not None else total.device,
                                dtype=total.dtype).to(total.device)
            total = total + noise_multiplier * max_norm * noise
        out[k] = total / expected_batch_size
    return out
