"""Chapter 10 VAE recipe (§10.2): a VAE on stochastically binarised MNIST, its honest test
log-likelihood by importance weighting (k up to 5000), samples, reconstructions, latent traversals
and interpolations as pictures in the run directory.

``prism run ch10-vae`` (the book's 784-256-20 VAE), ``model=vae-conv``, ``beta=4`` (β-VAE),
``model=cvae-mlp`` (conditional: one row of samples per class).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from ..config import setting
from . import register_recipe
from .ch10_common import LR_SCHEDULES, lr_scheduler, save_grid
from .kit import RecipeConfig, apply_threads, make_trainer, save_result


@dataclass
class VAERecipeConfig(RecipeConfig):
    """Settings of ``ch10-vae``.

    Attributes:
        model: ``vae-mlp``, ``vae-conv`` or ``cvae-mlp``.
        model_config: options of the model (``latent_dim``, ``hidden``...).
        beta: KL weight (1: the ELBO; β-VAE otherwise).
        warmup_steps: KL annealing steps (0: none).
        epochs, batch_size, lr: training (Adam).
        lr_schedule: ``"constant"``, or ``"cosine"`` (annealed to 1 % of ``lr`` over the epochs: the
            last epochs then polish the bound instead of bouncing at the full rate).
        max_train: first training images only (None: all 55,000).
        iwae_k: importance samples of the test log-likelihood (5000 in Burda et al. 2016).
        iwae_examples: test images the IWAE estimate is computed on (None: all 10,000).
    """

    model: str = "vae-mlp"
    model_config: dict[str, Any] = field(default_factory=dict)
    beta: float = setting(1.0, min=0.0)
    warmup_steps: int = setting(0, min=0)
    epochs: int = setting(10, min=1)
    batch_size: int = setting(100, min=1)
    lr: float = setting(1e-3, gt=0.0)
    lr_schedule: str = setting("constant", choices=LR_SCHEDULES)
    max_train: int | None = setting(None, min=1)
    iwae_k: int = setting(5000, min=1)
    iwae_examples: int | None = setting(1000, min=1)


def _traversals(model, steps: int = 9, dims: int = 8) -> torch.Tensor:
    """Decoder means along each of the ``dims`` latent axes (others 0), from -3 to 3."""
    d = min(dims, model.latent_dim)
    vals = torch.linspace(-3, 3, steps)
    z = torch.zeros(d, steps, model.latent_dim)
    for i in range(d):
        z[i, :, i] = vals
    y = torch.zeros(d * steps, dtype=torch.long) if model.num_classes else None
    return model.mean(model.decode(z.view(-1, model.latent_dim), y))


def _interpolations(model, x: torch.Tensor, y: torch.Tensor | None, pairs: int = 6, steps: int = 10) -> torch.Tensor:
    """Decoder means on straight lines between posterior means of test-image pairs."""
    mu, _ = model.encode(x[: 2 * pairs], None if y is None else y[: 2 * pairs])
    a, b = mu[0::2], mu[1::2]
    t = torch.linspace(0, 1, steps).view(1, steps, 1)
    z = (a.unsqueeze(1) * (1 - t) + b.unsqueeze(1) * t).reshape(-1, model.latent_dim)
    yy = None if y is None else y[0::2][:pairs].repeat_interleave(steps)
    return model.mean(model.decode(z, yy))


@register_recipe("ch10-vae", config=VAERecipeConfig)
def run_vae(cfg: VAERecipeConfig) -> dict[str, Any]:
    """Train a VAE on binarised MNIST; test negative ELBO and IWAE NLL in nats; pictures."""
    from ..data import load_dataset
    from ..metrics.generative import iwae_log_likelihood
    from ..models import count_parameters, create_model
    from ..train.tasks import create_task

    apply_threads(cfg)
    torch.manual_seed(cfg.seed)
    train, val, test = (load_dataset("binarized-mnist", split=s) for s in ("train", "val", "test"))
    if cfg.max_train:
        train = torch.utils.data.Subset(train, range(cfg.max_train))
    model = create_model(cfg.model, **cfg.model_config)
    task_cfg = dict(beta=cfg.beta, warmup_steps=cfg.warmup_steps)
    trainer = make_trainer(cfg, model, create_task("vae", **task_cfg), train, val, test, sub="vae",
                           task_config=task_cfg, dataset={"name": "binarized-mnist", "config": {}},
                           epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, optimizer="adam",
                           scheduler=lr_scheduler(cfg.lr_schedule))
    trainer.fit()
    model.eval().cpu()

    xt, yt = test.tensors()
    n = cfg.iwae_examples or xt.shape[0]
    cond = model.num_classes > 0
    gen_state = torch.get_rng_state()
    torch.manual_seed(cfg.seed + 7)
    nll_k = {}
    for k in sorted({1, min(100, cfg.iwae_k), cfg.iwae_k}):
        lls = [iwae_log_likelihood(model, xt[i:i + 100], k, y=yt[i:i + 100] if cond else None,
                                   chunk=max(1, min(k, 50000 // 100)))
               for i in range(0, n, 100)]
        nll_k[k] = float(-torch.cat(lls).mean())
    torch.set_rng_state(gen_state)

    with torch.no_grad():
        gen = torch.Generator().manual_seed(cfg.seed + 1)
        y = torch.arange(100) // 10 if cond else None
        samples = model.sample(100, y=y, generator=gen)
        recon = model.reconstruct(xt[:50], yt[:50] if cond else None)
        pictures = {
            "samples": save_grid(cfg, "samples", samples),
            "reconstructions": save_grid(cfg, "reconstructions", torch.cat([xt[:50], recon]), nrow=10),
            "traversals": save_grid(cfg, "traversals", _traversals(model), nrow=9),
            "interpolations": save_grid(cfg, "interpolations", _interpolations(model, xt, yt if cond else None),
                                        nrow=10),
        }
    result = {
        "model": cfg.model, "params": count_parameters(model), "beta": cfg.beta, "epochs_run": trainer.epoch,
        "test_nelbo": trainer.final_metrics.get("test/nelbo"), "test_recon": trainer.final_metrics.get("test/recon"),
        "test_kl": trainer.final_metrics.get("test/kl"),
        "iwae_nll": {str(k): v for k, v in nll_k.items()}, "iwae_k": cfg.iwae_k, "iwae_examples": n,
        "test_nll_iwae": nll_k[cfg.iwae_k], "pictures": pictures,
    }
    return save_result(cfg, result)
