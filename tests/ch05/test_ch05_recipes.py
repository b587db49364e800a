"""The Chapter 5 recipes run end to end on real data (tiny configurations; the measured runs are
in benchmarks/results/ch05.md)."""

import json
import math

import numpy as np
import pytest

from tensorprism.recipes import list_recipes, run_recipe
from tensorprism.testing import require_path, shared_data


@pytest.fixture(autouse=True)
def _runs_in_tmp(tmp_path, monkeypatch):
    """Recipe runs without out_dir go to runs/<recipe>-<timestamp>: keep them out of the checkout."""
    monkeypatch.chdir(tmp_path)


def test_ch05_recipes_are_registered():
    assert {"ch05-char-lm", "ch05-word-lm", "ch05-sst2", "ch05-translation", "ch05-forecasting",
            "ch05-ucr"} <= set(list_recipes())


@pytest.mark.data
def test_char_lm_recipe_learns_and_samples(tmp_path):
    require_path(shared_data("tinyshakespeare"), "Tiny Shakespeare")
    r = run_recipe("ch05-char-lm", embed_dim=16, hidden_size=32, num_layers=1, batch_size=16, seq_len=32,
                   max_steps=40, warmup=5, lr=1e-2, eval_every=40, eval_batch=128, sample_tokens=20,
                   out_dir=str(tmp_path))
    assert r["val_loss"] < math.log(65) - 0.5  # well below the uniform 4.17 nats
    assert r["sample"].startswith("ROMEO:") and len(r["sample"]) == 26
    assert json.loads((tmp_path / "result.json").read_text())["result"]["steps"] == 40
    assert (tmp_path / "checkpoints" / "last.safetensors").is_file() and (tmp_path / "vocab.json").is_file()


def test_forecasting_and_ucr_recipes_report_baselines(tmp_path):
    r = run_recipe("ch05-forecasting", series="airline", epochs=5, ensemble=1, out_dir=str(tmp_path / "f"))
    assert set(r["scores"]) == {"lstm", "seasonal_naive", "naive", "arima"} and r["horizon"] == 24
    assert r["scores"]["arima"]["mase"] < r["scores"]["seasonal_naive"]["mase"]
    assert set(r["rolling_mase"]) == {"h=1", "h=12"} and set(r["rolling_mase"]["h=1"]) == set(r["scores"])
    assert r["rolling_mase"]["h=1"]["arima"] < r["rolling_mase"]["h=12"]["arima"]  # nearer is easier
    u = run_recipe("ch05-ucr", dataset="italypowerdemand", epochs=2, out_dir=str(tmp_path / "u"))
    assert u["test"] == 1029 and u["one_nn_euclidean_acc"] > 0.9


@pytest.mark.data
def test_translation_recipe_with_bpe_subwords(tmp_path):
    require_path(shared_data("multi30k"), "Multi30k")
    r = run_recipe("ch05-translation", tokenizer="bpe", bpe_vocab=600, embed_dim=16, hidden_size=16,
                   attn_dim=16, epochs=1, max_train=150, max_eval=5, max_len=8, num_beams=2, out_dir=None)
    assert r["vocab"] == [600, 600] and isinstance(r["examples"][0]["greedy"], str)


def test_lstm_forecaster_early_stopping_forecasts_and_rejects_a_tail_too_long():
    from tensorprism.errors import ConfigError
    from tensorprism.recipes.ch05_forecasting import ForecastConfig, fit_lstm_forecaster

    z = np.sin(np.arange(120) * 2 * np.pi / 12)
    cfg = ForecastConfig(epochs=3, ensemble=1, early_stopping=10, strategy="recursive", lr=0.05)
    fc = fit_lstm_forecaster(z, 6, 24, cfg)
    assert fc(z, 6).shape == (6,) and np.isfinite(fc(z, 6)).all()
    with pytest.raises(ConfigError, match="early_stopping"):
        fit_lstm_forecaster(z, 6, 24, ForecastConfig(ensemble=1, early_stopping=100))
