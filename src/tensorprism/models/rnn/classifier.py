"""Recurrent sequence classifiers: sentiment (book N7, §5.6.2) and time-series classes (UCR).

Token input ``(B, T)`` (padding id ``pad_id``; lengths are inferred, so the model packs the batch
itself and padding never reaches the recurrence) or real-valued input ``(B, T, F)`` when
``vocab_size`` is ``None``. A (bi)directional LSTM/GRU is pooled over time — ``"last"`` (the final
states of both directions, the book's ``hidden[-1]``), ``"max"``, ``"mean"`` or ``"attention"``
(:class:`~tensorprism.nn.rnn_attention.AttentionPooling`) — then a linear head gives logits.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ...errors import ConfigError
from ...nn.rnn_attention import AttentionPooling
from .. import register_model
from ..contract import SequenceMixin
from ._common import recurrent_layer


@dataclass
class RNNClassifierConfig:
    vocab_size: int | None = 20000
    input_size: int = 1
    embed_dim: int = 300
    hidden_size: int = 256
    num_layers: int = 1
    bidirectional: bool = True
    cell: str = "lstm"
    pooling: str = "max"
    dropout: float = 0.5
    num_classes: int = 2
    pad_id: int = 0


class RNNClassifier(SequenceMixin, nn.Module):
    """``forward(x, lengths=None) -> logits (B, num_classes)``: ``x`` token ids ``(B, T)``
    (``input_layout == "tokens"``) or features ``(B, T, input_size)`` when ``vocab_size`` is None."""

    def __init__(self, cfg: RNNClassifierConfig):
        super().__init__()
        if cfg.pooling not in ("last", "max", "mean", "attention"):
            raise ConfigError(f"pooling must be last, max, mean or attention, got {cfg.pooling!r}")
        self.cfg = cfg
        self.vocab_size, self.input_size = cfg.vocab_size, cfg.input_size
        self.input_layout = "features" if cfg.vocab_size is None else "tokens"
        if cfg.vocab_size is None:
            self.embed = nn.Linear(cfg.input_size, cfg.embed_dim)
        else:
            self.embed = nn.Embedding(cfg.vocab_size, cfg.embed_dim, padding_idx=cfg.pad_id)
        self.drop = nn.Dropout(cfg.dropout)
        self.rnn = recurrent_layer(cfg.cell, cfg.embed_dim, cfg.hidden_size, num_layers=cfg.num_layers,
                                   bidirectional=cfg.bidirectional,
                                   dropout=cfg.dropout if cfg.num_layers > 1 else 0.0)
        feat = cfg.hidden_size * (2 if cfg.bidirectional else 1)
        self.pool = AttentionPooling(feat) if cfg.pooling == "attention" else None
        self.head = nn.Linear(feat, cfg.num_classes)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        self.check_sequence(x)
        if self.cfg.vocab_size is not None and lengths is None:
            lengths = (x != self.cfg.pad_id).sum(1).clamp(min=1)
        # features without lengths: every sequence runs the full T steps, so the fused layer runs
        # unpacked (same result as packing) and the graph has no data-dependent lengths checks,
        # which lets torch.export / ONNX capture it
        h, state = self.rnn(self.drop(self.embed(x)), lengths=lengths)  # (B, T, D*H)
        mask = None if lengths is None else torch.arange(h.shape[1], device=h.device)[None] < lengths.to(h.device)[:, None]
        pooling = self.cfg.pooling
        if pooling == "last":
            h_n = state[0] if isinstance(state, tuple) else state  # (L*D, B, H)
            D = 2 if self.cfg.bidirectional else 1
            feat = torch.cat(list(h_n[-D:]), dim=-1)
        elif mask is None:  # (B, T, D*H) over all T steps
            feat = h.amax(1) if pooling == "max" else h.mean(1) if pooling == "mean" else self.pool(h, None)[0]
        elif pooling == "max":
            feat = h.masked_fill(~mask[..., None], float("-inf")).amax(1)
        elif pooling == "mean":
            feat = (h * mask[..., None]).sum(1) / lengths.to(h.device)[:, None]
        else:
            feat, _ = self.pool(h, mask)
        return self.head(self.drop(feat))


@register_model("rnn-classifier", config=RNNClassifierConfig, family="rnn")
def rnn_classifier(cfg: RNNClassifierConfig) -> RNNClassifier:
    """Embedding (or linear input) → (bi)LSTM/GRU → pooling → linear logits."""
    return RNNClassifier(cfg)


@register_model("bilstm-sst2", config=RNNClassifierConfig, family="rnn", embed_dim=300,
                hidden_size=256, pooling="max", dropout=0.5)
def bilstm_sst2(cfg: RNNClassifierConfig) -> RNNClassifier:
    """BiLSTM with max pooling over time for SST-2 (trained from scratch)."""
    return RNNClassifier(cfg)


@register_model("sentiment-lstm-book", config=RNNClassifierConfig, family="rnn", vocab_size=10000,
                embed_dim=64, hidden_size=128, bidirectional=False, pooling="last", dropout=0.0,
                num_classes=2)
def sentiment_lstm_book(cfg: RNNClassifierConfig) -> RNNClassifier:
    """The book's ``SentimentRNN(vocab, 64, 128, ...)`` (l. 11643-11668), with two logits
    instead of a sigmoid unit."""
    return RNNClassifier(cfg)


@register_model("lstm-ucr", config=RNNClassifierConfig, family="rnn", vocab_size=None, input_size=1,
                embed_dim=32, hidden_size=64, bidirectional=True, pooling="max", dropout=0.1)
def lstm_ucr(cfg: RNNClassifierConfig) -> RNNClassifier:
    """BiLSTM for univariate UCR series ``(B, T, 1)``."""
    return RNNClassifier(cfg)


@register_model("speech-attention-lstm-book", config=RNNClassifierConfig, family="rnn", vocab_size=None,
                input_size=40, embed_dim=64, hidden_size=128, bidirectional=False, cell="lstm",
                pooling="attention", dropout=0.0, num_classes=10)
def speech_attention_lstm_book(cfg: RNNClassifierConfig) -> RNNClassifier:
    """The book's speech / audio-event model (§7.5.2, L7-29, L7-30): LSTM over log-mel frames
    ``(B, T, 40)``, attention pooling, linear head (``pooling="mean"`` is its baseline)."""
    return RNNClassifier(cfg)
