"""Attention over time: video frames and audio frames (book §7.5.1, §7.5.2), and the §7.2.1
GRU encoder-decoder with additive attention (bidirectional encoder) against the same model
without attention::

    prism run ch07-video        # Moving MNIST, label = sum of the two digits: temporal attention vs frame averaging
    prism run ch07-audio        # espeak-ng spoken digits, speakers held out: attention pooling vs mean pooling
    prism run ch07-translation  # Multi30k de->en: Bahdanau attention vs none (Chapter 5's model and recipe)

Pictures: the frame weights under each test video; the frame weights over each test spectrogram;
the translation recipe's alignment plots (``attention/``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from . import register_recipe
from .ch07_common import (
    Ch07Config,
    compare,
    fit,
    pictures_dir,
    seed_all,
    subset,
    weights_over_frames,
    weights_over_time,
)


@dataclass
class Ch07VideoConfig(Ch07Config):
    """Attributes:
        train_videos: videos generated for training (val/test: ``max_eval`` or 1,000).
        frames: frames per video.
        channels: feature channels of the per-frame CNN.
        spatial: spatial pooling of both models, ``"mean"`` or ``"attention"``.
        label: ``"sum"`` of the two digits (19 classes), ``"direction"`` or ``"digits"``.
    """

    train_videos: int = 4000
    frames: int = 20
    channels: int = 64
    spatial: str = "mean"
    label: str = "sum"
    epochs: int = 5


@register_recipe("ch07-video", config=Ch07VideoConfig,
                 description="Moving MNIST: temporal attention over frames vs frame averaging")
def video_recipe(cfg: Ch07VideoConfig) -> dict:
    from ..data import load_dataset
    from ..models import create_model
    from .kit import save_result

    kw = dict(frames=cfg.frames, label=cfg.label)
    train = load_dataset("moving-mnist", split="train", n=cfg.max_train or cfg.train_videos, seed=cfg.seed, **kw)
    val = load_dataset("moving-mnist", split="val", n=cfg.max_eval or 1000, **kw)
    test = load_dataset("moving-mnist", split="test", n=cfg.max_eval or 1000, **kw)
    out, models = {}, {}
    for role, temporal in (("attention", "attention"), ("baseline", "mean")):
        seed_all(cfg.seed)
        model = create_model("video-attention-net" if temporal == "attention" else "video-mean-net",
                             num_classes=train.num_classes, channels=cfg.channels, spatial=cfg.spatial)
        _, out[role] = fit(cfg, role, model, "classification", train, val, test, eval_batch_size=64)
        models[role] = model
    pics = pictures_dir(cfg)
    if pics is not None and cfg.pictures:
        net = models["attention"].eval()
        for i in range(min(cfg.pictures, 3)):
            video, y = test[i]
            with torch.no_grad():
                logits, att = net.attend(video[None])
            weights_over_frames(pics / f"video-{i}.png", video, att.frame_weights[0],
                                f"label {y}, predicted {int(logits.argmax())}")
    return save_result(cfg, compare(out["attention"], out["baseline"]))


@dataclass
class Ch07AudioConfig(Ch07Config):
    """Attributes:
        hidden_size: LSTM size (the book's model, L7-29).
        bidirectional: a bidirectional LSTM instead of the book's unidirectional one.
    """

    hidden_size: int = 64
    bidirectional: bool = False
    epochs: int = 15
    batch_size: int = 32


class _Standardise(torch.utils.data.Dataset):
    """Log-mel features standardised with the training set's mean and std per mel band."""

    def __init__(self, ds, mean, std):
        self.ds, self.mean, self.std = ds, mean, std

    def __len__(self):
        return len(self.ds)

    def __getitem__(self, i):
        x, y = self.ds[i]
        return (x - self.mean) / self.std, y


@register_recipe("ch07-audio", config=Ch07AudioConfig,
                 description="Spoken digits (espeak-ng, speakers held out): attention pooling vs mean pooling")
def audio_recipe(cfg: Ch07AudioConfig) -> dict:
    from ..data import load_dataset
    from ..models import create_model
    from .kit import save_result

    raw = {s: load_dataset("spoken-digits", split=s) for s in ("train", "val", "test")}
    x_train = raw["train"].data
    mean, std = x_train.mean((0, 1)), x_train.std((0, 1)).clamp_min(1e-3)
    data = {s: _Standardise(subset(d, cfg.max_train if s == "train" else cfg.max_eval, cfg.seed), mean, std)
            for s, d in raw.items()}
    out, models = {}, {}
    for role, pooling in (("attention", "attention"), ("baseline", "mean")):
        seed_all(cfg.seed)
        model = create_model("speech-attention-lstm-book", hidden_size=cfg.hidden_size, pooling=pooling,
                             bidirectional=cfg.bidirectional)
        _, out[role] = fit(cfg, role, model, "classification", data["train"], data["val"], data["test"],
                           eval_batch_size=256)
        models[role] = model
    pics = pictures_dir(cfg)
    if pics is not None and cfg.pictures:
        net = models["attention"].eval()
        seen = {}
        hook = net.pool.register_forward_hook(lambda m, inp, o: seen.update(w=o[1]))
        for i in range(min(cfg.pictures, 4)):
            x, y = data["test"][i * 7]
            with torch.no_grad():
                pred = int(net(x[None]).argmax())
            weights_over_time(pics / f"audio-{i}.png", x, seen["w"][0], f"'{raw['test'].classes[int(y)]}' -> "
                              f"'{raw['test'].classes[pred]}'")
        hook.remove()
    return save_result(cfg, compare(out["attention"], out["baseline"]))


@dataclass
class Ch07TranslationConfig(Ch07Config):
    """Attributes:
        settings: settings passed to ``ch05-translation`` for both runs (e.g. ``{"epochs": 2}``).
    """

    settings: dict = dataclasses.field(default_factory=dict)


@register_recipe("ch07-translation", config=Ch07TranslationConfig,
                 description="Multi30k GRU encoder-decoder: Bahdanau attention (bidirectional encoder) vs none")
def translation_recipe(cfg: Ch07TranslationConfig) -> dict:
    from .ch05_translation import TranslationConfig, translation
    from .kit import run_dir, save_result

    out = {}
    for role, attention in (("attention", "bahdanau"), ("baseline", "none")):
        sub = run_dir(cfg, role)
        tc = TranslationConfig(**{**cfg.settings, "attention": attention, "seed": cfg.seed, "device": cfg.device,
                                  "out_dir": str(sub) if sub else None, "overwrite": cfg.overwrite,
                                  "progress": cfg.progress, "tensorboard": cfg.tensorboard, "plots": cfg.plots})
        result = translation(tc)
        out[role] = {k: v for k, v in result.items() if isinstance(v, (int, float))}
    return save_result(cfg, compare(out["attention"], out["baseline"]))
