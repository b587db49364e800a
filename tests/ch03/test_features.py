"""Min-max scaling and polynomial features (Ch. 3, P4 and P8), scikit-learn as the oracle."""

import numpy as np
import pytest
import torch

from tensorprism.data.preprocessing import MinMaxScale, Preprocessing
from tensorprism.errors import ConfigError, ShapeError
from tensorprism.functional.features import min_max_scale, min_max_statistics, polynomial_features

sk_pre = pytest.importorskip("sklearn.preprocessing")


def _table(seed=0):
    g = np.random.default_rng(seed)
    x = g.normal(size=(40, 4)) * [1.0, 10.0, 0.1, 3.0] + [0.0, 5.0, -2.0, 1.0]
    x[:, 2] = 7.0  # a constant feature: zero range
    return x


@pytest.mark.parametrize("feature_range", [(0.0, 1.0), (-1.0, 1.0)])
def test_min_max_scale_equals_sklearn_including_a_constant_feature(feature_range):
    x = _table()
    ref = sk_pre.MinMaxScaler(feature_range=feature_range).fit(x[:30])
    lo, hi = min_max_statistics(torch.as_tensor(x[:30]))
    ours = min_max_scale(torch.as_tensor(x[30:]), lo, hi, feature_range)
    np.testing.assert_allclose(ours.numpy(), ref.transform(x[30:]), rtol=1e-12, atol=1e-12)
    train = min_max_scale(torch.as_tensor(x[:30]), lo, hi, feature_range)
    assert float(train[:, [0, 1, 3]].min()) == pytest.approx(feature_range[0])
    assert float(train[:, [0, 1, 3]].max()) == pytest.approx(feature_range[1])
    assert torch.isfinite(train).all()


def test_min_max_preprocessing_is_fitted_on_train_and_round_trips_through_json():
    x = _table(1)
    scaler = MinMaxScale.fit(x[:30], feature_range=(-1, 1))
    again = Preprocessing.from_dict(scaler.to_dict())
    assert again == scaler
    ref = sk_pre.MinMaxScaler(feature_range=(-1, 1)).fit(x[:30]).transform(x[30:])
    np.testing.assert_allclose(again(x[30:]).numpy(), ref, rtol=1e-5, atol=1e-5)
    with pytest.raises(ShapeError, match="4 features"):
        scaler(x[:, :3])


@pytest.mark.parametrize("degree,interaction_only,include_bias", [(2, False, True), (3, False, False), (3, True, True)])
def test_polynomial_features_equal_sklearn(degree, interaction_only, include_bias):
    x = np.random.default_rng(2).normal(size=(7, 3))
    ref = sk_pre.PolynomialFeatures(degree, interaction_only=interaction_only, include_bias=include_bias).fit_transform(x)
    ours = polynomial_features(torch.as_tensor(x), degree, interaction_only, include_bias)
    np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-12)


def test_polynomial_features_of_two_inputs_are_the_books_example_l2674():
    """l.2674: for x1, x2 add x1², x2², x1·x2."""
    x = torch.tensor([[2.0, 3.0]])
    assert polynomial_features(x, 2).tolist() == [[1.0, 2.0, 3.0, 4.0, 6.0, 9.0]]


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ShapeError, match=r"\(N, F\)"):
        polynomial_features(torch.ones(3), 2)
    with pytest.raises(ConfigError, match="degree"):
        polynomial_features(torch.ones(2, 2), 0)
    with pytest.raises(ConfigError, match="lo < hi"):
        min_max_scale(torch.ones(2, 2), torch.zeros(2), torch.ones(2), (1.0, 0.0))
    with pytest.raises(ConfigError, match="NaN"):
        min_max_statistics(torch.tensor([[1.0, float("nan")]]))
    with pytest.raises(ShapeError, match="at least one row"):
        min_max_statistics(torch.zeros(0, 2))
