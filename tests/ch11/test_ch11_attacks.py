"""FGSM and PGD (functional/attacks.py) against a linear model whose worst case is known in closed
form, budgets and ranges, and PGD adversarial training on the Trainer."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

from tensorprism.errors import ConfigError, ShapeError
from tensorprism.functional.attacks import fgsm, perturbation_norm, pgd, project, random_start


def linear_model(w: torch.Tensor, b: float = 0.0) -> nn.Module:
    """Two-class logits (0, w·x + b): raising w·x is the only way to move towards class 1."""
    lin = nn.Linear(w.numel(), 1)
    with torch.no_grad():
        lin.weight.copy_(w.reshape(1, -1))
        lin.bias.fill_(b)

    class TwoClass(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = lin

        def forward(self, x):
            z = self.lin(x.reshape(x.shape[0], -1))
            return torch.cat([torch.zeros_like(z), z], dim=1)

    return TwoClass()


@pytest.fixture
def setup():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(12, generator=g)
    x = torch.rand(6, 12, generator=g) * 0.5 + 0.25  # inside [0, 1] with room on both sides
    y = torch.tensor([0, 1, 0, 1, 1, 0])
    return linear_model(w), w, x, y


def test_fgsm_linf_and_l2_equal_the_closed_form_worst_case(setup):
    model, w, x, y = setup
    away = torch.where(y == 0, 1.0, -1.0)[:, None]  # class 0 is attacked by raising w·x, class 1 by lowering it
    adv = fgsm(model, x, y, 0.1, norm="inf", clamp=None)
    torch.testing.assert_close(adv, x + 0.1 * away * w.sign())
    adv2 = fgsm(model, x, y, 0.5, norm=2, clamp=None)
    torch.testing.assert_close(adv2, x + 0.5 * away * w / w.norm())


def test_targeted_moves_towards_the_target(setup):
    model, _, x, y = setup
    # two classes: "make it class t" is "move away from class 1 - t"
    torch.testing.assert_close(fgsm(model, x, 1 - y, 0.1, targeted=True, clamp=None),
                               fgsm(model, x, y, 0.1, clamp=None))
    torch.testing.assert_close(pgd(model, x, 1 - y, 0.1, steps=5, targeted=True, random_init=False, clamp=None),
                               pgd(model, x, y, 0.1, steps=5, random_init=False, clamp=None))


def test_pgd_reaches_the_fgsm_corner_on_a_linear_model(setup):
    model, _, x, y = setup
    for norm in ("inf", "2"):
        ref = fgsm(model, x, y, 0.2, norm=norm, clamp=None)
        out = pgd(model, x, y, 0.2, steps=10, norm=norm, random_init=False, clamp=None)
        torch.testing.assert_close(out, ref, atol=1e-6, rtol=0)


@pytest.mark.parametrize("norm", ["inf", "2"])
def test_budget_and_range_hold_with_random_start(norm):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 3))
    x = torch.rand(32, 1, 4, 4)
    x[0] = 0.0  # pixels at the range's edge: clamping must keep them in range and in budget
    x[1] = 1.0
    y = torch.randint(0, 3, (32,))
    eps = 0.3 if norm == "inf" else 1.0
    for adv in (fgsm(model, x, y, eps, norm=norm),
                pgd(model, x, y, eps, steps=7, norm=norm, generator=torch.Generator().manual_seed(1)),
                pgd(model, x, y, eps, steps=3, norm=norm, restarts=3)):
        assert (perturbation_norm(adv - x, norm) <= eps + 1e-5).all()
        assert adv.min() >= 0 and adv.max() <= 1
    assert all(p.grad is None for p in model.parameters())  # only the input was differentiated
    start = random_start(x, eps, norm, torch.Generator().manual_seed(0))
    n = perturbation_norm(start, norm)
    assert (n <= eps + 1e-6).all() and (n > 0).all()


def test_project_is_the_nearest_point_of_the_ball():
    d = torch.tensor([[3.0, 4.0], [0.3, 0.4]])
    torch.testing.assert_close(project(d, 1.0, "2"), torch.tensor([[0.6, 0.8], [0.3, 0.4]]))
    torch.testing.assert_close(project(d, 0.35, "inf"), torch.tensor([[0.35, 0.35], [0.3, 0.35]]))


def test_pgd_is_at_least_as_strong_as_fgsm():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 24), nn.ReLU(), nn.Linear(24, 2))
    x = torch.rand(200, 2)
    y = ((x[:, 0] - 0.5) ** 2 + (x[:, 1] - 0.5) ** 2 < 0.1).long()  # a disc: a curved boundary
    opt = torch.optim.Adam(model.parameters(), 3e-2)
    for _ in range(150):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    ce = nn.CrossEntropyLoss()
    clean_acc = (model(x).argmax(1) == y).float().mean()
    f = fgsm(model, x, y, 0.08)
    p = pgd(model, x, y, 0.08, steps=20, generator=torch.Generator().manual_seed(0))
    acc = lambda a: (model(a).argmax(1) == y).float().mean()  # noqa: E731
    assert clean_acc > 0.9
    assert acc(p) <= acc(f) < clean_acc
    assert ce(model(p), y) >= ce(model(f), y)


@pytest.mark.parametrize("kwargs, error", [
    (dict(eps=-0.1), ConfigError), (dict(eps=math.nan), ConfigError), (dict(norm="l1"), ConfigError),
    (dict(steps=0), ConfigError), (dict(alpha=0.0), ConfigError), (dict(restarts=0), ConfigError),
    (dict(clamp=(1.0, 0.0)), ConfigError),
])
def test_bad_settings_are_refused(setup, kwargs, error):
    model, _, x, y = setup
    args = dict(eps=0.1) | kwargs
    with pytest.raises(error):
        pgd(model, x, y, **args)


def test_inputs_outside_the_valid_range_are_refused(setup):
    model, _, x, y = setup
    with pytest.raises(ShapeError, match="normalize=False"):
        fgsm(model, (x - 0.5) / 0.1, y, 0.1)
    with pytest.raises(ShapeError):
        fgsm(model, x, y[:3], 0.1)


def test_adversarial_training_task_on_the_trainer():
    from tensorprism.models import create_model
    from tensorprism.train import Trainer
    from tensorprism.train.tasks import create_task

    torch.manual_seed(0)
    x = torch.rand(64, 1, 8, 8)
    y = (x.mean(dim=(1, 2, 3)) > 0.5).long()
    model = create_model("mlp", in_features=64, num_classes=2, hidden=[16])
    flat = torch.utils.data.TensorDataset(x.reshape(64, -1), y)
    task = create_task("adversarial-training", eps=0.05, steps=2, eval_steps=3)
    tr = Trainer(model, task, train_data=flat, val_data=flat, epochs=1, batch_size=32, progress=False,
                 device="cpu")
    tr.fit()
    m = tr.evaluate("val")
    assert 0 <= m["val/adv_acc"] <= m["val/acc"]
    assert tr.history and "adv_loss" not in m
    with pytest.raises(ConfigError):
        create_task("adversarial-training", eps=-1)
    with pytest.raises(ConfigError):
        create_task("adversarial-training", norm="l0")


@pytest.mark.parametrize("name, bad", [("ch11-adversarial", dict(eps=-0.1)), ("ch11-adversarial", dict(norm="l1")),
                                       ("ch11-adversarial", dict(train_steps=0)),
                                       ("ch11-fairness", dict(arms=["threshold"])),
                                       ("ch11-fairness", dict(criterion="calibration")),
                                       ("ch11-explain", dict(table="titanic"))])
def test_recipes_refuse_bad_settings_before_any_work(name, bad, tmp_path):
    from tensorprism.recipes import run_recipe

    with pytest.raises(ConfigError):
        run_recipe(name, out_dir=str(tmp_path / "run"), progress=False, **bad)
