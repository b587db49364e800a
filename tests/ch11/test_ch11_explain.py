"""Permutation importance (against scikit-learn, and the book's sign erratum), exact and sampled
Shapley values (against shap), and LIME for tables and images (what its weighted fit guarantees)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tensorprism.errors import ConfigError, ShapeError
from tensorprism.explain.lime import (
    kernel_weights,
    lime_image,
    lime_tabular,
    patch_segments,
    weighted_ridge,
)
from tensorprism.explain.permutation import permutation_importance
from tensorprism.explain.shapley import exact_shapley, sampling_shapley


def test_permutation_importance_equals_sklearn_for_an_sklearn_and_a_torch_model():
    from sklearn.datasets import load_iris
    from sklearn.inspection import permutation_importance as sk_pi
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    clf = LogisticRegression(max_iter=1000).fit(X, y)
    ref = sk_pi(clf, X, y, n_repeats=4, random_state=3, scoring="accuracy")
    ours = permutation_importance(lambda t: torch.from_numpy(clf.predict_proba(t.numpy())), X, y, n_repeats=4, seed=3)
    np.testing.assert_allclose(ours.importances, ref.importances, atol=1e-12)
    np.testing.assert_allclose(ours.importances_std, ref.importances_std, atol=1e-12)

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()

    from sklearn.base import BaseEstimator, ClassifierMixin

    class Wrapped(ClassifierMixin, BaseEstimator):  # the torch model as scikit-learn sees estimators
        classes_ = np.arange(3)

        def fit(self, X, y):
            return self

        def predict(self, X):
            with torch.no_grad():
                return net(torch.as_tensor(X)).argmax(1).numpy()

    ref = sk_pi(Wrapped(), X, y, n_repeats=3, random_state=0, scoring="accuracy")
    ours = permutation_importance(net, torch.as_tensor(X), torch.as_tensor(y), n_repeats=3, seed=0)
    np.testing.assert_allclose(ours.importances, ref.importances, atol=1e-12)


def test_erratum_permutation_importance_sign():
    """Catalogue ch09-11.md §5.24 (book L24946): the book's importance E[L(f(x)) - L(f(x_perm(j)))]
    is negative for a feature the model relies on; the importance is L(permuted) - L(original),
    the score's drop, positive for a used feature and exactly 0 for an ignored one."""
    g = torch.Generator().manual_seed(0)
    X = torch.randn(300, 3, generator=g, dtype=torch.float64)
    y = X[:, 0] * 2.0
    model = lambda t: t[:, 0] * 2.0  # noqa: E731 - uses feature 0 only
    res = permutation_importance(model, X, y, scoring="neg_mean_squared_error", n_repeats=3)
    assert res.importances_mean[0] > 1.0
    assert np.all(res.importances[1:] == 0.0)
    book = -res.importances_mean  # E[L(x) - L(x_perm)], the book's formula
    assert book[0] < 0


def test_permutation_importance_refuses_bad_input():
    with pytest.raises(ConfigError):
        permutation_importance(lambda t: t, torch.zeros(4, 2), torch.zeros(4), n_repeats=0)
    with pytest.raises(ConfigError, match="unknown scoring"):
        permutation_importance(lambda t: t, torch.zeros(4, 2), torch.zeros(4), scoring="auc-ish")
    with pytest.raises(ShapeError):
        permutation_importance(lambda t: t, torch.zeros(4), torch.zeros(4))


def _mlp(p=4, k=3):
    g = torch.Generator().manual_seed(1)
    W1, W2 = torch.randn(p, 6, generator=g, dtype=torch.float64), torch.randn(6, k, generator=g, dtype=torch.float64)
    return lambda X: torch.tanh(torch.as_tensor(X, dtype=torch.float64) @ W1) @ W2


def _shapley_case():
    f = _mlp()
    g = torch.Generator().manual_seed(2)
    bg, x = torch.randn(6, 4, generator=g, dtype=torch.float64), torch.randn(4, generator=g, dtype=torch.float64)
    return f, bg, x, exact_shapley(f, x, bg)


