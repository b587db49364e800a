"""Datasets, transforms, tokenizers and loaders.

Datasets are registered by name with :func:`register_dataset` in any module of this package
(discovered automatically) and loaded with :func:`load_dataset`. Files are looked for under a data
root chosen in this order: the ``root=`` argument, the ``TENSORPRISM_DATA`` environment variable,
then ``~/.cache/tensorprism/data``. Each dataset documents the sub-folder it expects there and what
to do when its files are missing (a :class:`~tensorprism.errors.DatasetNotFoundError` says it too).

Building blocks, one job per module:

* ``download``   -- find files local-first, verify checksums, download atomically (``download=True``)
* ``arrays``     -- in-memory ``ArrayDataset`` / ``ImageDataset`` returning ``(x, y)``
* ``splits``     -- seeded stratified train/val/test splits and validation hold-outs
* ``loaders``    -- ``make_loader``: DataLoaders with seeded shuffling and worker seeding
* ``transforms`` -- ``check_images``, ``Normalize``, ``Standardizer``, dataset statistics
* ``augment``    -- batched, seeded, device-agnostic augmentation (no torchvision)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..registry import Registry


@dataclass(frozen=True)
class DatasetInfo:
    """What `prism datasets` shows about a dataset, and what `prism train` infers from it.

    Attributes:
        task: the registered task (``prism tasks``) the dataset is learned with: ``classification``,
            ``node-classification``, ``language-model``, ``seq2seq``, ``forecasting``,
            ``graph-regression``, ``link-prediction``...; ``prism train --dataset NAME`` uses it
            unless ``task=`` is given.
        model: a registered model that learns it (``prism train --dataset NAME`` without ``--model``).
        size: human-readable, e.g. ``"60,000 train / 10,000 test"``.
        source: where the data comes from and how to obtain it offline.
        modality: ``"tabular"``, ``"image"``, ``"text"``, ``"graph"``, ``"timeseries"``.
    """

    name: str
    task: str
    size: str
    source: str
    modality: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    model: str = ""


DATASETS: Registry[Any] = Registry("dataset", discover=__name__ + ".datasets")


def register_dataset(name: str, *, info: DatasetInfo, available=None):
    """Register a loader ``fn(root: Path, split: str, **kwargs)`` under ``name``.

    ``available(root: Path) -> bool`` says whether the files are on disk (for `prism datasets`).
    """

    def decorator(fn):
        DATASETS.register(name, family=info.modality, description=info.source)(fn)
        entry = DATASETS._entries[name.lower()]
        entry.extra.update(info=info, available=available)
        return fn

    return decorator


def data_root(root: str | os.PathLike | None = None) -> Path:
    """Resolve the data root: ``root`` argument, ``$TENSORPRISM_DATA``, or ``~/.cache/tensorprism/data``.

    An empty (or blank) ``root`` or ``TENSORPRISM_DATA`` counts as not set: it would otherwise
    silently mean the current directory.
    """
    if root is not None and str(root).strip():
        return Path(root).expanduser()
    env = os.environ.get("TENSORPRISM_DATA", "").strip()
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "tensorprism" / "data"


def load_dataset(name: str, root: str | os.PathLike | None = None, split: str = "train", **kwargs: Any):
    """Load registered dataset ``name`` for ``split`` from the data root (see module docs).

    Image and table datasets return ``(x, y)`` datasets with splits ``"train"``, ``"val"`` and
    ``"test"`` and take, among others, ``seed`` (of the split), ``normalize``/``raw`` (images) and
    ``download=True`` (fetch the canonical files on a machine with internet; never in tests).
    Raises :class:`~tensorprism.errors.UnknownNameError` (with suggestions) for an unknown name,
    :class:`~tensorprism.errors.DatasetNotFoundError` (saying which files to put where) when the
    files are missing and :class:`~tensorprism.errors.ChecksumError` when a file is corrupt.
    """
    entry = DATASETS.get(name)
    return entry.fn(data_root(root), split, **kwargs)


def list_datasets() -> list[str]:
    """Names of the registered datasets, sorted."""
    return DATASETS.names()


def dataset_info(name: str) -> DatasetInfo:
    """The :class:`DatasetInfo` registered with dataset ``name`` (task, size, source, model)."""
    return DATASETS.get(name).extra["info"]


def is_available(name: str, root: str | os.PathLike | None = None) -> bool:
    """Whether dataset ``name`` can be loaded from ``root`` (or the default data root) without downloading."""
    check = DATASETS.get(name).extra.get("available")
    return True if check is None else bool(check(data_root(root)))


__all__ = [
    "DATASETS", "DatasetInfo", "register_dataset", "data_root", "load_dataset", "list_datasets",
    "dataset_info", "is_available",
]
