"""SST-2 sentiment with a BiLSTM trained from scratch (book §5.6.2, N7 on real data).

Vocabulary from the training phrases (GLUE's 67,349 phrase-level examples); lower-cased word
tokens; a bidirectional LSTM over packed sequences, max-pooled over time, dropout, linear logits;
Adam and the generic :class:`~tensorprism.train.Trainer` with the classification task. The model
of the epoch with the best dev accuracy is scored once on the labelled test set (1,821 sentences).
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass

from . import register_recipe
from .ch05_common import Items, save_result


@dataclass
class SST2Config:
    embed_dim: int = 300
    hidden_size: int = 256
    num_layers: int = 1
    pooling: str = "max"
    dropout: float = 0.5
    epochs: int = 4
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    min_freq: int = 1
    max_train: int | None = None
    grad_clip_norm: float | None = 5.0
    seed: int = 0
    device: str = "auto"
    out_dir: str | None = "runs/ch05_sst2"


@register_recipe("ch05-sst2", config=SST2Config)
def sst2(cfg: SST2Config) -> dict:
    """Train the BiLSTM; returns dev accuracy per epoch and test accuracy of the best-dev epoch."""
    from .. import create_model, load_dataset
    from ..data.text import PadCollator, WordTokenizer
    from ..train import Trainer

    train = load_dataset("sst2", split="train")[: cfg.max_train]
    dev, test = load_dataset("sst2", split="dev"), load_dataset("sst2", split="test")
    tok = WordTokenizer().fit((s for s, _ in train), min_freq=cfg.min_freq)
    collate = PadCollator(("x", "y"), pad_id=tok.vocab.id("<pad>"))

    def items(rows):
        return Items([(tok.encode(s) or [tok.vocab.unk_id], y) for s, y in rows], collate)

    model = create_model("bilstm-sst2", vocab_size=len(tok), embed_dim=cfg.embed_dim, hidden_size=cfg.hidden_size,
                         num_layers=cfg.num_layers, pooling=cfg.pooling, dropout=cfg.dropout)
    best: dict = {"dev_acc": -1.0}
    t0 = time.perf_counter()
    trainer = None
    dev_curve = []
    for epoch in range(cfg.epochs):
        if trainer is None:
            trainer = Trainer(model, "classification", train_data=items(train), val_data=items(dev),
                              epochs=1, batch_size=cfg.batch_size, lr=cfg.lr, optimizer="adam",
                              weight_decay=cfg.weight_decay, grad_clip_norm=cfg.grad_clip_norm,
                              device=cfg.device, seed=cfg.seed, precision="32", progress=False,
                              tensorboard=False, plots=False, out_dir=None)
        else:
            trainer.config.epochs = epoch + 1
        trainer.fit()
        acc = trainer.evaluate("val")["val/acc"]
        dev_curve.append(acc)
        if acc > best["dev_acc"]:
            best = {"dev_acc": acc, "epoch": epoch + 1, "state": copy.deepcopy(model.state_dict())}
    model.load_state_dict(best.pop("state"))
    test_acc = trainer.evaluate(items(test), prefix="test")["test/acc"]
    result = {"test_acc": test_acc, "best_dev_acc": best["dev_acc"], "best_epoch": best["epoch"],
              "dev_acc_per_epoch": dev_curve, "vocab": len(tok), "train_examples": len(train),
              "seconds": round(time.perf_counter() - t0, 1), "device": str(trainer.device), "config": asdict(cfg)}
    return save_result(cfg.out_dir, "sst2", result)
