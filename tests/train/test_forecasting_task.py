import math

import numpy as np
import pytest
import torch
import torch.nn as nn
from torch.utils.data import TensorDataset
from train_helpers import QUIET

from tensorprism import create_model
from tensorprism.data.windows import SlidingWindows
from tensorprism.errors import ConfigError, ShapeError
from tensorprism.metrics.forecasting import mae, mase, rmse
from tensorprism.train import Trainer, create_task, list_tasks
from tensorprism.train.tasks.forecasting import ForecastingTask


class Fixed(nn.Module):
    """Returns ``fn(x)`` and remembers the inputs it saw (a dummy parameter keeps optimisers happy)."""

    def __init__(self, fn):
        super().__init__()
        self.fn, self.seen = fn, []
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        self.seen.append(x.clone())
        return self.fn(x) + 0 * self.dummy


def evaluate(task, model, x, y):
    out = task.evaluation_step(model, (x, y))
    metrics = task.metrics()
    task.update_metrics(metrics, out)
    return out, {k: float(m.compute()) for k, m in metrics.items()}


# two windows of length 3, horizon 2; by hand: scales 1.5 and 1, errors (1, 1) and (0, 2)
X = torch.tensor([[0.0, 1.0, 3.0], [2.0, 2.0, 4.0]])[..., None]
Y = torch.tensor([[4.0, 6.0], [5.0, 3.0]])
P = torch.tensor([[3.0, 5.0], [5.0, 5.0]])


def test_forecasting_is_registered():
    assert "forecasting" in list_tasks()
    task = create_task("forecasting", loss="l1", season=2, relative=True)
    assert isinstance(task, ForecastingTask) and (task.loss, task.season, task.relative) == ("l1", 2, True)


def test_metrics_equal_hand_computed_values_and_numpy_oracles():
    out, m = evaluate(ForecastingTask(), Fixed(lambda x: P), X, Y)
    assert m["mae"] == pytest.approx(1.0)
    assert m["rmse"] == pytest.approx(math.sqrt(1.5))
    assert m["mase"] == pytest.approx((1 / 1.5 + 1 / 1.5 + 0 + 2) / 4)  # 5/6
    assert out["loss"].item() == pytest.approx((1 + 1 + 0 + 4) / 4)
    assert m["mae"] == pytest.approx(mae(Y, P)) and m["rmse"] == pytest.approx(rmse(Y, P))
    per_window = [mase(Y[i], P[i], X[i, :, 0], 1) for i in range(2)]  # equal weights: same horizon
    assert m["mase"] == pytest.approx(np.mean(per_window))


def test_seasonal_mase_and_trainer_evaluate_accumulate_over_batches():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(10, 8, 1, generator=g), torch.randn(10, 3, generator=g)
    pred = torch.randn(10, 3, generator=g)
    model = Fixed(lambda inp: pred[: len(inp)])  # batch_size=10: one batch holds all windows
    trainer = Trainer(model, ForecastingTask(season=4), train_data=TensorDataset(x, y), epochs=1,
                      batch_size=10, **QUIET)
    m = trainer.evaluate(TensorDataset(x, y))
    oracle = np.mean([mase(y[i], pred[i], x[i, :, 0], 4) for i in range(10)])
    assert m["eval/mase"] == pytest.approx(oracle, rel=1e-5)
    assert m["eval/mae"] == pytest.approx(mae(y, pred), rel=1e-5)
    assert m["eval/rmse"] == pytest.approx(rmse(y, pred), rel=1e-5)
    # one window per batch: MASE is still the mean over all predicted values, not of batch ratios
    rows = iter(range(10))
    model.fn = lambda inp: pred[next(rows)][None]
    m1 = Trainer(model, ForecastingTask(season=4), train_data=TensorDataset(x, y), epochs=1,
                 batch_size=1, **QUIET).evaluate(TensorDataset(x, y))
    assert m1["eval/mase"] == pytest.approx(oracle, rel=1e-5)


def test_naive_forecast_has_mase_exactly_one_on_a_unit_step_random_walk():
    g = torch.Generator().manual_seed(1)
    steps = torch.randint(0, 2, (400,), generator=g).float() * 2 - 1  # +-1 steps: |Δ| = 1 everywhere
    walk = torch.cumsum(steps, 0)
    x, y = SlidingWindows(walk, window=12, horizon=1).tensors()
    _, m = evaluate(ForecastingTask(), Fixed(lambda inp: inp[:, -1:, 0]), x, y)
    assert m["mase"] == 1.0 and m["mae"] == 1.0
    # relative mode: a model predicting 0 is the naive forecast too
    _, m_rel = evaluate(ForecastingTask(relative=True), Fixed(lambda inp: inp.new_zeros(len(inp), 1)), x, y)
    assert m_rel["mase"] == 1.0


def test_relative_mode_shifts_inputs_and_targets_by_the_last_value():
    model = Fixed(lambda inp: torch.tensor([[1.0, 2.0], [0.0, -1.0]]))
    task = ForecastingTask(relative=True)
    out, m = evaluate(task, model, X, Y)
    torch.testing.assert_close(model.seen[0], X - X[:, -1:])  # last step is 0 in every window
    torch.testing.assert_close(out["preds"], torch.tensor([[4.0, 5.0], [4.0, 3.0]]))  # + last value
    y_rel = Y - X[:, -1:, 0]
    assert out["loss"].item() == pytest.approx(nn.functional.mse_loss(model.fn(None), y_rel).item())
    torch.testing.assert_close(task.predict_step(model, (X, Y)), out["preds"])


