"""A ``torch.optim.Optimizer`` that runs the reference update equations of
:mod:`tensorprism.functional.optim_ref`, so they can train real models and be compared with
``torch.optim`` step for step; and :class:`NAdamDozat`, the schedule-free Nadam of the book
(L3918–3928, corrected) that torch does not ship.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable

import torch
import torch.nn as nn

from ..errors import ConfigError, suggest
from ..functional.optim_ref import STEPS


class ReferenceOptimizer(torch.optim.Optimizer):
    """Apply ``STEPS[rule]`` to every parameter; hyper-parameters as keyword arguments.

    >>> opt = ReferenceOptimizer(model.parameters(), rule="adam", lr=1e-3)
    """

    def __init__(self, params: Iterable, rule: str = "sgd", **hyper):
        if rule not in STEPS:
            close = suggest(rule, STEPS)
            raise ConfigError(f"unknown update rule {rule!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
                              + f"; choose one of {', '.join(STEPS)}")
        self.rule = rule
        super().__init__(params, dict(hyper))

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        update = STEPS[self.rule]
        for group in self.param_groups:
            hyper = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                state["step"] = state.get("step", 0) + 1
                p.copy_(update(p, p.grad, state, state["step"], **hyper))
        return loss

    def __repr__(self) -> str:
        return f"ReferenceOptimizer(rule={self.rule!r}, {self.defaults})"


class NAdamDozat(ReferenceOptimizer):
    r"""Constant-momentum Nadam (Dozat 2016), the book's Nadam (L3918–3928) with its bias
    corrections restored; ``book_form=True`` runs the rule exactly as printed.

    ``torch.optim.NAdam`` always applies the schedule :math:`\mu_t=\beta_1(1-\frac12 0.96^{0.004t})`.
    See :func:`tensorprism.functional.optim_ref.nadam_dozat_step`.
    """

    def __init__(self, params: Iterable, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, book_form: bool = False):
        super().__init__(params, "nadam_dozat", lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         book_form=book_form)


def parity_with_torch(
    torch_cls: type[torch.optim.Optimizer],
    rule: str,
    hyper: dict,
    steps: int = 100,
    dtype: torch.dtype = torch.float64,
    seed: int = 0,
) -> float:
    """Train two copies of a small MLP for ``steps`` mini-batch steps, one with ``torch_cls`` and
    one with ``ReferenceOptimizer(rule)``, and return the largest relative difference of the final
    parameters, ``max |θ_ref − θ_torch| / max |θ_torch|`` over the tensors."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(steps, 16, 10, generator=g, dtype=dtype)
    y = torch.randint(0, 3, (steps, 16), generator=g)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(10, 12), nn.Tanh(), nn.Linear(12, 3)).to(dtype)
    twin = copy.deepcopy(model)
    opts = [torch_cls(model.parameters(), **hyper), ReferenceOptimizer(twin.parameters(), rule, **hyper)]
    for t in range(steps):
        for net, opt in zip((model, twin), opts, strict=True):
            opt.zero_grad()
            nn.functional.cross_entropy(net(x[t]), y[t]).backward()
            opt.step()
    return max(
        ((a - b).abs().max() / b.abs().max()).item()
        for a, b in zip(twin.parameters(), model.parameters(), strict=True)
    )
