r"""Next-token language modelling: :math:`-\frac1T \sum_t \log P(x_{t+1} \mid x_{\le t})` (book line
13708), optionally with truncated BPTT (book T1, §5.5.1). One task for recurrent and Transformer
language models, registered as ``language-model`` (``causal-lm`` is another name of it).

Batches come in two forms:

- pairs ``(x (N, T), y (N, T))`` with ``y[:, t] = x[:, t+1]`` (e.g.
  :class:`~tensorprism.data.text.lm.SlidingWindowDataset` with ``target="shifted"``);
- token-only ``x (N, T+1)`` (a tensor, a 1-tuple or ``{"x": ...}``): shifted here, the model reads
  ``x[:, :-1]`` and predicts ``x[:, 1:]``.

Target id ``ignore_index`` (padding) is left out of the loss and of every metric. Evaluation reports
``loss`` (nats per token: ÷ ln 2 gives bits per token/character), ``ppl`` (perplexity, ``exp`` of the
loss) and ``token_acc`` (share of next tokens predicted exactly by the arg-max).

With ``tbptt=True`` the batches must be consecutive segments of ``N`` parallel streams
(:func:`~tensorprism.data.text.batchify_stream` + :func:`~tensorprism.data.text.tbptt_segments`,
``shuffle=False``): the task feeds each segment the previous segment's final state, **detached**, so
gradients flow back at most ``T`` steps while the forward pass sees the whole history (what the
book's listings #18/#19 omit, erratum C8). The model must accept ``model(x, state, return_state=True)``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import ShapeError
from ...nn.recurrent import detach_state
from . import Task, register_task, split_batch


def next_token_pairs(batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """``(inputs (N, T), targets (N, T))`` of a pair batch, or of a token-only batch ``(N, T+1)``
    shifted by one position."""
    x, y = split_batch(batch)
    if y is not None:
        return x, y
    if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[1] < 2:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ShapeError(f"language-model expects token ids (N, T+1) with T+1 >= 2, or (x, y) pairs; "
                         f"got {shape}: give the dataset sequences of at least two tokens")
    return x[:, :-1], x[:, 1:]


@register_task("language-model")  # applied last: the task's own name
@register_task("causal-lm", description="Another name of the language-model task.")
class LanguageModelTask(Task):
    """Next-token cross-entropy on logits ``(N, T, V)`` for targets ``(N, T)``; see the module
    docstring for the batch forms.

    Args:
        tbptt: carry each stream's detached state from one segment to the next.
        ignore_index: target id left out of the loss and the metrics (padding).
        decay_matrices_only: with weight decay, decay only weight matrices and embeddings, not
            biases and normalisation gains (GPT-2 / nanoGPT practice).
    """

    def __init__(self, tbptt: bool = False, ignore_index: int = -100, decay_matrices_only: bool = True):
        self.tbptt, self.ignore_index = tbptt, ignore_index
        self.decay_matrices_only = decay_matrices_only
        self.state: Any = None
        self._eval_state: Any = None
        self.split = "train"

    def _loss(self, model: nn.Module, batch: Any, carry: str | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x, y = next_token_pairs(batch)
        if carry is None:
            logits = model(x)
        else:
            state = getattr(self, carry)
            if state is not None and _batch(state) != x.shape[0]:
                state = None  # a shorter last batch starts fresh
            logits, state = model(x, state, return_state=True)
            setattr(self, carry, detach_state(state))
        if logits.dim() != 3 or logits.shape[:2] != y.shape:
            raise ShapeError(f"language-model expects logits (N, T, V) for targets (N, T); got "
                             f"{tuple(logits.shape)} and {tuple(y.shape)}: the model must return one "
                             f"row of vocabulary logits per input token")
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten(), ignore_index=self.ignore_index)
        return loss, logits, y

    def training_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        loss, _, _ = self._loss(model, batch, "state" if self.tbptt else None)
        return {"loss": loss}

    def evaluation_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        loss, logits, y = self._loss(model, batch, "_eval_state" if self.tbptt else None)
        return {"loss": loss, "preds": logits, "target": y}

    def predict_step(self, model: nn.Module, batch: Any) -> torch.Tensor:
        """Logits ``(N, T, V)`` for the inputs (a token-only batch is shifted like in training)."""
        return model(next_token_pairs(batch)[0])

    def metrics(self):
        from torchmetrics import MeanMetric
        from torchmetrics.text import Perplexity

        return {"ppl": Perplexity(ignore_index=self.ignore_index if self.ignore_index >= 0 else None),
                "token_acc": MeanMetric()}

    def update_metrics(self, metrics, out) -> None:
        logits, y = out["preds"], out["target"]
        metrics["ppl"].update(logits.float(), y)
        keep = y != self.ignore_index  # (N, T)
        correct = (logits.argmax(-1) == y)[keep].float()
        if correct.numel():
            metrics["token_acc"].update(correct)

    def configure_optimizers(self, model: nn.Module, build):
        params = [p for p in model.parameters() if p.requires_grad]
        if not self.decay_matrices_only:
            return build(params)
        decay = [p for p in params if p.dim() >= 2]
        rest = [p for p in params if p.dim() < 2]
        opt = build(decay)
        if rest:
            opt.add_param_group({"params": rest, "weight_decay": 0.0})
        return opt

    def reset_state(self) -> None:
        """Forget the carried states (call between epochs / before evaluating a new stream)."""
        self.state = self._eval_state = None

    @staticmethod
    def bits_per_token(loss_nats: float) -> float:
        return loss_nats / math.log(2)

    def __repr__(self) -> str:
        return f"LanguageModelTask(tbptt={self.tbptt}, ignore_index={self.ignore_index})"


def _batch(state: Any) -> int:
    s = state[0] if isinstance(state, tuple) else state
    return s.shape[1]
