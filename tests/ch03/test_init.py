import math

import pytest
import torch
import torch.nn as nn

from tensorprism.errors import ConfigError
from tensorprism.nn.init import INITIALIZERS, expected_variance, fans, init_weights
from tensorprism.nn.mlp import MLP

CASES = [
    ("xavier_uniform", {}),
    ("xavier_normal", {}),
    ("kaiming_uniform", {}),
    ("kaiming_normal", {}),
    ("kaiming_normal", {"mode": "fan_out"}),
    ("kaiming_uniform", {"nonlinearity": "leaky_relu", "a": 0.2}),
    ("lecun_uniform", {}),
    ("lecun_normal", {}),
    ("orthogonal", {}),
    ("normal", {"std": 0.1}),
    ("uniform", {"a": 0.3}),
]


@pytest.mark.parametrize("scheme, kw", CASES)
def test_each_scheme_produces_its_variance(scheme, kw):
    w = torch.empty(300, 500)
    INITIALIZERS[scheme](w, **kw)
    expected = expected_variance(scheme, 500, 300, **kw)
    assert abs(w.mean().item()) < 0.05 * math.sqrt(expected)
    assert w.var().item() == pytest.approx(expected, rel=0.02)


def test_book_bounds_for_a_100_to_50_layer():
    """Book L3614 and L3626: Xavier bound √6/√150 = 0.2, He bound √(6/100) ≈ 0.2449."""
    w = torch.empty(50, 100)
    INITIALIZERS["xavier_uniform"](w)
    assert w.abs().max().item() <= 0.2 and w.abs().max().item() > 0.19
    INITIALIZERS["kaiming_uniform"](w)
    assert w.abs().max().item() <= math.sqrt(6 / 100) and w.abs().max().item() > 0.24


def test_fans_of_conv_weight():
    assert fans(torch.empty(16, 3, 5, 5)) == (75, 400)


def test_constant_and_orthogonal():
    w = torch.empty(6, 4)
    INITIALIZERS["constant"](w, value=0.3)
    assert torch.all(w == 0.3)
    INITIALIZERS["orthogonal"](w)
    torch.testing.assert_close(w.T @ w, torch.eye(4), atol=1e-5, rtol=0)


def test_init_weights_on_a_model_sets_weights_and_biases():
    m = MLP(400, (300,), 200, norm="batch")
    init_weights(m, "kaiming_normal", bias=0.0)
    first = m.features[0]
    assert first.weight.var().item() == pytest.approx(2 / 400, rel=0.05)
    assert torch.all(first.bias == 0)
    assert torch.all(m.features[1].weight == 1)  # batch-norm γ untouched
    init_weights(m, "normal", std=0.1, bias=None)
    assert m.head.weight.std().item() == pytest.approx(0.1, rel=0.05)
    with pytest.raises(ConfigError, match="Did you mean 'xavier_uniform'"):
        init_weights(m, "xavier_uniforn")
    with pytest.raises(ConfigError, match="no Linear"):
        init_weights(nn.ReLU(), "zeros")


def test_erratum_variance_argument_L3658_he_keeps_relu_signal_xavier_decays():
    """Book L3656-3668 garbles the variance argument (Var(Wx) = Var(x)/n_in). Stated correctly: with ReLU, Var(W) = 2/n_in keeps the
    second moment of activations constant; Glorot's 2/(n_in+n_out) = 1/n for square layers halves it
    at every layer."""
    torch.manual_seed(0)
    x = torch.randn(2000, 256)

    def final_second_moment(scheme):
        h = x
        for _ in range(20):
            w = torch.empty(256, 256)
            INITIALIZERS[scheme](w)
            h = torch.relu(h @ w.T)
        return h.pow(2).mean().item()

    he, xavier = final_second_moment("kaiming_normal"), final_second_moment("xavier_normal")
    assert 0.3 < he < 3.0  # E[relu(z)^2] = 1 in expectation at every layer
    assert xavier < 1e-4


def test_exercise10_embedding_normal_std_0p1_lookup():
    """Exercise 10 (L5005): E ∈ R^{5×2} ~ N(0, 0.1²), look up [2, 3, 1, 4, 0]."""
    torch.manual_seed(42)
    emb = init_weights(nn.Embedding(5, 2), "normal", std=0.1)
    idx = torch.tensor([2, 3, 1, 4, 0])
    torch.testing.assert_close(emb(idx), emb.weight[idx])
    torch.manual_seed(42)
    again = init_weights(nn.Embedding(5, 2), "normal", std=0.1)
    assert torch.equal(again.weight, emb.weight)  # seeded → reproducible


def test_exercise9_one_hot_and_embedding_lookup_agree():
    letters = ["A", "C", "D", "B", "A"]
    idx = torch.tensor(["ABCD".index(c) for c in letters])
    one_hot = torch.nn.functional.one_hot(idx, 4).double()
    assert one_hot.argmax(1).tolist() == [0, 2, 3, 1, 0]
    e = torch.tensor([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6], [0.7, 0.8, 0.9], [1.0, 1.1, 1.2]], dtype=torch.float64)
    emb = nn.Embedding.from_pretrained(e)
    torch.testing.assert_close(one_hot @ e, emb(idx))
    torch.testing.assert_close(emb(idx)[1], torch.tensor([0.7, 0.8, 0.9], dtype=torch.float64))
