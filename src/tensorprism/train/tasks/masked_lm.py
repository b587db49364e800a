"""Masked language modelling (BERT pre-training, book lines 13561-13563) with dynamic masking."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import Task, register_task, split_batch


@register_task("masked-lm")
class MaskedLMTask(Task):
    """Corrupt each batch afresh (RoBERTa's dynamic masking, line 13822) with BERT's 80/10/10 rule
    and minimise the cross-entropy at the chosen positions only.

    Batches carry token ids ``(N, L)`` (as ``x`` or the first field); the model is a
    :class:`~tensorprism.models.transformer.bert.BertForPreTraining` (its NSP/SOP head is unused
    here). ``special_ids`` (CLS, SEP, PAD...) are never masked.

    Only the ~15 % chosen positions go through the vocabulary projection (``(M, H) @ (H, V)``
    instead of ``(N·L, H) @ (H, V)``); the loss equals the model's own
    ``model(x, mlm_labels=labels)["loss"]`` without the pair head. Evaluation masks are drawn
    from a generator seeded by the batch's content, so the same evaluation set gets the same
    corruption before and after training (comparable losses).
    """

    def __init__(self, mask_token_id: int, vocab_size: int, special_ids: list[int] | None = None,
                 pad_id: int = 0, mlm_probability: float = 0.15, eval_seed: int = 0):
        self.mask_token_id, self.vocab_size, self.pad_id = mask_token_id, vocab_size, pad_id
        self.special_ids = list(special_ids or [pad_id])
        self.mlm_probability, self.eval_seed = mlm_probability, eval_seed

    def loss(self, model: nn.Module, ids: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Mean cross-entropy over the masked positions of ``ids (N, L)``, masked afresh."""
        from ...models.transformer.objectives import mask_tokens

        special = torch.isin(ids, torch.tensor(self.special_ids, device=ids.device))
        x, labels = mask_tokens(ids, self.mask_token_id, self.vocab_size, special, self.mlm_probability,
                                generator=generator)
        hidden = model.encode(x, attention_mask=(ids != self.pad_id).long()).hidden
        chosen = labels != -100
        logits = model.mlm_logits(hidden[chosen])  # (M, V)
        # sum / max(M, 1): a batch with nothing masked contributes 0, not NaN
        return F.cross_entropy(logits, labels[chosen], reduction="sum") / chosen.sum().clamp(min=1)

    def training_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        ids, _ = split_batch(batch)
        return {"loss": self.loss(model, ids)}

    def evaluation_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        ids, _ = split_batch(batch)
        gen = torch.Generator(device=ids.device)
        gen.manual_seed(self.eval_seed * 1_000_003 + int(ids.sum()) * 7919 + ids.numel())
        return {"loss": self.loss(model, ids, gen)}
