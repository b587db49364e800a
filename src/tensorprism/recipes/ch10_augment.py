"""Chapter 10 generative data augmentation (§10.8, I10.29): with only ``labels_per_class`` labelled
MNIST images per class, a conditional VAE trained on those images generates extra labelled
images; a classifier is trained with and without them and both are tested on the 10,000 test
images, over several seeds (mean and standard deviation).

``prism run ch10-augment labels_per_class=100 seeds=3``.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

import torch

from ..config import setting
from . import register_recipe
from .ch10_common import images_01, tensor_data
from .kit import RecipeConfig, apply_threads, make_trainer, save_result


@dataclass
class AugmentConfig(RecipeConfig):
    """Settings of ``ch10-augment``.

    Attributes:
        labels_per_class: labelled training images per digit (the rest of MNIST is unused).
        seeds: repetitions (different labelled subsets and initialisations).
        generated_per_class: cVAE images added per class.
        vae_epochs: epochs of the conditional VAE (``cvae-mlp``) on the labelled images.
        clf_epochs: epochs of the classifier (``mnist-cnn-modern``) in both arms.
        max_test: first test images only (None: all 10,000).
    """

    labels_per_class: int = setting(100, min=1)
    seeds: int = setting(3, min=1)
    generated_per_class: int = setting(400, min=1)
    vae_epochs: int = setting(40, min=1)
    clf_epochs: int = setting(15, min=1)
    max_test: int | None = setting(None, min=1)


def _subset(x: torch.Tensor, y: torch.Tensor, per_class: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    idx = torch.cat([torch.nonzero(y == c).flatten()[torch.randperm(int((y == c).sum()), generator=g)[:per_class]]
                     for c in range(10)])
    return x[idx], y[idx]


def _classifier_acc(cfg, x, y, xt, yt, seed: int, sub: str) -> float:
    from ..models import create_model

    torch.manual_seed(seed)
    mean, std = 0.1307, 0.3081
    model = create_model("mnist-cnn-modern")
    trainer = make_trainer(cfg, model, "classification", tensor_data((x - mean) / std, y), None,
                           tensor_data((xt - mean) / std, yt), sub=sub, task_config={}, seed=seed,
                           epochs=cfg.clf_epochs, batch_size=64, lr=2e-3, optimizer="adam")
    trainer.fit()
    return float(trainer.final_metrics["test/acc"])


@register_recipe("ch10-augment", config=AugmentConfig)
def run_augment(cfg: AugmentConfig) -> dict[str, Any]:
    """Accuracy with and without cVAE-generated images at a small labelled budget."""
    from ..models import create_model
    from ..train.tasks import create_task

    apply_threads(cfg)
    x, y = images_01("mnist", "train")
    xt, yt = images_01("mnist", "test", cfg.max_test)
    base, aug = [], []
    for s in range(cfg.seeds):
        seed = cfg.seed + s
        xs, ys = _subset(x, y, cfg.labels_per_class, seed)
        torch.manual_seed(seed)
        vae = create_model("cvae-mlp")
        xb = torch.bernoulli(xs, generator=torch.Generator().manual_seed(seed))
        make_trainer(cfg, vae, create_task("vae"), tensor_data(xb, ys), None, None, sub=f"seed-{s}/cvae",
                     task_config={}, seed=seed, epochs=cfg.vae_epochs, batch_size=64, lr=1e-3,
                     optimizer="adam").fit()
        vae.eval()
        labels = torch.arange(10).repeat_interleave(cfg.generated_per_class)
        with torch.no_grad():
            gen = vae.sample(len(labels), y=labels, generator=torch.Generator().manual_seed(seed + 100))
        base.append(_classifier_acc(cfg, xs, ys, xt, yt, seed, f"seed-{s}/real-only"))
        aug.append(_classifier_acc(cfg, torch.cat([xs, gen]), torch.cat([ys, labels]), xt, yt, seed,
                                   f"seed-{s}/real+generated"))

    def stats(v: list[float]) -> dict[str, float]:
        return {"mean": statistics.fmean(v), "std": statistics.stdev(v) if len(v) > 1 else 0.0}

    result = {"labels_per_class": cfg.labels_per_class, "generated_per_class": cfg.generated_per_class,
              "seeds": cfg.seeds, "acc_real_only": base, "acc_with_generated": aug,
              "real_only": stats(base), "with_generated": stats(aug),
              "gain": statistics.fmean(a - b for a, b in zip(aug, base, strict=True))}
    return save_result(cfg, result)
