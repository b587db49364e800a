r"""One-step optimiser updates written from their equations (book §3.5, corrected).

Each ``<rule>_step(param, grad, state, step, **hyper)`` returns the new parameter and updates the
``state`` dict in place (``step`` is the 1-based step count :math:`t`). Defaults and conventions
follow ``torch.optim`` (PyTorch 2.x documentation pseudo-code) so that
:class:`tensorprism.optim.ReferenceOptimizer` reproduces torch step for step; where the book's
printed rule differs, the docstring says how and a flag gives the book's form.

Conventions the book leaves open or gets wrong (catalogue §1.6, E2, E3, E18, E21):

* ε is **outside** the square root for Adagrad, RMSprop and Adam (torch), although the book puts
  it inside for Adagrad/RMSprop (L3826, L3852); ``eps_inside_sqrt=True`` gives the book's form.
* momentum: torch accumulates :math:`b_t=\mu b_{t-1}+g_t` and steps :math:`\theta-\eta b_t`; the
  book's :math:`v_t=\gamma v_{t-1}+\eta g_t` (L3782) is the same trajectory for a constant η
  (:math:`v_t=\eta b_t`). Nesterov: torch's re-parameterised form tracks the book's look-ahead
  point (L3790) :math:`\theta_t-\gamma v_t`; see :func:`nesterov_lookahead_step`.
* AdaMax **has** a bias correction :math:`\eta/(1-\beta_1^t)` (Kingma & Ba 2015); the book omits
  it (L3916): ``bias_correction=False`` reproduces the book.
* NAdam (torch) uses Dozat's momentum schedule :math:`\mu_t=\beta_1(1-\tfrac12 0.96^{t\psi})`,
  ψ = 0.004; :func:`nadam_dozat_step` is the constant-momentum form the book means (L3928) with
  the bias corrections the book drops restored (``book_form=True`` keeps the printed rule).
* ``weight_decay`` adds :math:`\lambda\theta` to the gradient (coupled L2; equals the book's
  penalty :math:`\lambda'\lVert\theta\rVert^2` for :math:`\lambda=2\lambda'`); AdamW instead
  decays the weights directly, :math:`\theta\leftarrow\theta(1-\eta\lambda)` (Loshchilov & Hutter 2019).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor


def _zeros(state: dict, key: str, like: Tensor, value: float = 0.0) -> Tensor:
    if key not in state:
        state[key] = torch.full_like(like, value)
    return state[key]


def _l2(grad: Tensor, param: Tensor, weight_decay: float) -> Tensor:
    return grad + weight_decay * param if weight_decay else grad


def _decay(param: Tensor, grad: Tensor, lr: float, weight_decay: float, decoupled: bool) -> tuple[Tensor, Tensor]:
    """Decoupled decay θ ← θ(1 − ηλ) (AdamW) or coupled L2 g ← g + λθ; returns (θ, g)."""
    if decoupled:
        return param * (1 - lr * weight_decay), grad
    return param, _l2(grad, param, weight_decay)


def _moments(g: Tensor, state: dict, betas: tuple[float, float]) -> tuple[Tensor, Tensor]:
    """Adam's EMAs :math:`m_t=\beta_1m+(1-\beta_1)g`, :math:`v_t=\beta_2v+(1-\beta_2)g^2` (stored in ``state``)."""
    b1, b2 = betas
    m = b1 * _zeros(state, "exp_avg", g) + (1 - b1) * g
    v = b2 * _zeros(state, "exp_avg_sq", g) + (1 - b2) * g * g
    state["exp_avg"], state["exp_avg_sq"] = m, v
    return m, v


