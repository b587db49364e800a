"""Perplexity / bpc, sacreBLEU wrapper (book BLEU example), forecasting errors."""

import math

import numpy as np
import pytest

from tensorprism.errors import ShapeError
from tensorprism.metrics.forecasting import (
    mae,
    mape,
    mase,
    rmse,
    rolling_origin,
    seasonal_naive,
    smape,
)
from tensorprism.metrics.text import bits_per_char, bleu, perplexity, sentence_bleu


def test_perplexity_and_bits_per_char():
    assert perplexity(math.log(65)) == pytest.approx(65)
    assert bits_per_char(math.log(2)) == pytest.approx(1.0)


def test_erratum_book_bleu_example_is_zero_with_4grams():
    """C22 (l. 11537-11544): "the cat is mat" vs "the cat is on the mat" has no 4-gram match,
    so unsmoothed BLEU-4 is 0; uni+bigram BLEU is 0.4952 and BLEU-1 is BP = exp(1 - 6/4)."""
    hyp, ref = "the cat is mat", ["the cat is on the mat"]
    assert sentence_bleu(hyp, ref, smooth_method="none") == 0.0
    assert sentence_bleu(hyp, ref, max_ngram_order=2, smooth_method="none") == pytest.approx(49.52, abs=0.01)
    assert sentence_bleu(hyp, ref, max_ngram_order=1, smooth_method="none") == pytest.approx(100 * math.exp(-0.5))


def test_corpus_bleu_perfect_and_reference_streams():
    refs = ["a man in an orange hat", "two dogs play in the snow"]
    assert bleu(refs, refs) == pytest.approx(100.0)
    assert bleu(refs, [refs]) == pytest.approx(100.0)
    assert bleu(["a man in a hat", "dogs in snow"], refs) < 50


def test_forecast_errors():
    y, p = np.array([1.0, 2.0, 4.0]), np.array([1.0, 3.0, 2.0])
    assert mae(y, p) == pytest.approx(1.0)
    assert rmse(y, p) == pytest.approx(math.sqrt(5 / 3))
    assert mape(y, p) == pytest.approx(100 * (0 + 0.5 + 0.5) / 3)
    assert smape(y, p) == pytest.approx(200 / 3 * (0 + 1 / 5 + 2 / 6))
    train = np.array([1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 2.0])
    assert seasonal_naive(train, 4, 3).tolist() == [2.0, 3.0, 2.0, 2.0]  # repeats the last season
    # in-sample seasonal-naive MAE with m=3: |1-1|,|2-2|,|3-3|,|2-1| -> 0.25
    assert mase(y, p, train, m=3) == pytest.approx(1.0 / 0.25)


def test_rolling_origin_feeds_actual_history_and_scores_every_origin():
    y = np.tile([1.0, 5.0, 2.0, 7.0], 10)  # exactly periodic, m = 4
    seen = []

    def snaive(hist):
        seen.append(len(hist))
        return seasonal_naive(hist, 3, 4)

    actual, fc = rolling_origin(y, 30, 3, snaive)
    assert actual.shape == fc.shape == (8, 3) and seen == list(range(30, 38))  # origins 30..37
    np.testing.assert_array_equal(actual, fc)  # seasonal-naive is exact on a periodic series
    assert mase(actual, fc, y[:30], m=1) == 0.0
    with pytest.raises(ShapeError, match="n_train"):
        rolling_origin(y, 38, 3, snaive)


def test_rolling_origin_mase_on_a_trend_uses_the_in_sample_seasonal_scale():
    y = 2.0 * np.arange(50)  # naive forecast from origin t misses lead k by 2k
    h = 5
    actual, fc = rolling_origin(y, 40, h, lambda hist: np.full(h, hist[-1]))
    np.testing.assert_allclose(actual - fc, np.tile(2.0 * np.arange(1, h + 1), (6, 1)))
    # mean error 2 * (h + 1) / 2; in-sample seasonal-naive MAE on y[:40] is 2 * m
    assert mase(actual, fc, y[:40], m=1) == pytest.approx((h + 1) / 2)
    assert mase(actual, fc, y[:40], m=3) == pytest.approx((h + 1) / 6)
    # the scale is the in-sample MAE of the seasonal-naive one-season-ahead forecast
    train = np.random.default_rng(0).normal(size=60)
    assert mase(np.zeros((4, 2)), np.ones((4, 2)), train, m=11) == pytest.approx(1 / mae(train[11:], train[:-11]))
