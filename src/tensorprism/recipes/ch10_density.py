"""Chapter 10 exact-likelihood recipes (§10.7): RealNVP in bits/dim on dequantised MNIST and
PixelCNN's test NLL in nats on binarised MNIST, each with a sheet of samples.

``prism run ch10-realnvp`` (``model=glow-realnvp`` for Glow's 1×1 convolutions) and
``prism run ch10-pixelcnn``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from ..config import setting
from . import register_recipe
from .ch10_common import LR_SCHEDULES, images_01, lr_scheduler, save_grid, tensor_data
from .kit import RecipeConfig, apply_threads, make_trainer, save_result


@dataclass
class FlowRecipeConfig(RecipeConfig):
    """Settings of ``ch10-realnvp``.

    Attributes:
        model: ``realnvp`` or ``glow-realnvp``.
        model_config: options (``hidden``, ``scales``...).
        dataset: ``mnist`` or ``fashion-mnist`` (8-bit images, uniformly dequantised).
        epochs, batch_size, lr: training (Adam, gradient norm clipped at ``grad_clip``).
        lr_schedule: ``"constant"`` or ``"cosine"`` (annealed to 1 % of ``lr`` over the epochs).
        max_train: first training images only (None: all 55,000).
        max_eval: first validation and test images only (None: all).
        samples: images drawn for the sample sheet (temperature ``temperature``).
    """

    model: str = "realnvp"
    model_config: dict[str, Any] = field(default_factory=dict)
    dataset: str = setting("mnist", choices=("mnist", "fashion-mnist"))
    epochs: int = setting(5, min=1)
    batch_size: int = setting(64, min=1)
    lr: float = setting(1e-3, gt=0.0)
    grad_clip: float = setting(100.0, gt=0.0)
    lr_schedule: str = setting("constant", choices=LR_SCHEDULES)
    max_train: int | None = setting(None, min=1)
    max_eval: int | None = setting(None, min=1)
    samples: int = setting(100, min=1)
    temperature: float = setting(0.8, gt=0.0)


@register_recipe("ch10-realnvp", config=FlowRecipeConfig)
def run_realnvp(cfg: FlowRecipeConfig) -> dict[str, Any]:
    """Train a RealNVP on dequantised 8-bit images; test bits/dim; samples."""
    from ..models import count_parameters, create_model
    from ..train.tasks import create_task

    apply_threads(cfg)
    torch.manual_seed(cfg.seed)
    (x, y), (xv, yv), (xt, yt) = (images_01(cfg.dataset, s, cfg.max_train if s == "train" else cfg.max_eval)
                                   for s in ("train", "val", "test"))
    model = create_model(cfg.model, **cfg.model_config)
    task_cfg = dict(dequantize=True)
    trainer = make_trainer(cfg, model, create_task("density", **task_cfg), tensor_data(x, y), tensor_data(xv, yv),
                           tensor_data(xt, yt), sub="flow", task_config=task_cfg, epochs=cfg.epochs,
                           # recorded so that `prism eval RUN/flow` reloads the same [0, 1] images
                           dataset={"name": cfg.dataset, "config": {"normalize": False}},
                           batch_size=cfg.batch_size, lr=cfg.lr, optimizer="adam", grad_clip_norm=cfg.grad_clip,
                           scheduler=lr_scheduler(cfg.lr_schedule))
    trainer.fit()
    model.eval()
    samples = model.sample(cfg.samples, generator=torch.Generator().manual_seed(cfg.seed + 1),
                           temperature=cfg.temperature)
    result = {"model": cfg.model, "params": count_parameters(model), "epochs_run": trainer.epoch,
              "test_bits_per_dim": trainer.final_metrics.get("test/bits_per_dim"),
              "test_nll_nats": trainer.final_metrics.get("test/nll"),
              "samples": save_grid(cfg, "samples", samples.cpu())}
    return save_result(cfg, result)


@dataclass
class PixelCNNRecipeConfig(RecipeConfig):
    """Settings of ``ch10-pixelcnn``.

    Attributes:
        model_config: options of ``pixelcnn`` (``channels``, ``blocks``).
        epochs, batch_size, lr: training (Adam).
        lr_schedule: ``"constant"`` or ``"cosine"`` (annealed to 1 % of ``lr`` over the epochs).
        channels_last: keep the weights in channels-last memory order (about 1.3× faster steps
            with oneDNN on CPU; the numbers are the same up to rounding).
        max_train: first training images only (None: all 55,000).
        max_test: first test images only (None: all 10,000).
        samples: images drawn pixel by pixel for the sample sheet.
    """

    model_config: dict[str, Any] = field(default_factory=dict)
    epochs: int = setting(5, min=1)
    batch_size: int = setting(64, min=1)
    lr: float = setting(1e-3, gt=0.0)
    lr_schedule: str = setting("constant", choices=LR_SCHEDULES)
    channels_last: bool = False
    max_train: int | None = setting(None, min=1)
    max_test: int | None = setting(None, min=1)
    samples: int = setting(36, min=1)


@register_recipe("ch10-pixelcnn", config=PixelCNNRecipeConfig)
def run_pixelcnn(cfg: PixelCNNRecipeConfig) -> dict[str, Any]:
    """Train PixelCNN on binarised MNIST; exact test NLL in nats; samples."""
    from ..data import load_dataset
    from ..models import count_parameters, create_model
    from ..train.tasks import create_task

    apply_threads(cfg)
    torch.manual_seed(cfg.seed)
    train, val, test = (load_dataset("binarized-mnist", split=s) for s in ("train", "val", "test"))
    if cfg.max_train:
        train = torch.utils.data.Subset(train, range(cfg.max_train))
    if cfg.max_test:
        test = torch.utils.data.Subset(test, range(cfg.max_test))
        val = torch.utils.data.Subset(val, range(min(cfg.max_test, len(val))))
    model = create_model("pixelcnn", **cfg.model_config)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    trainer = make_trainer(cfg, model, create_task("density"), train, val, test, sub="pixelcnn",
                           task_config={}, dataset={"name": "binarized-mnist", "config": {}}, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, optimizer="adam",
                           scheduler=lr_scheduler(cfg.lr_schedule))
    trainer.fit()
    model.eval()
    samples = model.sample(cfg.samples, generator=torch.Generator().manual_seed(cfg.seed + 1))
    result = {"params": count_parameters(model), "epochs_run": trainer.epoch,
              "test_nll_nats": trainer.final_metrics.get("test/nll"),
              "test_bits_per_dim": trainer.final_metrics.get("test/bits_per_dim"),
              "samples": save_grid(cfg, "samples", samples.cpu(), nrow=6)}
    return save_result(cfg, result)
