"""The min–max quantiser (reference) against torch's fake-quantisation and observers, and the int8
model converters (dynamic, static, QAT) of ``tensorprism.compress.quantize``."""

from __future__ import annotations

import pytest
import torch
import torch.ao.nn.quantized.dynamic as nnqd
from torch import nn
from torch.ao.quantization import MinMaxObserver, PerChannelMinMaxObserver

from tensorprism.compress import (
    convert_qat,
    model_size_bytes,
    prepare_qat,
    quantize_dynamic_int8,
    quantize_static_int8,
)
from tensorprism.errors import ConfigError, ShapeError
from tensorprism.functional.quantization import (
    dequantize,
    fake_quantize_minmax,
    minmax_qparams,
    quantization_error,
    quantize,
)
from tensorprism.models.cnn.classic import LeNetConfig, lenet5
from tensorprism.models.mlp import MLPConfig, build_mlp
from tensorprism.models.rnn.classifier import RNNClassifier, RNNClassifierConfig


@pytest.mark.parametrize("scale", [0.01, 1.0, 30.0])
def test_per_tensor_affine_equals_torch_observer_and_fake_quantize(scale):
    x = torch.randn(16, 8, 3, 3) * scale + 0.3 * scale
    qp = minmax_qparams(x)
    obs = MinMaxObserver(dtype=torch.quint8)
    obs(x)
    s, z = obs.calculate_qparams()
    assert torch.allclose(qp.scale, s[0]) and int(qp.zero_point) == int(z)
    ref = torch.fake_quantize_per_tensor_affine(x, float(s), int(z), 0, 255)
    assert torch.equal(fake_quantize_minmax(x), ref)


@pytest.mark.parametrize("symmetric", [True, False])
def test_per_channel_equals_torch_per_channel_fake_quantize(symmetric):
    x = torch.randn(12, 5, 3, 3) * torch.logspace(-2, 1, 12)[:, None, None, None]
    if symmetric:
        obs = PerChannelMinMaxObserver(ch_axis=0, dtype=torch.qint8, qscheme=torch.per_channel_symmetric)
        lo, hi = -128, 127
    else:
        obs = PerChannelMinMaxObserver(ch_axis=0, dtype=torch.quint8, qscheme=torch.per_channel_affine)
        lo, hi = 0, 255
    obs(x)
    s, z = obs.calculate_qparams()
    qp = minmax_qparams(x, symmetric=symmetric, axis=0)
    assert torch.allclose(qp.scale, s) and torch.equal(qp.zero_point.long(), z.long())
    ref = torch.fake_quantize_per_channel_affine(x, s, z.int(), 0, lo, hi)
    assert torch.equal(fake_quantize_minmax(x, symmetric=symmetric, axis=0), ref)


def test_round_trip_error_is_at_most_half_a_step_and_zero_is_exact():
    x = torch.cat([torch.rand(1000) * 3 - 1, torch.zeros(1)])
    qp = minmax_qparams(x, bits=4)
    q = quantize(x, qp)
    assert q.dtype == torch.int32 and int(q.min()) >= 0 and int(q.max()) <= 15
    back = dequantize(q, qp)
    assert float((back - x).abs().max()) <= float(qp.scale) / 2 + 1e-6
    assert float(back[-1]) == 0.0  # 0 lies on the grid (zero padding, ReLU zeros stay exact)
    assert quantization_error(x, bits=8)["max_abs"] < quantization_error(x, bits=4)["max_abs"]


