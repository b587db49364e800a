import pytest
import torch

import tensorprism.functional.backprop as B
from tensorprism.nn.mlp import MLP

D = torch.float64


def _params(sizes, seed=0):
    g = torch.Generator().manual_seed(seed)
    ws = [torch.randn(o, i, dtype=D, generator=g) / i**0.5 for i, o in zip(sizes[:-1], sizes[1:], strict=True)]
    bs = [0.1 * torch.randn(o, dtype=D, generator=g) for o in sizes[1:]]
    return ws, bs


def _autograd_grads(x, y, ws, bs, activation, head):
    ws = [w.clone().requires_grad_(True) for w in ws]
    bs = [b.clone().requires_grad_(True) for b in bs]
    m = MLP(ws[0].shape[1], [w.shape[0] for w in ws[:-1]], ws[-1].shape[0], activation=activation, head=head).double()
    linears = [l for l in m.modules() if isinstance(l, torch.nn.Linear)]
    with torch.no_grad():
        for lin, w, b in zip(linears, ws, bs, strict=True):
            lin.weight.copy_(w)
            lin.bias.copy_(b)
    target = y if head == "multiclass" else y.to(D).reshape(x.shape[0], -1)
    loss = m.loss_fn()(m(x), target)
    loss.backward()
    return loss, [l.weight.grad for l in linears], [l.bias.grad for l in linears]


@pytest.mark.parametrize(
    "sizes, activation, head",
    [
        ((5, 7, 4), "sigmoid", "multiclass"),
        ((5, 7, 4), "relu", "multiclass"),
        ((5, 6, 3, 4), "tanh", "multiclass"),
        ((5, 7, 1), "tanh", "binary"),
        ((5, 7, 3), "elu", "multilabel"),
        ((5, 7, 2), "mish", "regression"),
    ],
)
def test_hand_backprop_matches_autograd(sizes, activation, head):
    x = torch.randn(9, sizes[0], dtype=D)
    if head == "multiclass":
        y = torch.randint(0, sizes[-1], (9,))
    elif head == "regression":
        y = torch.randn(9, sizes[-1], dtype=D)
    else:
        y = torch.randint(0, 2, (9, sizes[-1])).to(D)
    ws, bs = _params(sizes)
    cache = B.mlp_forward(x, ws, bs, activation)
    gw, gb = B.mlp_backward(cache, y, ws, activation, head)
    loss, ref_w, ref_b = _autograd_grads(x, y, ws, bs, activation, head)
    torch.testing.assert_close(B.loss_from_logits(cache.logits, y, head), loss.detach())
    for a, e in zip(gw + gb, ref_w + ref_b, strict=True):
        torch.testing.assert_close(a, e)


def test_exercise7_manual_update_equals_torch_sgd_for_several_steps():
    x = torch.randn(16, 4, dtype=D)
    y = torch.randint(0, 3, (16,))
    ws, bs = _params((4, 8, 3))
    m = MLP(4, (8,), 3).double()
    lins = [m.features[0], m.head]
    with torch.no_grad():
        for lin, w, b in zip(lins, ws, bs, strict=True):
            lin.weight.copy_(w)
            lin.bias.copy_(b)
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    for _ in range(5):
        ws, bs, loss = B.train_step(x, y, ws, bs, lr=0.1)
        opt.zero_grad()
        ref = torch.nn.functional.cross_entropy(m(x), y)
        ref.backward()
        opt.step()
        torch.testing.assert_close(loss, ref.detach())
    torch.testing.assert_close(ws[0], m.features[0].weight.detach())
    torch.testing.assert_close(bs[1], m.head.bias.detach())


def test_erratum_softmax_output_delta_needs_the_jacobian_L3363():
    """Book L2559/L3363: δ = ∂L/∂ŷ ⊙ f'(z) is wrong for softmax (outputs are coupled); the
    Jacobian-vector product gives δ = ŷ − y."""
    z = torch.tensor([[0.3, -1.2, 2.0]], dtype=D, requires_grad=True)
    y = torch.tensor([0])
    torch.nn.functional.cross_entropy(z, y).backward()
    torch.testing.assert_close(B.output_delta(z.detach(), y, "multiclass"), z.grad)
    book = B.output_delta_elementwise(z.detach(), y)
    assert not torch.allclose(book, z.grad, atol=1e-3)
    assert book[0, 1].item() == 0.0 and z.grad[0, 1].item() > 0.01  # wrong class gets no push


def test_exercise8_forward_pass_values():
    x = torch.tensor([[1.0, 2.0, 3.0]], dtype=D)
    w1 = torch.tensor([[0.2, -0.1, 0.4], [0.5, 0.3, -0.2], [-0.3, 0.6, 0.1], [0.1, -0.4, 0.2]], dtype=D)
    w2 = torch.tensor([[0.3, -0.6, 0.1, 0.5], [-0.2, 0.4, 0.7, -0.3]], dtype=D)
    cache = B.mlp_forward(x, [w1, w2], [torch.zeros(4, dtype=D), torch.zeros(2, dtype=D)], "relu")
    torch.testing.assert_close(cache.preacts[0], torch.tensor([[1.2, 0.5, 1.2, -0.1]], dtype=D))
    torch.testing.assert_close(cache.inputs[1], torch.tensor([[1.2, 0.5, 1.2, 0.0]], dtype=D))
    torch.testing.assert_close(cache.logits, torch.tensor([[0.18, 0.80]], dtype=D))
    torch.testing.assert_close(torch.softmax(cache.logits, -1), torch.tensor([[0.34978, 0.65022]], dtype=D), atol=1e-5, rtol=0)


@pytest.mark.parametrize("activation, ce", [("relu", 0.65395), ("sigmoid", 0.56491)])
def test_exercise11_cross_entropy_with_label_1_0(activation, ce):
    x = torch.tensor([[0.5, -0.5]], dtype=D)
    w1 = torch.tensor([[0.1, -0.3], [0.2, 0.4], [-0.5, 0.1]], dtype=D)
    w2 = torch.tensor([[0.3, -0.2, 0.5], [-0.1, 0.4, -0.3]], dtype=D)
    cache = B.mlp_forward(x, [w1, w2], [torch.zeros(3, dtype=D), torch.zeros(2, dtype=D)], activation)
    loss = B.loss_from_logits(cache.logits, torch.tensor([[1.0, 0.0]], dtype=D), "multiclass")
    assert loss.item() == pytest.approx(ce, abs=1e-5)
    assert loss.item() == pytest.approx(torch.nn.functional.cross_entropy(cache.logits, torch.tensor([0])).item())
