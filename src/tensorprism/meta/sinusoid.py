r"""MAML (second- and first-order) and Reptile on the sinusoid regression benchmark, with ``torch.func``.

The book (§11, L25010–25018) states the meta-objective and MAML's update
:math:`\theta \leftarrow \theta - \alpha\nabla_\theta\sum_i \mathcal L_{\mathcal T_i}(f_{\theta - \beta\nabla_\theta\mathcal L_{\mathcal T_i}(f_\theta)})`.
Here, following Finn, Abbeel & Levine (2017, §5.1): tasks are sinusoids
:math:`y = A\sin(x - \varphi)`, :math:`A \sim U[0.1, 5]`, :math:`\varphi \sim U[0, \pi]`, inputs
:math:`x \sim U[-5, 5]`; ``K`` support points for the inner step(s), ``K`` fresh query points for the
outer loss; a 1-40-40-1 ReLU MLP; inner rate β = 0.01, Adam for the outer step (α = 1e-3),
25 tasks per meta-batch.

* **MAML** — the inner steps are differentiated through (second order: Hessian-vector products);
* **FOMAML** — the inner gradient is treated as a constant (first order);
* **Reptile** (Nichol et al. 2018) — several inner SGD steps, then move θ towards the adapted
  weights: :math:`\theta \leftarrow \theta + \epsilon(\theta' - \theta)`;
* **pre-training baseline** — one network regressed on data pooled from all tasks, then fine-tuned
  on the ``K`` points like the others.

The parameters are a dict of tensors and the network is called with
``torch.func.functional_call``, so an inner step is a plain tensor expression.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError

__all__ = ["SinusoidTasks", "sinusoid_net", "adapt", "meta_train", "pretrain", "evaluate_adaptation"]


@dataclass
class SinusoidTasks:
    """Sampler of sinusoid regression tasks (Finn et al. 2017's ranges)."""

    amp: tuple[float, float] = (0.1, 5.0)
    phase: tuple[float, float] = (0.0, math.pi)
    x_range: tuple[float, float] = (-5.0, 5.0)

    def sample(self, n_tasks: int, k: int, generator: torch.Generator, queries: int | None = None
               ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Support ``(x, y)`` of shape ``(T, K, 1)`` and query ``(T, Q, 1)`` for ``n_tasks`` tasks."""
        if k < 1:
            raise ConfigError(f"K (shots) must be >= 1, got {k}")
        q = queries or k
        a = torch.empty(n_tasks, 1, 1).uniform_(*self.amp, generator=generator)
        p = torch.empty(n_tasks, 1, 1).uniform_(*self.phase, generator=generator)
        x = torch.empty(n_tasks, k + q, 1).uniform_(*self.x_range, generator=generator)
        y = a * torch.sin(x - p)
        return x[:, :k], y[:, :k], x[:, k:], y[:, k:]


def sinusoid_net(hidden: int = 40) -> nn.Module:
    """Finn et al.'s regressor: 1 → 40 → 40 → 1 with ReLU."""
    return nn.Sequential(nn.Linear(1, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))


def _loss(net: nn.Module, params: dict[str, Tensor], x: Tensor, y: Tensor) -> Tensor:
    from torch.func import functional_call

    return F.mse_loss(functional_call(net, params, (x,)), y)


def adapt(net: nn.Module, params: dict[str, Tensor], x: Tensor, y: Tensor, lr: float, steps: int,
          first_order: bool = False, loss: Callable[[Tensor, Tensor], Tensor] = F.mse_loss) -> dict[str, Tensor]:
    """``steps`` gradient steps on one task's support set ``x, y (K, 1)`` with ``torch.func.grad``;
    differentiable with respect to ``params`` (second order) unless ``first_order``. Works under
    ``vmap`` (one call adapts a whole meta-batch). ``loss(prediction, y)`` defaults to the MSE
    (regression); few-shot classification passes the cross-entropy."""
    from torch.func import functional_call, grad

    for _ in range(steps):
        g = grad(lambda p: loss(functional_call(net, p, (x,)), y))(params)
        params = {k: p - lr * (g[k].detach() if first_order else g[k]) for k, p in params.items()}
    return params


def meta_step(net: nn.Module, opt: torch.optim.Optimizer, method: str, xs: Tensor, ys: Tensor, xq: Tensor,
              yq: Tensor, *, inner_lr: float, inner_steps: int, reptile_lr: float, reptile_steps: int,
              reptile_eps: float, loss: Callable[[Tensor, Tensor], Tensor] = F.mse_loss,
              randomness: str = "error") -> float:
    """One meta-update of ``net`` from a meta-batch of tasks ``xs, ys`` (support, ``(B, K, ...)``) and
    ``xq, yq`` (query); the tasks are adapted together with ``torch.func.vmap`` (``randomness`` is
    passed to it). ``"maml"``/``"fomaml"``: the mean query loss after adaptation, back-propagated
    (second or first order) and stepped with ``opt``; returns it. ``"reptile"``: SGD on support +
    query, then ``theta += reptile_eps * mean(theta' - theta)``; returns NaN (no outer loss)."""
    from torch.func import functional_call, vmap

    params = dict(net.named_parameters())
    if method == "reptile":
        start = {n: p.detach() for n, p in params.items()}
        x, y = torch.cat([xs, xq], 1), torch.cat([ys, yq], 1)
        fast = vmap(lambda xi, yi: adapt(net, start, xi, yi, reptile_lr, reptile_steps, first_order=True,
                                         loss=loss))(x, y)
        with torch.no_grad():
            for n, p in net.named_parameters():
                p.add_(reptile_eps * (fast[n].mean(0) - start[n]))
        return float("nan")
    first = method == "fomaml"

    def task_loss(xs_t, ys_t, xq_t, yq_t):
        fast = adapt(net, params, xs_t, ys_t, inner_lr, inner_steps, first, loss=loss)
        return loss(functional_call(net, fast, (xq_t,)), yq_t)

    outer = vmap(task_loss, randomness=randomness)(xs, ys, xq, yq).mean()
    opt.zero_grad()
    outer.backward()
    opt.step()
    return float(outer.detach())


def meta_train(net: nn.Module, method: str, *, iterations: int, k: int, tasks: SinusoidTasks | None = None,
               meta_batch: int = 25, inner_lr: float = 0.01, inner_steps: int = 1, outer_lr: float = 1e-3,
               reptile_steps: int = 5, reptile_lr: float = 0.01, reptile_eps: float = 0.1, seed: int = 0,
               log: Callable[[int, float], None] | None = None) -> nn.Module:
    """Meta-train ``net`` in place with ``"maml"``, ``"fomaml"`` or ``"reptile"``; the tasks of a
    meta-batch are adapted together with ``torch.func.vmap``."""

    if method not in ("maml", "fomaml", "reptile"):
        raise ConfigError(f"method must be 'maml', 'fomaml' or 'reptile', got {method!r}")
    tasks = tasks or SinusoidTasks()
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=outer_lr)
    for it in range(iterations):
        xs, ys, xq, yq = tasks.sample(meta_batch, k, g)
        loss = meta_step(net, opt, method, xs, ys, xq, yq, inner_lr=inner_lr, inner_steps=inner_steps,
                         reptile_lr=reptile_lr, reptile_steps=reptile_steps, reptile_eps=reptile_eps)
        if log is not None:
            log(it, loss)
    return net


def pretrain(net: nn.Module, *, iterations: int, k: int, tasks: SinusoidTasks | None = None, meta_batch: int = 25,
             lr: float = 1e-3, seed: int = 0) -> nn.Module:
    """The baseline: regress on points pooled from ``meta_batch`` random tasks per step."""
    tasks = tasks or SinusoidTasks()
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    for _ in range(iterations):
        xs, ys, xq, yq = tasks.sample(meta_batch, k, g)
        loss = F.mse_loss(net(torch.cat([xs, xq], 1)), torch.cat([ys, yq], 1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net


def evaluate_adaptation(net: nn.Module, *, k: int, steps: tuple[int, ...] = (0, 1, 10), n_tasks: int = 200,
                        lr: float = 0.01, queries: int = 100, seed: int = 12345,
                        tasks: SinusoidTasks | None = None) -> dict[int, float]:
    """Mean query MSE after ``s`` SGD steps on ``K`` support points, over ``n_tasks`` new tasks."""
    tasks = tasks or SinusoidTasks()
    g = torch.Generator().manual_seed(seed)
    xs, ys, xq, yq = tasks.sample(n_tasks, k, g, queries=queries)
    from torch.func import vmap

    out = {}
    base = {n: p.detach() for n, p in net.named_parameters()}
    for s in steps:
        fast = vmap(lambda x, y, s=s: adapt(net, base, x, y, lr, s, first_order=True))(xs, ys)
        with torch.no_grad():
            losses = vmap(lambda p, x, y: _loss(net, p, x, y))(fast, xq, yq)
        out[s] = float(losses.mean())
    return out
