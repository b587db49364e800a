r"""Point-forecast errors (Hyndman & Koehler 2006): MAE, RMSE, MAPE, sMAPE and MASE.

All take ``y_true``, ``y_pred`` arrays of the same shape (NumPy or torch, converted to float64).

.. math::
    \mathrm{MASE} = \frac{\mathrm{mean}_t |y_t - \hat y_t|}
                         {\frac{1}{n-m}\sum_{t=m+1}^{n} |y^{train}_t - y^{train}_{t-m}|}

The denominator is the in-sample MAE of the seasonal-naive forecast with period ``m`` on the
training series only (never the test values), so MASE < 1 means better than that baseline's
in-sample one-season-ahead errors. With ``m = 1`` it is the scale of Hyndman & Koehler (2006).

Two evaluation protocols are provided: a single multi-step forecast of the whole test tail from
the end of the training series (score it with :func:`mase` directly), and :func:`rolling_origin`,
which forecasts ``horizon`` steps from every origin in the test period using the observations up
to that origin (nothing is refitted).
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError

__all__ = ["mae", "rmse", "mape", "smape", "mase", "seasonal_naive", "rolling_origin"]


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(y_true, dtype=np.float64)
    b = np.asarray(y_pred, dtype=np.float64)
    if a.shape != b.shape:
        raise ShapeError(f"y_true {a.shape} and y_pred {b.shape} must have the same shape")
    return a, b


def mae(y_true, y_pred) -> float:
    """Mean absolute error of a forecast, in the series' units."""
    a, b = _pair(y_true, y_pred)
    return float(np.mean(np.abs(a - b)))


def rmse(y_true, y_pred) -> float:
    """Root mean squared error of a forecast, in the series' units."""
    a, b = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((a - b) ** 2)))


def mape(y_true, y_pred) -> float:
    """Mean absolute percentage error in % (undefined where ``y_true`` is 0: those points are skipped)."""
    a, b = _pair(y_true, y_pred)
    nz = a != 0
    return float(100 * np.mean(np.abs((a[nz] - b[nz]) / a[nz])))


def smape(y_true, y_pred) -> float:
    """Symmetric MAPE in % (0-200): ``200 * mean(|y - ŷ| / (|y| + |ŷ|))``, 0/0 counted as 0."""
    a, b = _pair(y_true, y_pred)
    den = np.abs(a) + np.abs(b)
    ratio = np.divide(np.abs(a - b), den, out=np.zeros_like(den), where=den > 0)
    return float(200 * np.mean(ratio))


def mase(y_true, y_pred, y_train, m: int = 1) -> float:
    """Mean absolute scaled error with seasonal period ``m`` (see module docs).

    ``y_true``/``y_pred`` may have any (equal) shape, e.g. ``(origins, horizon)`` from
    :func:`rolling_origin`; the error is averaged over all entries.
    """
    a, b = _pair(y_true, y_pred)
    tr = np.asarray(y_train, dtype=np.float64)
    if len(tr) <= m:
        raise ShapeError(f"training series of length {len(tr)} is too short for period m={m}")
    scale = np.mean(np.abs(tr[m:] - tr[:-m]))
    return float(np.mean(np.abs(a - b)) / scale)


def seasonal_naive(y_train, horizon: int, m: int) -> np.ndarray:
    """Forecast ``horizon`` steps by repeating the last observed season: ``ŷ_{n+h} = y_{n+h-m(k+1)}``."""
    tr = np.asarray(y_train, dtype=np.float64)
    last = tr[-m:]
    return np.array([last[h % m] for h in range(horizon)])


def rolling_origin(y, n_train: int, horizon: int, forecaster) -> tuple[np.ndarray, np.ndarray]:
    """Rolling-origin evaluation over the test period ``y[n_train:]`` without refitting.

    For each origin ``t = n_train, ..., len(y) - horizon`` the callable ``forecaster(history)``
    receives the actual observations ``history = y[:t]`` and returns the next ``horizon`` values.
    Returns ``(actual, forecast)``, both ``(K, horizon)`` with ``K = len(y) - n_train - horizon + 1``
    origins; score them with ``mase(actual, forecast, y[:n_train], m)`` (the mean over all origins
    and lead times 1..horizon).
    """
    y = np.asarray(y, dtype=np.float64)
    k = len(y) - n_train - horizon + 1
    if n_train < 1 or horizon < 1 or k < 1:
        raise ShapeError(f"need 1 <= n_train and n_train + horizon <= len(y); got n_train={n_train}, "
                         f"horizon={horizon}, len(y)={len(y)}")
    origins = range(n_train, n_train + k)
    actual = np.stack([y[t:t + horizon] for t in origins])
    forecast = np.stack([np.asarray(forecaster(y[:t]), dtype=np.float64).reshape(horizon) for t in origins])
    return actual, forecast
