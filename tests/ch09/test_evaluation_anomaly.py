"""Representation evaluation (frozen eval-mode features, weighted kNN, linear probe), anomaly scores
and the dendrogram plot, on real digits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.neighbors import KNeighborsClassifier

from tensorprism.errors import ShapeError
from tensorprism.models import create_model
from tensorprism.unsupervised import PCA, AgglomerativeClustering
from tensorprism.unsupervised.anomaly import (
    knn_scores,
    one_class_auroc,
    pca_scores,
    reconstruction_scores,
)
from tensorprism.unsupervised.evaluation import (
    extract_features,
    knn_accuracy,
    knn_predict,
    linear_probe,
)


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    return torch.tensor(d.data, dtype=torch.float32), torch.tensor(d.target)


def test_knn_with_one_neighbour_equals_sklearn_cosine_1nn(digits):
    x, y = digits
    ours = knn_predict(x[:1200], y[:1200], x[1200:], k=1)
    sk = KNeighborsClassifier(1, metric="cosine").fit(x[:1200], y[:1200]).predict(x[1200:])
    assert (ours.numpy() == sk).mean() > 0.995  # ties in cosine distance may break differently


def test_weighted_knn_votes_by_exp_similarity():
    bank = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    labels = torch.tensor([0, 0, 1])
    q = torch.tensor([[0.2, 1.0]])
    # k=3: weights exp(cos/T); the single class-1 neighbour (cos 0.98) outweighs two class-0 ones
    assert knn_predict(bank, labels, q, k=3, temperature=0.1).item() == 1
    assert knn_predict(bank, labels, q, k=3, temperature=100.0).item() == 0  # near-uniform weights: majority
    with pytest.raises(ShapeError):
        knn_predict(bank, labels, torch.rand(2, 3))


def test_knn_and_linear_probe_on_digits(digits):
    x, y = digits
    assert knn_accuracy(x[:1200], y[:1200], x[1200:], y[1200:], k=20) > 0.9
    probe = linear_probe(x[:1200], y[:1200], x[1200:], y[1200:], epochs=20)
    assert probe["test_acc"] > 0.9


def test_erratum_linear_evaluation_keeps_the_encoder_in_eval_mode(digits):
    """Catalogue C9-28/C9-30, book L22133: the listing wraps the encoder in no_grad but leaves it in
    train mode, so BatchNorm's running statistics keep moving during "frozen" evaluation and the
    features depend on the batch. extract_features uses eval mode: statistics unchanged, features
    independent of the batch size, and the encoder's mode is restored."""
    x, y = digits
    images = x[:64].view(-1, 1, 8, 8) / 16
    enc = create_model("resnet20-cifar", in_chans=1, layers=(1, 1, 1))
    enc.reset_classifier(0)
    enc.train()
    stats = {k: v.clone() for k, v in enc.state_dict().items() if "running" in k}
    f_big, _ = extract_features(enc, torch.utils.data.TensorDataset(images, y[:64]), batch_size=64)
    f_small, labels = extract_features(enc, torch.utils.data.TensorDataset(images, y[:64]), batch_size=5)
    assert enc.training
    for k, v in stats.items():
        assert torch.equal(enc.state_dict()[k], v), k
    torch.testing.assert_close(f_big, f_small, atol=1e-5, rtol=1e-5)
    assert torch.equal(labels, y[:64])
    with torch.no_grad():  # the book's way changes the statistics
        enc(images)
    assert any(not torch.equal(enc.state_dict()[k], v) for k, v in stats.items())


def test_anomaly_scores_and_auroc(digits):
    x, y = digits
    normal = x[:900][y[:900] == 0]
    test_x, test_y = x[900:], y[900:].numpy()
    pca = pca_scores(normal.double(), test_x.double(), 0.9)
    p = PCA(0.9).fit(normal.double())
    manual = ((test_x.double().numpy() - p.inverse_transform(p.transform(test_x.double()))) ** 2).sum(1)
    np.testing.assert_allclose(pca, manual, rtol=1e-10)
    assert one_class_auroc(pca, test_y, 0) > 0.95
    assert one_class_auroc(knn_scores(normal, test_x, k=5), test_y, 0) > 0.95
    from sklearn.metrics import roc_auc_score

    assert one_class_auroc([0.1, 0.9, 0.8], [3, 1, 2], 3) == roc_auc_score([False, True, True], [0.1, 0.9, 0.8]) == 1.0


def test_reconstruction_scores_of_an_identity_model_are_zero(digits):
    x, _ = digits
    net = torch.nn.Sequential(torch.nn.Identity())
    assert float(reconstruction_scores(net, x[:10]).abs().max()) == 0.0


def test_dendrogram_plot(digits, tmp_path):
    from tensorprism.viz.clustering import plot_dendrogram

    ag = AgglomerativeClustering(3, linkage="ward").fit(digits[0][:40].numpy())
    fig = plot_dendrogram(ag.linkage_matrix_, n_clusters=3)
    fig.savefig(tmp_path / "d.png")
    assert (tmp_path / "d.png").stat().st_size > 1000
    with pytest.raises(ShapeError):
        plot_dendrogram(np.zeros((3, 3)))
