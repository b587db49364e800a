"""Masked language modelling (BERT pre-training, book lines 13561-13563) with dynamic masking."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from . import Task, register_task, split_batch


@register_task("masked-lm")
class MaskedLMTask(Task):
    """Corrupt each batch afresh (RoBERTa's dynamic masking, line 13822) with BERT's 80/10/10 rule
    and minimise the cross-entropy at the chosen positions only.

    Batches carry token ids ``(N, L)`` (as ``x`` or the first field); the model is a
    :class:`~tensorprism.models.transformer.bert.BertForPreTraining` (its NSP/SOP head is unused
    here). ``special_ids`` (CLS, SEP, PAD...) are never masked.
    """

    def __init__(self, mask_token_id: int, vocab_size: int, special_ids: list[int] | None = None,
                 pad_id: int = 0, mlm_probability: float = 0.15):
        self.mask_token_id, self.vocab_size, self.pad_id = mask_token_id, vocab_size, pad_id
        self.special_ids = list(special_ids or [pad_id])
        self.mlm_probability = mlm_probability

    def training_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        from ...models.transformer.objectives import mask_tokens

        ids, _ = split_batch(batch)
        special = torch.isin(ids, torch.tensor(self.special_ids, device=ids.device))
        x, labels = mask_tokens(ids, self.mask_token_id, self.vocab_size, special, self.mlm_probability)
        out = model(x, attention_mask=(ids != self.pad_id).long(), mlm_labels=labels)
        return {"loss": out["loss"]}
