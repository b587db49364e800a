"""Moving MNIST (Srivastava, Mansimov & Salakhutdinov 2015), generated from the real MNIST digits.

The standard construction: ``num_digits`` (2) digits of 28×28 move inside a ``size × size`` (64)
black frame for ``frames`` (20) steps. Each starts at a uniform position with a uniform direction
and a speed in ``speed`` pixels per frame; when the next step would leave the frame, the velocity
component along that axis reverses (the digit bounces). Overlapping digits combine with ``max``.

Video ``i`` of a set is a pure function of ``(seed, i)`` (its own ``numpy`` generator), so a set
of any size is reproducible without storing it, and items are generated when read.
``GENERATOR_VERSION`` names this construction; a change to it gets a new number.

Labels (the action-like targets): ``"sum"`` (default) the sum of the digits (0-18, 19 classes),
``"direction"`` the quadrant of the first digit's initial velocity (4 classes: right-down,
left-down, left-up, right-up) and ``"digits"`` the ordered pair ``(d1, d2)`` as ``10·d1 + d2``.
Training and validation videos use the MNIST training digits (the 55,000 / 5,000 split of the
``mnist`` dataset), test videos the MNIST test digits.

:func:`make_moving_mnist` returns whole arrays (``uint8`` videos ``(n, T, size, size)``, digit
classes, trajectories) for other uses, e.g. a video autoencoder.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from ...errors import ConfigError
from .. import DatasetInfo, register_dataset
from ..splits import check_split

GENERATOR_VERSION = 1
LABELS = ("sum", "direction", "digits")
NUM_CLASSES = {"sum": 19, "direction": 4, "digits": 100}

__all__ = ["GENERATOR_VERSION", "MovingMNIST", "make_moving_mnist", "moving_video"]


def moving_video(digits: np.ndarray, rng: np.random.Generator, frames: int = 20, size: int = 64,
                 num_digits: int = 2, speed: tuple[float, float] = (2.0, 5.0)) -> dict[str, np.ndarray]:
    """One video from ``digits (M, 28, 28) uint8``: ``{"video" (T, size, size) uint8, "index" (k,)
    the digits used, "positions" (T, k, 2) top-left (y, x), "velocity" (k, 2) initial (vy, vx)}``."""
    side = digits.shape[-1]
    lim = size - side
    idx = rng.integers(0, len(digits), num_digits)
    pos = rng.uniform(0, lim, (num_digits, 2))
    theta = rng.uniform(0, 2 * np.pi, num_digits)
    v = rng.uniform(*speed, num_digits)[:, None] * np.stack([np.sin(theta), np.cos(theta)], 1)
    v0 = v.copy()
    video = np.zeros((frames, size, size), np.uint8)
    positions = np.zeros((frames, num_digits, 2))
    for t in range(frames):
        positions[t] = pos
        for k in range(num_digits):
            y, x = (int(round(c)) for c in pos[k])
            np.maximum(video[t, y:y + side, x:x + side], digits[idx[k]], out=video[t, y:y + side, x:x + side])
        nxt = pos + v
        out = (nxt < 0) | (nxt > lim)
        v = np.where(out, -v, v)  # bounce: reverse the component that would leave the frame
        pos = np.clip(pos + v, 0, lim)
    return {"video": video, "index": idx, "positions": positions, "velocity": v0}


def _label(kind: str, classes: np.ndarray, velocity: np.ndarray) -> int:
    if kind == "sum":
        return int(classes.sum())
    if kind == "digits":
        return int(10 * classes[0] + classes[1])
    vy, vx = velocity[0]
    return int({(True, True): 0, (True, False): 1, (False, False): 2, (False, True): 3}[(vy >= 0, vx >= 0)])


def make_moving_mnist(digits: np.ndarray, labels: np.ndarray, n: int, seed: int = 0, frames: int = 20,
                      size: int = 64, num_digits: int = 2) -> dict[str, np.ndarray]:
    """``n`` videos at once: ``videos (n, T, size, size) uint8``, ``digits (n, k)`` classes,
    ``positions (n, T, k, 2)``, ``velocity (n, k, 2)``. Video ``i`` equals ``MovingMNIST(...)[i]``."""
    out = [moving_video(digits, _rng(seed, i), frames, size, num_digits) for i in range(n)]
    return {"videos": np.stack([o["video"] for o in out]),
            "digits": np.stack([labels[o["index"]] for o in out]),
            "positions": np.stack([o["positions"] for o in out]),
            "velocity": np.stack([o["velocity"] for o in out])}


def _rng(seed: int, i: int) -> np.random.Generator:
    return np.random.default_rng([GENERATOR_VERSION, seed, i])


class MovingMNIST(Dataset):
    """``n`` videos generated on read: item ``i`` is ``(video (T, 1, size, size) float in [0, 1], label)``."""

    def __init__(self, digits: np.ndarray, labels: np.ndarray, n: int, seed: int = 0, frames: int = 20,
                 size: int = 64, num_digits: int = 2, label: str = "sum"):
        if label not in LABELS:
            raise ConfigError(f"label must be one of {LABELS}, got {label!r}")
        if label != "direction" and num_digits != 2:
            raise ConfigError(f"label={label!r} is defined for two digits, got num_digits={num_digits}")
        if size < digits.shape[-1] or frames < 1 or n < 0:
            raise ConfigError(f"need size >= {digits.shape[-1]}, frames >= 1 and n >= 0; got size={size}, "
                              f"frames={frames}, n={n}")
        self.digits, self.labels = digits, labels
        self.n, self.seed, self.frames, self.size, self.num_digits, self.label = n, seed, frames, size, num_digits, label
        self.num_classes = NUM_CLASSES[label]

    def __len__(self) -> int:
        return self.n

    def item(self, i: int) -> dict[str, np.ndarray]:
        if not 0 <= i < self.n:
            raise IndexError(f"video {i} out of range for {self.n} videos")
        return moving_video(self.digits, _rng(self.seed, i), self.frames, self.size, self.num_digits)

    def __getitem__(self, i: int):
        o = self.item(int(i))
        video = torch.from_numpy(o["video"]).unsqueeze(1).float().div_(255)
        return video, _label(self.label, self.labels[o["index"]], o["velocity"])


@register_dataset("moving-mnist", info=DatasetInfo(
    "moving-mnist", "classification", "generated: 2 MNIST digits bouncing in 64x64 for 20 frames; default 10,000 "
    "train / 1,000 val / 1,000 test videos (any n)",
    "generated from the real MNIST digits (dataset 'mnist'; Srivastava et al. 2015 construction, "
    f"generator version {GENERATOR_VERSION})", modality="video", extra={"num_classes": 19, "frames": 20, "size": 64}, model="video-attention-net"),
    available=lambda root: _mnist_available(root))
def moving_mnist(root, split: str = "train", n: int | None = None, seed: int = 0, frames: int = 20, size: int = 64,
                 label: str = "sum", num_digits: int = 2) -> MovingMNIST:
    """Videos of ``split`` (train/val from MNIST training digits, test from MNIST test digits);
    ``num_digits=1`` (one digit) only with ``label="direction"``."""
    from .. import load_dataset

    check_split(split, ("train", "val", "test"), "moving-mnist")
    mnist = load_dataset("mnist", root=root, split=split, raw=True)
    x, y = mnist.tensors()
    n = {"train": 10000, "val": 1000, "test": 1000}[split] if n is None else n
    # distinct streams per split, so no video of one split is a video of another
    stream = {"train": 0, "val": 1, "test": 2}[split]
    return MovingMNIST(x[:, 0].numpy(), y.numpy(), n, seed=seed * 3 + stream, frames=frames, size=size, label=label,
                       num_digits=num_digits)


def _mnist_available(root) -> bool:
    from .. import is_available

    return is_available("mnist", root)
