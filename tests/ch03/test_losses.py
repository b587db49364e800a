import pytest
import torch
import torch.nn as nn

import tensorprism.functional.losses as L
from tensorprism.losses import BinaryHingeLoss, SquaredErrorLoss, binary_hinge_loss, head_loss

D = torch.float64
REDUCTIONS = ["mean", "sum", "none"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_losses_equal_torch(reduction):
    pred, target = torch.randn(7, 3, dtype=D), torch.randn(7, 3, dtype=D) * 2
    torch.testing.assert_close(L.mse(pred, target, reduction), nn.MSELoss(reduction=reduction)(pred, target))
    torch.testing.assert_close(L.mae(pred, target, reduction), nn.L1Loss(reduction=reduction)(pred, target))
    torch.testing.assert_close(L.huber(pred, target, 0.7, reduction), nn.HuberLoss(reduction, delta=0.7)(pred, target))


def test_mse_normalisations_and_their_gradients():
    """½·sum has gradient ŷ − y; sum has 2(ŷ − y); mean has 2(ŷ − y)/n."""
    pred = torch.randn(5, dtype=D, requires_grad=True)
    target = torch.randn(5, dtype=D)
    for reduction, scale in (("half_sum", 1.0), ("sum", 2.0), ("mean", 2.0 / 5)):
        (g,) = torch.autograd.grad(SquaredErrorLoss(reduction)(pred, target), pred)
        torch.testing.assert_close(g, scale * (pred - target).detach())
        torch.testing.assert_close(L.mse(pred, target, reduction), SquaredErrorLoss(reduction)(pred, target))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_probabilities_and_logits_equal_torch(reduction):
    z = torch.randn(6, 4, dtype=D) * 5
    y = torch.randint(0, 2, (6, 4)).to(D)
    w = torch.rand(6, 4, dtype=D)
    torch.testing.assert_close(L.bce(torch.sigmoid(z), y, w, reduction), nn.BCELoss(w, reduction=reduction)(torch.sigmoid(z), y))
    pw = torch.tensor([1.0, 2.0, 0.5, 3.0], dtype=D)
    torch.testing.assert_close(L.bce_with_logits(z, y, pw, reduction), nn.BCEWithLogitsLoss(reduction=reduction, pos_weight=pw)(z, y))


def test_bce_with_logits_is_stable_where_probabilities_saturate():
    z = torch.tensor([200.0, -200.0], dtype=torch.float32)
    y = torch.tensor([0.0, 1.0])
    assert L.bce_with_logits(z, y).item() == pytest.approx(200.0)
    assert L.bce(torch.sigmoid(z), y).item() == pytest.approx(100.0)  # clamped: information lost


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_from_logits_equals_torch(smoothing, weighted, reduction):
    z = torch.randn(10, 5, dtype=D) * 3
    y = torch.randint(0, 5, (10,))
    w = torch.rand(5, dtype=D) + 0.2 if weighted else None
    ref = nn.CrossEntropyLoss(weight=w, label_smoothing=smoothing, reduction=reduction)(z, y)
    torch.testing.assert_close(L.cross_entropy(z, y, w, smoothing, reduction), ref)


@pytest.mark.filterwarnings("ignore:reduction. .mean. divides")
@pytest.mark.parametrize("reduction", ["batchmean", "sum", "mean", "none"])
def test_kl_divergence_equals_torch(reduction):
    log_q = torch.log_softmax(torch.randn(4, 6, dtype=D), -1)
    p = torch.softmax(torch.randn(4, 6, dtype=D), -1)
    p[0, 0] = 0.0
    torch.testing.assert_close(L.kl_div(log_q, p, reduction), nn.KLDivLoss(reduction=reduction)(log_q, p))


def test_hinge_losses():
    z = torch.randn(8, 4, dtype=D)
    y = torch.randint(0, 4, (8,))
    torch.testing.assert_close(L.multiclass_hinge(z, y, 1.0), nn.MultiMarginLoss()(z, y))
    scores = torch.tensor([2.0, 0.5, -0.3, -2.0])
    labels = torch.tensor([1, 1, 0, 0])  # 0/1 mapped to -1/+1
    torch.testing.assert_close(binary_hinge_loss(scores, labels, reduction="none"), torch.tensor([0.0, 0.5, 0.7, 0.0]))
    torch.testing.assert_close(BinaryHingeLoss()(scores, 2 * labels - 1), torch.tensor(0.3))


def test_head_loss_mapping():
    assert isinstance(head_loss("multiclass", label_smoothing=0.1), nn.CrossEntropyLoss)
    assert isinstance(head_loss("multilabel"), nn.BCEWithLogitsLoss)
    assert isinstance(head_loss("regression"), nn.MSELoss)
    with pytest.raises(ValueError, match="unknown head"):
        head_loss("ordinal")
