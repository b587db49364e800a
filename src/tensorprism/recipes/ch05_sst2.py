"""SST-2 sentiment with a BiLSTM trained from scratch (book §5.6.2, N7 on real data).

Vocabulary from the training phrases (GLUE's 67,349 phrase-level examples); lower-cased word
tokens; a bidirectional LSTM over packed sequences, max-pooled over time, dropout, linear logits;
Adam and the generic :class:`~tensorprism.train.Trainer` with the classification task. The model
of the epoch with the best dev accuracy is scored once on the labelled test set (1,821 sentences).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from . import register_recipe
from .ch05_common import Items
from .kit import RecipeConfig, make_trainer, save_result


@dataclass
class SST2Config(RecipeConfig):
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


@register_recipe("ch05-sst2", config=SST2Config)
def sst2(cfg: SST2Config) -> dict:
    """Train the BiLSTM; returns dev accuracy per epoch and test accuracy of the best-dev epoch."""
    from .. import create_model, load_dataset
    from ..data.text import PadCollator, WordTokenizer

    train = load_dataset("sst2", split="train")[: cfg.max_train]
    dev, test = load_dataset("sst2", split="dev"), load_dataset("sst2", split="test")
    tok = WordTokenizer().fit((s for s, _ in train), min_freq=cfg.min_freq)
    collate = PadCollator(("x", "y"), pad_id=tok.vocab.id("<pad>"))

    def items(rows):
        return Items([(tok.encode(s) or [tok.vocab.unk_id], y) for s, y in rows], collate)

    model = create_model("bilstm-sst2", vocab_size=len(tok), embed_dim=cfg.embed_dim, hidden_size=cfg.hidden_size,
                         num_layers=cfg.num_layers, pooling=cfg.pooling, dropout=cfg.dropout)
    t0 = time.perf_counter()
    # the weights of the best dev epoch are restored at the end and scored once on test
    trainer = make_trainer(cfg, model, "classification", items(train), items(dev), items(test),
                           epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, optimizer="adam",
                           weight_decay=cfg.weight_decay, grad_clip_norm=cfg.grad_clip_norm, precision="32",
                           restore_best=True, monitor="val/acc", mode="max").fit()
    dev_curve = [float(v) for v in trainer.history.get("val/acc", [])]
    best_epoch = max(range(len(dev_curve)), key=dev_curve.__getitem__) + 1
    test_acc = float(trainer.final_metrics["test/acc"])
    best = {"dev_acc": dev_curve[best_epoch - 1], "epoch": best_epoch}
    result = {"test_acc": test_acc, "best_dev_acc": best["dev_acc"], "best_epoch": best["epoch"],
              "dev_acc_per_epoch": dev_curve, "vocab": len(tok), "train_examples": len(train),
              "seconds": round(time.perf_counter() - t0, 1), "device": str(trainer.device), "config": asdict(cfg)}
    return save_result(cfg, result)
