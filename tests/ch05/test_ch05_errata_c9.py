"""Chapter 5 code erratum C9 pinned (catalogue ../shared/book/ch05.md §5, C9; listings #18, #20,
#22, #24, #42, #43)."""

import pytest
import torch
from torch import nn

from tensorprism.errors import ShapeError
from tensorprism.train.tasks.regression import RegressionTask


class ManyToOne(nn.Module):
    """LSTM(8) → Dense(1) on the last step: one value per sequence, ``(B, T, 1) → (B, 1)``."""

    def __init__(self):
        super().__init__()
        self.lstm, self.head = nn.LSTM(1, 8, batch_first=True), nn.Linear(8, 1)

    def forward(self, x):
        return self.head(self.lstm(x)[0][:, -1])


def test_erratum_c9_many_to_one_output_against_per_step_targets_is_an_error_not_a_broadcast():
    """Catalogue ch05 C9 (e.g. listing #42, book lines 12329–12384): a many-to-one model (output
    ``(B, 1)``) is fitted to per-step targets ``(B, 50, 1)``; Keras broadcasts the MSE silently,
    so the model learns one value per sequence. Broadcasting really does give a finite loss; the
    regression task refuses the mismatch with a ShapeError saying what to change. A per-step
    model (the PyTorch twin #44) is accepted."""
    torch.manual_seed(0)
    x, y = torch.randn(4, 50, 1), torch.randn(4, 50, 1)
    model = ManyToOne()
    broadcast = ((model(x)[:, None, :] - y) ** 2).mean()  # what the Keras listing optimises
    assert torch.isfinite(broadcast)
    with pytest.raises(ShapeError, match="shaped like the targets"):
        RegressionTask().training_step(model, (x, y))
    per_step = nn.Sequential(nn.Linear(1, 1))  # (B, 50, 1) → (B, 50, 1)
    assert torch.isfinite(RegressionTask().training_step(per_step, (x, y))["loss"])
