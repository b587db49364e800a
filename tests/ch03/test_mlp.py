import pytest
import torch

from tensorprism import count_parameters, create_model
from tensorprism.errors import ConfigError, ShapeError
from tensorprism.nn.mlp import MLP


@pytest.mark.parametrize(
    "name, params",
    [("mlp", 17_226), ("mlp-mnist", 109_386), ("mlp-mnist-bn", 109_770), ("mlp-xor", 9)],
)
def test_registered_mlp_parameter_counts(name, params):
    assert count_parameters(create_model(name)) == params


def test_book_reference_mlp_100_64_32_10_has_8874_parameters():
    """Book L2730-2748: W1 64x100, W2 32x64, W3 10x32 (catalogue L4)."""
    m = MLP(100, (64, 32), 10)
    assert [tuple(p.shape) for p in m.parameters() if p.dim() == 2] == [(64, 100), (32, 64), (10, 32)]
    assert count_parameters(m) == 8_874


def test_exercise2_parameter_count_5_10_10_10_1_is_291():
    assert count_parameters(MLP(5, (10, 10, 10), 1, head="regression")) == 291


def test_mlp_returns_logits_not_probabilities():
    """Erratum (book L4598, L4789): the book ends its PyTorch MLP with nn.Softmax before
    CrossEntropyLoss. Our models return logits; the softmax only appears in predict_proba."""
    m = create_model("mlp-mnist").eval()
    x = torch.randn(8, 784)
    logits = m(x)
    assert not torch.allclose(logits.sum(-1), torch.ones(8))
    assert not any(isinstance(layer, torch.nn.Softmax) for layer in m.modules())
    torch.testing.assert_close(m.predict_proba(logits).sum(-1), torch.ones(8))


def test_erratum_softmax_before_cross_entropy_squashes_gradients():
    """Erratum (book L4168, L4293, L4598): CrossEntropyLoss(softmax(z)) applies softmax twice;
    its gradient w.r.t. the logits is smaller than the correct p - y for a confident mistake."""
    z = torch.tensor([[8.0, 0.0, 0.0]], requires_grad=True)
    y = torch.tensor([1])
    torch.nn.functional.cross_entropy(z, y).backward()
    right = z.grad.clone()
    z.grad = None
    torch.nn.functional.cross_entropy(torch.softmax(z, -1), y).backward()
    torch.testing.assert_close(right, torch.softmax(z.detach(), -1) - torch.eye(3)[y])
    assert z.grad.abs().max() < 0.01 * right.abs().max()


@pytest.mark.parametrize(
    "head, out, target, loss_cls",
    [
        ("multiclass", 4, torch.tensor([0, 1, 2, 3, 0]), torch.nn.CrossEntropyLoss),
        ("binary", 1, torch.tensor([[0.0], [1.0], [1.0], [0.0], [1.0]]), torch.nn.BCEWithLogitsLoss),
        ("multilabel", 3, torch.randint(0, 2, (5, 3)).float(), torch.nn.BCEWithLogitsLoss),
        ("regression", 2, torch.randn(5, 2), torch.nn.MSELoss),
    ],
)
def test_each_head_has_a_logit_loss_and_trains(head, out, target, loss_cls):
    m = MLP(6, (16,), out, head=head)
    loss_fn = m.loss_fn()
    assert isinstance(loss_fn, loss_cls)
    x = torch.randn(5, 6)
    opt = torch.optim.Adam(m.parameters(), lr=0.05)
    first = loss_fn(m(x), target).item()
    for _ in range(60):
        opt.zero_grad()
        loss = loss_fn(m(x), target)
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first
    pred = m.predict(m(x))
    assert pred.shape[0] == 5


def test_norm_position_and_dropout_layout():
    before = MLP(4, (8,), 2, norm="batch", dropout=0.5)
    after = MLP(4, (8,), 2, norm="layer", norm_position="after")
    assert [type(l).__name__ for l in before.features] == ["Linear", "BatchNorm1d", "ReLU", "Dropout"]
    assert [type(l).__name__ for l in after.features] == ["Linear", "ReLU", "LayerNorm"]


