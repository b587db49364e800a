"""MAML / FOMAML / Reptile pieces: task sampling, the vmapped inner step against a plain loop, and
second- vs first-order meta-gradients."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call, vmap

from tensorprism.errors import ConfigError
from tensorprism.meta import SinusoidTasks, adapt, evaluate_adaptation, meta_train, sinusoid_net


def test_tasks_follow_finn_et_al_ranges():
    xs, ys, xq, yq = SinusoidTasks().sample(500, 10, torch.Generator().manual_seed(0))
    assert xs.shape == (500, 10, 1) and xq.shape == (500, 10, 1)
    assert float(xs.min()) >= -5 and float(xs.max()) <= 5 and float(ys.abs().max()) <= 5
    with pytest.raises(ConfigError):
        SinusoidTasks().sample(2, 0, torch.Generator())


def test_vmapped_adaptation_equals_a_loop_of_sgd_steps():
    net = sinusoid_net()
    xs, ys, _, _ = SinusoidTasks().sample(3, 5, torch.Generator().manual_seed(1))
    base = {n: p.detach() for n, p in net.named_parameters()}
    fast = vmap(lambda x, y: adapt(net, base, x, y, 0.01, 2))(xs, ys)
    for t in range(3):
        p = {n: q.clone().requires_grad_() for n, q in base.items()}
        for _ in range(2):
            loss = F.mse_loss(functional_call(net, p, (xs[t],)), ys[t])
            grads = torch.autograd.grad(loss, list(p.values()))
            p = {n: q - 0.01 * g for (n, q), g in zip(p.items(), grads, strict=True)}
        for n in p:
            assert torch.allclose(fast[n][t], p[n], atol=1e-6)


def test_second_order_maml_gradient_differs_from_first_order():
    net = sinusoid_net()
    xs, ys, xq, yq = SinusoidTasks().sample(1, 10, torch.Generator().manual_seed(2))
    params = dict(net.named_parameters())

    def meta_grad(first_order):
        fast = adapt(net, params, xs[0], ys[0], 0.1, 1, first_order=first_order)
        loss = F.mse_loss(functional_call(net, fast, (xq[0],)), yq[0])
        return torch.autograd.grad(loss, list(params.values()))

    second, first = meta_grad(False), meta_grad(True)
    diff = max(float((a - b).abs().max()) for a, b in zip(second, first, strict=True))
    assert diff > 1e-4  # the Hessian term is there...
    assert all(torch.isfinite(g).all() for g in second)


@pytest.mark.slow  # 150 meta-iterations
def test_meta_training_lowers_the_post_adaptation_error():
    torch.manual_seed(0)
    net = sinusoid_net()
    before = evaluate_adaptation(net, k=10, n_tasks=50, steps=(1,))[1]
    meta_train(net, "fomaml", iterations=150, k=10, meta_batch=10, outer_lr=3e-3)
    after = evaluate_adaptation(net, k=10, n_tasks=50, steps=(1,))[1]
    assert after < before and math.isfinite(after)
    with pytest.raises(ConfigError):
        meta_train(net, "anil", iterations=1, k=5)
