r"""Adversarial examples (book §11, I11.23, L24986-24998): FGSM and PGD under L∞ and L2 budgets.

The book defines an adversarial example as :math:`x^*=x+\delta` with :math:`\lVert\delta\rVert\le
\epsilon` and :math:`f(x^*)\ne f(x)`, and adversarial training as minimising
:math:`\mathbb E[\max_{\lVert\delta\rVert\le\epsilon}\mathcal L(f(x+\delta),y)]`; it names neither
the attack nor the norm. The two standard attacks are written here:

* :func:`fgsm` -- one step to the edge of the ball (Goodfellow et al. 2015): under L∞
  :math:`\delta=\epsilon\,\mathrm{sign}(\nabla_x\mathcal L)`, under L2 (the "fast gradient method")
  :math:`\delta=\epsilon\,\nabla_x\mathcal L/\lVert\nabla_x\mathcal L\rVert_2`.
* :func:`pgd` -- projected gradient ascent (Madry et al. 2018): from a random point of the ball,
  ``steps`` steps of size ``alpha`` along the same direction, each followed by the projection onto
  the ball (:func:`project`) and onto the valid input range (``clamp``).

Both are *untargeted* by default (the loss at the true label ``y`` goes up); with
``targeted=True`` ``y`` holds the wanted classes and the loss at them goes down. Gradients are taken
with respect to the input only (:func:`torch.autograd.grad`), so no parameter's ``.grad`` changes,
and the model's mode is left as it is (call ``model.eval()`` first when it has BatchNorm or dropout).
The loss is summed over the batch, so each example's step depends on that example alone.

Images are ``(N, C, H, W)``, but any ``(N, ...)`` input works: norms are taken over all axes but the
first. Inputs must already lie in ``clamp`` (e.g. MNIST in [0, 1], not mean/std normalised: pass the
normalised bounds, or ``clamp=None``, for normalised data).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import ConfigError, ShapeError

ATTACK_NORMS = ("inf", "2")
_NORM_NAMES = {"inf": "inf", "linf": "inf", "l_inf": "inf", "2": "2", "l2": "2"}

LossFn = Callable[[Tensor, Tensor], Tensor]  # (logits, labels) -> per-example losses (N,)


def _cross_entropy(logits: Tensor, y: Tensor) -> Tensor:
    return F.cross_entropy(logits, y, reduction="none")


def check_norm(norm: str | float | int) -> str:
    """``"inf"`` or ``"2"`` from the usual spellings (``"inf"``, ``"linf"``, ``math.inf``, ``2``,
    ``"l2"``); anything else is a :class:`ConfigError`."""
    if isinstance(norm, (int, float)) and not isinstance(norm, bool):
        key = "inf" if math.isinf(norm) else ("2" if norm == 2 else str(norm))
    else:
        key = str(norm).lower()
    if key not in _NORM_NAMES:
        raise ConfigError(f"unknown attack norm {norm!r}; expected 'inf' (L-infinity) or '2' (L2)")
    return _NORM_NAMES[key]


def check_budget(eps: float, alpha: float | None = None, steps: int | None = None) -> None:
    """Refuse a negative or non-finite budget ``eps``, a step ``alpha <= 0`` and ``steps < 1``."""
    if not (isinstance(eps, (int, float)) and math.isfinite(eps) and eps >= 0):
        raise ConfigError(f"the attack budget eps must be a finite number >= 0, got {eps!r}")
    if alpha is not None and not (math.isfinite(alpha) and alpha > 0):
        raise ConfigError(f"the PGD step size alpha must be > 0, got {alpha!r}")
    if steps is not None and (isinstance(steps, bool) or int(steps) != steps or steps < 1):
        raise ConfigError(f"the number of PGD steps must be an integer >= 1, got {steps!r}")


def _flat(t: Tensor) -> Tensor:
    return t.reshape(t.shape[0], -1)


def _per_example(v: Tensor, like: Tensor) -> Tensor:
    """``v (N,)`` shaped to broadcast against ``like (N, ...)``."""
    return v.reshape(-1, *([1] * (like.dim() - 1)))


def perturbation_norm(delta: Tensor, norm: str | float = "inf") -> Tensor:
    """Each example's norm ``(N,)`` of ``delta (N, ...)``: max |δ| (L∞) or the Euclidean norm (L2)."""
    p = check_norm(norm)
    flat = _flat(delta)
    return flat.abs().amax(dim=1) if p == "inf" else flat.norm(2, dim=1)