def test_mlp_flattens_images_and_rejects_wrong_width():
    m = create_model("mlp-mnist")
    assert m(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    with pytest.raises(ShapeError, match="784 features"):
        m(torch.randn(2, 100))


def test_mlp_config_errors_are_helpful():
    with pytest.raises(ConfigError, match="binary head has 1 output"):
        MLP(4, (8,), 3, head="binary")
    with pytest.raises(ConfigError, match="drop probability"):
        MLP(4, (8,), 3, dropout=1.5)
    with pytest.raises(ConfigError, match="did you mean 'relu'|Did you mean 'relu'"):
        MLP(4, (8,), 3, activation="reluu")


def test_custom_callable_activation_is_accepted():
    """Book L3221/L3266: user-defined activations (Swish, Mish) passed as functions."""
    m = MLP(3, (5,), 2, activation=lambda z: z * torch.sigmoid(z))
    assert m(torch.randn(4, 3)).shape == (4, 2)


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")
def test_sparse_linear_equals_dense_linear_on_bag_of_words_forward_and_backward():
    from tensorprism.nn.mlp import SparseLinear

    torch.manual_seed(0)
    dense = torch.zeros(3, 10, dtype=torch.float64)
    dense[0, [1, 4]] = torch.tensor([0.5, 2.0], dtype=torch.float64)
    dense[2, [0, 4, 9]] = torch.tensor([1.0, 1.0, 3.0], dtype=torch.float64)  # sample 1 is empty
    sp = dense.to_sparse_csr()
    indices, offsets, values = sp.col_indices(), sp.crow_indices()[:-1], sp.values()
    layer = SparseLinear(10, 4).double()
    lin = torch.nn.Linear(10, 4).double()
    with torch.no_grad():
        lin.weight.copy_(layer.weight.T)
        lin.bias.copy_(layer.bias)
    out = layer((indices, offsets, values))
    torch.testing.assert_close(out, lin(dense))
    g = torch.randn_like(out)
    (gw,) = torch.autograd.grad(out, layer.weight, g)
    (gl,) = torch.autograd.grad(lin(dense), lin.weight, g)
    torch.testing.assert_close(gw, gl.T)
    m = MLP(10, (6,), 2, sparse_input=True).double()
    assert m((indices, offsets, values)).shape == (3, 2)


@pytest.mark.parametrize(
    "sizes, params, where",
    [
        ((2, 3, 1), 13, "toy MLP L2530-2540"),
        ((3, 4, 4, 2), 46, "Fig. 3.1 caption L2522"),
        ((100, 64, 1), 6_529, "listing C5 L2905"),
        ((100, 64, 32, 1), 8_577, "listing C7 L2997"),
        ((784, 128, 64, 10), 109_386, "MNIST listing C36 L4474"),
    ],
)
def test_book_network_parameter_counts(sizes, params, where):
    assert count_parameters(MLP(sizes[0], sizes[1:-1], sizes[-1], head="regression")) == params, where


def test_book_sentiment_listing_c1_has_250521_parameters():
    """L2579-2604: Embedding(5000, 50) → GlobalAveragePooling1D → Dense 10 ReLU → Dense 1 sigmoid."""
    emb = torch.nn.Embedding(5000, 50)
    head = MLP(50, (10,), 1, head="binary")
    assert count_parameters(emb) + count_parameters(head) == 250_521
    tokens = torch.randint(0, 5000, (4, 100))
    assert head(emb(tokens).mean(1)).shape == (4, 1)  # (B, T, D) → mean over T → (B, D)


def test_exercise1_and_3_layer_shapes():
    """Ex. 1: x ∈ R^4 into 5 neurons → W ∈ R^{5×4}, b ∈ R^5. Ex. 3: 3 classes → 3 output units + softmax."""
    m = MLP(4, (5,), 3)
    assert tuple(m.features[0].weight.shape) == (5, 4) and tuple(m.features[0].bias.shape) == (5,)
    probs = m.predict_proba(m(torch.randn(2, 4)))
    assert probs.shape == (2, 3)
    torch.testing.assert_close(probs.sum(-1), torch.ones(2))


def test_sparse_input_dropout_drops_words_only_in_training():
    m = MLP(10, (4,), 2, sparse_input=True, input_dropout=0.5)
    x = (torch.tensor([1, 3, 5, 7]), torch.tensor([0, 2]), torch.ones(4))
    m.eval()
    a, b = m(x), m(x)
    torch.testing.assert_close(a, b)
    m.train()
    outs = torch.stack([m(x) for _ in range(20)])
    assert outs.std(0).max() > 0  # stochastic in training
