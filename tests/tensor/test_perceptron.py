"""The perceptron rule (Ch. 1, J1-J2): convergence on separable data, scikit-learn as the oracle,
the XOR failure and a two-layer network that fits XOR."""

import warnings

import pytest
import torch

from tensorprism.errors import DataError, ShapeError
from tensorprism.functional.perceptron import perceptron_fit, perceptron_predict
from tensorprism.nn.mlp import MLP

XOR_X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = torch.tensor([0.0, 1.0, 1.0, 0.0])


@pytest.mark.parametrize("gate,labels", [("and", [0, 0, 0, 1]), ("or", [0, 1, 1, 1])])
def test_perceptron_learns_and_or(gate, labels):
    y = torch.tensor(labels, dtype=torch.float32)
    res = perceptron_fit(XOR_X, y, lr=1.0, epochs=50)
    assert res.converged and res.mistakes[-1] == 0
    assert torch.equal(perceptron_predict(XOR_X.double(), res.weight, res.bias), y.double())


def test_perceptron_rule_equals_scikit_learn_perceptron():
    """Same start, same order, η = 1: the weights after every epoch equal sklearn's ``Perceptron``."""
    sk = pytest.importorskip("sklearn.linear_model")
    g = torch.Generator().manual_seed(0)
    x = torch.randn(60, 3, generator=g, dtype=torch.float64)
    y = (x @ torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64) + 0.3 > 0).double()
    w0 = torch.randn(3, generator=g, dtype=torch.float64) * 0.1
    b0 = 0.05
    for epochs in (1, 3):
        ours = perceptron_fit(x, y, lr=1.0, epochs=epochs, weight=w0, bias=b0)
        ref = sk.Perceptron(eta0=1.0, max_iter=epochs, tol=None, shuffle=False, penalty=None)
        with warnings.catch_warnings():  # sklearn warns that max_iter was reached (tol=None)
            warnings.simplefilter("ignore")
            ref.fit(x.numpy(), y.numpy(), coef_init=w0.numpy()[None, :].copy(), intercept_init=[b0])
        torch.testing.assert_close(ours.weight, torch.as_tensor(ref.coef_[0]))
        assert float(ours.bias) == pytest.approx(float(ref.intercept_[0]))


def test_xor_is_not_learnable_by_one_perceptron_but_is_by_two_layers():
    """J2 (l.594-606): every epoch on XOR makes a mistake, for any number of epochs; a 2-8-1 network
    trained with Adam fits it exactly."""
    res = perceptron_fit(XOR_X, XOR_Y, epochs=200)
    assert not res.converged and min(res.mistakes) >= 1
    assert (perceptron_predict(XOR_X.double(), res.weight, res.bias) != XOR_Y.double()).any()
    torch.manual_seed(0)
    mlp = MLP(2, [8], 1, activation="tanh", head="binary")
    opt = torch.optim.Adam(mlp.parameters(), lr=0.05)
    loss_fn = mlp.loss_fn()
    for _ in range(300):
        opt.zero_grad()
        loss = loss_fn(mlp(XOR_X).squeeze(-1), XOR_Y)
        loss.backward()
        opt.step()
    assert torch.equal((mlp(XOR_X).squeeze(-1) > 0).float(), XOR_Y)


def test_perceptron_rejects_bad_labels_and_shapes():
    with pytest.raises(DataError, match="0 or 1"):
        perceptron_fit(XOR_X, torch.tensor([-1.0, 1.0, 1.0, -1.0]))
    with pytest.raises(ShapeError):
        perceptron_fit(XOR_X, XOR_Y[:3])
    with pytest.raises(DataError, match="at least one"):
        perceptron_fit(torch.zeros(0, 2), torch.zeros(0))
