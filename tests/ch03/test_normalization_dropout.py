import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import tensorprism.functional.dropout as D
import tensorprism.functional.normalization as N
from tensorprism.errors import ConfigError, ShapeError
from tensorprism.nn.dropout import ClassicDropout
from tensorprism.nn.normalization import make_norm


@pytest.mark.parametrize("shape, momentum", [((16, 5), 0.1), ((8, 3, 7), 0.3), ((4, 3, 5, 6), None)])
def test_batch_norm_reference_equals_torch_train_running_stats_and_eval(shape, momentum):
    c = shape[1]
    bn = getattr(nn, f"BatchNorm{max(len(shape) - 2, 1)}d")(c, momentum=momentum).double()
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
    w = bn.weight.detach().clone().requires_grad_(True)
    b = bn.bias.detach().clone().requires_grad_(True)
    rm, rv, nbt = torch.zeros(c, dtype=torch.float64), torch.ones(c, dtype=torch.float64), torch.tensor(0)
    for _ in range(4):  # several training steps: running stats must track exactly
        x = (3 * torch.randn(*shape, dtype=torch.float64) + 2).requires_grad_(True)
        ours = N.batch_norm(x, rm, rv, w, b, True, momentum, 1e-5, nbt)
        ref = bn(x)
        torch.testing.assert_close(ours, ref)
        g = torch.randn_like(ours)
        got = torch.autograd.grad(ours, (x, w, b), g)
        exp = torch.autograd.grad(ref, (x, bn.weight, bn.bias), g)
        for a, e in zip(got, exp, strict=True):
            torch.testing.assert_close(a, e)
    torch.testing.assert_close(rm, bn.running_mean)
    torch.testing.assert_close(rv, bn.running_var)
    assert int(nbt) == int(bn.num_batches_tracked) == 4
    bn.eval()
    x = torch.randn(*shape, dtype=torch.float64)
    torch.testing.assert_close(N.batch_norm(x, rm, rv, w, b, training=False), bn(x))


def test_batch_norm_without_running_stats_and_single_value_error():
    x = torch.randn(6, 4, dtype=torch.float64)
    bn = nn.BatchNorm1d(4, affine=False, track_running_stats=False).double().eval()
    torch.testing.assert_close(N.batch_norm(x, None, None, training=False), bn(x))
    with pytest.raises(ShapeError, match="more than 1 value per channel"):
        N.batch_norm(torch.randn(1, 4), torch.zeros(4), torch.ones(4))


def test_erratum_batch_norm_population_statistics_L4246():
    """Book L4246-4248: plain means over batches and a law-of-total-variance of biased batch
    variances. PyTorch keeps an EMA (momentum 0.1) of the *unbiased* batch variance; the two
    estimators differ, so the book's formula must not be expected to match frameworks."""
    torch.manual_seed(1)
    batches = [torch.randn(8, 3, dtype=torch.float64) * (1 + k) + k for k in range(5)]
    means = torch.stack([b.mean(0) for b in batches])
    vars_ = torch.stack([b.var(0, unbiased=False) for b in batches])
    mu_book, var_book = N.book_population_statistics(means, vars_)
    pooled = torch.cat(batches)
    torch.testing.assert_close(mu_book, pooled.mean(0))
    torch.testing.assert_close(var_book, pooled.var(0, unbiased=False))  # equal-size batches
    bn = nn.BatchNorm1d(3, affine=False).double()
    for b in batches:
        bn(b)
    assert not torch.allclose(bn.running_mean, mu_book, rtol=0.05)
    assert not torch.allclose(bn.running_var, var_book, rtol=0.05)
    cma = nn.BatchNorm1d(3, affine=False, momentum=None).double()  # cumulative average variant
    for b in batches:
        cma(b)
    torch.testing.assert_close(cma.running_mean, mu_book)
    torch.testing.assert_close(cma.running_var, (vars_ * 8 / 7).mean(0))  # still ≠ the book's


