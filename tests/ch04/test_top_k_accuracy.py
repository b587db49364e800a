"""Top-k accuracy against scikit-learn's ``top_k_accuracy_score`` and torchmetrics."""

import pytest
import torch

from tensorprism.errors import ConfigError, ShapeError
from tensorprism.metrics.classification import top_k_accuracy


@pytest.mark.parametrize("k", [1, 3, 5])
def test_top_k_accuracy_equals_sklearn_and_torchmetrics(k):
    metrics = pytest.importorskip("sklearn.metrics")
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(300, 10, generator=g, dtype=torch.float64)
    target = torch.randint(10, (300,), generator=g)
    ours = top_k_accuracy(scores, target, k)
    assert ours == pytest.approx(metrics.top_k_accuracy_score(target.numpy(), scores.numpy(), k=k, labels=range(10)))
    tm = pytest.importorskip("torchmetrics.classification")
    assert ours == pytest.approx(float(tm.MulticlassAccuracy(10, top_k=k, average="micro")(scores, target)))


def test_ties_count_for_the_true_class_and_k_equal_classes_is_one():
    scores = torch.tensor([[0.5, 0.5, 0.1], [0.9, 0.0, 0.0]])
    assert top_k_accuracy(scores, torch.tensor([1, 2]), k=1) == 0.5  # the tie at the top counts
    assert top_k_accuracy(scores, torch.tensor([2, 1]), k=3) == 1.0


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ConfigError, match="between 1 and the 3 classes"):
        top_k_accuracy(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), k=5)
    with pytest.raises(ShapeError, match="empty"):
        top_k_accuracy(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long), k=1)
    with pytest.raises(ShapeError, match="class indices"):
        top_k_accuracy(torch.zeros(1, 3), torch.tensor([3]), k=1)
