"""Causal language modelling: ``-1/T sum_t log P(x_{t+1} | x_<=t)`` (book line 13708)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...errors import ShapeError
from . import Task, register_task, split_batch


@register_task("causal-lm")
class CausalLMTask(Task):
    """Next-token cross-entropy for batches ``(x (N, T), y (N, T))`` with ``y[:, t] = x[:, t+1]``
    (e.g. :class:`~tensorprism.data.text.lm.SlidingWindowDataset` with ``target="shifted"``);
    the model maps ``x`` to logits ``(N, T, V)``.

    Args:
        ignore_index: target id left out of the loss (padding).
        decay_matrices_only: with weight decay, decay only weight matrices and embeddings, not
            biases and LayerNorm gains (GPT-2 / nanoGPT practice).
    """

    def __init__(self, ignore_index: int = -100, decay_matrices_only: bool = True):
        self.ignore_index = ignore_index
        self.decay_matrices_only = decay_matrices_only

    def training_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        x, y = split_batch(batch)
        logits = model(x)
        if logits.dim() != 3 or y is None or logits.shape[:2] != y.shape:
            raise ShapeError(
                f"causal-lm expects logits (N, T, V) for targets (N, T); got {tuple(logits.shape)} and "
                f"{None if y is None else tuple(y.shape)}: build the dataset with shifted targets"
            )
        return {"loss": F.cross_entropy(logits.flatten(0, 1), y.flatten(), ignore_index=self.ignore_index)}

    def configure_optimizers(self, model: nn.Module, build):
        params = [p for p in model.parameters() if p.requires_grad]
        if not self.decay_matrices_only:
            return build(params)
        decay = [p for p in params if p.dim() >= 2]
        rest = [p for p in params if p.dim() < 2]
        opt = build(decay)
        opt.add_param_group({"params": rest, "weight_decay": 0.0})
        return opt
