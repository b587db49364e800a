"""Multi30k German -> English with the encoder–decoder Transformer (book §6.3.3, §6.7; N7).

Lower-cased text, one byte-level BPE vocabulary trained on both languages of the training split
(shared, tied embeddings), a pre-LN Transformer (default 3+3 layers, d_model 256, 8 heads, FFN
1024, dropout 0.1), label-smoothed cross-entropy (0.1), Adam(0.9, 0.98, 1e-9) with linear warm-up
and inverse-square-root decay (the Noam schedule's shape), gradient clipping at 1, length
bucketing. Evaluated with beam search on test2016 by corpus sacreBLEU (13a tokenisation,
lower-cased references, as is usual for Multi30k).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..train.tasks import Task, split_batch
from . import register_recipe
from .kit import RecipeConfig, make_trainer, save_result


@dataclass
class TranslationConfig(RecipeConfig):
    src: str = "de"
    tgt: str = "en"
    vocab_size: int = 10000
    d_model: int = 256
    nhead: int = 8
    layers: int = 3
    d_ff: int = 1024
    dropout: float = 0.1
    label_smoothing: float = 0.1
    epochs: int = 20
    max_steps: int | None = None
    train_limit: int | None = None
    batch_size: int = 128
    lr: float = 1e-3
    warmup: int = 1000
    num_beams: int = 4
    length_penalty: float = 1.0
    eval_limit: int | None = None
    seed: int = 0
    device: str = "auto"


class _Seq2SeqTask(Task):
    """Teacher-forced label-smoothed CE; the model is a ``TransformerSeq2Seq``."""

    def __init__(self, label_smoothing: float):
        self.label_smoothing = label_smoothing

    def training_step(self, model, batch: Any) -> dict[str, torch.Tensor]:
        src, tgt = split_batch(batch)
        return {"loss": model.loss(src, tgt, self.label_smoothing)}


class _Pairs(torch.utils.data.Dataset):
    def __init__(self, pairs: list[tuple[list[int], list[int]]]):
        from ..data.text.collate import PadCollator

        self.pairs = pairs
        self.collate_fn = PadCollator(("x", "y"), pad_id=0)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int):
        return self.pairs[i]


def translate(model, tok, sentences: list[str], num_beams: int = 4, length_penalty: float = 1.0,
              batch_size: int = 64, device: Any = "cpu") -> list[str]:
    """Beam-search translations of raw (already lower-cased) sentences."""
    from ..data.text.collate import pad_sequences

    out = []
    for i in range(0, len(sentences), batch_size):
        src = pad_sequences([tok.encode(s) for s in sentences[i : i + batch_size]]).to(device)
        ids = model.generate(src, bos_id=tok.bos_id, eos_id=tok.eos_id, num_beams=num_beams,
                             length_penalty=length_penalty)
        out += [tok.decode(row[1:].tolist()).strip() for row in ids]
    return out


@register_recipe("ch06-translation", config=TranslationConfig)
def translation(cfg: TranslationConfig) -> dict:
    """Train on Multi30k train, report BLEU on test2016 (and the val loss)."""
    from ..optional import check_available

    check_available(["sacrebleu", "tokenizers"], feature="recipe ch06-translation")
    from .. import create_model, load_dataset
    from ..data.text.collate import BucketBatchSampler
    from ..data.text.subword import train_bpe
    from ..metrics.text import bleu

    t_start = time.perf_counter()
    rows = {s: [(a.lower(), b.lower()) for a, b in load_dataset("multi30k", split=s, src=cfg.src, tgt=cfg.tgt)]
            for s in ("train", "val", "test2016")}
    if cfg.train_limit:
        rows["train"] = rows["train"][: cfg.train_limit]
    tok = train_bpe([t for pair in rows["train"] for t in pair], vocab_size=cfg.vocab_size, add_bos_eos=True)
    assert tok.pad_id == 0
    data = {s: _Pairs([(tok.encode(a), tok.encode(b)) for a, b in r]) for s, r in rows.items()}
    model = create_model("transformer-small", src_vocab_size=len(tok), tgt_vocab_size=len(tok), d_model=cfg.d_model,
                         nhead=cfg.nhead, num_encoder_layers=cfg.layers, num_decoder_layers=cfg.layers,
                         d_ff=cfg.d_ff, dropout=cfg.dropout, share_embeddings=True, pad_id=tok.pad_id)
    train = data["train"]
    loader = torch.utils.data.DataLoader(
        train, batch_sampler=BucketBatchSampler([len(a) for a, _ in train.pairs], cfg.batch_size, seed=cfg.seed),
        collate_fn=train.collate_fn)
    # Noam's shape: linear warm-up to lr, then lr * sqrt(warmup / step)
    sched = {"name": "noam", "d_model": 1, "warmup": cfg.warmup}
    trainer = make_trainer(cfg, model, _Seq2SeqTask(cfg.label_smoothing), loader,
                           torch.utils.data.DataLoader(data["val"], batch_size=256, collate_fn=train.collate_fn),
                           optimizer="adam", optimizer_kwargs={"betas": (0.9, 0.98), "eps": 1e-9},
                           lr=cfg.lr * cfg.warmup**0.5, epochs=cfg.epochs, max_steps=cfg.max_steps, scheduler=sched,
                           grad_clip_norm=1.0)
    t0 = time.perf_counter()
    trainer.fit()
    train_s = time.perf_counter() - t0
    test = rows["test2016"][: cfg.eval_limit] if cfg.eval_limit else rows["test2016"]
    t0 = time.perf_counter()
    hyps = translate(model.eval(), tok, [a for a, _ in test], cfg.num_beams, cfg.length_penalty,
                     device=trainer.device)
    result = {
        "bleu_test2016": round(bleu(hyps, [b for _, b in test], lowercase=True), 2),
        "val_loss": float(trainer.final_metrics.get("val/loss", float("nan"))),
        "train_seconds": round(train_s, 1),
        "decode_seconds": round(time.perf_counter() - t0, 1),
        "total_seconds": round(time.perf_counter() - t_start, 1),
        "steps": trainer.global_step,
        "params": sum(p.numel() for p in model.parameters()),
        "device": str(trainer.device),
        "examples": [{"src": a, "ref": b, "hyp": h} for (a, b), h in list(zip(test, hyps, strict=True))[:5]],
    }
    if cfg.out_dir:
        out = Path(cfg.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        tok.save(out)
    return save_result(cfg, result)