def project(delta: Tensor, eps: float, norm: str | float = "inf") -> Tensor:
    """The nearest point of the ball ``||δ|| <= eps`` to each example of ``delta (N, ...)``:
    clipping every coordinate (L∞), or rescaling the examples whose norm exceeds ``eps`` (L2)."""
    p = check_norm(norm)
    if p == "inf":
        return delta.clamp(-eps, eps)
    n = perturbation_norm(delta, "2")
    scale = torch.where(n > eps, eps / n.clamp_min(1e-12), torch.ones_like(n))
    return delta * _per_example(scale, delta)


def steepest_direction(grad: Tensor, norm: str | float = "inf") -> Tensor:
    """The unit-norm step that increases a linear function with gradient ``grad`` the most:
    ``sign(g)`` under L∞, ``g / ||g||_2`` under L2 (zero where the gradient is zero)."""
    p = check_norm(norm)
    if p == "inf":
        return grad.sign()
    n = perturbation_norm(grad, "2")
    return grad / _per_example(n.clamp_min(1e-12), grad)


def _check_inputs(x: Tensor, y: Tensor, clamp: tuple[float, float] | None) -> None:
    if x.dim() < 1 or y.shape[:1] != x.shape[:1]:
        raise ShapeError(f"the attack needs inputs (N, ...) and labels (N,), got {tuple(x.shape)} and "
                         f"{tuple(y.shape)}")
    if not x.is_floating_point():
        raise ShapeError(f"adversarial inputs must be floating point, got {x.dtype}")
    if clamp is not None:
        lo, hi = clamp
        if not lo < hi:
            raise ConfigError(f"clamp must be a range (low, high) with low < high, got {clamp}")
        if x.numel() and (x.min() < lo - 1e-6 or x.max() > hi + 1e-6):
            raise ShapeError(f"inputs lie in [{float(x.min()):.3g}, {float(x.max()):.3g}], outside the valid range "
                             f"clamp={tuple(clamp)}: attack unnormalised inputs (e.g. MNIST with normalize=False), "
                             "pass the normalised range, or clamp=None")


def input_gradient(model: Callable[[Tensor], Tensor], x: Tensor, y: Tensor, loss_fn: LossFn | None = None,
                   targeted: bool = False) -> tuple[Tensor, Tensor]:
    """``(g, loss)``: the gradient ``(N, ...)`` of the summed per-example losses with respect to ``x`` (negated
    when ``targeted``: the direction that brings the wanted classes closer) and that loss."""
    loss_fn = loss_fn or _cross_entropy
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        loss = loss_fn(model(x), y).sum()
        (g,) = torch.autograd.grad(loss, x)
    return (-g if targeted else g), loss.detach()


def _finish(x: Tensor, delta: Tensor, clamp: tuple[float, float] | None) -> Tensor:
    # Clamping x + δ into the range only moves coordinates towards x (x itself is in range), so the
    # result stays inside the norm ball.
    adv = x + delta
    return adv.clamp(*clamp) if clamp is not None else adv


def fgsm(model: Callable[[Tensor], Tensor], x: Tensor, y: Tensor, eps: float, *, norm: str | float = "inf",
         targeted: bool = False, clamp: tuple[float, float] | None = (0.0, 1.0),
         loss_fn: LossFn | None = None) -> Tensor:
    """Fast gradient sign method (L∞) / fast gradient method (L2): one step of length ``eps``.

    Args:
        model: maps ``x (N, ...)`` to logits ``(N, K)``.
        x: clean inputs inside ``clamp``; y: true labels ``(N,)`` (the wanted ones when ``targeted``).
        eps: the budget, ``>= 0``; norm: ``"inf"`` or ``"2"``.
        clamp: the valid input range (``None``: unbounded).
        loss_fn: ``loss(logits, y)`` -> per-example losses ``(N,)`` (default: cross-entropy); the
            gradient is that of their sum.

    Returns:
        ``x_adv (N, ...)``, detached, with ``||x_adv - x|| <= eps`` and values inside ``clamp``.
    """
    p = check_norm(norm)
    check_budget(eps)
    _check_inputs(x, y, clamp)
    g, _ = input_gradient(model, x, y, loss_fn, targeted)
    return _finish(x.detach(), eps * steepest_direction(g, p), clamp).detach()