def sgd_step(param, grad, state, step, lr=1e-3, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
    r""":math:`g\leftarrow g+\lambda\theta`; :math:`b_t=\mu b_{t-1}+(1-\tau)g` (:math:`b_1=g`);
    :math:`g\leftarrow g+\mu b_t` (Nesterov) or :math:`b_t`; :math:`\theta\leftarrow\theta-\eta g`."""
    g = _l2(grad, param, weight_decay)
    if momentum:
        b = g.clone() if "momentum_buffer" not in state else momentum * state["momentum_buffer"] + (1 - dampening) * g
        state["momentum_buffer"] = b
        g = g + momentum * b if nesterov else b
    return param - lr * g


def momentum_book_step(param, grad, state, step, lr=0.01, gamma=0.9):
    r"""The book's momentum (L3782): :math:`v_t=\gamma v_{t-1}+\eta g_t`, :math:`\theta\leftarrow\theta-v_t`."""
    v = gamma * _zeros(state, "v", param) + lr * grad
    state["v"] = v
    return param - v


def nesterov_lookahead_step(param, grad_fn: Callable[[Tensor], Tensor], state, step, lr=0.01, gamma=0.9):
    r"""The book's Nesterov (L3790): :math:`v_t=\gamma v_{t-1}+\eta\nabla L(\theta-\gamma v_{t-1})`,
    :math:`\theta\leftarrow\theta-v_t`. Needs the gradient *at the look-ahead point*, so it takes
    ``grad_fn(point)`` instead of a gradient."""
    v_prev = _zeros(state, "v", param)
    v = gamma * v_prev + lr * grad_fn(param - gamma * v_prev)
    state["v"] = v
    return param - v


def adagrad_step(param, grad, state, step, lr=1e-2, lr_decay=0.0, weight_decay=0.0, eps=1e-10,
                 initial_accumulator_value=0.0, eps_inside_sqrt=False):
    r""":math:`G_t=G_{t-1}+g_t^2`, :math:`\theta\leftarrow\theta-\frac{\eta_t}{\sqrt{G_t}+\epsilon}g_t`,
    :math:`\eta_t=\eta/(1+(t-1)\,\mathrm{lr\_decay})` (book L3826 with ε moved out of the root)."""
    g = _l2(grad, param, weight_decay)
    clr = lr / (1 + (step - 1) * lr_decay)
    s = _zeros(state, "sum", param, initial_accumulator_value) + g * g
    state["sum"] = s
    denom = torch.sqrt(s + eps) if eps_inside_sqrt else torch.sqrt(s) + eps
    return param - clr * g / denom


def adadelta_step(param, grad, state, step, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
    r"""Zeiler (2012): :math:`v_t=\rho v+(1-\rho)g^2`, :math:`\Delta=\frac{\sqrt{u+\epsilon}}{\sqrt{v_t+\epsilon}}g`,
    :math:`u_t=\rho u+(1-\rho)\Delta^2`, :math:`\theta\leftarrow\theta-\eta\Delta`."""
    g = _l2(grad, param, weight_decay)
    v = rho * _zeros(state, "square_avg", param) + (1 - rho) * g * g
    u = _zeros(state, "acc_delta", param)
    delta = torch.sqrt(u + eps) / torch.sqrt(v + eps) * g
    state["square_avg"], state["acc_delta"] = v, rho * u + (1 - rho) * delta * delta
    return param - lr * delta


def rmsprop_step(param, grad, state, step, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False, eps_inside_sqrt=False):
    r"""Hinton's RMSprop (book L3852, γ = ``alpha``): :math:`E[g^2]_t=\alpha E[g^2]_{t-1}+(1-\alpha)g_t^2`,
    :math:`\theta\leftarrow\theta-\frac{\eta}{\sqrt{E[g^2]_t}+\epsilon}g_t`; optionally centred
    (subtract :math:`E[g]^2`) and with momentum on the scaled step."""
    g = _l2(grad, param, weight_decay)
    v = alpha * _zeros(state, "square_avg", param) + (1 - alpha) * g * g
    state["square_avg"] = v
    if centered:
        ga = alpha * _zeros(state, "grad_avg", param) + (1 - alpha) * g
        state["grad_avg"] = ga
        v = v - ga * ga
    denom = torch.sqrt(v + eps) if eps_inside_sqrt else torch.sqrt(v) + eps
    if momentum:
        b = momentum * _zeros(state, "momentum_buffer", param) + g / denom
        state["momentum_buffer"] = b
        return param - lr * b
    return param - lr * g / denom


def adam_step(param, grad, state, step, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
              amsgrad=False, decoupled=False):
    r"""Adam (book L3885): :math:`m_t=\beta_1m+(1-\beta_1)g`, :math:`v_t=\beta_2v+(1-\beta_2)g^2`,
    :math:`\theta\leftarrow\theta-\eta\frac{m_t/(1-\beta_1^t)}{\sqrt{v_t/(1-\beta_2^t)}+\epsilon}`.

    ``amsgrad`` uses :math:`\max_{s\le t}v_s` (Reddi et al. 2018); ``decoupled`` is AdamW:
    :math:`\theta\leftarrow\theta(1-\eta\lambda)` before the step instead of adding λθ to g.
    """
    b1, b2 = betas
    param, g = _decay(param, grad, lr, weight_decay, decoupled)
    m, v = _moments(g, state, betas)
    if amsgrad:
        v = torch.maximum(_zeros(state, "max_exp_avg_sq", param), v)
        state["max_exp_avg_sq"] = v
    bc1, bc2 = 1 - b1**step, 1 - b2**step
    return param - (lr / bc1) * m / (torch.sqrt(v) / math.sqrt(bc2) + eps)


def adamw_step(param, grad, state, step, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
    """AdamW: Adam with decoupled weight decay (torch's default λ = 0.01)."""
    return adam_step(param, grad, state, step, lr, betas, eps, weight_decay, amsgrad, decoupled=True)


def adamax_step(param, grad, state, step, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                bias_correction=True):
    r"""AdaMax: :math:`u_t=\max(\beta_2u_{t-1},|g_t|+\epsilon)`,
    :math:`\theta\leftarrow\theta-\frac{\eta}{1-\beta_1^t}\frac{m_t}{u_t}`.

    The book (L3916) omits :math:`1/(1-\beta_1^t)` and adds ε to :math:`u_t` in the denominator;
    ``bias_correction=False`` drops the correction (the first steps are then ≈10× too small).
    """
    b1, b2 = betas
    g = _l2(grad, param, weight_decay)
    m = b1 * _zeros(state, "exp_avg", param) + (1 - b1) * g
    u = torch.maximum(b2 * _zeros(state, "exp_inf", param), g.abs() + eps)
    state["exp_avg"], state["exp_inf"] = m, u
    clr = lr / (1 - b1**step) if bias_correction else lr
    return param - clr * m / u


def nadam_step(param, grad, state, step, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
               momentum_decay=4e-3, decoupled_weight_decay=False, schedule=True):
    r"""NAdam (Dozat 2016) as torch implements it, with the momentum schedule
    :math:`\mu_t=\beta_1(1-\tfrac12 0.96^{t\psi})` (ψ = ``momentum_decay``):

    .. math::
        \bar m=\frac{\mu_{t+1}m_t}{1-\prod_{i\le t+1}\mu_i}+\frac{(1-\mu_t)g_t}{1-\prod_{i\le t}\mu_i},\qquad
        \theta\leftarrow\theta-\eta\,\bar m/(\sqrt{v_t/(1-\beta_2^t)}+\epsilon).

    ``schedule=False`` keeps :math:`\mu_t=\beta_1` (Dozat's constant-momentum Nadam, which
    torch does not offer): :math:`\bar m=\frac{\beta_1m_t}{1-\beta_1^{t+1}}+\frac{(1-\beta_1)g_t}{1-\beta_1^t}`.
    """
    b1, b2 = betas
    param, g = _decay(param, grad, lr, weight_decay, decoupled_weight_decay)
    if schedule:
        mu = b1 * (1 - 0.5 * 0.96 ** (step * momentum_decay))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
    else:
        mu = mu_next = b1
    prod = state.get("mu_product", 1.0) * mu
    state["mu_product"] = prod
    m, v = _moments(g, state, betas)
    denom = torch.sqrt(v / (1 - b2**step)) + eps
    m_bar = mu_next * m / (1 - prod * mu_next) + (1 - mu) * g / (1 - prod)
    return param - lr * m_bar / denom


def nadam_dozat_step(param, grad, state, step, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, book_form=False):
    r"""Constant-momentum Nadam (Dozat 2016), the optimiser of the book's L3918–3928.

    The book prints :math:`\theta\leftarrow\theta-\eta(\beta_1\hat m_t+(1-\beta_1)g_t)/(\sqrt{\hat v_t}+\epsilon)`
    with Adam's :math:`\hat m_t=m_t/(1-\beta_1^t)`: the gradient term lacks its bias correction
    :math:`1/(1-\beta_1^t)` (catalogue E3). ``book_form=True`` reproduces the printed rule.
    """
    if not book_form:
        return nadam_step(param, grad, state, step, lr, betas, eps, weight_decay, schedule=False)
    b1, b2 = betas
    g = _l2(grad, param, weight_decay)
    m, v = _moments(g, state, betas)
    m_hat = m / (1 - b1**step)
    return param - lr * (b1 * m_hat + (1 - b1) * g) / (torch.sqrt(v / (1 - b2**step)) + eps)


STEPS: dict[str, Callable[..., Tensor]] = {
    "sgd": sgd_step,
    "adagrad": adagrad_step,
    "adadelta": adadelta_step,
    "rmsprop": rmsprop_step,
    "adam": adam_step,
    "adamw": adamw_step,
    "adamax": adamax_step,
    "nadam": nadam_step,
    "nadam_dozat": nadam_dozat_step,
    "momentum_book": momentum_book_step,
}

__all__ = [
    "STEPS", "sgd_step", "momentum_book_step", "nesterov_lookahead_step", "adagrad_step",
    "adadelta_step", "rmsprop_step", "adam_step", "adamw_step", "adamax_step", "nadam_step",
    "nadam_dozat_step",
]
