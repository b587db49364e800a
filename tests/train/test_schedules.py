"""LR schedules against PyTorch's schedulers (oracles) and the book's formulas (§3.5.4)."""

import math

import pytest
import torch
from train_helpers import QUIET, make_blobs, make_mlp

from tensorprism.errors import ConfigError
from tensorprism.train import LRMonitor, Trainer, build_scheduler, schedule_factor
from tensorprism.train.schedules import cosine_annealing, polynomial_decay

T = 20


def lrs(make, steps=T, lr=0.1):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    sched = make(opt)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


@pytest.mark.parametrize("spec, oracle", [
    ({"name": "step", "step_size": 7, "gamma": 0.5}, lambda o: torch.optim.lr_scheduler.StepLR(o, 7, 0.5)),
    ({"name": "exponential", "gamma": 0.9}, lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.9)),
    ({"name": "polynomial", "power": 2.0}, lambda o: torch.optim.lr_scheduler.PolynomialLR(o, T, 2.0)),
    ({"name": "cosine", "min_factor": 0.1}, lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T, eta_min=0.01)),
])
def test_schedule_matches_pytorch_scheduler(spec, oracle):
    ours = lrs(lambda o: build_scheduler(o, spec, total=T))
    assert ours == pytest.approx(lrs(oracle), rel=1e-9, abs=1e-12)


def test_exponential_rate_form_is_the_books_e_to_minus_lambda_t():
    f = schedule_factor("exponential", total=T, rate=0.25)
    assert [f(t) for t in range(5)] == pytest.approx([math.exp(-0.25 * t) for t in range(5)])


def test_linear_warmup_then_cosine():
    f = schedule_factor("cosine", total=T, warmup=5)
    assert [f(t) for t in range(6)] == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert f(5 + 15 // 2) < 1 and f(T) == pytest.approx(0.0, abs=1e-12)


def test_noam_peaks_at_warmup():
    f = schedule_factor("noam", total=T, d_model=512, warmup=4000)
    values = [f(t) for t in range(0, 12000, 500)]
    assert max(values) == pytest.approx(512**-0.5 * 4000**-0.5, rel=1e-3)
    assert f(3998) < f(3999) > f(4100)


def test_onecycle_is_pytorchs_and_cycles_momentum():
    ours = lrs(lambda o: build_scheduler(o, {"name": "onecycle", "pct_start": 0.3}, total=T))
    oracle = lrs(lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=T, pct_start=0.3))
    assert ours == oracle


def test_unknown_schedule_suggests():
    with pytest.raises(ConfigError, match="did you mean 'cosine'"):
        schedule_factor("cosin", total=T)


def test_erratum_E20_polynomial_decay_has_the_listings_floor():
    """Book L3972 decays to 0 while the listing (L4000) ends at 0.01: min_factor offers both."""
    assert polynomial_decay(T, total=T) == 0.0
    assert polynomial_decay(T, total=T, min_factor=0.1) == pytest.approx(0.1)
    assert polynomial_decay(10 * T, total=T, min_factor=0.1) == pytest.approx(0.1)


def test_erratum_E19_cosine_offers_eta_min_and_restarts():
    """Book L3984 calls cosine annealing "periodic" but prints one half-cosine without η_min."""
    assert cosine_annealing(T, total=T, min_factor=0.05) == pytest.approx(0.05)
    restart = [cosine_annealing(t, total=3 * T, cycle=T) for t in (0, T - 1, T, 2 * T)]
    assert restart[0] == restart[2] == restart[3] == 1.0 and restart[1] < 0.01


def test_erratum_E20_step_decay_unit_is_explicit_epoch_or_step():
    """Book L3994: the listing's "step decay" counts optimiser steps, the formula counts epochs."""
    data = make_blobs(n=32)
    common = dict(train_data=data, epochs=3, batch_size=8, lr=1.0, optimizer="sgd", **QUIET)
    sched = {"name": "step", "step_size": 1, "gamma": 0.5}
    per_epoch = Trainer(make_mlp(), scheduler=sched, scheduler_interval="epoch", callbacks=[LRMonitor()], **common).fit()
    per_step = Trainer(make_mlp(), scheduler=sched, scheduler_interval="step", callbacks=[LRMonitor()], **common).fit()
    assert per_epoch.history["lr"] == [1.0] * 4 + [0.5] * 4 + [0.25] * 4
    assert per_step.history["lr"] == [0.5**k for k in range(1, 13)]
