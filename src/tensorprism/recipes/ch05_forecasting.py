"""Forecasting real series with a direct multi-horizon LSTM (book N11, §5.6.4 on real data),
against naive, seasonal-naive and ARIMA baselines, scored with MASE / sMAPE / RMSE on a held-out tail.

The last ``horizon`` values of each series are the test set (airline: 24 months, sunspots: 33
years, CO₂: 36 months). The network reads a window of ``window`` past values, expressed relative
to the window's last value and scaled by the training series' spread (so the level and trend do
not have to be memorised), and emits all ``horizon`` future values at once. Training windows come
from the training part only; the forecast is the mean of ``ensemble`` independently seeded
networks. Series with multiplicative seasonality (airline) are modelled in log space.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from . import register_recipe
from .ch05_common import save_result

# name -> (window, log transform, ARIMA order, seasonal order)
_SETUP = {
    "airline": (36, True, (0, 1, 1), (0, 1, 1, 12)),   # the Box-Jenkins "airline model"
    "sunspots": (44, False, (9, 0, 0), (0, 0, 0, 0)),  # AR(9), a classic for the sunspot series
    "co2": (48, False, (1, 1, 1), (0, 1, 1, 12)),
}


@dataclass
class ForecastConfig:
    series: str = "airline"
    hidden_size: int = 32
    epochs: int = 400
    lr: float = 5e-3
    weight_decay: float = 1e-4
    ensemble: int = 5
    strategy: str = "direct"  # "direct" (the book's N11: all horizons at once) or "recursive"
    seed: int = 0
    out_dir: str | None = "runs/ch05_forecasting"


def _windows(z: np.ndarray, window: int, horizon: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs ``(N, window, 1)`` and targets ``(N, horizon)``, relative to each window's last value."""
    xs, ys = [], []
    for s in range(len(z) - window - horizon + 1):
        xs.append(z[s:s + window])
        ys.append(z[s + window:s + window + horizon])
    x, y = torch.tensor(np.array(xs), dtype=torch.float32), torch.tensor(np.array(ys), dtype=torch.float32)
    last = x[:, -1:]
    return (x - last)[..., None], y - last


def fit_lstm_forecaster(train: np.ndarray, horizon: int, window: int, cfg: ForecastConfig) -> np.ndarray:
    """Train ``cfg.ensemble`` LSTMs on ``train`` and forecast ``horizon`` steps (direct or recursive)."""
    from .. import create_model

    if cfg.strategy not in ("direct", "recursive"):
        from ..errors import ConfigError

        raise ConfigError(f"strategy must be 'direct' or 'recursive', got {cfg.strategy!r}")
    out = horizon if cfg.strategy == "direct" else 1
    scale = float(np.std(np.diff(train))) or 1.0
    z = train / scale
    x, y = _windows(z, window, out)
    preds = []
    for k in range(cfg.ensemble):
        torch.manual_seed(cfg.seed + k)
        model = create_model("rnn-forecaster", hidden_size=cfg.hidden_size, horizon=out)
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        for _ in range(cfg.epochs):  # full batch: the series are small
            loss = torch.nn.functional.mse_loss(model(x), y)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        model.eval()
        ctx = torch.tensor(z[-window:], dtype=torch.float32)
        with torch.no_grad():
            steps = []
            while len(steps) < horizon:  # one pass (direct) or one value per pass (recursive)
                nxt = model((ctx - ctx[-1])[None, :, None])[0] + ctx[-1]
                steps.extend(nxt.tolist())
                ctx = torch.cat([ctx[len(nxt):], nxt])
        preds.append(np.array(steps[:horizon]) * scale)
    return np.mean(preds, axis=0)


def arima_forecast(train: np.ndarray, horizon: int, order, seasonal_order) -> np.ndarray:
    import warnings

    from statsmodels.tsa.statespace.sarimax import SARIMAX

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = SARIMAX(train, order=order, seasonal_order=seasonal_order).fit(disp=False)
    return np.asarray(res.forecast(horizon))


@register_recipe("ch05-forecasting", config=ForecastConfig)
def forecasting(cfg: ForecastConfig) -> dict:
    """Forecast the test tail of ``cfg.series``; returns MASE/sMAPE/RMSE of LSTM and baselines."""
    from .. import load_dataset
    from ..metrics.forecasting import mase, rmse, seasonal_naive, smape

    if cfg.series not in _SETUP:
        from ..errors import ConfigError

        raise ConfigError(f"series must be one of {sorted(_SETUP)}, got {cfg.series!r}")
    window, use_log, order, sorder = _SETUP[cfg.series]
    s = load_dataset(cfg.series, split="all")
    train, test = s.split()
    H, m = len(test), s.period
    f = np.log if use_log else (lambda v: v)
    inv = np.exp if use_log else (lambda v: v)
    t0 = time.perf_counter()
    forecasts = {
        "lstm": inv(fit_lstm_forecaster(f(train), H, window, cfg)),
        "seasonal_naive": seasonal_naive(train, H, m),
        "naive": np.full(H, train[-1]),
        "arima": inv(arima_forecast(f(train), H, order, sorder)),
    }
    scores = {name: {"mase": mase(test, p, train, m), "smape": smape(test, p), "rmse": rmse(test, p)}
              for name, p in forecasts.items()}
    result = {"series": cfg.series, "strategy": cfg.strategy, "horizon": H, "period": m, "window": window,
              "scores": scores,
              "lstm_beats_seasonal_naive": scores["lstm"]["mase"] < scores["seasonal_naive"]["mase"],
              "seconds": round(time.perf_counter() - t0, 1), "config": asdict(cfg)}
    return save_result(cfg.out_dir, f"forecast_{cfg.series}", result)
