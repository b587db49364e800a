"""Forecasting real series with an LSTM (book N11, §5.6.4 on real data) against naive,
seasonal-naive and ARIMA baselines, scored with MASE / sMAPE / RMSE under two protocols.

* **Multi-step**: the last ``horizon`` values of each series are the test set (airline: 24 months,
  sunspots: 33 years, CO₂: 36 months), forecast in one go from the end of the training series.
* **Rolling origin**: from every origin ``t`` in the test period, forecast ``h`` steps ahead from
  the actual observations up to ``t`` (nothing is refitted), for ``h = 1`` and ``h = m`` (one
  season: 12 months, or one ~11-year solar cycle). See :func:`tensorprism.metrics.forecasting.rolling_origin`.

MASE is scaled by the in-sample seasonal-naive MAE on the training part (period ``m``). The
seasonal-naive forecast repeats the last ``m`` observations (for the annual sunspot numbers,
``m = 11``: the last 11-year cycle); the naive forecast repeats the last value.

The network reads a window of ``window`` past values of the (optionally log- or sqrt-transformed)
series, expressed relative to the window's last value and scaled by the training series' spread,
and emits either all future values at once (``strategy="direct"``, the book's N11) or one value
that is fed back (``"recursive"``). The forecast is the mean of ``ensemble`` independently seeded
networks. ``holdout="validation"`` scores on the last ``horizon`` values of the *training* series
instead of the test set, so settings can be chosen without looking at the test tail.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import TensorDataset

from . import register_recipe
from .kit import RecipeConfig, make_trainer, save_result

# name -> (window, transform, ARIMA order, seasonal order)
_SETUP = {
    "airline": (36, "log", (0, 1, 1), (0, 1, 1, 12)),   # the Box-Jenkins "airline model"
    "sunspots": (44, "none", (9, 0, 0), (0, 0, 0, 0)),  # AR(9), a classic for the sunspot series
    "co2": (48, "none", (1, 1, 1), (0, 1, 1, 12)),
}
# name -> (forward, inverse); sqrt stabilises the sunspot numbers' variance (peaks vs minima)
_TRANSFORMS = {
    "none": (lambda v: v, lambda v: v),
    "log": (np.log, np.exp),
    "sqrt": (np.sqrt, lambda v: np.square(np.maximum(v, 0.0))),
}

Forecaster = Callable[[np.ndarray, int], np.ndarray]  # (history, h) -> the next h values


@dataclass
class ForecastConfig(RecipeConfig):
    """Attributes:
    series: ``airline``, ``sunspots`` or ``co2``.
    hidden_size: LSTM units of each network.
    epochs, lr, weight_decay: full-batch AdamW training (gradient norm clipped at 1).
    ensemble: independently seeded networks whose forecasts are averaged (one run sub-folder each).
    strategy: ``direct`` (the book's N11: all horizons at once) or ``recursive``.
    window: look-back length; 0: the series default (36 / 44 / 48).
    early_stopping: >0: the last N training values only score epochs; the best epoch is kept.
    transform: ``none``, ``log``, ``sqrt``; ``auto``: log for airline, none otherwise.
    holdout: ``test``, or ``validation``: the last test-length tail of the training part.
    """

    series: str = "airline"
    hidden_size: int = 32
    epochs: int = 400
    lr: float = 5e-3
    weight_decay: float = 1e-4
    ensemble: int = 5
    strategy: str = "direct"
    window: int = 0
    early_stopping: int = 0
    transform: str = "auto"
    holdout: str = "test"


def _windows(z: np.ndarray, window: int, horizon: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs ``(N, window, 1)`` and targets ``(N, horizon)``, relative to each window's last value."""
    xs, ys = [], []
    for s in range(len(z) - window - horizon + 1):
        xs.append(z[s:s + window])
        ys.append(z[s + window:s + window + horizon])
    x, y = torch.tensor(np.array(xs), dtype=torch.float32), torch.tensor(np.array(ys), dtype=torch.float32)
    last = x[:, -1:]
    return (x - last)[..., None], y - last


def fit_lstm_forecaster(train: np.ndarray, horizon: int, window: int, cfg: ForecastConfig) -> Forecaster:
    """Train ``cfg.ensemble`` LSTMs on ``train`` for up to ``horizon`` steps ahead.

    Returns ``forecast(history, h)``: the ensemble mean of the next ``h <= horizon`` values after
    ``history`` (same units as ``train``), direct (one pass) or recursive (one value per pass).
    """
    from .. import create_model

    if cfg.strategy not in ("direct", "recursive"):
        from ..errors import ConfigError

        raise ConfigError(f"strategy must be 'direct' or 'recursive', got {cfg.strategy!r}")
    out = horizon if cfg.strategy == "direct" else 1
    scale = float(np.std(np.diff(train))) or 1.0
    x, y = _windows(train / scale, window, out)
    n_val = cfg.early_stopping
    if n_val and len(x) - n_val - out + 1 < 1:
        from ..errors import ConfigError

        raise ConfigError(f"early_stopping={n_val} leaves no training windows of length {window} + {out} "
                          f"in {len(train)} values; use a smaller early_stopping or window")
    if n_val:  # validation windows predict the last n_val values; training targets stay before them
        x, y, xv, yv = x[:-(n_val + out - 1)], y[:-(n_val + out - 1)], x[-n_val:], y[-n_val:]
    val = TensorDataset(xv, yv) if n_val else None
    models = []
    for k in range(cfg.ensemble):
        torch.manual_seed(cfg.seed + k)
        model = create_model("rnn-forecaster", hidden_size=cfg.hidden_size, horizon=out)
        # full batch (the series are small); with a validation tail, the best epoch's weights are kept
        trainer = make_trainer(cfg, model, "regression", TensorDataset(x, y), val, sub=f"lstm-{k}",
                               seed=cfg.seed + k, optimizer="adamw", lr=cfg.lr, weight_decay=cfg.weight_decay,
                               grad_clip_norm=1.0, epochs=cfg.epochs, batch_size=len(x), shuffle=False,
                               restore_best=bool(n_val), monitor="val/mse", mode="min", precision="32")
        trainer.fit()
        models.append(model.cpu().eval())

    def forecast(history: np.ndarray, h: int) -> np.ndarray:
        ctx0 = torch.tensor(np.asarray(history)[-window:] / scale, dtype=torch.float32)
        preds = []
        with torch.no_grad():
            for model in models:
                ctx, steps = ctx0, []
                while len(steps) < h:  # one pass (direct) or one value per pass (recursive)
                    nxt = model((ctx - ctx[-1])[None, :, None])[0] + ctx[-1]
                    steps.extend(nxt.tolist())
                    ctx = torch.cat([ctx[len(nxt):], nxt])
                preds.append(steps[:h])
        return np.mean(preds, axis=0) * scale

    return forecast


def fit_arima_forecaster(train: np.ndarray, order, seasonal_order) -> Forecaster:
    """Fit SARIMAX on ``train`` once; ``forecast(history, h)`` filters ``history`` with those parameters."""
    import warnings

    from ..optional import require

    SARIMAX = require("statsmodels.tsa.statespace.sarimax", feature="the SARIMA baseline").SARIMAX

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = SARIMAX(train, order=order, seasonal_order=seasonal_order).fit(disp=False)

    def forecast(history: np.ndarray, h: int) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = res if len(history) == len(train) else res.apply(np.asarray(history))
            return np.asarray(r.forecast(h))

    return forecast


@register_recipe("ch05-forecasting", config=ForecastConfig)
def forecasting(cfg: ForecastConfig) -> dict:
    """Forecast the held-out tail of ``cfg.series`` (multi-step and rolling origin) with the LSTM
    and the baselines; returns their MASE/sMAPE/RMSE."""
    from ..optional import check_available

    check_available(["statsmodels", "sktime"], feature="recipe ch05-forecasting")
    from .. import load_dataset
    from ..errors import ConfigError
    from ..metrics.forecasting import mase, rmse, rolling_origin, seasonal_naive, smape

    if cfg.series not in _SETUP:
        raise ConfigError(f"series must be one of {sorted(_SETUP)}, got {cfg.series!r}")
    window, transform, order, sorder = _SETUP[cfg.series]
    window = cfg.window or window
    transform = transform if cfg.transform == "auto" else cfg.transform
    if transform not in _TRANSFORMS:
        raise ConfigError(f"transform must be 'auto' or one of {sorted(_TRANSFORMS)}, got {cfg.transform!r}")
    if cfg.holdout not in ("test", "validation"):
        raise ConfigError(f"holdout must be 'test' or 'validation', got {cfg.holdout!r}")
    s = load_dataset(cfg.series, split="all")
    y = s.values if cfg.holdout == "test" else s.values[:-s.horizon]
    H, m = s.horizon, s.period
    train, test = y[:-H], y[-H:]
    f, inv = _TRANSFORMS[transform]
    t0 = time.perf_counter()
    lstm = fit_lstm_forecaster(f(train), H, window, cfg)
    arima = fit_arima_forecaster(f(train), order, sorder)
    methods: dict[str, Forecaster] = {
        "lstm": lambda hist, h: inv(lstm(f(hist), h)),
        "seasonal_naive": lambda hist, h: seasonal_naive(hist, h, m),
        "naive": lambda hist, h: np.full(h, hist[-1]),
        "arima": lambda hist, h: inv(arima(f(hist), h)),
    }
    scores = {}
    for name, fc in methods.items():
        p = fc(train, H)
        scores[name] = {"mase": mase(test, p, train, m), "smape": smape(test, p), "rmse": rmse(test, p)}
    rolling = {}
    for h in (1, m):
        rolling[f"h={h}"] = {name: mase(*rolling_origin(y, len(train), h, lambda hist, fc=fc, h=h: fc(hist, h)),
                                  train, m)
                             for name, fc in methods.items()}
    result = {"series": cfg.series, "holdout": cfg.holdout, "strategy": cfg.strategy, "horizon": H,
              "period": m, "window": window, "transform": transform, "scores": scores,
              "lstm_beats_seasonal_naive": scores["lstm"]["mase"] < scores["seasonal_naive"]["mase"],
              "rolling_mase": rolling,
              "rolling_lstm_beats_seasonal_naive": {k: v["lstm"] < v["seasonal_naive"] for k, v in rolling.items()},
              "seconds": round(time.perf_counter() - t0, 1)}
    return save_result(cfg, result)