def test_erratum_minmax_quantisation_needs_dequantisation_and_a_constant_guard():
    """Catalogue ch09-11 §5 / I11.13 (book L24758-24762): the book maps w to
    round((w - min)/(max - min) (2^b - 1)) and stops. Those integers in [0, 255] are not on w's
    scale: the model needs w ~ s (q - z) to compute. And for a constant tensor max = min, so the
    book's formula divides by zero; we refuse it with the book's range, and with the range widened
    to contain 0 (torch's observers) a zero tensor gets the smallest positive scale."""
    w = torch.tensor([-0.5, 0.0, 0.25, 1.0])
    book = torch.round((w - w.min()) / (w.max() - w.min()) * 255)
    qp = minmax_qparams(w, include_zero=False)
    # the integer zero point (exact zeros) moves the book's real offset by less than one step
    assert float((quantize(w, qp).float() - book).abs().max()) <= 1.0
    assert not torch.allclose(book, w, atol=0.5)  # the book's integers are not weights
    assert torch.allclose(dequantize(quantize(w, qp), qp), w, atol=float(qp.scale) / 2)
    with pytest.raises(ShapeError, match="constant"):
        minmax_qparams(torch.full((5,), 2.0), include_zero=False)
    zeros = fake_quantize_minmax(torch.zeros(5))
    assert torch.equal(zeros, torch.zeros(5))
    assert torch.allclose(fake_quantize_minmax(torch.full((5,), 2.0)), torch.full((5,), 2.0))


def test_bad_inputs_are_refused_with_clear_errors():
    with pytest.raises(ShapeError, match="empty"):
        minmax_qparams(torch.empty(0))
    with pytest.raises(ShapeError, match="floating"):
        minmax_qparams(torch.arange(4))
    with pytest.raises(ShapeError, match="NaN"):
        minmax_qparams(torch.tensor([1.0, float("nan")]))
    with pytest.raises(ConfigError, match="bits"):
        minmax_qparams(torch.randn(3), bits=1)
    with pytest.raises(ShapeError, match="axis"):
        minmax_qparams(torch.randn(3, 2), axis=2)


def _lstm_classifier():
    cfg = RNNClassifierConfig(vocab_size=None, input_size=28, embed_dim=32, hidden_size=32, num_classes=10,
                              dropout=0.0)
    return RNNClassifier(cfg).eval()


def test_dynamic_int8_mlp_and_lstm_are_smaller_and_close():
    mlp = build_mlp(MLPConfig(in_features=784, hidden=(128, 64), num_classes=10)).eval()
    x = torch.randn(32, 784)
    q = quantize_dynamic_int8(mlp)
    assert any(isinstance(m, nnqd.Linear) for m in q.modules())
    assert model_size_bytes(q) < model_size_bytes(mlp) / 3
    assert torch.allclose(q(x), mlp(x), atol=0.05)
    rnn = _lstm_classifier()
    x = torch.randn(8, 28, 28)
    q = quantize_dynamic_int8(rnn)
    assert any(isinstance(m, nnqd.LSTM) for m in q.modules())
    assert torch.allclose(q(x), rnn(x), atol=0.05)
    # the batch-first `lengths` interface survives: padded steps do not change the result
    lengths = torch.tensor([28, 20, 5, 28, 1, 9, 28, 17])
    e = rnn.embed(x).detach()  # (B, T, 32): the recurrent layers' input
    h_q, _ = q.rnn(e, lengths=lengths)
    h_f, _ = rnn.rnn(e, lengths=lengths)
    assert torch.allclose(h_q, h_f, atol=0.05) and float(h_q[2, 5:].abs().max()) == 0.0
    assert isinstance(rnn.rnn, nn.LSTM)  # the float model is left as it was


def test_static_int8_cnn_and_qat():
    torch.manual_seed(0)
    model = lenet5(LeNetConfig()).eval()
    calib = [torch.randn(32, 1, 28, 28) for _ in range(4)]
    q = quantize_static_int8(model, calib)
    x = torch.randn(16, 1, 28, 28)
    assert any(type(m).__module__.startswith("torch.ao.nn.quantized") for m in q.modules())
    assert model_size_bytes(q) < model_size_bytes(model) / 2.5
    assert (q(x) - model(x)).abs().max() < 0.1 * model(x).abs().max()
    qat = prepare_qat(model, x)
    qat(x).sum().backward()  # trains: fake quantisation passes straight-through gradients
    assert all(p.grad is not None for p in qat.parameters() if p.requires_grad)
    converted = convert_qat(qat)
    assert torch.allclose(converted(x), q(x), atol=0.2 * float(model(x).detach().abs().max()))
    with pytest.raises(ShapeError, match="calibration"):
        quantize_static_int8(model, [])
    with pytest.raises(ConfigError, match="backend"):
        quantize_static_int8(model, calib, backend="tpu")
