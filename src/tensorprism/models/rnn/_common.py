"""Pieces shared by the recurrent models: the cell-name → fused layer table."""

from __future__ import annotations

from ...errors import ConfigError
from ...nn.recurrent import GRU, LSTM, RNN

CELLS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}


def recurrent_layer(cell: str, input_size: int, hidden_size: int, **kw):
    """A fused ``LSTM``/``GRU``/``RNN`` (batch-first) by name."""
    if cell not in CELLS:
        raise ConfigError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
    return CELLS[cell](input_size, hidden_size, **kw)
