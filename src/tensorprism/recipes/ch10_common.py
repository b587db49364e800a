"""What the Chapter 10 recipes share: image tensors in [0, 1], the classifier behind "FID with our
classifier", sample-quality numbers and sample grids in the run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .kit import make_trainer, run_dir

IMAGE_STATS = {"mnist": ((0.1307,), (0.3081,)), "fashion-mnist": ((0.2860,), (0.3530,))}


def images_01(dataset: str, split: str, limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """All images of a split as one float tensor ``(N, C, H, W)`` in [0, 1] and labels ``(N,)``."""
    from ..data import load_dataset

    ds = load_dataset(dataset, split=split, normalize=False)
    x, y = ds.tensors()
    if limit:
        x, y = x[:limit], y[:limit]
    return x.float(), y


def tensor_data(x: torch.Tensor, y: torch.Tensor):
    """A :class:`~torch.utils.data.TensorDataset` of inputs ``x (N, ...)`` and targets ``y (N, ...)``."""
    return torch.utils.data.TensorDataset(x, y)


def train_classifier(cfg: Any, dataset: str, epochs: int, max_train: int | None = None,
                     max_test: int | None = None) -> tuple[Any, float]:
    """The feature network of "FID with our classifier": ``mnist-cnn-modern`` trained on the
    dataset's training split (normalised as the loader does), written to ``<run>/classifier``.
    Returns ``(model, test accuracy)`` (on the first ``max_test`` test images). ``cfg.classifier`` (a run directory or checkpoint of an
    earlier such classifier) skips the training and is evaluated instead."""
    from ..data import load_dataset
    from ..models import create_model
    from ..train.checkpoint import load_model

    test = load_dataset(dataset, split="test")
    if max_test:
        test = torch.utils.data.Subset(test, range(min(max_test, len(test))))
    if getattr(cfg, "classifier", None):
        model = load_model(cfg.classifier)
        trainer = make_trainer(cfg, model, "classification", test=test, sub=None, out_dir=None)
        return model, float(trainer.evaluate("test")["test/acc"])
    train = load_dataset(dataset, split="train")
    if max_train:
        train = torch.utils.data.Subset(train, range(max_train))
    model = create_model("mnist-cnn-modern")
    trainer = make_trainer(cfg, model, "classification", train, None, test, sub="classifier",
                           dataset={"name": dataset, "config": {}}, epochs=epochs, batch_size=128, lr=2e-3,
                           optimizer="adam")
    trainer.fit()
    return model, float(trainer.final_metrics["test/acc"])


def sample_quality(classifier: Any, real: torch.Tensor, fake: torch.Tensor, dataset: str, k: int = 3) -> dict[str, float]:
    """FID with our classifier and precision/recall (k-NN manifolds) of ``fake`` against ``real``,
    both images ``(N, C, H, W)`` in [0, 1]."""
    from ..metrics.generative import classifier_features, fid_from_features, precision_recall

    mean, std = IMAGE_STATS.get(dataset, ((0.5,), (0.5,)))
    m, s = torch.tensor(mean).view(1, -1, 1, 1), torch.tensor(std).view(1, -1, 1, 1)

    def norm(t):
        return (t - m.to(t.device)) / s.to(t.device)

    fr, ff = classifier_features(classifier, real, transform=norm), classifier_features(classifier, fake, transform=norm)
    return {"fid": fid_from_features(fr, ff), **precision_recall(fr, ff, k=k)}


def save_grid(cfg: Any, name: str, images: torch.Tensor, nrow: int = 10) -> str | None:
    """``<run>/samples/<name>.png`` of ``images`` in [0, 1] (nothing without a run directory)."""
    from ..viz.samples import save_image_grid

    out = run_dir(cfg)
    if out is None:
        return None
    return str(save_image_grid(images, Path(out) / "samples" / f"{name}.png", nrow=nrow))


__all__ = ["images_01", "tensor_data", "train_classifier", "sample_quality", "save_grid", "IMAGE_STATS"]