@pytest.mark.slow  # shap's Exact explainer compiles numba kernels on first use (about 1 min)
def test_exact_shapley_equals_shap_exact():
    shap = pytest.importorskip("shap")
    f, bg, x, ours = _shapley_case()
    ref = shap.explainers.Exact(lambda a: f(a).numpy(), shap.maskers.Independent(bg.numpy(), max_samples=6))(
        x.numpy()[None], silent=True)
    np.testing.assert_allclose(ours.values.numpy(), ref.values[0], atol=1e-10)
    np.testing.assert_allclose(ours.base_value.numpy(), ref.base_values[0], atol=1e-10)


def test_exact_shapley_equals_kernel_shap_over_every_coalition():
    shap = pytest.importorskip("shap")
    f, bg, x, ours = _shapley_case()
    # Kernel SHAP that evaluates every coalition solves for the exact Shapley values
    kern = shap.KernelExplainer(lambda a: f(a).numpy(), bg.numpy()).shap_values(x.numpy()[None], nsamples=2**4,
                                                                                silent=True)
    kern = np.stack(kern, -1)[0] if isinstance(kern, list) else np.asarray(kern)[0]
    np.testing.assert_allclose(ours.values.numpy(), kern, atol=1e-6)
    # efficiency: the values add up to f(x) - E_background f
    torch.testing.assert_close(ours.values.sum(0), f(x[None])[0] - f(bg).mean(0))


def test_shapley_of_a_linear_model_and_a_dummy_feature():
    w = torch.tensor([1.5, -2.0, 0.0], dtype=torch.float64)
    f = lambda X: X @ w  # noqa: E731
    g = torch.Generator().manual_seed(0)
    bg, x = torch.randn(10, 3, generator=g, dtype=torch.float64), torch.randn(3, generator=g, dtype=torch.float64)
    phi = exact_shapley(f, x, bg).values
    torch.testing.assert_close(phi, w * (x - bg.mean(0)))  # the closed form for a linear model
    assert phi[2] == 0


def test_sampling_shapley_converges_to_the_exact_values():
    f = _mlp(p=5, k=2)
    g = torch.Generator().manual_seed(3)
    bg, x = torch.randn(8, 5, generator=g, dtype=torch.float64), torch.randn(5, generator=g, dtype=torch.float64)
    exact = exact_shapley(f, x, bg).values
    est = sampling_shapley(f, x, bg, n_permutations=400, seed=0)
    assert ((est.values - exact).abs() <= 4 * est.stderr + 1e-9).all()
    torch.testing.assert_close(est.values.sum(0), exact.sum(0))  # every order keeps efficiency
    again = sampling_shapley(f, x, bg, n_permutations=400, seed=0)
    torch.testing.assert_close(again.values, est.values)
    assert (sampling_shapley(f, x, bg, n_permutations=20, seed=0).values - exact).abs().max() > \
        (est.values - exact).abs().max()


def test_shapley_refuses_too_many_features_and_bad_shapes():
    f = lambda X: X.sum(1)  # noqa: E731
    with pytest.raises(ConfigError, match="sampling_shapley"):
        exact_shapley(f, torch.zeros(20), torch.zeros(2, 20))
    with pytest.raises(ShapeError):
        exact_shapley(f, torch.zeros(3), torch.zeros(2, 4))
    with pytest.raises(ConfigError):
        sampling_shapley(f, torch.zeros(3), torch.zeros(2, 3), n_permutations=0)


