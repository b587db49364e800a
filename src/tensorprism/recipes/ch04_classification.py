"""Chapter 4 image classification case studies (book §4.2.2, §4.6.1, §4.7): MNIST, Fashion-MNIST, CIFAR-10.

One recipe, several registered presets::

    prism run ch04-mnist-lenet5            # LeNet-5 on MNIST
    prism run ch04-mnist-modern            # small conv-BN CNN with augmentation (≥ 99.4 %)
    prism run ch04-fashion-mnist           # the same CNN on Fashion-MNIST
    prism run ch04-cifar10-cnn-book        # the book's CIFAR CNN (L88/L94) with its augmentation
    prism run ch04-cifar10-resnet20 epochs=182   # He et al. 2016 schedule (GPU: device=cuda)

Training uses :class:`tensorprism.train.Trainer` and applies the augmentation to whole batches
(:class:`tensorprism.vision.training.AugmentedClassificationTask`). ``time_budget_s`` stops training
after that many seconds (the test accuracy is then that of the model reached).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn as nn

from ..config import setting
from . import register_recipe
from .kit import RecipeConfig, make_trainer, save_result


@dataclass
class Ch04ClassifyConfig(RecipeConfig):
    dataset: str = "mnist"  # "mnist" | "fashion-mnist" | "cifar10"
    model: str = "lenet5"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    augment: str = "none"  # "none" | "mnist" (±2 px shift, ±10° rotation) | "cifar" (crop 32 pad 4 + flip) | "book-cifar" (flip + ±15°)
    epochs: int = 10
    batch_size: int = 128
    optimizer: str = "adamw"
    lr: float = 3e-3
    weight_decay: float = 5e-4
    momentum: float = 0.9  # for SGD
    scheduler: str = "onecycle"
    label_smoothing: float = 0.0
    train_split: str = "trainval"  # all training images; the test split is never used for selection
    max_train_samples: int | None = None
    max_test_samples: int | None = setting(None, min=1)  # a random subset of the test images (None: all, the reported number)
    max_steps: int | None = setting(None, min=1)  # caps the run and the schedule (a fixed-budget comparison)
    channels_last: bool = False
    compile: bool = False


def augmentation(preset: str, seed: int) -> nn.Module | None:
    """Batch augmentation pipelines on ``[0, 1]`` images (from :mod:`tensorprism.data.augment`)."""
    from ..data import augment as A

    if preset == "none":
        return None
    if preset == "mnist":
        return A.Compose([A.RandomCrop(28, padding=2), A.RandomRotation(10.0)], seed=seed)
    if preset == "cifar":  # He et al. 2016: 4-pixel padding, random 32×32 crop, horizontal flip
        return A.Compose([A.RandomCrop(32, padding=4), A.RandomHorizontalFlip()], seed=seed)
    if preset == "book-cifar":  # book L69: RandomHorizontalFlip + RandomRotation(15)
        return A.Compose([A.RandomHorizontalFlip(), A.RandomRotation(15.0)], seed=seed)
    raise ValueError(f"unknown augmentation preset {preset!r}; expected none, mnist, cifar or book-cifar")


def random_subset(ds, n: int | None, seed: int = 0):
    """A seeded random subset of ``n`` samples (all when ``n`` is None). Never the first ``n``: the CIFAR-10
    JPEG archive is stored class by class, so a prefix holds one or two classes only."""
    from torch.utils.data import Subset

    if not n or n >= len(ds):
        return ds
    return Subset(ds, torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed))[:n].tolist())


def load_split(name: str, split: str, max_samples: int | None = None, seed: int = 0):
    """``[0, 1]`` images of ``split`` (normalisation happens in the task), optionally a random ``max_samples``."""
    from ..data import load_dataset

    return random_subset(load_dataset(name, split=split, normalize=False), max_samples, seed)


def run_classification(cfg: Ch04ClassifyConfig) -> dict[str, Any]:
    from ..data import dataset_info
    from ..data.transforms import Normalize
    from ..models import count_parameters, create_model
    from ..vision.training import AugmentedClassificationTask

    info = dataset_info(cfg.dataset).extra
    train = load_split(cfg.dataset, cfg.train_split, cfg.max_train_samples, cfg.seed)
    test = load_split(cfg.dataset, "test", cfg.max_test_samples, cfg.seed)
    mean, std = info.get("mean"), info.get("std")
    if mean is None:  # MNIST-style datasets keep their statistics on the dataset
        base = test.dataset if hasattr(test, "dataset") else test
        mean, std = base.meta.get("mean"), base.meta.get("std")
    in_chans = info.get("shape", (1,))[0]
    model = create_model(cfg.model, num_classes=10, in_chans=in_chans, **cfg.model_kwargs)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    task = AugmentedClassificationTask(augmentation(cfg.augment, cfg.seed), Normalize(mean, std), 10, cfg.label_smoothing)
    opt_kwargs = {"momentum": cfg.momentum, "nesterov": True} if cfg.optimizer == "sgd" else {}
    # evaluated by the CLI as plain classification of the dataset normalised with the same mean/std
    trainer = make_trainer(
        cfg, model, task, train, test=test, dataset={"name": cfg.dataset}, task_name="classification",
        task_config={"label_smoothing": cfg.label_smoothing}, epochs=cfg.epochs, batch_size=cfg.batch_size,
        eval_batch_size=1000, optimizer=cfg.optimizer, optimizer_kwargs=opt_kwargs, lr=cfg.lr,
        weight_decay=cfg.weight_decay, scheduler=cfg.scheduler, compile=cfg.compile, max_steps=cfg.max_steps)
    t0, c0 = time.perf_counter(), time.process_time()
    trainer.fit()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    test_metrics = trainer.final_metrics
    return save_result(cfg, {
        "config": asdict(cfg), "parameters": count_parameters(model), "epochs_run": trainer.epoch,
        "steps": trainer.global_step, "train_wall_s": round(wall, 1), "train_cpu_s": round(cpu, 1),
        "test_acc": float(test_metrics["test/acc"]), "test_loss": float(test_metrics["test/loss"]),
        "device": str(trainer.device), "threads": torch.get_num_threads(),
    })


_PRESETS = {
    "ch04-mnist-lenet5": dict(model="lenet5", epochs=10, augment="none"),
    "ch04-mnist-modern": dict(model="mnist-cnn-modern", epochs=6, augment="mnist",
                              model_kwargs={"channels": (16, 32), "global_pool": False, "dropout": 0.0}),
    "ch04-fashion-mnist": dict(dataset="fashion-mnist", model="mnist-cnn-modern", epochs=6, augment="none",
                               model_kwargs={"channels": (16, 32), "global_pool": False, "dropout": 0.0}),
    "ch04-cifar10-cnn-book": dict(dataset="cifar10", model="cifar-cnn-book-same", epochs=10, batch_size=64,
                                  optimizer="adam", lr=1e-3, weight_decay=0.0, scheduler="constant", augment="book-cifar"),
    # He et al. 2016: SGD 0.1, momentum 0.9, wd 1e-4, batch 128, 64k iterations (≈182 epochs) with /10 at
    # 32k and 48k; one-cycle over the same length reaches the same accuracy and is used here by default.
    "ch04-cifar10-resnet20": dict(dataset="cifar10", model="resnet20-cifar", epochs=182, optimizer="sgd", lr=0.1,
                                  weight_decay=1e-4, augment="cifar"),
}
for _name, _defaults in _PRESETS.items():
    register_recipe(_name, config=Ch04ClassifyConfig, description=f"Chapter 4 classification preset ({_defaults['model']})",
                    **_defaults)(run_classification)
