"""Recurrent layers expect batch-first (B, T, I): everything that betrays a time-first batch or a
state from another batch is a ShapeError naming the layout, never a silent wrong result."""

from __future__ import annotations

import pytest
import torch

from tensorprism.errors import ShapeError
from tensorprism.nn.ln_recurrent import LayerNormGRU, LayerNormLSTM
from tensorprism.nn.recurrent import GRU, LSTM, RNN, RecurrentLoop

B, T, I, H = 3, 7, 4, 5


def _layers():
    torch.manual_seed(0)
    return [LSTM(I, H), GRU(I, H), RNN(I, H), LSTM(I, H, num_layers=2, bidirectional=True),
            RecurrentLoop("lstm", I, H), RecurrentLoop("gru", I, H), LayerNormLSTM(I, H), LayerNormGRU(I, H)]


@pytest.mark.parametrize("layer", _layers(), ids=lambda m: type(m).__name__)
def test_time_first_batch_with_lengths_is_refused(layer):
    """(T, B, I) fed to a batch-first layer: the B lengths no longer match x.shape[0] == T."""
    x = torch.randn(T, B, I)
    with pytest.raises(ShapeError, match=r"lengths has shape \(3,\) but the batch holds 7 sequences"):
        layer(x, lengths=torch.tensor([7, 5, 2]))


@pytest.mark.parametrize("layer", _layers(), ids=lambda m: type(m).__name__)
def test_lengths_longer_than_the_time_axis_are_refused(layer):
    x = torch.randn(B, 2, I)  # e.g. (B, T) swapped with a batch of length-T sequences
    with pytest.raises(ShapeError, match=r"lengths must lie in \[\d, T=2\]"):
        layer(x, lengths=torch.tensor([7, 5, 2]))


@pytest.mark.parametrize("layer", _layers(), ids=lambda m: type(m).__name__)
def test_float_or_single_lengths_are_refused(layer):
    x = torch.randn(B, T, I)
    with pytest.raises(ShapeError, match="integers"):
        layer(x, lengths=torch.tensor([7.0, 5.0, 2.0]))
    with pytest.raises(ShapeError, match="lengths has shape"):  # (1,) would broadcast silently in a loop
        layer(x, lengths=torch.tensor([7]))


def _state(layer, batch):
    if isinstance(layer, (LSTM, GRU, RNN)):
        LD = layer.num_layers * (2 if layer.bidirectional else 1)
        h = torch.zeros(LD, batch, H)
    else:
        h = torch.zeros(batch, H)
    lstm = isinstance(layer, (LSTM, LayerNormLSTM)) or getattr(layer, "mode", "") == "lstm"
    return (h, h.clone()) if lstm else h


@pytest.mark.parametrize("layer", _layers(), ids=lambda m: type(m).__name__)
def test_initial_state_with_another_batch_size_is_refused(layer):
    x = torch.randn(B, T, I)
    layer(x, _state(layer, B))  # the right one runs
    with pytest.raises(ShapeError, match="initial h_0 must be"):
        layer(x, _state(layer, T))  # the batch size of a time-first batch


@pytest.mark.parametrize("layer", _layers(), ids=lambda m: type(m).__name__)
def test_wrong_feature_size_names_the_layout(layer):
    with pytest.raises(ShapeError, match=r"\(B, T, I\)|\(N, T, F\)"):
        layer(torch.randn(B, T, I + 1))


def test_time_first_layers_check_their_own_layout():
    lstm = LSTM(I, H, batch_first=False)
    x = torch.randn(T, B, I)
    out, _ = lstm(x, lengths=torch.tensor([7, 5, 2]))
    assert out.shape == (T, B, H)
    with pytest.raises(ShapeError, match=r"\(T, B, I\)"):
        lstm(x.transpose(0, 1).contiguous(), lengths=torch.tensor([7, 5, 2]))


def test_lstm_state_must_be_a_pair_and_packed_input_takes_no_lengths():
    lstm = LSTM(I, H)
    with pytest.raises(ShapeError, match=r"pair \(h_0, c_0\)"):
        lstm(torch.randn(B, T, I), torch.zeros(1, B, H))
    packed = torch.nn.utils.rnn.pack_padded_sequence(torch.randn(B, T, I), torch.tensor([7, 5, 2]), batch_first=True)
    lstm(packed)
    with pytest.raises(ShapeError, match="PackedSequence"):
        lstm(packed, lengths=torch.tensor([7, 5, 2]))


def test_rnn_models_pass_the_checks_through():
    """A state carried over from a batch of another size (or a time-first batch) is named."""
    from tensorprism.models import create_model

    lm = create_model("rnn-lm", vocab_size=11, embed_dim=6, hidden_size=8, num_layers=1)
    _, state = lm(torch.randint(0, 11, (3, 5)), return_state=True)
    with pytest.raises(ShapeError, match=r"initial h_0 must be \(L·D, B, H_out\) = \(1, 5, 8\)"):
        lm(torch.randint(0, 11, (5, 3)), state)  # the same tokens time-first: 5 "sequences"
