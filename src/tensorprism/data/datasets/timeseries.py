"""Real time series for Chapter 5's forecasting and sequence-classification tasks.

Forecasting series are returned as float64 NumPy arrays ``(T,)`` with their seasonal period:
airline passengers (Box & Jenkins; monthly 1949-1960, m = 12, bundled with ``sktime``),
sunspots (yearly 1700-2008, the ~11-year cycle, m = 11, bundled with ``statsmodels``) and
Mauna Loa CO₂ (weekly 1958-2001 averaged to monthly, gaps interpolated, m = 12, ``statsmodels``).
The period is what the seasonal-naive baseline and the MASE scale use: for the annual sunspot
numbers it is the mean Schwabe cycle, so seasonal-naive repeats the last 11 years (the actual
cycles last about 9-14 years, so this is an approximation, not an exact season).
UCR classification sets (GunPoint, ItalyPowerDemand) come from ``sktime``'s bundled copies.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import DatasetInfo, register_dataset
from ..splits import check_split


@dataclass(frozen=True)
class Series:
    """A univariate series ``values (T,)`` with its seasonal ``period`` and time ``index`` labels."""

    name: str
    values: np.ndarray
    period: int
    index: tuple[str, ...]
    horizon: int  # the held-out test horizon used by the recipes

    def split(self, horizon: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(train, test)``: the last ``horizon`` (default: :attr:`horizon`) values are the test set."""
        h = self.horizon if horizon is None else horizon
        return self.values[:-h], self.values[-h:]

    def part(self, split: str) -> Series:
        """``"all"``, ``"train"`` (all but the last :attr:`horizon` values) or ``"test"`` (those)."""
        check_split(split, ("all", "train", "test"), self.name)
        sl = {"all": slice(None), "train": slice(None, -self.horizon), "test": slice(-self.horizon, None)}[split]
        return Series(self.name, self.values[sl], self.period, self.index[sl], self.horizon)


def _importable(module: str):
    def check(_root: Path) -> bool:
        import importlib.util

        return importlib.util.find_spec(module) is not None
    return check


@register_dataset("airline", info=DatasetInfo(
    "airline", "forecasting", "144 monthly totals, 1949-1960", "sktime.datasets.load_airline (bundled)",
    modality="timeseries", model="rnn-forecaster"), available=_importable("sktime"))
def airline(root: Path, split: str = "all") -> Series:
    """Split ``"all"``, ``"train"`` or ``"test"`` (the last 24 months, 1959-1960)."""
    del root
    from ...optional import require

    load_airline = require("sktime.datasets", feature="the airline series").load_airline

    y = load_airline()
    return Series("airline", y.to_numpy(dtype=np.float64), 12, tuple(str(p) for p in y.index), 24).part(split)


@register_dataset("sunspots", info=DatasetInfo(
    "sunspots", "forecasting", "309 yearly sunspot numbers, 1700-2008",
    "statsmodels.datasets.sunspots (bundled)", modality="timeseries", model="rnn-forecaster"),
    available=_importable("statsmodels"))
def sunspots(root: Path, split: str = "all") -> Series:
    """Split ``"all"``, ``"train"`` or ``"test"`` (the last 33 years, three cycles, 1976-2008)."""
    del root
    from ...optional import require

    sm_sunspots = require("statsmodels.datasets.sunspots", feature="the sunspots series")

    df = sm_sunspots.load_pandas().data
    return Series("sunspots", df["SUNACTIVITY"].to_numpy(np.float64), 11,
                  tuple(str(int(y)) for y in df["YEAR"]), 33).part(split)


@register_dataset("co2", info=DatasetInfo(
    "co2", "forecasting", "526 monthly means of weekly Mauna Loa CO2 (ppm), 1958-2001",
    "statsmodels.datasets.co2 (bundled)", modality="timeseries", model="rnn-forecaster"),
    available=_importable("statsmodels"))
def co2(root: Path, split: str = "all") -> Series:
    """Split ``"all"``, ``"train"`` or ``"test"`` (the last 36 months)."""
    del root
    from ...optional import require

    sm_co2 = require("statsmodels.datasets.co2", feature="the CO2 series")

    monthly = sm_co2.load_pandas().data["co2"].resample("MS").mean().interpolate()
    return Series("co2", monthly.to_numpy(np.float64), 12,
                  tuple(str(d.date()) for d in monthly.index), 36).part(split)


@dataclass(frozen=True)
class LabelledSeries:
    """UCR-style classification data: ``x (N, C, T)`` float32 and integer labels ``y (N,)``."""

    x: np.ndarray
    y: np.ndarray
    classes: tuple[str, ...]


def _ucr(loader_name: str, split: str, dataset: str) -> LabelledSeries:
    check_split(split, ("train", "test"), dataset)
    from ...optional import require

    sd = require("sktime.datasets", feature=f"the UCR data set {dataset!r}")

    x, labels = getattr(sd, loader_name)(split=split, return_X_y=True, return_type="numpy3D")
    classes = tuple(sorted(set(labels.tolist())))
    y = np.array([classes.index(v) for v in labels], dtype=np.int64)
    return LabelledSeries(x.astype(np.float32), y, classes)


@register_dataset("gunpoint", info=DatasetInfo(
    "gunpoint", "classification", "50 train / 150 test series of length 150, 2 classes",
    "UCR archive GunPoint, bundled with sktime", modality="timeseries", model="lstm-ucr"),
    available=_importable("sktime"))
def gunpoint(root: Path, split: str = "train") -> LabelledSeries:
    del root
    return _ucr("load_gunpoint", split, "gunpoint")


@register_dataset("italypowerdemand", info=DatasetInfo(
    "italypowerdemand", "classification", "67 train / 1,029 test series of length 24, 2 classes",
    "UCR archive ItalyPowerDemand, bundled with sktime", modality="timeseries", model="lstm-ucr"),
    available=_importable("sktime"))
def italy_power_demand(root: Path, split: str = "train") -> LabelledSeries:
    del root
    return _ucr("load_italy_power_demand", split, "italypowerdemand")
