"""Transfer learning, hyperparameter search and ensemble utilities (book §4.5.3–§4.5.5)."""

import pytest
import torch

from tensorprism.errors import CheckpointError
from tensorprism.models import create_model
from tensorprism.train.search import bayes_search, grid_search, random_search
from tensorprism.vision.ensembles import StackedEnsemble, average_probabilities, bootstrap_indices
from tensorprism.vision.transfer import (
    discriminative_param_groups,
    freeze,
    l2sp_penalty,
    load_backbone,
    save_backbone,
    unfreeze,
)


def _small():
    return create_model("simple-cnn", channels=(4, 8), padding="same", norm="bn", hidden=(), global_pool=True, num_classes=3)


def test_freeze_keeps_only_the_head_trainable_and_bn_statistics_fixed():
    m = freeze(_small())
    assert {n.split(".")[0] for n, p in m.named_parameters() if p.requires_grad} == {"classifier"}
    bn = next(x for x in m.modules() if isinstance(x, torch.nn.BatchNorm2d))
    before = bn.running_mean.clone()
    m.train()
    m(torch.randn(4, 1, 28, 28) + 3)
    torch.testing.assert_close(bn.running_mean, before)
    unfreeze(m).train()
    m(torch.randn(4, 1, 28, 28) + 3)
    assert not torch.equal(bn.running_mean, before) and all(p.requires_grad for p in m.parameters())


def test_discriminative_groups_decay_towards_the_input():
    groups = discriminative_param_groups(_small(), lr=1.0, decay=0.5)
    assert [g["lr"] for g in groups] == [1.0, 0.5, 0.25]  # head+classifier, stage 2, stage 1 (the stem is empty)
    assert sum(len(g["params"]) for g in groups) == len(list(_small().parameters()))


def test_backbone_round_trip_through_a_local_file(tmp_path):
    src = _small()
    path = save_backbone(src, tmp_path / "w.safetensors")
    dst = _small()
    load_backbone(dst, path)
    for (k, a), b in zip(src.state_dict().items(), dst.state_dict().values(), strict=True):
        assert torch.equal(a, b) != k.startswith("classifier.")
    assert l2sp_penalty(dst, dict(src.named_parameters()), 1.0).item() == pytest.approx(
        sum((a - b).pow(2).sum().item() for (n, a), b in zip(dst.named_parameters(), src.parameters(), strict=True)))
    with pytest.raises(CheckpointError, match="does not fit"):
        load_backbone(create_model("simple-cnn", channels=(5, 8), padding="same", hidden=(), global_pool=True), path)


def test_searchers_find_the_optimum_of_a_known_objective():
    def f(p):
        return -((torch.log10(torch.tensor(p["lr"])) + 2) ** 2).item() - abs(p["batch_size"] - 32) / 100

    grid = grid_search(f, {"lr": [1e-3, 1e-2, 1e-1], "batch_size": [16, 32, 64]})
    assert grid.best_params == {"lr": 1e-2, "batch_size": 32} and len(grid.trials) == 9
    rnd = random_search(f, {"lr": ("log", 1e-4, 1.0), "batch_size": [16, 32, 64]}, 30, seed=1)
    assert 1e-3 < rnd.best_params["lr"] < 1e-1
    lrs = [p["lr"] for p, _ in random_search(f, {"lr": ("log", 1e-4, 1.0), "batch_size": [32]}, 200, seed=0).trials]
    assert sum(lr < 1e-2 for lr in lrs) > 60  # log-uniform: half the draws below 1e-2 (uniform would give ~1 %)
    pytest.importorskip("optuna")
    bo = bayes_search(f, {"lr": ("log", 1e-4, 1.0), "batch_size": [16, 32, 64]}, 12, seed=0, sampler="tpe")
    assert bo.best_value > -1.0 and len(bo.trials) == 12


def test_ensemble_averaging_bootstrap_and_stacking():
    torch.manual_seed(0)
    models = [torch.nn.Linear(4, 3) for _ in range(3)]
    x = torch.randn(50, 4)
    avg = average_probabilities(models, x, batch_size=7)
    torch.testing.assert_close(avg, torch.stack([m(x).softmax(1) for m in models]).mean(0))
    idx = bootstrap_indices(1000, 0)
    assert 0.58 < idx.unique().numel() / 1000 < 0.68  # ≈ 1 − 1/e distinct
    y = avg.argmax(1)
    assert (StackedEnsemble(models, C=100.0).fit(x, y).predict(x) == y).float().mean() >= 0.9  # a learnable target


def test_recipe_subsets_are_random_not_a_prefix():
    """The CIFAR-10 JPEG archive is stored class by class: a prefix of it holds a single class."""
    from tensorprism.recipes.ch04_classification import random_subset

    data = list(range(100))
    sub = random_subset(data, 10, seed=0)
    assert len(sub) == 10 and list(sub) != list(range(10)) and len(set(sub)) == 10
    assert list(random_subset(data, 10, seed=0)) == list(sub) and random_subset(data, None) is data
