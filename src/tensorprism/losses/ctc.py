r"""Connectionist temporal classification (Graves et al. 2006) for sequences whose label length
differs from the input length (speech: T frames, T′ ≤ T phonemes or characters).

The book's speech likelihood (line 12016) is :math:`\prod_{t=1}^{T'} P(y_t \mid h_t)`, which silently
assumes one label per input step (T′ = T; catalogue ch05 erratum E11). CTC adds a blank symbol and
sums over every alignment :math:`\pi` of length T that collapses to the labels (merge repeats,
then drop blanks):

.. math:: P(y \mid x) = \sum_{\pi \in \mathcal B^{-1}(y)} \prod_{t=1}^{T} P(\pi_t \mid h_t)

computed by torch's forward–backward ``F.ctc_loss``; this wrapper takes batch-first log-probabilities.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

__all__ = ["ctc_loss"]


def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths: Tensor, target_lengths: Tensor, *,
             blank: int = 0, reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    """``−log P(y | x)`` for ``log_probs (B, T, C)`` (log-softmax over C, ``blank`` one of the classes),
    ``targets (B, L)`` padded label ids (no blanks), lengths ``(B,)``. ``reduction`` as in
    ``F.ctc_loss`` (``"mean"`` divides each loss by its target length, then averages)."""
    return F.ctc_loss(log_probs.transpose(0, 1), targets, input_lengths, target_lengths, blank=blank,
                      reduction=reduction, zero_infinity=zero_infinity)
