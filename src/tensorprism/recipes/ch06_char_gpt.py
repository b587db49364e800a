"""Character-level GPT on Tiny Shakespeare at nanoGPT's CPU configuration (book §6.4.2).

nanoGPT (Karpathy) reports validation loss about 1.88 for 4 layers, 4 heads, 128 wide, context 64,
batch 12, 2000 iterations, no dropout, AdamW(lr 1e-3, betas (0.9, 0.99), weight decay 0.1) with
100 warm-up steps and cosine decay to 1e-4, gradient clipping at 1. The recipe trains exactly that
on the 90/10 split and reports the loss on the **whole** validation text (non-overlapping windows)
as well as nanoGPT's estimate (mean of 20 random validation batches).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch

from . import register_recipe
from .kit import RecipeConfig, make_trainer, save_result


@dataclass
class CharGPTConfig(RecipeConfig):
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    block_size: int = 64
    batch_size: int = 12
    max_iters: int = 2000
    dropout: float = 0.0
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup: int = 100
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    seed: int = 1337
    sample_tokens: int = 300
    device: str = "auto"


@register_recipe("ch06-char-gpt", config=CharGPTConfig)
def char_gpt(cfg: CharGPTConfig) -> dict:
    """Train the character GPT; returns val loss (full and nanoGPT estimate) and wall time."""
    from .. import create_model, load_dataset
    from ..data.text.lm import SlidingWindowDataset
    from ..data.text.tokenize import CharTokenizer

    train_text = load_dataset("tinyshakespeare", split="train")
    val_text = load_dataset("tinyshakespeare", split="val")
    tok = CharTokenizer.fit(train_text + val_text)
    train_ids = torch.tensor(tok.encode(train_text))
    val_ids = torch.tensor(tok.encode(val_text))
    model = create_model("gpt-char", vocab_size=len(tok), block_size=cfg.block_size, n_layer=cfg.n_layer,
                         n_head=cfg.n_head, n_embd=cfg.n_embd, dropout=cfg.dropout, bias=False,
                         activation="gelu")
    trainer = make_trainer(
        cfg, model, "causal-lm", SlidingWindowDataset(train_ids, cfg.block_size),
        SlidingWindowDataset(val_ids, cfg.block_size, stride=cfg.block_size),
        optimizer="adamw", optimizer_kwargs={"betas": (0.9, 0.99)}, lr=cfg.lr, weight_decay=cfg.weight_decay,
        batch_size=cfg.batch_size, eval_batch_size=256, epochs=1, max_steps=cfg.max_iters,
        scheduler={"name": "cosine", "warmup": cfg.warmup, "min_factor": cfg.min_lr / cfg.lr},
        grad_clip_norm=cfg.grad_clip,
    )
    t0 = time.perf_counter()
    trainer.fit()
    train_s = time.perf_counter() - t0
    model.eval()
    gen = torch.Generator().manual_seed(cfg.seed)
    with torch.no_grad():  # nanoGPT's estimate: 20 random batches of the validation text
        starts = torch.randint(len(val_ids) - cfg.block_size - 1, (20, cfg.batch_size), generator=gen)
        est = torch.stack([
            model.loss(torch.stack([val_ids[s : s + cfg.block_size] for s in row]).to(trainer.device),
                       torch.stack([val_ids[s + 1 : s + 1 + cfg.block_size] for s in row]).to(trainer.device))
            for row in starts
        ]).mean()
    prompt = torch.tensor([tok.encode("\n")], device=trainer.device)
    sample = tok.decode(model.generate(prompt, max_new_tokens=cfg.sample_tokens, do_sample=True, top_k=40,
                                       generator=gen)[0].tolist())
    result = {
        "val_loss": float(trainer.final_metrics["val/loss"]),
        "val_loss_nanogpt_estimate": float(est),
        "train_loss_last_epoch": float(trainer.final_metrics.get("train/loss", float("nan"))),
        "train_seconds": round(train_s, 1),
        "iters": cfg.max_iters,
        "params": sum(p.numel() for p in model.parameters()),
        "device": str(trainer.device),
    }
    if cfg.out_dir:
        out = Path(cfg.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "sample.txt").write_text(sample)
        tok.vocab.save(out / "vocab.json")  # `prism generate <out_dir>` reads it
    result["sample"] = sample
    return save_result(cfg, result)