@pytest.mark.parametrize("shape, norm_shape", [((4, 10), (10,)), ((2, 5, 6, 7), (6, 7))])
def test_layer_norm_reference_equals_torch(shape, norm_shape):
    ln = nn.LayerNorm(norm_shape).double()
    with torch.no_grad():
        ln.weight.normal_()
        ln.bias.normal_()
    x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    ours = N.layer_norm(x, norm_shape, ln.weight, ln.bias)
    torch.testing.assert_close(ours, ln(x))
    g = torch.randn_like(ours)
    torch.testing.assert_close(torch.autograd.grad(ours, x, g)[0], torch.autograd.grad(ln(x), x, g)[0])


def test_group_norm_reference_equals_torch():
    gn = nn.GroupNorm(3, 6).double()
    with torch.no_grad():
        gn.weight.normal_()
        gn.bias.normal_()
    x = torch.randn(2, 6, 4, 5, dtype=torch.float64)
    torch.testing.assert_close(N.group_norm(x, 3, gn.weight, gn.bias), gn(x))
    with pytest.raises(ShapeError, match="not divisible"):
        N.group_norm(x, 4)


def test_instance_norm_reference_equals_torch_with_running_stats():
    inorm = nn.InstanceNorm2d(3, affine=True, track_running_stats=True).double()
    rm, rv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    for _ in range(3):
        x = torch.randn(4, 3, 5, 5, dtype=torch.float64) * 2 + 1
        torch.testing.assert_close(N.instance_norm(x, rm, rv, inorm.weight, inorm.bias), inorm(x))
    torch.testing.assert_close(rm, inorm.running_mean)
    torch.testing.assert_close(rv, inorm.running_var)
    inorm.eval()
    x = torch.randn(2, 3, 5, 5, dtype=torch.float64)
    torch.testing.assert_close(N.instance_norm(x, rm, rv, inorm.weight, inorm.bias, use_input_stats=False), inorm(x))


def test_make_norm_kinds_and_errors():
    assert isinstance(make_norm("batch", 8, dims=2), nn.BatchNorm2d)
    assert isinstance(make_norm(None, 8), nn.Identity)
    assert isinstance(make_norm("group", 8, num_groups=4), nn.GroupNorm)
    with pytest.raises(ConfigError, match="divisible"):
        make_norm("group", 6, num_groups=4)
    with pytest.raises(ConfigError, match="unknown norm"):
        make_norm("batchnorm", 6)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_inverted_dropout_reference_equals_torch_bit_for_bit(p):
    x = torch.randn(64, 33)
    torch.manual_seed(7)
    ref = F.dropout(x, p, training=True)
    torch.manual_seed(7)
    ours = D.inverted_dropout(x, p)
    assert torch.equal(ours, ref)
    assert torch.equal(D.inverted_dropout(x, p, training=False), x)


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_alpha_dropout_reference_equals_torch_and_keeps_selu_statistics(p):
    x = torch.randn(50_000)
    torch.manual_seed(3)
    ref = F.alpha_dropout(x, p, training=True)
    torch.manual_seed(3)
    ours = D.alpha_dropout(x, p)
    torch.testing.assert_close(ours, ref)
    assert abs(ours.mean().item()) < 0.02 and abs(ours.std().item() - 1) < 0.02


def test_erratum_dropout_probability_convention_L4113():
    """Book L4113-4127 uses p = probability of *keeping* a unit (test-time scaling by p) while its
    listings pass nn.Dropout(0.5) / Dropout(0.5), where the argument is the *drop* probability.
    Our p is the drop probability; ClassicDropout(keep) implements the text's version. Both keep
    the expected activation."""
    x = torch.ones(200_000)
    inv = D.inverted_dropout(x, p=0.2)  # drop 20 %
    assert (inv == 0).float().mean().item() == pytest.approx(0.2, abs=0.01)
    assert inv.mean().item() == pytest.approx(1.0, abs=0.01)
    layer = ClassicDropout(keep=0.8)  # keep 80 %: the same network as p = 0.2
    train = layer(x)
    assert (train == 0).float().mean().item() == pytest.approx(0.2, abs=0.01)
    assert set(train.unique().tolist()) == {0.0, 1.0}  # no scaling while training
    layer.eval()
    assert torch.equal(layer(x), 0.8 * x)  # scaled by keep at test time
    with pytest.raises(ConfigError, match="probability"):
        D.inverted_dropout(x, p=1.5)
