import copy

import pytest
import torch
import torch.nn as nn

import tensorprism.functional.regularization as R
from tensorprism.nn.mlp import MLP


def _setup():
    torch.manual_seed(0)
    model = MLP(6, (8,), 3).double()
    x, y = torch.randn(32, 6, dtype=torch.float64), torch.randint(0, 3, (32,))
    return model, x, y


def _train(model, opt, x, y, penalty=None, steps=20):
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        if penalty is not None:
            loss = loss + penalty(model)
        loss.backward()
        opt.step()
    return model


def test_penalty_values():
    w = [torch.tensor([[1.0, -2.0]]), torch.tensor([0.5])]
    assert R.l1_penalty(w, 0.1).item() == pytest.approx(0.35)
    assert R.l2_penalty(w, 0.1).item() == pytest.approx(0.525)
    assert R.elastic_net_penalty(w, 0.1, 0.1).item() == pytest.approx(0.875)
    m = MLP(3, (4,), 2)
    assert len(R.penalized_parameters(m)) == 2 and len(R.penalized_parameters(m, include_bias=True)) == 4


def test_erratum_weight_decay_is_twice_the_books_lambda_L4402():
    """Book L4376/L4402 calls PyTorch weight_decay=0.01 an L2 penalty with λ = 0.01; under the book's
    λ‖θ‖² (gradient 2λθ) it is λ = 0.005. SGD(weight_decay=2λ) == SGD on loss + λ‖θ‖²."""
    model, x, y = _setup()
    lam = 0.005
    pen = copy.deepcopy(model)
    _train(pen, torch.optim.SGD(pen.parameters(), lr=0.1), x, y, lambda m: R.l2_penalty(m.parameters(), lam))
    wd = copy.deepcopy(model)
    _train(wd, torch.optim.SGD(wd.parameters(), lr=0.1, weight_decay=R.weight_decay_for_l2(lam)), x, y)
    for p, q in zip(pen.parameters(), wd.parameters(), strict=True):
        torch.testing.assert_close(p, q)
    assert R.weight_decay_for_l2(lam) == 0.01


def test_decoupled_weight_decay_differs_from_l2_for_adam_but_not_for_sgd():
    model, x, y = _setup()
    adam_l2 = copy.deepcopy(model)
    _train(adam_l2, torch.optim.Adam(adam_l2.parameters(), lr=0.01, weight_decay=0.1), x, y)
    adamw = copy.deepcopy(model)
    _train(adamw, torch.optim.AdamW(adamw.parameters(), lr=0.01, weight_decay=0.1), x, y)
    diff = max((p - q).abs().max().item() for p, q in zip(adam_l2.parameters(), adamw.parameters(), strict=True))
    assert diff > 1e-3
    # for SGD, decoupled decay θ ← (1 − ηλ)θ − ηg is exactly coupled L2 with the same λ
    sgd = copy.deepcopy(model)
    _train(sgd, torch.optim.SGD(sgd.parameters(), lr=0.1, weight_decay=0.1), x, y)
    manual = copy.deepcopy(model)
    opt = torch.optim.SGD(manual.parameters(), lr=0.1)
    for _ in range(20):
        opt.zero_grad()
        nn.functional.cross_entropy(manual(x), y).backward()
        with torch.no_grad():
            for p in manual.parameters():
                p.mul_(1 - 0.1 * 0.1)
        opt.step()
    for p, q in zip(sgd.parameters(), manual.parameters(), strict=True):
        torch.testing.assert_close(p, q)


def test_l1_penalty_drives_weights_to_zero():
    model, x, y = _setup()
    l1 = copy.deepcopy(model)
    _train(l1, torch.optim.SGD(l1.parameters(), lr=0.05), x, y,
           lambda m: R.l1_penalty(R.penalized_parameters(m), 0.05), steps=300)
    plain = copy.deepcopy(model)
    _train(plain, torch.optim.SGD(plain.parameters(), lr=0.05), x, y, steps=300)
    small = lambda m: sum((p.abs() < 1e-2).sum().item() for p in R.penalized_parameters(m))  # noqa: E731
    assert small(l1) > 2 * small(plain)


def test_max_norm_constraint_caps_each_unit():
    lin = nn.Linear(10, 5)
    with torch.no_grad():
        lin.weight.mul_(10)
        lin.weight[0] = 0.01
    before = lin.weight[0].clone()
    R.max_norm_(lin, 2.0)
    norms = lin.weight.norm(dim=1)
    assert torch.all(norms <= 2.0 + 1e-5) and norms[1:].min() > 1.99
    torch.testing.assert_close(lin.weight[0], before)  # small rows untouched