def test_weighted_ridge_equals_sklearn():
    from sklearn.linear_model import Ridge

    g = torch.Generator().manual_seed(0)
    Z, y, w = torch.randn(50, 4, generator=g), torch.randn(50, generator=g), torch.rand(50, generator=g)
    coef, intercept, score = weighted_ridge(Z, y, w, alpha=0.7)
    ref = Ridge(alpha=0.7).fit(Z.double().numpy(), y.double().numpy(), sample_weight=w.double().numpy())
    np.testing.assert_allclose(coef.numpy(), ref.coef_, atol=1e-10)
    assert abs(intercept - ref.intercept_) < 1e-10
    assert abs(score - ref.score(Z.double().numpy(), y.double().numpy(), sample_weight=w.double().numpy())) < 1e-10


def test_lime_tabular_recovers_a_linear_model_and_is_reproducible():
    g = torch.Generator().manual_seed(0)
    train = torch.randn(200, 3, generator=g, dtype=torch.float64) * torch.tensor([1.0, 3.0, 0.5],
                                                                                 dtype=torch.float64) + 2
    w = torch.tensor([2.0, -1.0, 0.5], dtype=torch.float64)
    f = lambda X: torch.stack([-(X @ w), X @ w], 1)  # noqa: E731 - two outputs; explain the second
    x = train[5]
    exp = lime_tabular(f, x, train, target=1, num_samples=500, alpha=0.0, seed=1)
    torch.testing.assert_close(exp.coef, w * train.std(0, unbiased=False))  # slope per standard deviation
    assert abs(exp.score - 1) < 1e-10 and abs(exp.local_prediction - float(x @ w)) < 1e-8
    d = exp.samples - exp.samples[0]
    torch.testing.assert_close(exp.weights, torch.sqrt(torch.exp(-(d.norm(dim=1) ** 2) / (0.75 * 3**0.5) ** 2)))
    assert exp.weights[0] == 1
    same = lime_tabular(f, x, train, target=1, num_samples=500, seed=1)
    other = lime_tabular(f, x, train, target=1, num_samples=500, seed=2)
    assert torch.equal(same.samples, exp.samples) and not torch.equal(other.samples, exp.samples)
    with pytest.raises(ConfigError, match="target"):
        lime_tabular(f, x, train, num_samples=10)
    with pytest.raises(ConfigError):
        lime_tabular(f, x, train, target=1, kernel_width=0.0)


def test_lime_image_recovers_segment_contributions():
    segments = patch_segments(6, 6, 3)
    assert segments.shape == (6, 6) and segments.max() == 3 and segments[0, 3] == 1 and segments[3, 0] == 2
    g = torch.Generator().manual_seed(0)
    A = torch.randn(2, 6, 6, generator=g, dtype=torch.float64)
    image = torch.rand(2, 6, 6, generator=g, dtype=torch.float64)
    f = lambda imgs: (imgs * A).sum((1, 2, 3))  # noqa: E731 - linear in the pixels
    exp = lime_image(f, image, segments, num_samples=64, alpha=0.0, fill=0.0, seed=0)
    per_segment = torch.stack([(A * image)[:, segments == k].sum() for k in range(4)])
    torch.testing.assert_close(exp.coef, per_segment)
    assert abs(exp.score - 1) < 1e-10 and exp.samples[0].eq(1).all()
    cos = 1 - exp.samples.sum(1) / (exp.samples.norm(dim=1) * 2).clamp_min(1e-12)  # all-off: distance 1
    torch.testing.assert_close(exp.weights, kernel_weights(cos, 0.25))
    again = lime_image(f, image, segments, num_samples=64, seed=0)
    assert torch.equal(again.samples, lime_image(f, image, segments, num_samples=64, seed=0).samples)
    with pytest.raises(ShapeError):
        lime_image(f, image, segments[:5], num_samples=8)


def test_superpixel_segments_cover_the_image():
    pytest.importorskip("skimage")
    from tensorprism.explain.lime import superpixel_segments

    img = torch.zeros(3, 20, 20)
    img[:, :, 10:] = 1.0
    seg = superpixel_segments(img, n_segments=4)
    assert seg.shape == (20, 20) and seg.min() == 0
    assert len(torch.unique(seg)) == int(seg.max()) + 1
