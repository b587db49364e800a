"""Direct multi-horizon forecaster (book N11, l. 12141-12190): a window of past values → LSTM →
a linear layer that emits all ``horizon`` future values at once (not autoregressive)."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from .. import register_model
from ..contract import SequenceMixin
from ._common import recurrent_layer


@dataclass
class ForecasterConfig:
    input_size: int = 1
    hidden_size: int = 64
    num_layers: int = 1
    horizon: int = 12
    cell: str = "lstm"
    dropout: float = 0.0


class RNNForecaster(SequenceMixin, nn.Module):
    """``forward(x (B, L, F)) -> (B, horizon)``: forecasts of the first input feature (batch first)."""

    input_layout = "features"

    def __init__(self, cfg: ForecasterConfig):
        super().__init__()
        self.cfg = cfg
        self.input_size = cfg.input_size
        self.rnn = recurrent_layer(cfg.cell, cfg.input_size, cfg.hidden_size, num_layers=cfg.num_layers,
                                   dropout=cfg.dropout if cfg.num_layers > 1 else 0.0)
        self.head = nn.Linear(cfg.hidden_size, cfg.horizon)

    def forward(self, x: Tensor) -> Tensor:
        self.check_sequence(x)
        h, _ = self.rnn(x)  # (B, L, H)
        return self.head(h[:, -1])  # many-to-one, then H outputs


@register_model("rnn-forecaster", config=ForecasterConfig, family="rnn")
def rnn_forecaster(cfg: ForecasterConfig) -> RNNForecaster:
    """LSTM over a window → linear multi-horizon head."""
    return RNNForecaster(cfg)


@register_model("lstm-forecaster-book", config=ForecasterConfig, family="rnn", hidden_size=128,
                horizon=10)
def lstm_forecaster_book(cfg: ForecasterConfig) -> RNNForecaster:
    """The book's forecaster: LSTM(128) → Dense(10) on 50-step windows (l. 12141-12149)."""
    return RNNForecaster(cfg)
