"""Chapter 10 image-to-image recipes: unpaired translation (CycleGAN) and adversarial
super-resolution (SRGAN) beside SRCNN and bicubic.

``prism run ch10-cyclegan``: domain A = scikit-learn's 8×8 digits (1,797 scans of 43 writers, 16
grey levels; Alpaydin & Kaynak 1998) up-sampled to 20×20 and centred in 28×28 the way MNIST centres
its 20×20 digits; domain B = MNIST. The two are a real unpaired pair available offline: the same ten
classes written by different people, scanned and reduced differently (blocky and blurred vs sharp
anti-aliased strokes), with no correspondence between images. Labels exist on both sides and are
never shown to the CycleGAN, so translation can be measured: an MNIST classifier's accuracy on A's
test digits before and after :math:`G: A\\to B` (does the translation keep the digit and make it
more MNIST-like?), FID with our classifier against MNIST, and the cycle error. MNIST vs its
inverted copy was not used: inversion is one pixel-wise map a 1×1 convolution learns, it tests
nothing of unpaired translation.

``prism run ch10-srgan``: CIFAR-10 ×2 (32×32 from 16×16, bicubic anti-aliased down-sampling, as
``ch04-superres``): PSNR and SSIM of bicubic up-sampling, SRCNN (on the bicubic input), SRResNet
(the SRGAN generator trained on pixel MSE only) and SRGAN (the same generator fine-tuned with the
adversarial loss), on the same test images.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from ..config import setting
from . import register_recipe
from .ch10_common import image_stats, images_01, sample_quality, save_grid, train_classifier
from .kit import RecipeConfig, apply_threads, make_trainer, save_result


# ------------------------------------------------------------------------------------ CycleGAN
def sklearn_digits_28(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 8×8 digits as MNIST-framed images ``(1797, 1, 28, 28)`` in [0, 1] (bilinear
    to 20×20, zero border of 4) and labels, in a seeded random order."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    x = F.pad(F.interpolate(x, size=(20, 20), mode="bilinear", align_corners=False).clamp(0, 1), (4, 4, 4, 4))
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    return x[perm], torch.tensor(d.target)[perm]


@torch.no_grad()
def classifier_accuracy(classifier: Any, x: torch.Tensor, y: torch.Tensor, dataset: str = "mnist") -> float:
    """Accuracy of an image classifier on images ``(N, C, H, W)`` in [0, 1] (normalised as its data)."""
    mean, std = image_stats(dataset)
    classifier.eval()
    dev = next(classifier.parameters()).device
    hits = 0
    for i in range(0, len(x), 500):
        xb = (x[i:i + 500].to(dev) - mean[0]) / std[0]
        hits += int((classifier(xb).argmax(1).cpu() == y[i:i + 500]).sum())
    return hits / max(1, len(x))


@dataclass
class CycleGANRecipeConfig(RecipeConfig):
    """Settings of ``ch10-cyclegan``.

    Attributes:
        test_digits: sklearn digits held out for measuring (the rest, 1,797 − this, train domain A).
        max_digits: use only this many of domain A's training digits (None: all).
        max_mnist: MNIST training images of domain B.
        max_test: MNIST test images for the reference accuracy and FID.
        model_config: options of the ``cyclegan`` model (width, res_blocks, downsample...).
        loss, cycle_weight, identity_weight: the ``cycle-adversarial`` task.
        epochs, batch_size, lr: training (Adam, β = (0.5, 0.999) as Zhu et al.).
        classifier: run directory of an earlier MNIST classifier (``mnist-cnn-modern``); else trained.
        classifier_epochs, classifier_max_train: that classifier's training otherwise.
    """

    test_digits: int = setting(297, min=10)
    max_digits: int | None = setting(None, min=1)
    max_mnist: int | None = setting(5000, min=1)
    max_test: int = setting(2000, min=10)
    model_config: dict[str, Any] = field(default_factory=dict)
    loss: str = setting("non-saturating", choices=("non-saturating", "saturating", "wasserstein", "hinge"))
    cycle_weight: float = setting(10.0, min=0.0)
    identity_weight: float = setting(0.5, min=0.0)
    epochs: int = setting(5, min=1)
    batch_size: int = setting(32, min=2)
    lr: float = setting(2e-4, gt=0.0)
    classifier: str | None = None
    classifier_epochs: int = setting(2, min=1)
    classifier_max_train: int | None = setting(None, min=1)


@register_recipe("ch10-cyclegan", config=CycleGANRecipeConfig)
def run_cyclegan(cfg: CycleGANRecipeConfig) -> dict[str, Any]:
    """CycleGAN between scikit-learn digits (A) and MNIST (B): label kept by translation, FID, cycle error."""
    from ..models import count_parameters, create_model
    from ..train.tasks import create_task
    from ..train.tasks.cycle import UnpairedImages

    apply_threads(cfg)
    torch.manual_seed(cfg.seed)
    xa, ya = sklearn_digits_28(cfg.seed)
    xa_train, xa_test, ya_test = xa[cfg.test_digits:], xa[: cfg.test_digits], ya[: cfg.test_digits]
    xa_train = xa_train[: cfg.max_digits] if cfg.max_digits else xa_train
    xb, _ = images_01("mnist", "train", cfg.max_mnist)
    xb_val, _ = images_01("mnist", "val", cfg.test_digits)
    xb_test, yb_test = images_01("mnist", "test", cfg.max_test)
    model = create_model("cyclegan", **(cfg.model_config or {}))
    task_cfg = dict(loss=cfg.loss, cycle_weight=cfg.cycle_weight, identity_weight=cfg.identity_weight)
    trainer = make_trainer(cfg, model, create_task("cycle-adversarial", **task_cfg), UnpairedImages(xa_train, xb),
                           UnpairedImages(xa_test, xb_val), sub="cyclegan", task_config=task_cfg, epochs=cfg.epochs,
                           batch_size=cfg.batch_size, lr=cfg.lr, optimizer="adam",
                           optimizer_kwargs={"betas": (0.5, 0.999)})
    trainer.fit()
    classifier, clf_acc = train_classifier(cfg, "mnist", cfg.classifier_epochs, cfg.classifier_max_train, cfg.max_test)

    model.eval()
    a_to_b = model.translate(xa_test, "ab")
    a_cycle = model.translate(a_to_b, "ba")
    b_to_a = model.translate(xb_test[: cfg.test_digits], "ba")
    for name, imgs in (("a_digits", xa_test), ("a_to_mnist", a_to_b), ("a_cycle", a_cycle),
                       ("b_mnist", xb_test[: cfg.test_digits]), ("b_to_digits", b_to_a)):
        save_grid(cfg, name, imgs[:50])
    raw_q = sample_quality(classifier, xb_test, xa_test, "mnist")
    tr_q = sample_quality(classifier, xb_test, a_to_b, "mnist")
    result = {
        "domains": "A = sklearn 8x8 digits up-sampled to MNIST framing, B = MNIST",
        "generator_params": count_parameters(model.g_ab), "discriminator_params": count_parameters(model.d_a),
        "epochs_run": trainer.epoch, "steps": trainer.global_step,
        "mnist_classifier_test_acc": clf_acc,
        "acc_on_digits_raw": classifier_accuracy(classifier, xa_test, ya_test),
        "acc_on_digits_translated": classifier_accuracy(classifier, a_to_b, ya_test),
        "acc_on_digits_cycled": classifier_accuracy(classifier, a_cycle, ya_test),
        "fid_digits_raw_vs_mnist": raw_q["fid"], "fid_digits_translated_vs_mnist": tr_q["fid"],
        "cycle_l1_a": float((a_cycle - xa_test).abs().mean()),
        "test_digits": int(len(xa_test)),
        "final": {k: v for k, v in trainer.final_metrics.items() if isinstance(v, float)},
    }
    return save_result(cfg, result)


# ------------------------------------------------------------------------------------ SRGAN
@dataclass
class SRGANRecipeConfig(RecipeConfig):
    """Settings of ``ch10-srgan``.

    Attributes:
        train_images, test_images: CIFAR-10 images (seeded random subsets of trainval / test).
        model_config: options of the ``srgan`` model (width, blocks, d_width, d_stages).
        srcnn_widths: SRCNN hidden widths (64, 32 as the book).
        srcnn_epochs, srresnet_epochs, srgan_epochs: the three trainings (each also stopped by its
            ``*_budget_s`` when set).
        adv_weight: SRGAN's adversarial weight (10⁻³ as Ledig et al.).
        feature_weight: weight of the perceptual (feature) loss of the SRGAN stage; 0: Ledig et al.'s
            SRGAN-MSE. Its network is the convolutional feature maps of a CIFAR-10 classifier trained
            here (``classifier_epochs`` on ``classifier_max_train`` images), or of ``classifier``.
        classifier: run directory of an earlier CIFAR-10 classifier (skips training one).
        batch_size, lr: all trainings (Adam).
    """

    train_images: int = setting(20000, min=1)
    test_images: int = setting(1000, min=1)
    model_config: dict[str, Any] = field(default_factory=dict)
    srcnn_widths: tuple[int, int] = (64, 32)
    srcnn_epochs: int = setting(5, min=1)
    srresnet_epochs: int = setting(5, min=1)
    srgan_epochs: int = setting(5, min=1)
    srcnn_budget_s: float | None = setting(None, gt=0)
    srresnet_budget_s: float | None = setting(None, gt=0)
    srgan_budget_s: float | None = setting(None, gt=0)
    adv_weight: float = setting(1e-3, min=0.0)
    feature_weight: float = setting(0.0, min=0.0)
    classifier: str | None = None
    classifier_epochs: int = setting(2, min=1)
    classifier_max_train: int | None = setting(None, min=1)
    batch_size: int = setting(32, min=1)
    lr: float = setting(1e-3, gt=0.0)


@register_recipe("ch10-srgan", config=SRGANRecipeConfig)
def run_srgan(cfg: SRGANRecipeConfig) -> dict[str, Any]:
    """CIFAR-10 ×2: PSNR / SSIM of bicubic, SRCNN, SRResNet (MSE) and SRGAN on the same test images."""
    from ..data import load_dataset
    from ..models import count_parameters, create_model
    from ..train.callbacks import TimeLimit
    from ..train.tasks import create_task
    from ..train.tasks.sr_adversarial import ClassifierFeatures, image_quality
    from ..vision.superres import SuperResolutionTask

    apply_threads(cfg)
    torch.manual_seed(cfg.seed)

    def split(name: str, n: int):
        hr, _ = load_dataset("cifar10", split=name, normalize=False).tensors()
        hr = hr[torch.randperm(len(hr), generator=torch.Generator().manual_seed(cfg.seed))[:n]].float()
        lr = F.interpolate(hr, scale_factor=0.5, mode="bicubic", align_corners=False, antialias=True).clamp(0, 1)
        return lr, hr

    def bicubic(lr: torch.Tensor) -> torch.Tensor:
        return F.interpolate(lr, scale_factor=2, mode="bicubic", align_corners=False).clamp(0, 1)

    def limit(budget):
        return [TimeLimit(budget)] if budget else None

    lr_tr, hr_tr = split("trainval", cfg.train_images)
    lr_te, hr_te = split("test", cfg.test_images)
    ds = torch.utils.data.TensorDataset
    common = dict(batch_size=cfg.batch_size, lr=cfg.lr, optimizer="adam")

    srcnn = create_model("srcnn", widths=tuple(cfg.srcnn_widths), residual=True)
    make_trainer(cfg, srcnn, SuperResolutionTask(), ds(bicubic(lr_tr), hr_tr), sub="srcnn", epochs=cfg.srcnn_epochs,
                 callbacks=limit(cfg.srcnn_budget_s), **common).fit()

    model = create_model("srgan", **(cfg.model_config or {}))
    pre_cfg = dict(adv_weight=0.0)
    pre = make_trainer(cfg, model, create_task("sr-adversarial", **pre_cfg), ds(lr_tr, hr_tr), sub="srresnet",
                       task_config=pre_cfg, epochs=cfg.srresnet_epochs, callbacks=limit(cfg.srresnet_budget_s), **common)
    pre.fit()

    @torch.no_grad()
    def predict(net, x):
        net.eval()
        return torch.cat([net(x[i:i + 250]) for i in range(0, len(x), 250)]).clamp(0, 1)

    out_srresnet = predict(model, lr_te)
    gan_cfg, extra, feature_acc = dict(adv_weight=cfg.adv_weight), {}, None
    if cfg.feature_weight > 0:  # the perceptual loss: feature maps of a CIFAR-10 classifier trained here
        classifier, feature_acc = train_classifier(cfg, "cifar10", cfg.classifier_epochs, cfg.classifier_max_train,
                                                   cfg.test_images)
        # not in the recorded task config: evaluation (PSNR / SSIM) needs no feature network
        extra = dict(feature_weight=cfg.feature_weight, feature_net=ClassifierFeatures(classifier, *image_stats("cifar10")))
    gan = make_trainer(cfg, model, create_task("sr-adversarial", **gan_cfg, **extra), ds(lr_tr, hr_tr), sub="srgan",
                       task_config=gan_cfg, epochs=cfg.srgan_epochs, callbacks=limit(cfg.srgan_budget_s),
                       optimizer_kwargs={"betas": (0.9, 0.999)}, **{**common, "lr": cfg.lr / 10})
    gan.fit()
    outputs = {"bicubic": bicubic(lr_te), "srcnn": predict(srcnn, bicubic(lr_te)), "srresnet": out_srresnet,
               "srgan": predict(model, lr_te)}
    scores = {}
    for name, pred in outputs.items():
        q = image_quality(pred, hr_te)
        scores[name] = {"psnr": float(q["psnr"].mean()), "ssim": float(q["ssim"].mean())}
    save_grid(cfg, "hr_bicubic_srcnn_srresnet_srgan",
              torch.stack([hr_te[:8], *(outputs[k][:8] for k in outputs)], 1).flatten(0, 1), nrow=5)
    return save_result(cfg, {
        "scale": 2, "test_images": int(len(hr_te)), "train_images": int(len(hr_tr)),
        "srcnn_params": count_parameters(srcnn), "generator_params": count_parameters(model.generator),
        "discriminator_params": count_parameters(model.discriminator),
        "srresnet_steps": pre.global_step, "srgan_steps": gan.global_step, "feature_weight": cfg.feature_weight,
        "feature_classifier_acc": feature_acc,
        **{f"psnr_{k}": v["psnr"] for k, v in scores.items()}, **{f"ssim_{k}": v["ssim"] for k, v in scores.items()},
    })


__all__ = ["sklearn_digits_28", "classifier_accuracy", "CycleGANRecipeConfig", "SRGANRecipeConfig"]
