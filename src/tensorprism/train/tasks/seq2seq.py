"""Sequence-to-sequence training with a teacher-forcing schedule and BLEU evaluation (book S3-S5).

Batches are dicts from :class:`~tensorprism.data.text.PadCollator` with ``src``, ``src_lengths``
and ``tgt`` (``<bos> y_1 … y_n <eos>``, padded). The decoder reads ``tgt[:, :-1]`` and predicts
``tgt[:, 1:]``; padding is ignored in the loss. The book instead slices ``output[1:]`` — the batch
axis of its batch-first tensors — and has no ``ignore_index`` (erratum C7).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import ConfigError
from . import Task, register_task


def teacher_forcing_ratio(step: int, total: int, schedule: str = "constant", *, start: float = 1.0,
                          end: float = 0.0, k: float = 10.0) -> float:
    """Probability of feeding the gold token at optimiser ``step`` of ``total``.

    ``"constant"``: ``start`` (the book uses 0.5, l. 10496); ``"linear"``: from ``start`` to ``end``;
    ``"exponential"``: ``start · (end/start)^(step/total)`` (``end`` > 0); ``"inverse_sigmoid"``:
    ``k / (k + exp(step / total · k))`` rescaled to [end, start] (Bengio et al. 2015).
    """
    frac = min(max(step / max(total, 1), 0.0), 1.0)
    if schedule == "constant":
        return start
    if schedule == "linear":
        return start + (end - start) * frac
    if schedule == "exponential":
        if end <= 0:
            raise ConfigError("the exponential schedule needs end > 0")
        return start * (end / start) ** frac
    if schedule == "inverse_sigmoid":
        v = k / (k + math.exp(frac * k))
        v0, v1 = k / (k + 1), k / (k + math.exp(k))
        return end + (start - end) * (v - v1) / (v0 - v1)
    raise ConfigError(f"unknown teacher-forcing schedule {schedule!r}; use constant, linear, exponential or inverse_sigmoid")


def _takes_teacher_forcing(model: nn.Module) -> bool:
    import inspect

    net = getattr(model, "_orig_mod", model)  # a compiled model's signature is its original's
    return "teacher_forcing" in inspect.signature(net.forward).parameters


@register_task("seq2seq")
class Seq2SeqTask(Task):
    """Cross-entropy with teacher forcing; evaluation reports loss (always forced) and, when
    ``decode_bleu`` and a target ``detokenize`` function are given, corpus BLEU of greedy
    translations (``val/bleu``)."""

    def __init__(self, pad_id: int = 0, schedule: str = "constant", start: float = 1.0, end: float = 1.0,
                 total_steps: int = 1, label_smoothing: float = 0.0, detokenize=None,
                 decode_bleu: bool = False, max_len: int = 60):
        self.pad_id, self.schedule, self.start, self.end = pad_id, schedule, start, end
        self.total_steps, self.label_smoothing = total_steps, label_smoothing
        self.detokenize, self.decode_bleu, self.max_len = detokenize, decode_bleu, max_len
        self.step = 0
        if decode_bleu:
            self.monitor, self.mode = "val/bleu", "max"

    def _loss(self, model: nn.Module, batch: dict, ratio: float) -> torch.Tensor:
        tgt = batch["tgt"]
        if _takes_teacher_forcing(model):  # a recurrent decoder: scheduled sampling, packed source
            logits = model(batch["src"], tgt[:, :-1], batch.get("src_lengths"), teacher_forcing=ratio)
        elif ratio != 1.0:
            raise ConfigError(f"{type(model).__name__} decodes in parallel (always teacher-forced); a teacher-forcing "
                              f"ratio of {ratio:g} needs a recurrent decoder: keep start=end=1")
        else:  # the Seq2Seq contract: forward(src, tgt_in, src_mask)
            logits = model(batch["src"], tgt[:, :-1], src_mask=batch["src"] != self.pad_id)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt[:, 1:].reshape(-1),
                               ignore_index=self.pad_id, label_smoothing=self.label_smoothing)

    def training_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        ratio = teacher_forcing_ratio(self.step, self.total_steps, self.schedule, start=self.start, end=self.end)
        return {"loss": self._loss(model, batch, ratio), "teacher_forcing": torch.tensor(ratio)}

    def on_after_optimizer_step(self, model: nn.Module, step: int) -> None:
        self.step = step

    def evaluation_step(self, model: nn.Module, batch: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"loss": self._loss(model, batch, 1.0)}
        if self.decode_bleu and self.detokenize is not None:
            net = self.trainer.model if self.trainer is not None else model
            hyps = net.translate(batch["src"], batch.get("src_lengths"), max_len=self.max_len)
            out["preds"] = [self.detokenize(h) for h in hyps]
            out["target"] = [[self.detokenize([t for t in row[1:] if t != self.pad_id][:-1])]
                             for row in batch["tgt"].tolist()]
        return out

    @torch.no_grad()
    def predict_step(self, model: nn.Module, batch: Any) -> torch.Tensor:
        """Greedy outputs ``(B, 1 + max_len)``: ``<bos>``, the generated ids, then ``pad_id``."""
        net = self.trainer.model if self.trainer is not None else model
        src = (batch["src"] if "src" in batch else batch["x"]) if isinstance(batch, dict) else batch[0]  # raw sentences: "x"
        out = net.generate(src, max_len=self.max_len)
        width = 1 + self.max_len  # a fixed width, so that batches concatenate
        return torch.nn.functional.pad(out[:, :width], (0, width - min(out.shape[1], width)), value=self.pad_id)

    def metrics(self):
        if not (self.decode_bleu and self.detokenize is not None):
            return {}
        from torchmetrics.text import SacreBLEUScore

        return {"bleu": SacreBLEUScore()}

    def update_metrics(self, metrics, out) -> None:
        if "bleu" in metrics:
            metrics["bleu"].update(out["preds"], out["target"])

    def state_dict(self) -> dict[str, Any]:
        return {"step": self.step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step = int(state.get("step", 0))
