"""DP-SGD: per-example gradients (torch.func) and the RDP accountant against Opacus; the DPSGD
callback on the Trainer; clear refusals of budgets that cannot be met."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from tensorprism.errors import ConfigError
from tensorprism.functional.privacy import clip_per_example, per_example_grads, privatize_grads
from tensorprism.privacy import RDPAccountant, compute_epsilon, noise_for_epsilon
from tensorprism.privacy.dpsgd import DPSGD, PoissonBatchSampler
from tensorprism.train import Trainer


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.GroupNorm(2, 4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))


def test_per_example_grads_equal_a_loop_and_opacus():
    model = _net()
    x, y = torch.randn(6, 1, 8, 8), torch.randint(0, 3, (6,))
    grads = per_example_grads(model, F.cross_entropy, x, y)
    for i in range(6):
        model.zero_grad()
        F.cross_entropy(model(x[i : i + 1]), y[i : i + 1]).backward()
        for name, p in model.named_parameters():
            assert torch.allclose(grads[name][i], p.grad, atol=1e-6)
    opacus = pytest.importorskip("opacus")
    gsm = opacus.GradSampleModule(_net(), loss_reduction="sum")
    F.cross_entropy(gsm(x), y, reduction="sum").backward()
    for name, p in gsm._module.named_parameters():
        assert torch.allclose(grads[name], p.grad_sample, atol=1e-5)


def test_clipping_bounds_each_example_and_noise_has_the_right_scale():
    grads = {"w": torch.randn(100, 5, 5) * torch.logspace(-2, 2, 100)[:, None, None], "b": torch.randn(100, 5)}
    clipped, norms = clip_per_example(grads, 1.0)
    after = torch.stack([clipped["w"].flatten(1).norm(dim=1), clipped["b"].norm(dim=1)], 1).norm(dim=1)
    assert float(after.max()) <= 1.0 + 1e-5
    small = norms < 1.0
    assert torch.allclose(clipped["w"][small], grads["w"][small])  # small gradients are left alone
    zero = {"w": torch.zeros(10, 20000)}
    noisy = privatize_grads(zero, 2.0, 1.5, expected_batch_size=10, generator=torch.Generator().manual_seed(0))
    assert float(noisy["w"].std()) == pytest.approx(1.5 * 2.0 / 10, rel=0.03)


def test_erratum_dp_sgd_without_per_example_clipping_has_unbounded_sensitivity():
    """Catalogue ch09-11 §5 item 25 (book L24978): g = (1/N) sum_i g_i + N(0, sigma^2) adds noise
    to the plain average: one example with a huge gradient moves the result by an unbounded amount,
    so no sigma hides it. With per-example clipping (bound C) and noise sigma*C, replacing one
    example moves the noise-free sum by at most 2C: the sensitivity the guarantee needs."""
    base = torch.randn(32, 10)
    outlier = base.clone()
    outlier[0] = 1e6
    book_shift = (outlier.mean(0) - base.mean(0)).norm()
    assert float(book_shift) > 1e4  # the book's mechanism: sensitivity grows without limit
    c = 1.0
    sum_base = clip_per_example({"g": base}, c)[0]["g"].sum(0)
    sum_out = clip_per_example({"g": outlier}, c)[0]["g"].sum(0)
    assert float((sum_out - sum_base).norm()) <= 2 * c + 1e-5


@pytest.mark.parametrize("q, sigma, steps", [(256 / 60000, 1.1, 1170), (0.01, 0.7, 1000), (0.05, 2.0, 300)])
def test_accountant_epsilon_equals_opacus(q, sigma, steps):
    opacus = pytest.importorskip("opacus")
    ref = opacus.accountants.RDPAccountant()
    ref.history = [(sigma, q, steps)]
    assert compute_epsilon(q, sigma, steps, 1e-5) == pytest.approx(ref.get_epsilon(1e-5), rel=1e-9)
    mine = RDPAccountant()
    for _ in range(3):
        mine.step(sigma, q, steps // 3)
    ref.history = [(sigma, q, 3 * (steps // 3))]
    assert mine.get_epsilon(1e-5) == pytest.approx(ref.get_epsilon(1e-5), rel=1e-9)


def test_noise_for_epsilon_meets_the_budget_and_refuses_impossible_ones():
    q, steps = 256 / 60000, 1170
    sigma = noise_for_epsilon(3.0, 1e-5, q, steps)
    assert compute_epsilon(q, sigma, steps, 1e-5) <= 3.0 < compute_epsilon(q, sigma - 0.05, steps, 1e-5)
    with pytest.raises(ConfigError, match="cannot be met"):
        noise_for_epsilon(0.01, 1e-5, 0.02, 10**6, max_sigma=5.0)
    with pytest.raises(ConfigError, match="delta"):
        compute_epsilon(q, 1.0, 10, 0.0)
    with pytest.raises(ConfigError, match="sampling rate"):
        compute_epsilon(1.5, 1.0, 10, 1e-5)


def test_poisson_batches_have_the_expected_size():
    sampler = PoissonBatchSampler(1000, 0.05, seed=0)
    sizes = [len(b) for b in sampler]
    assert len(sizes) == 20 and 40 < sum(sizes) / len(sizes) < 60 and len(set(sizes)) > 3


def _blobs(n=400):
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 3, (n,), generator=g)
    x = torch.randn(n, 1, 8, 8, generator=g) * 0.5 + y.float()[:, None, None, None]
    return TensorDataset(x, y)


def test_dp_sgd_trains_through_the_trainer_within_its_budget():
    data = _blobs()
    cb = DPSGD(target_epsilon=8.0, delta=1e-3, max_grad_norm=1.0)
    trainer = Trainer(_net(), "dp-classification", train_data=data, val_data=data, callbacks=[cb], epochs=2,
                      batch_size=50, lr=0.5, optimizer="sgd", device="cpu", progress=False, tensorboard=False,
                      plots=False).fit()
    assert trainer.task.steps == 16 and 0.3 < cb.noise_multiplier < 5
    assert 0 < cb.epsilon() <= 8.0
    assert len(cb.epsilon_history) == 2 and cb.epsilon_history[0] < cb.epsilon_history[1] == cb.epsilon()
    assert trainer.final_metrics["val/acc"] > 0.6


def test_dp_sgd_refusals():
    data = _blobs(100)
    bn = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(144, 3))
    kw = dict(train_data=data, epochs=1, batch_size=20, device="cpu", progress=False, tensorboard=False, plots=False)
    with pytest.raises(ConfigError, match="BatchNorm"):
        Trainer(bn, "dp-classification", callbacks=[DPSGD(noise_multiplier=1.0, delta=1e-3)], **kw).fit()
    with pytest.raises(ConfigError, match="1/N"):
        Trainer(_net(), "dp-classification", callbacks=[DPSGD(noise_multiplier=1.0, delta=0.1)], **kw).fit()
    with pytest.raises(ConfigError, match="cannot be met"):
        Trainer(_net(), "dp-classification", callbacks=[DPSGD(target_epsilon=0.001, delta=1e-3)], **kw).fit()
    with pytest.raises(ConfigError, match="dp-classification"):
        Trainer(_net(), "classification", callbacks=[DPSGD(noise_multiplier=1.0, delta=1e-3)], **kw).fit()
