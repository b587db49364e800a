"""Chapter 10: colour PixelCNN on CIFAR-10 (8-bit, 256-way softmax per sub-pixel, R → G → B
masking), exact test NLL in bits/dim — ``prism run ch10-pixelcnn-colour``. Published: PixelCNN
3.14, Gated PixelCNN 3.03, PixelCNN++ 2.92 bits/dim (full test set, days of GPU training)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from ..config import setting
from . import register_recipe
from .ch10_common import save_grid
from .kit import RecipeConfig, apply_threads, make_trainer, save_result


@dataclass
class ColourPixelCNNRecipeConfig(RecipeConfig):
    """Settings of ``ch10-pixelcnn-colour``.

    Attributes:
        model_config: options of ``pixelcnn-colour`` (``channels``, ``blocks``, ``first_kernel``).
        epochs, batch_size, lr: training (Adam).
        max_train: training images (seeded random subset of trainval; None: all 50,000).
        max_test: test images (seeded random subset; None: all 10,000).
        samples: images drawn sub-pixel by sub-pixel (3,072 passes each batch; 0: none).
    """

    model_config: dict[str, Any] = field(default_factory=dict)
    epochs: int = setting(5, min=1)
    batch_size: int = setting(32, min=1)
    lr: float = setting(1e-3, gt=0.0)
    max_train: int | None = setting(None, min=1)
    max_test: int | None = setting(2000, min=1)
    samples: int = setting(4, min=0)


@register_recipe("ch10-pixelcnn-colour", config=ColourPixelCNNRecipeConfig)
def run_pixelcnn_colour(cfg: ColourPixelCNNRecipeConfig) -> dict[str, Any]:
    """Train the colour PixelCNN on CIFAR-10; exact test bits/dim; samples."""
    from ..data import load_dataset
    from ..models import count_parameters, create_model
    from ..train.tasks import create_task

    apply_threads(cfg)
    torch.manual_seed(cfg.seed)

    def split(name: str, n: int | None):
        x, y = load_dataset("cifar10", split=name, normalize=False).tensors()
        if n:  # subset first: the float copies of all 50,000 images would take 1-2 GB
            keep = torch.randperm(len(x), generator=torch.Generator().manual_seed(cfg.seed))[:n]
            x, y = x[keep], y[keep]
        x = (x.float() * 255).round() / 255  # exactly on the 8-bit grid
        return torch.utils.data.TensorDataset(x, y)

    train, test = split("trainval", cfg.max_train), split("test", cfg.max_test)
    model = create_model("pixelcnn-colour", **cfg.model_config)
    trainer = make_trainer(cfg, model, create_task("density"), train, None, test, sub="pixelcnn-colour",
                           task_config={}, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, optimizer="adam")
    trainer.fit()
    model.eval()
    result = {"params": count_parameters(model), "epochs_run": trainer.epoch, "steps": trainer.global_step,
              "test_images": len(test), "test_nll_nats": trainer.final_metrics.get("test/nll"),
              "test_bits_per_dim": trainer.final_metrics.get("test/bits_per_dim")}
    if cfg.samples:
        samples = model.sample(cfg.samples, generator=torch.Generator().manual_seed(cfg.seed + 1))
        result["samples"] = save_grid(cfg, "samples", samples.cpu(), nrow=min(cfg.samples, 8))
    return save_result(cfg, result)
