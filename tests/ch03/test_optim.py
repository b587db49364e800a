import math

import pytest
import torch

import tensorprism.functional.optim_ref as O
from tensorprism.errors import ConfigError
from tensorprism.optim import OPTIMIZER_NAMES, NAdamDozat, ReferenceOptimizer, make_optimizer
from tensorprism.optim.reference import parity_with_torch

PARITY = [
    ("sgd", torch.optim.SGD, {"lr": 0.05}),
    ("sgd", torch.optim.SGD, {"lr": 0.05, "momentum": 0.9, "dampening": 0.1, "weight_decay": 1e-3}),
    ("sgd", torch.optim.SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("adagrad", torch.optim.Adagrad, {"lr": 0.05, "lr_decay": 0.01, "weight_decay": 1e-3, "initial_accumulator_value": 0.1}),
    ("adadelta", torch.optim.Adadelta, {"lr": 1.0, "rho": 0.9, "weight_decay": 1e-3}),
    ("rmsprop", torch.optim.RMSprop, {"lr": 1e-3}),
    ("rmsprop", torch.optim.RMSprop, {"lr": 1e-3, "centered": True, "momentum": 0.5, "weight_decay": 1e-3}),
    ("adam", torch.optim.Adam, {"lr": 1e-2, "weight_decay": 1e-3}),
    ("adam", torch.optim.Adam, {"lr": 1e-2, "amsgrad": True}),
    ("adamw", torch.optim.AdamW, {"lr": 1e-2, "weight_decay": 0.1}),
    ("adamw", torch.optim.AdamW, {"lr": 1e-2, "weight_decay": 0.1, "amsgrad": True}),
    ("adamax", torch.optim.Adamax, {"lr": 2e-3, "weight_decay": 1e-3}),
    ("nadam", torch.optim.NAdam, {"lr": 2e-3}),
    ("nadam", torch.optim.NAdam, {"lr": 2e-3, "weight_decay": 1e-2, "decoupled_weight_decay": True}),
]


@pytest.mark.parametrize("rule, cls, hyper", PARITY, ids=[f"{r}-{i}" for i, (r, _, _) in enumerate(PARITY)])
def test_reference_step_equals_torch_optim_after_100_steps(rule, cls, hyper):
    assert parity_with_torch(cls, rule, hyper, steps=100) <= 1e-6


def _quadratic():
    a = torch.tensor([[3.0, 0.5], [0.5, 1.0]], dtype=torch.float64)
    b = torch.tensor([1.0, -2.0], dtype=torch.float64)
    return (lambda th: a @ th - b), torch.tensor([2.0, 2.0], dtype=torch.float64)


def test_book_momentum_form_is_torch_momentum_for_constant_lr():
    """Book L3782 v = γv + ηg, θ -= v equals torch's b = μb + g, θ -= ηb when η is constant."""
    grad_fn, theta0 = _quadratic()
    theta, st = theta0.clone(), {}
    p = theta0.clone().requires_grad_(True)
    opt = torch.optim.SGD([p], lr=0.05, momentum=0.9)
    for t in range(1, 51):
        theta = O.momentum_book_step(theta, grad_fn(theta), st, t, lr=0.05, gamma=0.9)
        p.grad = grad_fn(p.detach())
        opt.step()
    torch.testing.assert_close(theta, p.detach())


def test_book_nesterov_lookahead_tracks_torch_nesterov():
    """Book L3790 evaluates the gradient at θ − γv; torch's re-parameterised Nesterov keeps the
    look-ahead point φ = θ − γv as its parameter. Same trajectory."""
    grad_fn, theta0 = _quadratic()
    theta, st = theta0.clone(), {}
    p = theta0.clone().requires_grad_(True)
    opt = torch.optim.SGD([p], lr=0.05, momentum=0.9, nesterov=True)
    for t in range(1, 51):
        theta = O.nesterov_lookahead_step(theta, grad_fn, st, t, lr=0.05, gamma=0.9)
        p.grad = grad_fn(p.detach())
        opt.step()
        torch.testing.assert_close(theta - 0.9 * st["v"], p.detach())


def test_erratum_adamax_bias_correction_L3916():
    """Book L3916 has no 1/(1-β1^t): the first AdaMax step is ~10x too small."""
    p, g = torch.zeros(3, dtype=torch.float64), torch.tensor([0.5, -2.0, 1e-3], dtype=torch.float64)
    corrected = O.adamax_step(p, g, {}, 1, lr=0.002)
    book = O.adamax_step(p, g, {}, 1, lr=0.002, bias_correction=False)
    torch.testing.assert_close(corrected, -0.002 * g / (g.abs() + 1e-8))  # ≈ −η·sign(g)
    torch.testing.assert_close(book, 0.1 * corrected)
    q = p.clone().requires_grad_(True)
    q.grad = g.clone()
    torch.optim.Adamax([q], lr=0.002).step()
    torch.testing.assert_close(q.detach(), corrected)


def test_erratum_nadam_gradient_term_bias_correction_L3928():
    """Book L3928 lacks (1-β1)g/(1-β1^t). Dozat's constant-momentum Nadam moves the first step by
    η·(0.1/0.1 + 0.9·0.1/(1−0.9²)) = 1.4737·η·sign(g); the printed rule moves 1.0·η."""
    p, g = torch.zeros(2, dtype=torch.float64), torch.tensor([0.3, -4.0], dtype=torch.float64)
    dozat = O.nadam_dozat_step(p, g, {}, 1, lr=1.0, eps=0.0)
    book = O.nadam_dozat_step(p, g, {}, 1, lr=1.0, eps=0.0, book_form=True)
    torch.testing.assert_close(dozat, -(1 + 0.09 / 0.19) * torch.sign(g))
    torch.testing.assert_close(book, -torch.sign(g))
    q = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    q.grad = g.clone()
    torch.optim.NAdam([q], lr=1.0, eps=0.0).step()
    assert not torch.allclose(q.detach(), dozat)  # torch applies the momentum schedule


def test_nadam_dozat_optimizer_trains():
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(5))
    opt = NAdamDozat([w], lr=0.05)
    for _ in range(300):
        opt.zero_grad()
        loss = ((w - 3.0) ** 2).sum()
        loss.backward()
        opt.step()
    assert loss.item() < 1e-3