def test_multivariate_targets_use_their_own_features():
    x = torch.stack([X[..., 0], 10 * X[..., 0], torch.ones(2, 3)], dim=-1)  # (2, 3, 3)
    y = torch.stack([Y, 10 * Y], dim=-1)  # (2, 2, 2): first two features
    p = torch.stack([P, 10 * P], dim=-1)
    _, m = evaluate(ForecastingTask(), Fixed(lambda inp: p), x, y)
    assert m["mase"] == pytest.approx(5 / 6)  # each feature scaled by its own window spread


def test_constant_windows_are_left_out_of_mase_only():
    x = torch.cat([X, torch.full((1, 3, 1), 7.0)])
    y, p = torch.cat([Y, torch.tensor([[8.0, 9.0]])]), torch.cat([P, torch.tensor([[7.0, 7.0]])])
    _, m = evaluate(ForecastingTask(), Fixed(lambda inp: p), x, y)
    assert m["mase"] == pytest.approx(5 / 6)
    assert m["mae"] == pytest.approx((4 + 3) / 6)


def test_clear_errors_for_wrong_shapes_and_settings():
    task, model = ForecastingTask(), Fixed(lambda inp: P)
    with pytest.raises(ShapeError, match=r"targets \(N, horizon\)"):
        task.evaluation_step(model, (X, Y[:1]))
    with pytest.raises(ShapeError, match=r"targets \(N, horizon\)"):
        task.evaluation_step(model, (X, Y[:, :, None, None]))
    with pytest.raises(ShapeError, match="F_y <= F"):
        task.evaluation_step(model, (X, torch.zeros(2, 2, 3)))
    with pytest.raises(ShapeError, match=r"inputs \(N, window, F\)"):
        task.evaluation_step(model, (X[..., 0], Y))
    with pytest.raises(ShapeError, match="floating-point"):
        task.evaluation_step(model, (X, Y.long()))
    with pytest.raises(ShapeError, match="model returned"):
        task.evaluation_step(Fixed(lambda inp: P[:, :1]), (X, Y))
    with pytest.raises(ShapeError, match="windows longer than m"):
        ForecastingTask(season=3).evaluation_step(model, (X, Y))
    with pytest.raises(ConfigError):
        ForecastingTask(loss="hinge")
    with pytest.raises(ConfigError):
        ForecastingTask(season=0)
    with pytest.raises(ConfigError, match="too short"):
        SlidingWindows(torch.zeros(5), window=4, horizon=2)


def test_sliding_windows_match_manual_slicing():
    z = np.arange(20.0).reshape(10, 2)
    ds = SlidingWindows(z, window=3, horizon=2, stride=2)
    assert len(ds) == 3  # starts 0, 2, 4 (4 + 3 + 2 <= 10)
    x, y = ds[2]
    torch.testing.assert_close(x, torch.tensor(z[4:7], dtype=torch.float32))
    torch.testing.assert_close(y, torch.tensor(z[7:9, 0], dtype=torch.float32))
    assert SlidingWindows(z, 3, 2, target_features=2)[0][1].shape == (2, 2)


def test_rnn_forecaster_trained_by_the_trainer_beats_the_naive_forecast():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    t = torch.arange(700, dtype=torch.float32)
    series = torch.sin(2 * math.pi * t / 20) + 0.1 * torch.randn(700, generator=g)
    window, horizon = 24, 5
    train, val = SlidingWindows(series[:550], window, horizon), SlidingWindows(series[550:], window, horizon)
    model = create_model("rnn-forecaster", hidden_size=32, horizon=horizon)
    trainer = Trainer(model, "forecasting", train_data=train, val_data=val, epochs=12, batch_size=32,
                      lr=1e-2, optimizer="adam", grad_clip_norm=1.0, seed=0, **QUIET)
    trainer.task.relative = True
    trainer.fit()
    m = trainer.final_metrics
    naive = Trainer(Fixed(lambda inp: inp[:, -1:, 0].expand(-1, horizon)), "forecasting",
                    train_data=train, **QUIET).evaluate(val)
    assert m["val/mase"] < 1.0 and m["val/mase"] < 0.5 * naive["eval/mase"], (m, naive)
    assert m["val/rmse"] < naive["eval/rmse"]
    preds = trainer.predict(val)
    assert preds.shape == (len(val), horizon)


def test_normalized_forecasts_follow_the_series_level_and_scale():
    """normalize=True: the model sees each window shifted by its last value and divided by its
    spread, so forecasts of a*x + b are a*forecast(x) + b (a > 0) and losses are in window units."""
    torch.manual_seed(0)
    model = create_model("rnn-forecaster", hidden_size=8, horizon=3).eval()
    task = ForecastingTask(normalize=True)
    assert task.relative
    x, y = torch.randn(4, 12, 1), torch.randn(4, 3)
    base = task.predict_step(model, (x, y))
    moved = task.predict_step(model, (250.0 * x + 1000.0, y))
    torch.testing.assert_close(moved, 250.0 * base + 1000.0, rtol=1e-4, atol=1e-2)
    plain = ForecastingTask(relative=True)
    assert not torch.allclose(plain.predict_step(model, (250.0 * x + 1000.0, y)), moved, atol=1.0)
    loss_small = task.training_step(model, (x, y))["loss"]
    loss_big = task.training_step(model, (250.0 * x + 1000.0, 250.0 * y + 1000.0))["loss"]
    torch.testing.assert_close(loss_big, loss_small, rtol=1e-4, atol=1e-5)
