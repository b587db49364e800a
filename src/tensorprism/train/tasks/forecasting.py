r"""Direct multi-horizon forecasting from windows of past values (book N11, §5.6.4).

Batches are ``(x, y)`` with inputs ``x (N, L, F)`` (``L`` past steps of ``F`` features, e.g. from
:class:`~tensorprism.data.windows.SlidingWindows`) and targets ``y (N, H)`` -- the next ``H`` values
of feature 0 -- or ``y (N, H, F_y)`` -- the next values of the first ``F_y \le F`` features. The
model maps ``x`` to predictions shaped like ``y`` (``rnn-forecaster`` with ``horizon=H``).

Metrics, over all :math:`N H` (or :math:`N H F_y`) predicted values :math:`\hat y_{i,h}`:

.. math::
    \mathrm{MAE} = \operatorname{mean}_{i,h} |y_{i,h} - \hat y_{i,h}|, \qquad
    \mathrm{RMSE} = \sqrt{\operatorname{mean}_{i,h} (y_{i,h} - \hat y_{i,h})^2},

    \mathrm{MASE} = \operatorname{mean}_{i,h} \frac{|y_{i,h} - \hat y_{i,h}|}{s_i}, \qquad
    s_i = \frac{1}{L - m} \sum_{t=m+1}^{L} |x_{i,t} - x_{i,t-m}|,

so each window's errors are scaled by the in-sample MAE of the one-step seasonal-naive forecast
(period :math:`m`, default 1: the naive "last value" forecast) *inside that window* -- Hyndman &
Koehler (2006)'s MASE with the window as the training series (see
:mod:`tensorprism.metrics.forecasting`, whose NumPy :func:`~tensorprism.metrics.forecasting.mase`
gives the same number window by window). MASE < 1: better than the seasonal-naive forecast's
in-window errors. Windows with :math:`s_i = 0` (constant inputs) have no scale and are left out of
MASE only.

``relative=True`` feeds the model :math:`x - x_{:,L}` (every feature minus its value at the window's
last step) and trains it on :math:`y - x_{:,L}` (the target features' last values), as the Chapter 5
forecasting recipe does; predictions, metrics and :meth:`ForecastingTask.predict_step` are in the
original units (the shift is added back; errors are unchanged by it).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
from torch import Tensor

from ...errors import ConfigError, ShapeError
from . import check_target, register_task, split_batch
from .regression import LOSSES, RegressionTask, match_prediction

__all__ = ["ForecastingTask", "window_scale"]


def window_scale(x: Tensor, m: int = 1) -> Tensor:
    r"""In-window seasonal-naive scale :math:`s = \frac{1}{L-m}\sum_{t>m} |x_t - x_{t-m}|`.

    Args:
        x: windows ``(N, L, K)``.
        m: seasonal period, ``1 <= m < L``.

    Returns:
        ``(N, 1, K)``: one scale per window and feature.
    """
    if not 1 <= m < x.shape[1]:
        raise ShapeError(f"MASE with season m={m} needs windows longer than m but they have "
                         f"{x.shape[1]} steps; use a longer window or a smaller season")
    return (x[:, m:] - x[:, :-m]).abs().mean(dim=1, keepdim=True)


@register_task("forecasting")
class ForecastingTask(RegressionTask):
    """Multi-horizon forecasting: MSE/L1/Huber loss; reports MAE, RMSE and in-window MASE.

    See the module docstring for the shapes and equations.

    Args:
        loss: ``"mse"`` (default), ``"l1"``, ``"huber"`` or ``"smooth_l1"`` (as ``"regression"``).
        season: MASE's seasonal period :math:`m` (1: naive last-value forecast).
        relative: shift inputs and targets by each window's last value before the model.
        normalize: also divide the shifted inputs and targets by each window's standard deviation
            over time (per feature; implies ``relative``), so that one model fits series of any
            level and scale (airline passengers in the hundreds, CO2 in ppm) with no fitted state;
            the loss is computed in those units, predictions and metrics in the original ones.
    """

    monitor = "val/mase"
    mode = "min"

    def __init__(self, loss: str = "mse", season: int = 1, relative: bool = False, normalize: bool = False):
        super().__init__(loss)
        if not isinstance(season, int) or season < 1:
            raise ConfigError(f"season must be an integer >= 1 (1 = naive last value), got {season!r}")
        self.season, self.normalize = season, bool(normalize)
        self.relative = bool(relative) or self.normalize

    # --- batches -----------------------------------------------------------------------------
    @staticmethod
    def _check(x: Any, y: Tensor | None) -> None:
        if not isinstance(x, Tensor) or x.dim() != 3:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ShapeError(f"forecasting expects inputs (N, window, F) but got {shape}; add a "
                             f"feature axis to univariate windows with x[..., None]")
        if y is None:
            return
        check_target(y, dtype_kind="float", what="forecasting")
        if y.dim() not in (2, 3) or y.shape[0] != x.shape[0] or (y.dim() == 3 and y.shape[2] > x.shape[2]):
            raise ShapeError(f"forecasting expects targets (N, horizon) or (N, horizon, F_y) with "
                             f"N={x.shape[0]} and F_y <= F={x.shape[2]} for inputs {tuple(x.shape)}, "
                             f"but got {tuple(y.shape)}; give one target row per window")

    def _forward(self, model: nn.Module, x: Tensor, y_dim: int = 2, f_y: int = 1) -> tuple[Tensor, Tensor, Tensor]:
        """Model output, the shift ``last`` (0 unless ``relative``) and the factor (1 unless
        ``normalize``) that map it back to the data's units: ``prediction = out * factor + shift``."""
        if not self.relative:
            return model(x), x.new_zeros(()), x.new_ones(())
        last = x[:, -1:]  # (N, 1, F)
        # a constant window has no spread: fall back to 1 rather than dividing by zero
        spread = x.std(dim=1, keepdim=True).clamp_min(1e-6) if self.normalize else torch.ones_like(last)
        out = model((x - last) / spread)
        pick = (lambda t: t[:, :, 0]) if y_dim == 2 else (lambda t: t[:, :, :f_y])  # (N, 1) or (N, 1, F_y)
        return out, pick(last), pick(spread)

    def _step(self, model: nn.Module, batch: Any) -> dict[str, Tensor]:
        x, y = split_batch(batch)
        if y is None:
            raise ShapeError("forecasting needs (inputs, targets) batches but the batch has no targets")
        self._check(x, y)
        f_y = y.shape[2] if y.dim() == 3 else 1
        out, shift, factor = self._forward(model, x, y.dim(), f_y)
        pred_rel = match_prediction(out, y, "forecasting")
        loss = LOSSES[self.loss](pred_rel, (y - shift) / factor)
        scale = window_scale(x[..., :f_y], self.season)  # (N, 1, F_y): the target features' windows
        if y.dim() == 2:
            scale = scale[..., 0]  # (N, 1)
        return {"loss": loss, "preds": pred_rel * factor + shift, "target": y, "scale": scale}

    def predict_step(self, model: nn.Module, batch: Any) -> Tensor:
        x, y = split_batch(batch)
        self._check(x, None)
        if isinstance(y, Tensor) and y.dim() == 3:  # targets (N, H, F_y) say which features are forecast
            out, shift, factor = self._forward(model, x, 3, y.shape[2])
        else:  # feature 0, predictions (N, H)
            out, shift, factor = self._forward(model, x)
            if self.relative and out.dim() == 3 and out.shape[-1] == 1:
                out = out.squeeze(-1)
        return out * factor + shift

    # --- metrics -----------------------------------------------------------------------------
    def metrics(self):
        from torchmetrics import MeanAbsoluteError, MeanMetric, MeanSquaredError

        return {"mae": MeanAbsoluteError(), "rmse": MeanSquaredError(squared=False), "mase": MeanMetric()}

    def update_metrics(self, metrics, out) -> None:
        preds, target, scale = out["preds"].detach(), out["target"], out["scale"]
        metrics["mae"].update(preds, target)
        metrics["rmse"].update(preds, target)
        ok = scale > 0  # (N, 1[, F_y]): windows without a scale are left out of MASE
        err = (preds - target).abs()
        scaled = torch.where(ok, err / torch.where(ok, scale, torch.ones_like(scale)), torch.zeros_like(err))
        metrics["mase"].update(scaled, ok.expand_as(scaled).to(scaled.dtype))

    def __repr__(self) -> str:
        return (f"ForecastingTask(loss={self.loss!r}, season={self.season}, relative={self.relative}, "
                f"normalize={self.normalize})")
