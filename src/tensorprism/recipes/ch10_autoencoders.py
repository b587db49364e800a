"""Chapter 10 autoencoder recipes (§10.1–10.4, 10.8): denoising and anomaly detection on MNIST.

* ``ch10-denoising`` — the book's convolutional denoising autoencoder (C10-04) trained on noisy
  MNIST (Gaussian or masking noise): PSNR of the noisy input and of the reconstruction on the test
  set, and a picture of clean / noisy / denoised digits.
* ``ch10-anomaly`` — an autoencoder trained on every digit but one; its per-image reconstruction
  error scores the test images, and the held-out digit is the anomaly (ROC AUC).
* ``ch10-video-ae`` — the conv + LSTM video autoencoder on Moving MNIST clips generated from the
  real MNIST digits, against the mean-frame baseline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch

from ..config import setting
from . import register_recipe
from .ch10_common import images_01, save_grid, tensor_data
from .kit import RecipeConfig, apply_threads, make_trainer, save_result


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean PSNR (dB) of images in [0, 1] ``(N, ...)``."""
    mse = (a.clamp(0, 1) - b).pow(2).flatten(1).mean(1).clamp_min(1e-10)
    return float((10 * torch.log10(1.0 / mse)).mean())


@dataclass
class DenoisingConfig(RecipeConfig):
    """Settings of ``ch10-denoising``.

    Attributes:
        model: an autoencoder (``ae-conv``, ``ae-mlp``...); model_config: its options.
        noise: ``gaussian`` or ``masking``; noise_std / mask_prob: its strength.
        epochs, batch_size, lr: training (Adam, MSE).
        max_train: first training images only (None: all 55,000).
        max_eval: first validation and test images only (None: all).
    """

    model: str = "ae-conv"
    model_config: dict[str, Any] = field(default_factory=dict)
    noise: str = setting("gaussian", choices=("gaussian", "masking"))
    noise_std: float = setting(0.3, min=0.0)
    mask_prob: float = setting(0.3, min=0.0, max=0.99)
    epochs: int = setting(5, min=1)
    batch_size: int = setting(128, min=1)
    lr: float = setting(1e-3, gt=0.0)
    max_train: int | None = setting(None, min=1)
    max_eval: int | None = setting(None, min=1)


@register_recipe("ch10-denoising", config=DenoisingConfig)
def run_denoising(cfg: DenoisingConfig) -> dict[str, Any]:
    """Denoising autoencoder on MNIST: test PSNR of noisy inputs vs reconstructions."""
    from ..models import create_model
    from ..train.tasks import create_task

    apply_threads(cfg)
    torch.manual_seed(cfg.seed)
    (x, y), (xv, yv), (xt, yt) = (images_01("mnist", s, cfg.max_train if s == "train" else cfg.max_eval)
                                   for s in ("train", "val", "test"))
    model = create_model(cfg.model, **cfg.model_config)
    task_cfg = dict(noise=cfg.noise, noise_std=cfg.noise_std, mask_prob=cfg.mask_prob)
    task = create_task("autoencoder", **task_cfg)
    trainer = make_trainer(cfg, model, task, tensor_data(x, y), tensor_data(xv, yv), tensor_data(xt, yt),
                           sub="ae", task_config=task_cfg, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                           optimizer="adam")
    trainer.fit()
    model.eval()
    torch.manual_seed(cfg.seed + 3)
    noisy = task.corrupt(xt)
    with torch.no_grad():
        out = torch.cat([model(noisy[i:i + 500]) for i in range(0, len(noisy), 500)])
    save_grid(cfg, "denoising", torch.cat([xt[:10], noisy[:10].clamp(0, 1), out[:10]]), nrow=10)
    result = {"model": cfg.model, "noise": cfg.noise, "psnr_noisy_input": psnr(noisy, xt), "psnr_denoised": psnr(out, xt),
              "test_mse": trainer.final_metrics.get("test/mse")}
    return save_result(cfg, result)


@dataclass
class AnomalyConfig(RecipeConfig):
    """Settings of ``ch10-anomaly``.

    Attributes:
        model: an autoencoder; model_config: its options.
        anomaly_digit: the digit left out of training (the anomaly class).
        epochs, batch_size, lr: training (Adam, MSE).
        max_train: first training images only (None: all).
        max_eval: first validation and test images only (None: all).
    """

    model: str = "ae-conv"
    model_config: dict[str, Any] = field(default_factory=dict)
    anomaly_digit: int = setting(0, min=0, max=9)
    epochs: int = setting(5, min=1)
    batch_size: int = setting(128, min=1)
    lr: float = setting(1e-3, gt=0.0)
    max_train: int | None = setting(None, min=1)
    max_eval: int | None = setting(None, min=1)


