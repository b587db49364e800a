"""Chapter 4 vision case studies on real images (book §4.6.2–§4.6.4, §4.7.3).

* ``ch04-detect``: a YOLO-style (``head=yolo``) or SSD-style (``head=ssd``) one-stage detector on
  digit canvases (MNIST digits placed on 64×64 canvases, boxes known), mAP@0.5 via torchmetrics.
* ``ch04-segment``: U-Net (or FCN) semantic segmentation of the same canvases into background + 10
  digit classes; mIoU and pixel accuracy.
* ``ch04-superres``: SRCNN ×2 on CIFAR-10 images against the bicubic baseline, PSNR in dB.

All three train with :class:`tensorprism.train.Trainer` and a task from :mod:`tensorprism.vision`.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import torch

from . import register_recipe
from .kit import RecipeConfig, make_trainer, save_result


@dataclass
class CanvasRecipeConfig(RecipeConfig):
    head: str = "yolo"  # detection: "yolo" | "ssd"; segmentation: "unet" | "fcn"
    train_canvases: int = 8000
    test_canvases: int = 1000
    canvas_size: int = 64
    max_digits: int = 3
    unet_depth: int = 3
    backbone_channels: tuple[int, ...] = (32, 64, 128)
    unet_width: int = 16
    digit_weight: float = 1.0  # segmentation: cross-entropy weight of the 10 digit classes (background 1)
    epochs: int = 12
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 5e-4
    scheduler: str = "onecycle"
    device: str = "auto"
    seed: int = 0


def _canvases(cfg: CanvasRecipeConfig, target: str):
    from ..vision.canvas import CanvasConfig, DigitCanvases

    ccfg = CanvasConfig(size=cfg.canvas_size, max_digits=cfg.max_digits)
    return (DigitCanvases(cfg.train_canvases, "trainval", ccfg, seed=cfg.seed, target=target),
            DigitCanvases(cfg.test_canvases, "test", ccfg, seed=cfg.seed + 1, target=target))


def _fit(model, task, train, test, cfg) -> tuple[dict[str, Any], dict[str, float]]:
    trainer = make_trainer(cfg, model, task, train, test=test, epochs=cfg.epochs, batch_size=cfg.batch_size,
                           eval_batch_size=256, optimizer="adamw", lr=cfg.lr, weight_decay=cfg.weight_decay,
                           scheduler=cfg.scheduler)
    t0, c0 = time.perf_counter(), time.process_time()
    trainer.fit()
    return trainer.final_metrics, {"train_wall_s": round(time.perf_counter() - t0, 1), "train_cpu_s": round(time.process_time() - c0, 1)}


@register_recipe("ch04-detect", config=CanvasRecipeConfig)
def detect(cfg: CanvasRecipeConfig) -> dict[str, Any]:
    """Train a one-stage detector on digit canvases; returns the test mAP@0.5."""
    from ..optional import check_available

    check_available(["pycocotools"], feature="recipe ch04-detect")
    from ..models import count_parameters
    from ..vision.detection import DetectionTask, SSDDetector, YOLODetector

    train, test = _canvases(cfg, "detection")
    channels = tuple(cfg.backbone_channels)
    backbone = dict(channels=channels, padding="same", norm="bn", hidden=(), img_size=cfg.canvas_size)
    if cfg.head == "yolo":
        model = YOLODetector(10, backbone_kwargs=backbone)
    elif cfg.head == "ssd":
        backbone["channels"] = channels + (channels[-1],)  # one more stride-2 stage for the coarse map
        model = SSDDetector(10, backbone_kwargs=backbone, image_size=cfg.canvas_size)
    else:
        raise ValueError(f"head={cfg.head!r}; expected 'yolo' or 'ssd'")
    metrics, timing = _fit(model, DetectionTask(), train, test, cfg)
    return save_result(cfg, {"config": asdict(cfg), "parameters": count_parameters(model), **timing,
                             "test_map50": metrics["test/map50"], "test_loss": metrics["test/loss"]})


# U-Net defaults: the measured mIoU 0.947 runs (seeds 0 and 1). Fewer epochs are risky: U-Nets sit on a plateau
# (background right, digit identity at chance) for ~5 epochs before the deep path is used; 15 epochs gave 0.88–0.95.
@register_recipe("ch04-segment", config=CanvasRecipeConfig, head="unet", canvas_size=48, max_digits=2, train_canvases=3000,
                 epochs=20, batch_size=32, unet_width=16)
def segment(cfg: CanvasRecipeConfig) -> dict[str, Any]:
    """Train U-Net (``head=unet``) or FCN (``head=fcn``) on digit-canvas masks; returns test mIoU and pixel accuracy."""
    from ..models import count_parameters, create_model
    from ..vision.segmentation import SegmentationTask

    train, test = _canvases(cfg, "segmentation")
    if cfg.head == "unet":
        model = create_model("unet", in_chans=1, num_classes=11, base_width=cfg.unet_width, depth=cfg.unet_depth, norm="bn")
    elif cfg.head == "fcn":
        backbone = dict(channels=tuple(cfg.backbone_channels), padding="same", norm="bn", hidden=(), convs_per_stage=2,
                        img_size=cfg.canvas_size)
        model = create_model("fcn", backbone="simple-cnn", in_chans=1, num_classes=11, backbone_kwargs=backbone)
    else:
        raise ValueError(f"head={cfg.head!r}; expected 'unet' or 'fcn'")
    task = SegmentationTask(num_classes=11, class_weights=[1.0] + [cfg.digit_weight] * 10)
    metrics, timing = _fit(model, task, train, test, cfg)
    return save_result(cfg, {"config": asdict(cfg), "parameters": count_parameters(model), **timing,
                             "test_miou": metrics["test/miou"], "test_pixel_acc": metrics["test/pixel_acc"]})


@dataclass
class SuperResConfig(RecipeConfig):
    scale: int = 2
    train_images: int = 20000
    test_images: int = 1000
    widths: tuple[int, int] = (64, 32)
    residual: bool = True  # x + SRCNN(x): the book's network with a global skip (see models.cnn.dense_tasks)
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    scheduler: str = "cosine"
    device: str = "auto"
    seed: int = 0


@register_recipe("ch04-superres", config=SuperResConfig)
def superres(cfg: SuperResConfig) -> dict[str, Any]:
    """SRCNN ×``scale`` on CIFAR-10 (bicubic-upsampled input): test PSNR of SRCNN vs bicubic."""
    from ..data import load_dataset
    from ..data.arrays import ArrayDataset
    from ..models import count_parameters, create_model
    from ..vision.superres import SuperResolutionTask, degrade, psnr

    def pairs(split: str, n: int) -> ArrayDataset:
        hr, _ = load_dataset("cifar10", split=split, normalize=False).tensors()
        hr = hr[torch.randperm(len(hr), generator=torch.Generator().manual_seed(cfg.seed))[:n]].float()  # all classes
        return ArrayDataset(degrade(hr, cfg.scale), hr, name=f"cifar10-sr-x{cfg.scale}")

    train, test = pairs("trainval", cfg.train_images), pairs("test", cfg.test_images)
    model = create_model("srcnn", widths=tuple(cfg.widths), residual=cfg.residual)
    trainer = make_trainer(cfg, model, SuperResolutionTask(), train, test=test, epochs=cfg.epochs,
                           batch_size=cfg.batch_size, optimizer="adam", lr=cfg.lr, scheduler=cfg.scheduler)
    t0, c0 = time.perf_counter(), time.process_time()
    trainer.fit()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    x, y = test.tensors()
    pred = trainer.predict(test)
    return save_result(cfg, {"config": asdict(cfg), "parameters": count_parameters(model), "train_wall_s": round(wall, 1),
                             "train_cpu_s": round(cpu, 1), "psnr_srcnn": float(psnr(pred, y).mean()),
                             "psnr_bicubic": float(psnr(x, y).mean())})


@dataclass
class StyleTransferConfig(RecipeConfig):
    content: str = "skimage:chelsea"  # a file path or a picture bundled with scikit-image
    style: str = "skimage:immunohistochemistry"
    size: int = 128
    weights: str | None = None  # a torchvision vgg19 state dict (ImageNet); None: train and export a narrow VGG-19 here
    vgg_widths: tuple[int, ...] = (16, 32, 64, 128, 128)  # the self-trained VGG-19 (ImageNet VGG-19: 64 … 512)
    vgg_epochs: int = 4
    steps: int = 300  # L-BFGS iterations (Adam steps with optimizer="adam")
    alpha: float = 1.0
    beta: float = 1e6
    optimizer: str = "lbfgs"
    lr: float | None = None  # None: 1 for L-BFGS, 0.02 for Adam
    device: str = "auto"
    seed: int = 0


def _train_cifar_vgg19(cfg: StyleTransferConfig, path) -> dict[str, Any]:
    """Train a narrow VGG-19 with batch norm on CIFAR-10 (ImageNet input normalisation, as the style network
    applies it) and export it, BN folded, as a torchvision-layout vgg19 weights file."""
    from ..data import load_dataset
    from ..data.transforms import Normalize
    from ..models import create_model
    from ..vision.style_transfer import IMAGENET_MEAN, IMAGENET_STD, export_vgg19
    from ..vision.training import AugmentedClassificationTask
    from .ch04_classification import augmentation

    model = create_model("vgg19_bn", num_classes=10, widths=tuple(cfg.vgg_widths), hidden=(), pool_size=1, dropout=0.0)
    task = AugmentedClassificationTask(augmentation("cifar", cfg.seed), Normalize(IMAGENET_MEAN, IMAGENET_STD), 10)
    trainer = make_trainer(cfg, model, task, load_dataset("cifar10", split="trainval", normalize=False),
                           test=load_dataset("cifar10", split="test", normalize=False), sub="vgg19-cifar10",
                           epochs=cfg.vgg_epochs, batch_size=128, eval_batch_size=1000, optimizer="adamw", lr=3e-3,
                           weight_decay=5e-4, scheduler="onecycle")
    trainer.fit()
    export_vgg19(model.cpu().eval(), path)
    return {"vgg_cifar10_test_acc": float(trainer.final_metrics["test/acc"])}


@register_recipe("ch04-style-transfer", config=StyleTransferConfig)
def style_transfer_recipe(cfg: StyleTransferConfig) -> dict[str, Any]:
    """Gatys style transfer of ``content`` in the style of ``style`` on VGG-19 features read from a weights file.

    With ``weights=None`` the file is made here: a narrow VGG-19-BN trained on CIFAR-10 and exported with its
    batch norm folded (no ImageNet weights can be downloaded offline; with them the pictures look far better).
    Writes ``vgg19_cifar10.safetensors``, ``style_transfer.png`` (content | style | result) and ``loss.png``.
    """
    import tempfile
    from pathlib import Path

    from ..vision.io import read_image
    from ..vision.style_transfer import (
        VGG19_LAYERS,
        VGGFeatures,
        gram_matrix,
        load_vgg19,
        style_loss,
        style_transfer,
    )
    from ..viz.images import plot_image_grid
    from ..viz.training import _figure

    torch.manual_seed(cfg.seed)
    out = Path(cfg.out_dir) if cfg.out_dir else Path(tempfile.mkdtemp())
    out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"config": asdict(cfg)}
    t0 = time.perf_counter()
    if cfg.weights is None:
        weights = out / "vgg19_cifar10.safetensors"
        result.update(_train_cifar_vgg19(cfg, weights))
    else:
        weights = Path(cfg.weights)
    vgg = load_vgg19(weights)  # widths are read from the file
    layers = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
    features = VGGFeatures(vgg, sorted({*layers, "conv4_2"}, key=VGG19_LAYERS.index))
    content, style = read_image(cfg.content, cfg.size), read_image(cfg.style, cfg.size)
    t1 = time.perf_counter()
    image, history = style_transfer(content, style, features, steps=cfg.steps, alpha=cfg.alpha, beta=cfg.beta,
                                    lr=cfg.lr, style_layers=layers, optimizer=cfg.optimizer)
    with torch.no_grad():  # each layer's style loss of the result, relative to that of the content image itself
        grams = {k: gram_matrix(v) for k, v in features(style).items() if k in layers}
        before, after = features(content), features(image)
        ratio = {k: style_loss(after[k], grams[k]).item() / style_loss(before[k], grams[k]).item() for k in layers}
    plot_image_grid(torch.cat([content, style, image]), path=out / "style_transfer.png", cols=3)
    plt = _figure()
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.semilogy(history)
    ax.set(xlabel="step", ylabel="α·L_content + β·L_style")
    fig.tight_layout()
    fig.savefig(out / "loss.png", dpi=110)
    plt.close("all")
    result.update({"weights_file": str(weights), "loss_first": history[0], "loss_last": history[-1],
                   "style_loss_vs_content_image": {k: round(v, 4) for k, v in ratio.items()},
                   "pixels_changed_mean_abs": float((image - content).abs().mean()),
                   "transfer_wall_s": round(time.perf_counter() - t1, 1), "wall_s": round(time.perf_counter() - t0, 1),
                   "image_file": str(out / "style_transfer.png")})
    return save_result(cfg, result)
