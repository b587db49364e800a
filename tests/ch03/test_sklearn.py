import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_digits
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tensorprism.errors import ConfigError
from tensorprism.sklearn import TensorPrismClassifier, TensorPrismRegressor


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600] / 16.0, y[:600]


def test_classifier_cross_val_score_on_digits(digits):
    X, y = digits
    scores = cross_val_score(TensorPrismClassifier(hidden=(64,), epochs=15, lr=3e-3, random_state=0), X, y, cv=3)
    assert scores.mean() > 0.8  # 400 training images, 15 epochs


def test_grid_search_over_width_dropout_lr_like_section_3_7_3(digits):
    """Book L4923-4976 (skorch + GridSearchCV, cv=3), here with the estimator itself."""
    X, y = digits
    grid = GridSearchCV(
        TensorPrismClassifier(epochs=6, random_state=0),
        {"hidden": [(32,), (64,)], "lr": [1e-4, 1e-2]},
        cv=3,
        scoring="accuracy",
    ).fit(X, y)
    assert grid.best_params_["lr"] == 1e-2
    assert grid.best_score_ > 0.85
    assert set(grid.predict(X[:5])) <= set(range(10))


def test_classifier_api_labels_proba_and_params(digits):
    X, y = digits
    labels = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])[y]
    clf = TensorPrismClassifier(hidden=32, optimizer="nesterov", lr=0.1, epochs=5, random_state=1).fit(X, labels)
    proba = clf.predict_proba(X[:7])
    assert proba.shape == (7, 10) and np.allclose(proba.sum(1), 1)
    assert set(clf.predict(X)) <= set(labels)
    assert clf.score(X, labels) > 0.8
    assert clf.get_params()["optimizer"] == "nesterov"
    assert clf.set_params(dropout=0.2).dropout == 0.2


def test_classifier_is_reproducible_with_random_state(digits):
    X, y = digits
    a = TensorPrismClassifier(hidden=(16,), epochs=2, random_state=3).fit(X, y).predict_proba(X[:20])
    b = TensorPrismClassifier(hidden=(16,), epochs=2, random_state=3).fit(X, y).predict_proba(X[:20])
    np.testing.assert_array_equal(a, b)


def test_regressor_pipeline_on_diabetes_and_multi_output():
    X, y = load_diabetes(return_X_y=True)
    model = make_pipeline(StandardScaler(), TensorPrismRegressor(hidden=(32,), epochs=40, lr=1e-2, random_state=0))
    scores = cross_val_score(model, X, (y - y.mean()) / y.std(), cv=3, scoring="r2")
    assert scores.mean() > 0.35  # linear regression reaches ≈ 0.48 on this split
    Y = np.stack([y, -y], 1) / y.std()
    reg = TensorPrismRegressor(hidden=(8,), epochs=3).fit(X, Y)
    assert reg.predict(X[:4]).shape == (4, 2)


def test_full_batch_online_and_early_stopping(digits):
    X, y = digits
    full = TensorPrismClassifier(hidden=(16,), batch_size=None, optimizer="sgd", lr=0.5, epochs=3).fit(X, y)
    assert full.n_iter_ == 3
    es = TensorPrismClassifier(hidden=(16,), epochs=200, early_stopping=True, patience=2, lr=0.05, random_state=0).fit(X, y)
    assert es.n_iter_ < 200
    with pytest.raises(ConfigError, match="closure"):
        TensorPrismClassifier(optimizer="lbfgs").fit(X, y)


@pytest.mark.slow
@pytest.mark.parametrize("est", [TensorPrismClassifier(), TensorPrismRegressor()], ids=["classifier", "regressor"])
def test_sklearn_check_estimator(est):
    from sklearn.utils.estimator_checks import check_estimator

    results = check_estimator(est, on_fail=None)
    failed = [r["check_name"] for r in results if r["status"] == "failed"]
    assert not failed