def roc_auc(scores: torch.Tensor, positive: torch.Tensor) -> float:
    """Area under the ROC curve: the probability that a random positive outscores a random
    negative (ties count one half), by the rank-sum (Mann–Whitney) formula."""
    order = scores.argsort()
    ranks = torch.empty_like(scores, dtype=torch.float64)
    ranks[order] = torch.arange(1, len(scores) + 1, dtype=torch.float64)
    for v in scores.unique():  # average ranks of ties
        tie = scores == v
        if tie.sum() > 1:
            ranks[tie] = ranks[tie].mean()
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


@register_recipe("ch10-anomaly", config=AnomalyConfig)
def run_anomaly(cfg: AnomalyConfig) -> dict[str, Any]:
    """Autoencoder anomaly detection: train without one digit, score by reconstruction error."""
    from ..models import create_model

    apply_threads(cfg)
    torch.manual_seed(cfg.seed)
    (x, y), (xv, yv), (xt, yt) = (images_01("mnist", s, None if s == "train" else cfg.max_eval)
                                   for s in ("train", "val", "test"))
    keep, keep_v = y != cfg.anomaly_digit, yv != cfg.anomaly_digit
    x, y = x[keep][: cfg.max_train], y[keep][: cfg.max_train]
    model = create_model(cfg.model, **cfg.model_config)
    trainer = make_trainer(cfg, model, "autoencoder", tensor_data(x, y), tensor_data(xv[keep_v], yv[keep_v]),
                           sub="ae", task_config={}, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                           optimizer="adam")
    trainer.fit()
    model.eval()
    with torch.no_grad():
        err = torch.cat([(model(xt[i:i + 500]) - xt[i:i + 500]).pow(2).flatten(1).mean(1)
                         for i in range(0, len(xt), 500)])
    positive = yt == cfg.anomaly_digit
    worst = err.argsort(descending=True)[:20]
    save_grid(cfg, "most_anomalous", xt[worst], nrow=10)
    result = {"model": cfg.model, "anomaly_digit": cfg.anomaly_digit, "roc_auc": roc_auc(err.double(), positive),
              "mean_error_normal": float(err[~positive].mean()), "mean_error_anomaly": float(err[positive].mean()),
              "anomalies_in_top20": int(positive[worst].sum())}
    return save_result(cfg, result)


@dataclass
class VideoAEConfig(RecipeConfig):
    """Settings of ``ch10-video-ae``.

    Attributes:
        model_config: options of ``ae-video`` (``hidden_size``, ``feature_dim``, ``widths``...).
        frames: frames per clip; train_clips / test_clips: clips generated for training / test.
        epochs, batch_size, lr: training (Adam, per-pixel binary cross-entropy on logits).
    """

    model_config: dict[str, Any] = field(default_factory=dict)
    frames: int = setting(10, min=1)
    train_clips: int = setting(2000, min=1)
    test_clips: int = setting(200, min=1)
    epochs: int = setting(5, min=1)
    batch_size: int = setting(32, min=1)
    lr: float = setting(1e-3, gt=0.0)


@register_recipe("ch10-video-ae", config=VideoAEConfig)
def run_video_ae(cfg: VideoAEConfig) -> dict[str, Any]:
    """Conv + LSTM video autoencoder on Moving MNIST clips generated from the real MNIST digits."""
    from ..data import load_dataset
    from ..models import create_model

    apply_threads(cfg)
    torch.manual_seed(cfg.seed)
    train, val, test = (load_dataset("moving-mnist", split=s, n=n, frames=cfg.frames, seed=cfg.seed)
                        for s, n in (("train", cfg.train_clips), ("val", cfg.test_clips), ("test", cfg.test_clips)))
    model = create_model("ae-video", frames=cfg.frames, **cfg.model_config)
    task_cfg = dict(loss="bce")
    trainer = make_trainer(cfg, model, "autoencoder", train, val, test, sub="ae", task_config=task_cfg,
                           epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, optimizer="adam")
    trainer.fit()
    model.eval()
    clips = torch.stack([test[i][0] for i in range(min(4, len(test)))])
    with torch.no_grad():
        recon = torch.sigmoid(model(clips))
    mean_frame = torch.stack([train[i][0] for i in range(min(200, len(train)))]).mean((0, 1))
    baseline = float((torch.stack([test[i][0] for i in range(len(test))]) - mean_frame).pow(2).mean())
    rows = torch.cat([torch.cat([clips[i], recon[i]]) for i in range(clips.shape[0])])
    result = {"test_mse": trainer.final_metrics.get("test/mse"), "mean_frame_mse": baseline,
              "latent": model.latent_dim, "frames": cfg.frames,
              "picture": save_grid(cfg, "clips_and_reconstructions", rows, nrow=cfg.frames)}
    return save_result(cfg, result)
