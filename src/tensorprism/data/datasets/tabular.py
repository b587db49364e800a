"""scikit-learn's bundled classification tables: digits, iris, wine, breast-cancer.

Each loads offline from the scikit-learn installation. Splits are fixed and stratified: a seeded
70 / 15 / 15 % train / val / test partition (``seed=0`` by default; see
:func:`tensorprism.data.splits.stratified_split`). Features are standardised per feature with the
mean and standard deviation of the **training split only** (``standardize=False`` keeps the raw
values), so no statistic of the validation or test rows leaks into training.

``digits`` returns 64 features by default; ``as_images=True`` gives the same standardised values as
``(1, 8, 8)`` images.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch

from .. import DatasetInfo, register_dataset
from ..arrays import ArrayDataset
from ..preprocessing import Standardize
from ..splits import check_split, stratified_split
from ..transforms import Standardizer

SPLITS = ("train", "val", "test")
FRACTIONS = (0.7, 0.15, 0.15)
_SOURCE = "bundled with scikit-learn (pip install scikit-learn); always available offline"

_LOADERS = {  # name -> (sklearn loader, size text, citation, features, classes)
    "digits": ("load_digits", "1,797 8x8 images, 10 classes", "Alpaydin & Kaynak 1998 (UCI optdigits test set)", 64, 10),
    "iris": ("load_iris", "150 samples, 4 features, 3 classes", "Fisher 1936", 4, 3),
    "wine": ("load_wine", "178 samples, 13 features, 3 classes", "Forina et al. (UCI wine)", 13, 3),
    "breast-cancer": ("load_breast_cancer", "569 samples, 30 features, 2 classes", "Wolberg et al. 1995 (UCI WDBC)", 30, 2),
}


@functools.cache
def _table(name: str):
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, _LOADERS[name][0])()
    names = [str(t) for t in bunch.target_names]
    return bunch.data.astype(np.float32), bunch.target.astype(np.int64), names


def load_table(name: str, split: str, *, seed: int = 0, standardize: bool = True, as_images: bool = False) -> ArrayDataset:
    """Split ``split`` of scikit-learn table ``name`` as an :class:`ArrayDataset` ``(x, y)``."""
    check_split(split, SPLITS, name)
    x, y, classes = _table(name)
    parts = stratified_split(y, FRACTIONS, seed=seed)
    xs = torch.from_numpy(x)
    scaler = Standardizer().fit(xs[parts["train"]]) if standardize else None
    idx = parts[split]
    feats = scaler.transform(xs[idx]) if scaler is not None else xs[idx].clone()
    if as_images:
        if name != "digits":
            raise ValueError(f"as_images=True only applies to 'digits', not {name!r}")
        feats = feats.view(-1, 1, 8, 8)
    meta = {"seed": seed, "fractions": FRACTIONS, "indices": idx}
    if scaler is not None:
        meta.update(mean=scaler.mean_, scale=scaler.scale_)
    ds = ArrayDataset(feats, torch.from_numpy(y[idx]), classes=classes, name=name, **meta)
    if scaler is not None:  # travels with a trained model, so raw rows can be predicted on
        ds.preprocessing = Standardize(scaler.mean_, scaler.scale_, shape=feats.shape[1:])
    return ds


def _register(name: str) -> None:
    _, size, cite, features, classes = _LOADERS[name]
    info = DatasetInfo(
        name=name, task="classification", modality="image" if name == "digits" else "tabular",
        size=f"{size}; stratified 70/15/15 train/val/test (seed 0)", source=f"{_SOURCE}. {cite}.",
        extra={"shape": (features,), "num_classes": classes}, model="mlp",
    )

    def loader(root: Path, split: str = "train", **kwargs) -> ArrayDataset:
        return load_table(name, split, **kwargs)

    loader.__doc__ = f"{name}: {size} (scikit-learn bundled)."
    register_dataset(name, info=info, available=lambda root: True)(loader)


for _name in _LOADERS:
    _register(_name)
