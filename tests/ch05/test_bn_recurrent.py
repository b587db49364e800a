"""Batch-normalised recurrent hidden states (Ch. 5, R8): the equation, running statistics, options."""

import pytest
import torch

from tensorprism.errors import ConfigError, ShapeError
from tensorprism.functional.recurrent import elman_cell
from tensorprism.nn.bn_recurrent import BatchNormRecurrent, batch_norm_hidden_reference


def test_each_step_is_normalised_across_the_batch_and_equals_the_equation():
    torch.manual_seed(0)
    layer = BatchNormRecurrent("rnn", 3, 5)
    with torch.no_grad():
        layer.norms[0].weight.uniform_(0.5, 1.5)
        layer.norms[0].bias.uniform_(-0.5, 0.5)
    x = torch.randn(16, 6, 3)
    out, h_last = layer(x)
    gamma, beta = layer.norms[0].weight, layer.norms[0].bias
    h = torch.zeros(16, 5)
    for t in range(6):  # the equation of l.9951-9955, the normalised state fed back
        h = batch_norm_hidden_reference(elman_cell(x[:, t], h, layer.weight_ih_l0, layer.weight_hh_l0,
                                                   layer.bias_ih_l0, layer.bias_hh_l0), gamma, beta)
        torch.testing.assert_close(out[:, t], h)
    torch.testing.assert_close(h_last, h)
    unit = BatchNormRecurrent("gru", 3, 5)
    o, _ = unit(x)
    torch.testing.assert_close(o.mean(0), torch.zeros(6, 5), atol=1e-5, rtol=0)
    torch.testing.assert_close(o.var(0, unbiased=False), torch.ones(6, 5), atol=1e-3, rtol=0)


def test_evaluation_uses_running_statistics():
    torch.manual_seed(1)
    layer = BatchNormRecurrent("rnn", 2, 4, momentum=1.0)  # running stats = the last batch's
    x = torch.randn(32, 1, 2)
    layer(x)
    layer.eval()
    out, _ = layer(x[:3])
    pre = elman_cell(x[:3, 0], torch.zeros(3, 4), layer.weight_ih_l0, layer.weight_hh_l0,
                     layer.bias_ih_l0, layer.bias_hh_l0)
    norm = layer.norms[0]
    torch.testing.assert_close(out[:, 0], (pre - norm.running_mean) / torch.sqrt(norm.running_var + norm.eps))
    layer(x[:1])  # one sequence is fine at evaluation


def test_per_step_statistics_and_lstm_state():
    torch.manual_seed(2)
    layer = BatchNormRecurrent("lstm", 3, 4, per_step=True, max_steps=2)
    x = torch.randn(8, 5, 3)
    out, (h, c) = layer(x)
    assert len(layer.norms) == 2 and out.shape == (8, 5, 4) and c.shape == (8, 4)
    assert not torch.equal(layer.norms[0].running_mean, layer.norms[1].running_mean)
    out.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in layer.parameters() if p.grad is not None)
    seq_first, _ = BatchNormRecurrent("rnn", 3, 4, batch_first=False)(x.transpose(0, 1))
    assert seq_first.shape == (5, 8, 4)


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ConfigError, match="mode"):
        BatchNormRecurrent("transformer", 3, 4)
    layer = BatchNormRecurrent("rnn", 3, 4)
    with pytest.raises(ShapeError, match="at least 2"):
        layer(torch.randn(1, 4, 3))
    with pytest.raises(ShapeError, match="I=3"):
        layer(torch.randn(2, 4, 5))
