"""Seeded, reproducible train/validation/test splits.

* :func:`stratified_split` -- train/val/test index arrays with every class in each part in its
  overall proportion (scikit-learn's ``train_test_split(stratify=...)`` applied twice).
* :func:`holdout` / :func:`train_val` -- carve a validation set of fixed size out of a training set.
* :func:`check_split` -- validate a split name with a helpful error.

The same ``seed`` always gives the same indices, on every machine (numpy's PCG64 generator).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import ConfigError, suggest


def check_split(split: str, allowed: Sequence[str], dataset: str = "") -> str:
    """Return ``split`` if it is one of ``allowed``; otherwise raise :class:`ConfigError`."""
    if split not in allowed:
        close = suggest(split, allowed)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        of = f" of dataset {dataset!r}" if dataset else ""
        raise ConfigError(f"unknown split {split!r}{of}; expected one of {', '.join(map(repr, allowed))}.{hint}")
    return split


def stratified_split(
    labels: Sequence[int] | np.ndarray, fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
    seed: int = 0, stratify: bool = True,
) -> dict[str, np.ndarray]:
    """Indices ``{"train", "val", "test"}`` that partition ``range(len(labels))``.

    ``fractions`` are the (train, val, test) shares and must sum to 1. With ``stratify`` each part
    keeps the class proportions of ``labels``. Each index array is sorted.
    """
    from sklearn.model_selection import train_test_split

    if len(fractions) != 3 or abs(sum(fractions) - 1.0) > 1e-9 or min(fractions) < 0:
        raise ConfigError(f"fractions must be three non-negative shares summing to 1, got {fractions}")
    labels = np.asarray(labels)
    idx = np.arange(len(labels))
    _, f_val, f_test = fractions
    rest, test = train_test_split(idx, test_size=f_test, random_state=seed, stratify=labels if stratify else None)
    train, val = train_test_split(
        rest, test_size=f_val / (1.0 - f_test), random_state=seed + 1,
        stratify=labels[rest] if stratify else None,
    )
    return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}


def holdout(n: int, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Split ``range(n)`` into ``(keep, held_out)`` with ``size`` held-out indices, both sorted.

    Used to carve a validation set out of a training set: a seeded permutation, the first
    ``size`` indices of which are held out.
    """
    if not 0 <= size < n:
        raise ConfigError(f"validation size must be in [0, {n}), got {size}")
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[size:]), np.sort(perm[:size])


def train_val(split: str, arrays: Sequence[np.ndarray], val_size: int, seed: int = 0) -> list[np.ndarray]:
    """The rows of ``arrays`` (training-set arrays sharing their first dimension) that belong to
    ``split``: ``"train"`` keeps, ``"val"`` takes the :func:`holdout` of ``val_size`` rows; any
    other split (``"trainval"``, ``"test"``) returns the arrays unchanged."""
    if split not in ("train", "val"):
        return list(arrays)
    keep, held = holdout(len(arrays[0]), val_size, seed)
    idx = keep if split == "train" else held
    return [a[idx] for a in arrays]


__all__ = ["check_split", "holdout", "stratified_split", "train_val"]
