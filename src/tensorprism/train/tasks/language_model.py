"""Language modelling: next-token cross-entropy, optionally with truncated BPTT (book T1, §5.5.1).

Batches are ``(x (B, T), y (B, T))`` with ``y`` the next tokens. With ``tbptt=True`` the batches
must be consecutive segments of ``B`` parallel streams (:func:`~tensorprism.data.text.
batchify_stream` + :func:`~tensorprism.data.text.tbptt_segments`, ``shuffle=False``): the task
feeds each segment the previous segment's final state, **detached**, so gradients flow back at
most ``T`` steps while the forward pass sees the whole history (what the book's listings #18/#19
omit, erratum C8). The model must accept ``model(x, state, return_state=True)``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ...nn.recurrent import detach_state
from . import Task, register_task, split_batch


@register_task("language-model")
class LanguageModelTask(Task):
    """Token-level cross-entropy (nats); ``val/loss`` is nats per token (per character for a
    char model: ÷ ln 2 gives bits per character, ``exp`` gives perplexity)."""

    def __init__(self, tbptt: bool = False, ignore_index: int = -100):
        self.tbptt, self.ignore_index = tbptt, ignore_index
        self.state: Any = None
        self._eval_state: Any = None
        self.split = "train"

    def _loss(self, model: nn.Module, batch: Any, carry: str | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x, y = split_batch(batch)
        if carry is None:
            logits = model(x)
        else:
            state = getattr(self, carry)
            if state is not None and _batch(state) != x.shape[0]:
                state = None  # a shorter last batch starts fresh
            logits, state = model(x, state, return_state=True)
            setattr(self, carry, detach_state(state))
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=self.ignore_index)
        return loss, logits, y

    def training_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        loss, _, _ = self._loss(model, batch, "state" if self.tbptt else None)
        return {"loss": loss}

    def evaluation_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        loss, logits, y = self._loss(model, batch, "_eval_state" if self.tbptt else None)
        return {"loss": loss, "preds": logits, "target": y}

    def metrics(self):
        from torchmetrics.text import Perplexity

        return {"ppl": Perplexity(ignore_index=self.ignore_index if self.ignore_index >= 0 else None)}

    def update_metrics(self, metrics, out) -> None:
        metrics["ppl"].update(out["preds"].float(), out["target"])

    def reset_state(self) -> None:
        """Forget the carried states (call between epochs / before evaluating a new stream)."""
        self.state = self._eval_state = None

    @staticmethod
    def bits_per_token(loss_nats: float) -> float:
        return loss_nats / math.log(2)

    def __repr__(self) -> str:
        return f"LanguageModelTask(tbptt={self.tbptt})"


def _batch(state: Any) -> int:
    s = state[0] if isinstance(state, tuple) else state
    return s.shape[1]