def test_erratum_epsilon_placement_adagrad_rmsprop_L3826():
    """Book L3826/L3852 put ε inside the square root; torch (and our default) outside."""
    p, g = torch.zeros(1, dtype=torch.float64), torch.tensor([1e-4], dtype=torch.float64)
    outside = O.rmsprop_step(p, g, {}, 1, lr=1.0, eps=1e-6)
    inside = O.rmsprop_step(p, g, {}, 1, lr=1.0, eps=1e-6, eps_inside_sqrt=True)
    assert outside.item() == pytest.approx(-1e-4 / (1e-5 + 1e-6))
    assert inside.item() == pytest.approx(-1e-4 / math.sqrt(1e-10 + 1e-6))
    assert abs(inside.item()) < 0.2 * abs(outside.item())


def test_make_optimizer_book_names():
    p = [torch.nn.Parameter(torch.zeros(2))]
    assert make_optimizer("nesterov", p, lr=0.1).defaults["nesterov"] is True
    assert make_optimizer("amsgrad", p).defaults["amsgrad"] is True
    assert isinstance(make_optimizer("lbfgs", p), torch.optim.LBFGS)
    assert isinstance(make_optimizer("nadam_dozat", p), NAdamDozat)
    assert set(OPTIMIZER_NAMES) >= {"sgd", "momentum", "adagrad", "adadelta", "rmsprop", "adam", "adamw", "adamax", "nadam", "lbfgs"}
    with pytest.raises(ConfigError, match="did you mean"):
        make_optimizer("adma", p)
    with pytest.raises(ConfigError, match="unknown update rule"):
        ReferenceOptimizer(p, rule="adamm")


def test_lbfgs_with_closure_solves_least_squares():
    """Book L4088-4103: L-BFGS takes a closure that re-evaluates the loss."""
    torch.manual_seed(0)
    x, w_true = torch.randn(50, 4), torch.tensor([1.0, -2.0, 0.5, 3.0])
    y = x @ w_true
    w = torch.nn.Parameter(torch.zeros(4))
    opt = make_optimizer("lbfgs", [w], lr=1.0, max_iter=50, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = ((x @ w - y) ** 2).mean()
        loss.backward()
        return loss

    opt.step(closure)
    torch.testing.assert_close(w.detach(), w_true, atol=1e-4, rtol=0)


@pytest.mark.parametrize("batch_size", [None, 8, 1])
def test_batch_minibatch_and_online_sgd_all_fit_a_line(batch_size):
    """§3.5.2: full-batch GD, mini-batch SGD and online SGD are the same update on different batches."""
    torch.manual_seed(0)
    x = torch.linspace(-1, 1, 32).unsqueeze(1)
    y = 2 * x - 0.5
    lin = torch.nn.Linear(1, 1)
    opt = make_optimizer("sgd", lin.parameters(), lr=0.1)
    bs = batch_size or len(x)
    for _ in range(200 if bs == len(x) else 40):
        for i in range(0, len(x), bs):
            opt.zero_grad()
            torch.nn.functional.mse_loss(lin(x[i : i + bs]), y[i : i + bs]).backward()
            opt.step()
    assert lin.weight.item() == pytest.approx(2.0, abs=0.02) and lin.bias.item() == pytest.approx(-0.5, abs=0.02)
