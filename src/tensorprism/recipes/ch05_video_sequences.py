"""The frame-wise sequence tagger (book N10, lines 12040–12082) and the video action recogniser
(book N12, lines 12242–12284) on real sequences instead of the book's random tensors.

Both read Moving MNIST videos made of real MNIST digits
(:mod:`tensorprism.data.datasets.moving_mnist`, one digit bouncing in a ``size × size`` frame), each
frame turned into a feature vector by a small CNN trained with the rest (the book leaves its
2048-d frame features unspecified):

* **N12, video action recogniser** (``ch05-video-action``): frame features → LSTM(128) → the last
  state → Dense(4): the *direction* the digit starts moving in (quadrant of its initial velocity).
  Baseline: the same frame CNN with the frame features averaged over time (no order) → Dense(4).
  A single frame shows where the digit is, not where it goes, so order is what carries the label.
* **N10, frame-wise tagger** (``ch05-frame-tagger``): frame features → LSTM(128, every step) →
  Dense(4) per frame: the quadrant of the digit's *current* motion, ``pos[t] − pos[t−1]`` (frame 0:
  the initial velocity), which changes at every bounce. Baseline: the same per-frame head on the
  frame features alone (no recurrence). Accuracy is over all frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from ..config import setting
from ..data import load_dataset
from ..train.tasks import Task
from . import register_recipe
from .kit import RecipeConfig, make_trainer, save_result


@dataclass
class VideoSequenceConfig(RecipeConfig):
    """Attributes:
    data_root: where MNIST is (default: ``$TENSORPRISM_DATA`` or ``~/.cache/tensorprism/data``).
    train_videos, test_videos: generated videos (train from MNIST training digits, test from test digits).
    frames, size: frames per video and frame side in pixels.
    feature_dim, hidden: frame feature width and LSTM state (the book's 128).
    epochs, batch_size, lr: Adam (the book's 1e-3), batch 32.
    """

    data_root: str | None = None
    train_videos: int = setting(3000, min=1)
    test_videos: int = setting(500, min=1)
    frames: int = setting(10, min=2)
    size: int = setting(40, min=28)
    feature_dim: int = setting(64, min=1)
    hidden: int = setting(128, min=1)
    epochs: int = setting(12, min=1)
    batch_size: int = setting(32, min=1)
    lr: float = setting(1e-3, gt=0)


class FrameCNN(nn.Module):
    """``(B, T, 1, H, W)`` → ``(B, T, D)``: conv 5×5/2 (8) → conv 3×3/2 (16) → 4×4 average → Linear(D)."""

    def __init__(self, dim: int):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(1, 8, 5, 2, 2), nn.ReLU(), nn.Conv2d(8, 16, 3, 2, 1), nn.ReLU(),
                                 nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(256, dim), nn.ReLU())

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        b, t = video.shape[:2]
        return self.net(video.flatten(0, 1)).reshape(b, t, -1)


class SequenceNet(nn.Module):
    """Frame CNN, then an LSTM (``recurrent=True``) or nothing, then a linear head.

    ``per_frame=False`` (N12): logits ``(B, C)`` from the last LSTM state, or from the time-averaged
    frame features without the LSTM. ``per_frame=True`` (N10): logits ``(B, T, C)`` at every frame.
    """

    def __init__(self, feature_dim: int, hidden: int, num_classes: int, recurrent: bool, per_frame: bool):
        super().__init__()
        self.frames = FrameCNN(feature_dim)
        self.lstm = nn.LSTM(feature_dim, hidden, batch_first=True) if recurrent else None
        self.head = nn.Linear(hidden if recurrent else feature_dim, num_classes)
        self.per_frame = per_frame

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        h = self.frames(video)  # (B, T, D)
        if self.lstm is not None:
            h, _ = self.lstm(h)  # (B, T, H)
        if self.per_frame:
            return self.head(h)
        return self.head(h[:, -1] if self.lstm is not None else h.mean(1))


class FrameTaggingTask(Task):
    """Cross-entropy over every frame: logits ``(B, T, C)``, targets ``(B, T)``."""

    name = "frame-tagging"
    monitor = "train/loss"

    def training_step(self, model, batch: Any) -> dict[str, torch.Tensor]:
        x, y = batch
        logits = model(x)
        return {"loss": F.cross_entropy(logits.flatten(0, 1), y.flatten()),
                "acc": (logits.argmax(-1) == y).float().mean()}


def _quadrant(v: np.ndarray) -> np.ndarray:
    """Quadrant of velocities ``(..., 2)`` as (vy, vx): 0 right-down, 1 left-down, 2 left-up, 3 right-up
    (the ``direction`` label of Moving MNIST)."""
    down, right = v[..., 0] >= 0, v[..., 1] >= 0
    return np.where(down, np.where(right, 0, 1), np.where(right, 3, 2))


def make_sequences(cfg: VideoSequenceConfig, split: str, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``videos (n, T, 1, S, S)``, the start direction ``(n,)`` and the per-frame direction ``(n, T)``."""
    ds = load_dataset("moving-mnist", root=cfg.data_root, split=split, n=n, seed=cfg.seed, frames=cfg.frames,
                      size=cfg.size, label="direction", num_digits=1)  # one digit: no other to confuse it with
    videos, start, framewise = [], [], []
    for i in range(n):
        o = ds.item(i)
        videos.append(torch.from_numpy(o["video"]).unsqueeze(1).float().div_(255))
        pos = o["positions"][:, 0]  # (T, 2) of the one digit
        v = np.concatenate([o["velocity"][:1], np.diff(pos, axis=0)])  # frame 0: the initial velocity
        start.append(int(_quadrant(o["velocity"][0])))
        framewise.append(_quadrant(v))
    return torch.stack(videos), torch.tensor(start), torch.from_numpy(np.stack(framewise)).long()


def _train_eval(cfg: VideoSequenceConfig, name: str, model: nn.Module, task, train, xt: torch.Tensor,
                yt: torch.Tensor) -> float:
    torch.manual_seed(cfg.seed)
    make_trainer(cfg, model, task, train, sub=name, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                 optimizer="adam").fit()
    model.cpu().eval()
    with torch.no_grad():
        pred = torch.cat([model(b).argmax(-1) for b in xt.split(256)])
    return float((pred == yt).float().mean())


def _run(cfg: VideoSequenceConfig, per_frame: bool) -> dict:
    x, start, frame = make_sequences(cfg, "train", cfg.train_videos)
    xt, start_t, frame_t = make_sequences(cfg, "test", cfg.test_videos)
    y, yt = (frame, frame_t) if per_frame else (start, start_t)
    task = FrameTaggingTask() if per_frame else "classification"
    out: dict[str, Any] = {"train_videos": len(x), "test_videos": len(xt), "frames": cfg.frames,
                           "majority_class_acc": float((yt == torch.bincount(y.flatten()).argmax()).float().mean())}
    for name, recurrent in (("lstm", True), ("no_recurrence", False)):
        torch.manual_seed(cfg.seed)
        model = SequenceNet(cfg.feature_dim, cfg.hidden, 4, recurrent, per_frame)
        out[f"{name}_test_acc"] = _train_eval(cfg, name, model, task, TensorDataset(x, y), xt, yt)
    return out


@register_recipe("ch05-video-action", config=VideoSequenceConfig)
def video_action(cfg: VideoSequenceConfig) -> dict:
    """N12: the start direction of a bouncing MNIST digit from its video, LSTM over CNN frame features
    vs the same features averaged over time; test accuracy (4 classes)."""
    return save_result(cfg, _run(cfg, per_frame=False))


@register_recipe("ch05-frame-tagger", config=VideoSequenceConfig)
def frame_tagger(cfg: VideoSequenceConfig) -> dict:
    """N10: the current motion direction of a bouncing MNIST digit at every frame, LSTM tagger vs
    per-frame features alone; test accuracy over all frames (4 classes)."""
    return save_result(cfg, _run(cfg, per_frame=True))
