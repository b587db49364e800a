"""Recurrent language models (book N8/N9, §5.6.3): embedding → stacked LSTM/GRU → softmax.

Unlike the book's generator, which reads a window of 5 characters and predicts one, the model
predicts every next token of its input (``(B, T) → (B, T, V)``) and can carry its state across
calls, so it trains with truncated BPTT on a continuous stream and samples one token per step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ...errors import ConfigError
from .. import register_model
from ..contract import LanguageModelMixin
from ._common import recurrent_layer


@dataclass
class RNNLMConfig:
    vocab_size: int = 65
    embed_dim: int = 128
    hidden_size: int = 512
    num_layers: int = 2
    cell: str = "lstm"
    dropout: float = 0.2
    tie_weights: bool = False


class RNNLanguageModel(LanguageModelMixin, nn.Module):
    """``forward(x (B, T), state=None, return_state=False) -> logits (B, T, V)`` (and the state).

    A recurrent model reads contexts of any length: ``block_size`` is ``None``."""

    def __init__(self, cfg: RNNLMConfig):
        super().__init__()
        self.cfg = cfg
        self.vocab_size = cfg.vocab_size
        self.embed = nn.Embedding(cfg.vocab_size, cfg.embed_dim)
        self.drop = nn.Dropout(cfg.dropout)
        self.rnn = recurrent_layer(cfg.cell, cfg.embed_dim, cfg.hidden_size, num_layers=cfg.num_layers,
                                   dropout=cfg.dropout if cfg.num_layers > 1 else 0.0)
        self.head = nn.Linear(cfg.hidden_size, cfg.vocab_size)
        if cfg.tie_weights:
            if cfg.embed_dim != cfg.hidden_size:
                raise ConfigError(f"tie_weights needs embed_dim == hidden_size, got {cfg.embed_dim} and "
                                  f"{cfg.hidden_size}; set them equal or tie_weights=False")
            self.head.weight = self.embed.weight

    def forward(self, x: Tensor, state=None, return_state: bool = False):
        self.check_tokens(x)
        h, state = self.rnn(self.drop(self.embed(x)), state)  # (B, T, H)
        logits = self.head(self.drop(h))  # (B, T, V)
        return (logits, state) if return_state else logits

    def step(self, tokens: Tensor, state):
        """The step function of :mod:`tensorprism.generation`: feed ``tokens (B, t)``, return the
        next-token logits ``(B, V)`` and the carried state."""
        logits, state = self(tokens, state, return_state=True)
        return logits[:, -1], state

    @torch.no_grad()
    def sample(self, prompt: Tensor, max_new_tokens: int, *, temperature: float = 1.0, top_k: int = 0,
               greedy: bool = False, generator: torch.Generator | None = None) -> Tensor:
        """Continue ``prompt (B, T)`` with ``max_new_tokens`` sampled tokens (temperature, top-k);
        the book's interface to :meth:`generate`."""
        return self.generate(prompt, max_new_tokens, do_sample=not greedy, temperature=temperature, top_k=top_k,
                             generator=generator)


@register_model("rnn-lm", config=RNNLMConfig, family="rnn")
def rnn_lm(cfg: RNNLMConfig) -> RNNLanguageModel:
    """Embedding → LSTM/GRU stack → linear next-token head."""
    return RNNLanguageModel(cfg)


@register_model("char-lstm", config=RNNLMConfig, family="rnn", vocab_size=65, embed_dim=128,
                hidden_size=512, num_layers=2, dropout=0.2)
def char_lstm(cfg: RNNLMConfig) -> RNNLanguageModel:
    """Character LSTM for Tiny Shakespeare (2 × 512, as Karpathy's char-rnn)."""
    return RNNLanguageModel(cfg)


@register_model("char-rnn-book", config=RNNLMConfig, family="rnn", embed_dim=50, hidden_size=100,
                num_layers=1, dropout=0.0)
def char_rnn_book(cfg: RNNLMConfig) -> RNNLanguageModel:
    """The book's ``CharRNN(V, 50, 100, V)`` (l. 11824-11844)."""
    return RNNLanguageModel(cfg)


@register_model("word-lstm", config=RNNLMConfig, family="rnn", vocab_size=10000, embed_dim=256,
                hidden_size=256, num_layers=2, dropout=0.3, tie_weights=True)
def word_lstm(cfg: RNNLMConfig) -> RNNLanguageModel:
    """Word-level LSTM LM with tied input/output embeddings (Press & Wolf 2017)."""
    return RNNLanguageModel(cfg)