def random_start(x: Tensor, eps: float, norm: str | float = "inf",
                 generator: torch.Generator | None = None) -> Tensor:
    """A uniform random point of the ball around each example: ``U(-eps, eps)`` per coordinate
    (L∞), or a uniform direction times ``eps · U^{1/d}`` (L2, uniform in the volume)."""
    p = check_norm(norm)
    kw = dict(generator=generator, dtype=x.dtype)
    if p == "inf":
        return ((torch.rand(x.shape, **kw) * 2 - 1) * eps).to(x.device)
    d = _flat(x).shape[1]
    direction = torch.randn(x.shape, **kw)
    direction = direction / _per_example(perturbation_norm(direction, "2").clamp_min(1e-12), direction)
    radius = eps * torch.rand(x.shape[0], **kw) ** (1.0 / max(d, 1))
    return (direction * _per_example(radius, direction)).to(x.device)


def pgd(model: Callable[[Tensor], Tensor], x: Tensor, y: Tensor, eps: float, *, alpha: float | None = None,
        steps: int = 10, norm: str | float = "inf", random_init: bool = True, restarts: int = 1,
        targeted: bool = False, clamp: tuple[float, float] | None = (0.0, 1.0), loss_fn: LossFn | None = None,
        generator: torch.Generator | None = None) -> Tensor:
    r"""Projected gradient descent on the loss (Madry et al. 2018).

    .. math:: \delta_{t+1}=\Pi_{\lVert\delta\rVert\le\epsilon,\;x+\delta\in[lo,hi]}
              \big(\delta_t+\alpha\,d(\nabla_x\mathcal L(f(x+\delta_t),y))\big)

    with :math:`d` = :func:`steepest_direction` and :math:`\delta_0` = :func:`random_start`
    (or 0 when ``random_init=False``).

    Args:
        alpha: the step size; default ``2.5 * eps / steps`` (Madry et al.'s rule, so that the walk
            can cross the ball and back).
        steps: gradient steps, ``>= 1``.
        random_init: start at a uniform random point of the ball (Madry et al.).
        restarts: independent random starts; each example keeps the run that fooled the model
            (or, if none did, the one with the highest loss, lowest when ``targeted``).
        generator: the random start's generator (reproducible attacks).
        Other arguments as in :func:`fgsm`.

    Returns:
        ``x_adv (N, ...)``, detached, within the budget and ``clamp``.
    """
    p = check_norm(norm)
    check_budget(eps, None, steps)
    if alpha is None:
        alpha = 2.5 * eps / steps if eps > 0 else 1.0
    check_budget(eps, alpha, steps)
    if isinstance(restarts, bool) or int(restarts) != restarts or restarts < 1:
        raise ConfigError(f"restarts must be an integer >= 1, got {restarts!r}")
    _check_inputs(x, y, clamp)
    x = x.detach()
    per_example = loss_fn or _cross_entropy
    best, best_score = x.clone(), None
    for _ in range(int(restarts)):
        delta = random_start(x, eps, p, generator) if random_init else torch.zeros_like(x)
        delta = _finish(x, delta, clamp) - x
        for _ in range(int(steps)):
            g, _ = input_gradient(model, x + delta, y, loss_fn, targeted)
            delta = project(delta + alpha * steepest_direction(g, p), eps, p)
            delta = _finish(x, delta, clamp) - x
        adv = x + delta
        if restarts == 1:
            return adv.detach()
        with torch.no_grad():  # score: fooled first, then loss (higher is better for the attacker)
            logits = model(adv)
            loss = per_example(logits, y).reshape(-1).float()
            fooled = (logits.argmax(1) == y) if targeted else (logits.argmax(1) != y)
            score = fooled.float() * 1e6 + (-loss if targeted else loss)
            if best_score is None:
                best, best_score = adv.clone(), score
            else:
                better = score > best_score
                best[better], best_score = adv[better], torch.where(better, score, best_score)
    return best.detach()


__all__ = ["ATTACK_NORMS", "check_norm", "check_budget", "perturbation_norm", "project", "steepest_direction",
           "input_gradient", "fgsm", "random_start", "pgd"]
