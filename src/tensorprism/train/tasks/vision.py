r"""The Chapter 4 vision paradigms as registered tasks (book §4.6): ``Trainer(model, "detection")``
and ``prism train task=detection`` find them like every other task.

=========================== =============================================================
``augmented-classification`` cross-entropy with on-device batch augmentation (and mixup/cutmix)
``fine-tune``                the same with discriminative learning rates and L2-SP (transfer)
``segmentation``             per-pixel cross-entropy; mIoU and pixel accuracy
``super-resolution``         MSE on images (SRCNN); PSNR
``triplet``                  batch-hard triplet loss on embeddings; leave-one-out recall@1
``detection``                a detector's own ``loss``/``detect``; mAP@0.5
=========================== =============================================================

They sit here, below :mod:`tensorprism.vision`, so that task discovery needs no upward import; the
vision helpers they use live in lower layers (``tensor.boxes``, ``losses.triplet``,
``metrics.retrieval``, ``metrics.detection``), and :mod:`tensorprism.vision` re-exports the classes
under their old paths.

The batch augmentations of :mod:`tensorprism.data.augment` work on ``[0, 1]`` images;
:class:`AugmentedClassificationTask` applies them to each training batch, then the normalisation,
and only the normalisation at evaluation. Batch-mixing transforms (mixup, cutmix) return soft
targets, handled by ``F.cross_entropy`` with class probabilities.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ...losses.triplet import batch_hard_triplet_loss
from ...metrics.detection import mean_ap50
from ...metrics.retrieval import embedding_recall_metric
from . import Task, register_task, split_batch
from .classification import ClassificationTask
from .regression import RegressionTask

__all__ = ["AugmentedClassificationTask", "FineTuneTask", "SegmentationTask", "SuperResolutionTask",
           "TripletTask", "DetectionTask", "discriminative_param_groups", "l2sp_penalty"]


@register_task("augmented-classification")
class AugmentedClassificationTask(ClassificationTask):
    """Cross-entropy classification with ``augment`` (training only) and ``preprocess`` (always).

    Args:
        augment: a module ``x -> x`` or, for mixing pipelines, ``(x, y) -> (x, soft_y)`` (e.g. ``Compose``).
        preprocess: applied after augmentation and at evaluation (e.g. ``Normalize(mean, std)``).
        num_classes, label_smoothing: as :class:`ClassificationTask`.
    """

    def __init__(self, augment: nn.Module | None = None, preprocess: nn.Module | None = None,
                 num_classes: int | None = None, label_smoothing: float = 0.0):
        super().__init__(num_classes, label_smoothing)
        self.augment, self.preprocess = augment, preprocess
        self.mixes = augment is not None and any(getattr(m, "mixes_targets", False) for m in augment.modules())

    def _prep(self, x: torch.Tensor) -> torch.Tensor:
        return self.preprocess.to(x.device)(x) if self.preprocess is not None else x

    def training_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        x, y = split_batch(batch)
        if self.augment is None:
            return super().training_step(model, (self._prep(x), y))
        if self.mixes:
            x, soft = self.augment(x, y)
            logits = model(self._prep(x))
            return {"loss": F.cross_entropy(logits, soft.to(logits.dtype), label_smoothing=self.label_smoothing)}
        return super().training_step(model, (self._prep(self.augment(x)), y))

    def evaluation_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        x, y = split_batch(batch)
        return super().evaluation_step(model, (self._prep(x), y))

    def predict_step(self, model: nn.Module, batch: Any) -> torch.Tensor:
        x, y = split_batch(batch)
        return super().predict_step(model, (self._prep(x), y))


def discriminative_param_groups(model: nn.Module, lr: float, decay: float = 0.5) -> list[dict]:
    """Optimizer groups for a :class:`~tensorprism.models.cnn._base.ConvNet`: the head gets ``lr``, the last
    stage ``lr·decay``, the one before ``lr·decay²`` … down to the stem (ULMFiT-style layer-wise rates)."""
    blocks = [model.stem, *model.stages, nn.ModuleList([model.head, model.classifier])]
    groups = []
    for depth, block in enumerate(reversed(blocks)):
        params = [p for p in block.parameters() if p.requires_grad]
        if params:
            groups.append({"params": params, "lr": lr * decay**depth})
    return groups


def l2sp_penalty(model: nn.Module, reference: dict[str, Tensor], alpha: float) -> Tensor:
    """``α Σ ‖W − W⁰‖²`` over the parameters present in ``reference`` (L2-SP; not from the book)."""
    total = next(model.parameters()).new_zeros(())
    for name, p in model.named_parameters():
        if name in reference and p.requires_grad:
            total = total + (p - reference[name].to(p.device)).pow(2).sum()
    return alpha * total


@register_task("fine-tune")
class FineTuneTask(AugmentedClassificationTask):
    """Classification fine-tuning with discriminative learning rates (``lr_decay`` per stage towards the input)
    and an optional L2-SP penalty towards ``reference`` weights."""

    def __init__(self, *args, lr_decay: float = 1.0, l2sp: float = 0.0, reference: dict[str, Tensor] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lr_decay, self.l2sp, self.reference = lr_decay, l2sp, reference

    def configure_optimizers(self, model, build):
        lr = self.trainer.config.lr if self.trainer is not None else 1e-3
        return build(discriminative_param_groups(model, lr, self.lr_decay))

    def training_step(self, model, batch):
        out = super().training_step(model, batch)
        if self.l2sp and self.reference is not None:
            out["loss"] = out["loss"] + l2sp_penalty(self.trainer.model if self.trainer else model, self.reference, self.l2sp)
        return out


@register_task("segmentation")
class SegmentationTask(ClassificationTask):
    """Pixel-wise cross-entropy on logits ``(N, C, H, W)`` vs labels ``(N, H, W)``; reports ``miou``
    (macro Jaccard over all ``C`` classes, background included) and ``pixel_acc``."""

    monitor = "val/miou"
    mode = "max"

    def metrics(self):
        from torchmetrics.classification import MulticlassAccuracy, MulticlassJaccardIndex

        return {"miou": MulticlassJaccardIndex(self.num_classes, average="macro"),
                "pixel_acc": MulticlassAccuracy(self.num_classes, average="micro")}


@register_task("super-resolution")
class SuperResolutionTask(RegressionTask):
    """MSE training (book L86/L87); reports the mean per-image ``psnr`` (torchmetrics)."""

    monitor = "val/psnr"
    mode = "max"

    def metrics(self):
        from torchmetrics.image import PeakSignalNoiseRatio

        return {"psnr": PeakSignalNoiseRatio(data_range=1.0, reduction="elementwise_mean", dim=(1, 2, 3))}

    def update_metrics(self, metrics, out) -> None:  # images keep their (N, C, H, W) shape
        for metric in metrics.values():
            metric.update(out["preds"].clamp(0, 1), out["target"])


@register_task("triplet")
class TripletTask(Task):
    """Batch-hard triplet training; evaluation reports ``recall1`` within the evaluated set (leave-one-out)."""

    monitor = "val/recall1"
    mode = "max"

    def __init__(self, margin: float = 0.2, preprocess: nn.Module | None = None):
        self.margin, self.preprocess = margin, preprocess

    def _embed(self, model, x):
        return model(self.preprocess.to(x.device)(x) if self.preprocess is not None else x)

    def training_step(self, model, batch):
        x, y = split_batch(batch)
        return {"loss": batch_hard_triplet_loss(self._embed(model, x), y, self.margin)}

    def evaluation_step(self, model, batch):
        x, y = split_batch(batch)
        emb = self._embed(model, x)
        return {"loss": batch_hard_triplet_loss(emb, y, self.margin), "preds": emb, "target": y}

    def metrics(self):
        return {"recall1": embedding_recall_metric(k=1)}

    def update_metrics(self, metrics, out):
        metrics["recall1"].update(out["preds"], out["target"])


@register_task("detection")
class DetectionTask(Task):
    """Train a detector exposing ``loss``/``detect`` with the Trainer; reports ``map50`` (higher is better)."""

    monitor = "val/map50"
    mode = "max"

    def training_step(self, model: nn.Module, batch: Any) -> dict[str, Tensor]:
        images, targets = split_batch(batch)
        return self._plain(model).loss(model(images), targets)

    @staticmethod
    def _plain(model: nn.Module) -> nn.Module:
        return getattr(model, "module", getattr(model, "_orig_mod", model))

    def evaluation_step(self, model: nn.Module, batch: Any) -> dict[str, Any]:
        images, targets = split_batch(batch)
        raw = model(images)
        plain = self._plain(model)
        out = plain.loss(raw, targets)
        return {"loss": out["loss"], "preds": plain.detect(raw), "target": [{"boxes": t["boxes"], "labels": t["labels"]} for t in targets]}

    def metrics(self):
        return {"map50": mean_ap50()}

    def predict_step(self, model: nn.Module, batch: Any):
        images, _ = split_batch(batch)
        return self._plain(model).detect(model(images))
