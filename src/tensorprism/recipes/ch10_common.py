"""What the Chapter 10 recipes share: image tensors in [0, 1], the classifier behind "FID with our
classifier", sample-quality numbers and sample grids in the run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .kit import make_trainer, run_dir

IMAGE_DATASETS = ("mnist", "fashion-mnist", "cifar10")


LR_SCHEDULES = ("constant", "cosine")


def lr_scheduler(name: str) -> str | dict[str, Any]:
    """Trainer ``scheduler`` for a recipe's ``lr_schedule``: ``"constant"``, or ``"cosine"`` annealed to
    1 % of the learning rate over the epochs (the last epochs polish the fit instead of bouncing at the
    full rate)."""
    return name if name == "constant" else {"name": "cosine", "min_factor": 0.01}


def image_stats(dataset: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel ``(mean, std)`` with which ``dataset``'s loader standardises its images (the
    normalisation a classifier trained on the loader's output expects)."""
    from ..data import load_dataset

    ds = load_dataset(dataset, split="test")
    return tuple(ds.mean), tuple(ds.std)


def image_model(name: str, config: dict[str, Any] | None, images: torch.Tensor):
    """``create_model(name, **config)`` with ``in_chans`` / ``img_size`` taken from ``images (N, C,
    H, W)`` when the model has those options and ``config`` does not set them."""
    from ..models import create_model, model_option_names

    config = dict(config or {})
    fields = model_option_names(name)
    for key, value in (("in_chans", images.shape[1]), ("img_size", images.shape[-1])):
        if key in fields:
            config.setdefault(key, int(value))
    return create_model(name, **config)


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
    """The feature network of "FID with our classifier": the small CNN ``mnist-cnn-modern`` (with the
    dataset's channels and size) trained on the dataset's training split (normalised as the loader
    does), written to ``<run>/classifier``.
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
    x0 = train[0][0]
    model = create_model("mnist-cnn-modern", in_chans=int(x0.shape[0]), img_size=int(x0.shape[-1]))
    trainer = make_trainer(cfg, model, "classification", train, None, test, sub="classifier",
                           dataset={"name": dataset, "config": {}}, epochs=epochs, batch_size=128, lr=2e-3,
                           optimizer="adam")
    trainer.fit()
    return model, float(trainer.final_metrics["test/acc"])


def sample_quality(classifier: Any, real: torch.Tensor, fake: torch.Tensor, dataset: str, k: int = 3) -> dict[str, float]:
    """FID with our classifier and precision/recall (k-NN manifolds) of ``fake`` against ``real``,
    both images ``(N, C, H, W)`` in [0, 1]."""
    from ..metrics.generative import classifier_features, fid_from_features, precision_recall

    mean, std = image_stats(dataset)
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


__all__ = ["images_01", "tensor_data", "train_classifier", "sample_quality", "save_grid", "image_stats", "image_model",
           "IMAGE_DATASETS"]
