"""Chapter 10 GAN recipe (§10.5–10.6): any registered GAN on MNIST / Fashion-MNIST / CIFAR-10 with
any of the adversarial losses, measured by FID with our classifier and precision/recall against the
floor of real held-out images. A registered VAE (``model=vae-conv``) is trained by the ELBO instead
and measured the same way, the baseline the GAN numbers are read against.

``prism run ch10-gan model=dcgan loss=non-saturating`` (DCGAN), ``model=wgan-gp loss=wasserstein
gp_weight=10 n_critic=5`` (WGAN-GP), ``model=sngan loss=hinge`` (SN-GAN), ``model=gan-mlp
loss=saturating`` (the book's MLP GAN with the minimax loss), ``model=dcgan model_config={ema:
true} ema_decay=0.999`` (generator EMA), ``model=cgan-mlp`` (conditional), ``dataset=cifar10``
(the model's channels and image size follow the data unless ``model_config`` sets them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from ..config import setting
from ..errors import ConfigError
from . import register_recipe
from .ch10_common import (
    IMAGE_DATASETS,
    image_model,
    images_01,
    sample_quality,
    save_grid,
    tensor_data,
    train_classifier,
)
from .kit import RecipeConfig, apply_threads, make_trainer, save_result


@dataclass
class GANRecipeConfig(RecipeConfig):
    """Settings of ``ch10-gan``.

    Attributes:
        model: a registered GAN (``gan-mlp``, ``gan-mlp-small``, ``cgan-mlp``, ``dcgan``, ``sngan``, ``wgan-gp``,
            ``stylegan-small``...), or a VAE (``vae-conv``, ``vae-mlp``: trained by the ELBO, Adam at ``lr``,
            the adversarial settings unused) as the baseline.
        model_config: options of the model (e.g. ``{ema: true}``); ``in_chans`` / ``img_size`` default to the data's.
        dataset: ``mnist``, ``fashion-mnist`` or ``cifar10``.
        loss: ``non-saturating``, ``saturating``, ``wasserstein`` or ``hinge``.
        n_critic: discriminator steps per generator step.
        gp_weight: WGAN-GP penalty weight (0: none).
        r1_weight, r1_interval: γ of the R1 penalty on real images (StyleGAN's regulariser; 0: none),
            applied lazily every ``r1_interval`` discriminator steps.
        pl_weight, pl_interval: StyleGAN2's path-length penalty on the generator (``model=stylegan-small``;
            Karras et al. 2020: 2, every 4 generator steps; 0: none).
        clip_value: WGAN weight clipping (None: none).
        ema_decay: generator EMA decay (needs ``model_config={ema: true}``).
        epochs, batch_size, lr: training; Adam with β = (0.5, 0.999) (Radford et al. 2016).
        d_lr_factor: discriminator learning rate relative to ``lr``.
        max_train: use only the first images of the training split (None: all 55,000).
        eval_samples: generated and real held-out images compared (FID, precision/recall).
        classifier: run directory of an earlier classifier of this dataset (skips training one).
        classifier_epochs: epochs of the feature classifier trained otherwise.
        classifier_max_train: training images of that classifier (None: all).
        k: neighbourhood size of precision/recall.
    """

    model: str = "dcgan"
    model_config: dict[str, Any] = field(default_factory=dict)
    dataset: str = setting("mnist", choices=IMAGE_DATASETS)
    loss: str = setting("non-saturating", choices=("non-saturating", "saturating", "wasserstein", "hinge"))
    n_critic: int = setting(1, min=1)
    gp_weight: float = setting(0.0, min=0.0)
    r1_weight: float = setting(0.0, min=0.0)
    r1_interval: int = setting(1, min=1)
    pl_weight: float = setting(0.0, min=0.0)
    pl_interval: int = setting(4, min=1)
    clip_value: float | None = None
    ema_decay: float | None = None
    epochs: int = setting(5, min=1)
    batch_size: int = setting(64, min=2)
    lr: float = setting(2e-4, gt=0.0)
    d_lr_factor: float = setting(1.0, gt=0.0)
    max_train: int | None = setting(None, min=1)
    eval_samples: int = setting(2000, min=10)
    classifier: str | None = None
    classifier_epochs: int = setting(2, min=1)
    classifier_max_train: int | None = setting(None, min=1)
    k: int = setting(3, min=1)


@register_recipe("ch10-gan", config=GANRecipeConfig)
def run_gan(cfg: GANRecipeConfig) -> dict[str, Any]:
    """Train a GAN with the adversarial task; FID with our classifier + precision/recall vs real."""
    from ..models import count_parameters
    from ..train.tasks import create_task

    apply_threads(cfg)
    torch.manual_seed(cfg.seed)
    x, y = images_01(cfg.dataset, "train", cfg.max_train)
    xv, yv = images_01(cfg.dataset, "val", cfg.eval_samples)
    xt, _ = images_01(cfg.dataset, "test", cfg.eval_samples)
    model = image_model(cfg.model, cfg.model_config, x)
    if model.kind == "vae":  # the likelihood baseline: the ELBO, plain Adam
        task_name, task_cfg, sub, opt_kw = "vae", {}, "vae", {}
    elif model.kind == "gan":
        task_name, sub, opt_kw = "adversarial", "gan", {"betas": (0.5, 0.999)}
        task_cfg = dict(loss=cfg.loss, n_critic=cfg.n_critic, gp_weight=cfg.gp_weight, clip_value=cfg.clip_value,
                        ema_decay=cfg.ema_decay, d_lr_factor=cfg.d_lr_factor, r1_weight=cfg.r1_weight,
                        r1_interval=cfg.r1_interval, pl_weight=cfg.pl_weight, pl_interval=cfg.pl_interval)
    else:
        raise ConfigError(f"ch10-gan trains a GAN or (as the baseline) a VAE; {cfg.model!r} is a {model.kind!r} "
                          "model (flows and PixelCNN: ch10-realnvp / ch10-pixelcnn; translation: ch10-cyclegan / "
                          "ch10-srgan)")
    trainer = make_trainer(cfg, model, create_task(task_name, **task_cfg), tensor_data(x, y), tensor_data(xv, yv),
                           sub=sub, task_config=task_cfg, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                           optimizer="adam", optimizer_kwargs=opt_kw)
    trainer.fit()
    classifier, clf_acc = train_classifier(cfg, cfg.dataset, cfg.classifier_epochs, cfg.classifier_max_train,
                                           cfg.eval_samples)

    gen = torch.Generator().manual_seed(cfg.seed + 1)
    model.eval()
    fakes = torch.cat([model.sample(min(500, cfg.eval_samples - i), generator=gen).cpu()
                       for i in range(0, cfg.eval_samples, 500)])
    quality = sample_quality(classifier, xt, fakes, cfg.dataset, cfg.k)
    floor = sample_quality(classifier, xt, xv[: cfg.eval_samples], cfg.dataset, cfg.k)
    save_grid(cfg, "samples", fakes[:100])
    result = {
        "model": cfg.model, "loss": cfg.loss if model.kind == "gan" else "elbo", "dataset": cfg.dataset,
        "generator_params": count_parameters(model.generator if model.kind == "gan" else model),
        "discriminator_params": count_parameters(model.discriminator) if model.kind == "gan" else 0,
        "epochs_run": trainer.epoch, "steps": trainer.global_step,
        "fid_our_classifier": quality["fid"], "precision": quality["precision"], "recall": quality["recall"],
        "real_floor_fid": floor["fid"], "real_floor_precision": floor["precision"], "real_floor_recall": floor["recall"],
        "classifier_test_acc": clf_acc,  # on the first eval_samples test images
        "eval_samples": int(fakes.shape[0]),
        "final": {k: v for k, v in trainer.final_metrics.items() if isinstance(v, float)},
    }
    return save_result(cfg, result)
