"""Skip-gram word2vec with negative sampling (Mikolov et al. 2013) on Tiny Shakespeare (§2.6.2).

The book only calls gensim (L19); here the model is written out. For a centre word ``c`` and a
context word ``o`` within the window, with ``K`` negatives ``w_k`` drawn from the unigram
distribution raised to 3/4:

.. math:: \\mathcal L = -\\log\\sigma(u_o^Tv_c) - \\sum_{k=1}^K\\log\\sigma(-u_{w_k}^Tv_c),

``v`` = input (centre) embeddings, ``u`` = output (context) embeddings, both ``(V, d)``. As in the
reference implementation: frequent words are sub-sampled (keep probability
:math:`(\\sqrt{f/t}+1)\\,t/f`), the effective window is drawn uniformly in ``1..window``, input
vectors start uniform in ``±0.5/d`` and output vectors at zero. Training uses sparse gradients and
``SparseAdam``. The recipe reports the held-out (validation split) loss before and after training
and the cosine nearest neighbours of query words.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ..config import setting
from ..train.callbacks import Callback
from ..train.tasks import Task
from . import register_recipe
from .kit import RecipeConfig, make_trainer, save_result

TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?")


def tokenize(text: str) -> list[str]:
    """Lower-case words with inner apostrophes kept (``o'er``, ``'tis`` -> ``tis``)."""
    return TOKEN.findall(text.lower())


class SkipGram(nn.Module):
    """Input/output embedding tables ``(V, d)`` scored by dot products (sparse gradients)."""

    def __init__(self, vocab_size: int, dim: int):
        super().__init__()
        self.vocab_size, self.dim = vocab_size, dim
        self.inp = nn.Embedding(vocab_size, dim, sparse=True)
        self.out = nn.Embedding(vocab_size, dim, sparse=True)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.uniform_(self.inp.weight, -0.5 / self.dim, 0.5 / self.dim)
        nn.init.zeros_(self.out.weight)

    def forward(self, centre: torch.Tensor, context: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
        """Mean SGNS loss of ``centre (B,)``, ``context (B,)``, ``negatives (B, K)``."""
        v = self.inp(centre)  # (B, d)
        pos = (v * self.out(context)).sum(-1)  # (B,)
        neg = torch.bmm(self.out(negatives), v.unsqueeze(-1)).squeeze(-1)  # (B, K)
        return -(F.logsigmoid(pos) + F.logsigmoid(-neg).sum(-1)).mean()

    def neighbours(self, word_ids: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Top-``k`` cosine neighbours (self excluded) of ``word_ids`` in the input space."""
        e = F.normalize(self.inp.weight.detach(), dim=-1)
        sims = e[word_ids] @ e.T
        sims[torch.arange(len(word_ids)), word_ids] = -2.0
        return sims.topk(k, dim=-1)


def skipgram_pairs(ids: torch.Tensor, window: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """All (centre, context) pairs with a dynamic window: a pair at distance ``o`` is kept with
    probability ``(window - o + 1) / window`` (= drawing the window size uniformly in 1..window)."""
    centres, contexts = [], []
    for o in range(1, window + 1):
        keep_p = (window - o + 1) / window
        for a, b in ((ids[:-o], ids[o:]), (ids[o:], ids[:-o])):
            keep = torch.rand(len(a), generator=gen) < keep_p
            centres.append(a[keep])
            contexts.append(b[keep])
    return torch.cat(centres), torch.cat(contexts)


@dataclass
class Word2VecConfig(RecipeConfig):
    """Attributes:
    embed_dim: embedding size ``d``.
    window: largest context distance (the effective window is drawn in ``1..window``).
    negatives: negative samples per pair.
    min_count: words seen fewer times are dropped.
    subsample: frequent-word sub-sampling threshold ``t`` (0: off).
    epochs, batch_size, lr: SparseAdam training; pairs are re-drawn every epoch.
    max_steps: stop after that many optimiser steps (``None``: all epochs).
    queries, topk: words whose nearest neighbours are reported.
    plot_words: the most frequent words drawn in the t-SNE figure.
    data_root: where Tiny Shakespeare is (default: ``$TENSORPRISM_DATA`` or ``~/.cache/tensorprism/data``).
    corpus: ``tinyshakespeare`` (train/val text), or ``sst2``: the text of the SST-2 training phrases
        (their labels are not read), validated on the dev sentences.
    """

    embed_dim: int = 100
    window: int = 5
    negatives: int = 5
    min_count: int = 5
    subsample: float = 1e-3
    epochs: int = 5
    batch_size: int = 1024
    lr: float = 0.01
    time_budget_s: float | None = 300.0
    max_steps: int | None = None
    queries: list[str] = field(default_factory=lambda: ["king", "queen", "love", "death", "night", "sword",
                                                          "father", "thou", "good", "rome"])
    topk: int = 6
    plot_words: int = 250
    data_root: str | None = None
    corpus: str = setting("tinyshakespeare", choices=("tinyshakespeare", "sst2"))


class EpochPairs(Dataset):
    """One epoch of shuffled skip-gram batches ``(centre (B,), context (B,), negatives (B, K))``;
    :meth:`resample` draws the epoch's sub-sampled words, dynamic windows and order anew."""

    def __init__(self, ids: torch.Tensor, keep_prob: torch.Tensor, noise: torch.Tensor, cfg: Word2VecConfig,
                 gen: torch.Generator):
        self.ids, self.keep_prob, self.noise, self.cfg, self.gen = ids, keep_prob, noise, cfg, gen
        self.centre = self.context = torch.empty(0, dtype=torch.long)

    def resample(self) -> None:
        kept = self.ids[torch.rand(len(self.ids), generator=self.gen, dtype=torch.float64) < self.keep_prob[self.ids]]
        centre, context = skipgram_pairs(kept, self.cfg.window, self.gen)
        order = torch.randperm(len(centre), generator=self.gen)
        self.centre, self.context = centre[order], context[order]

    def __len__(self) -> int:
        return -(-len(self.centre) // self.cfg.batch_size)

    def __getitem__(self, i: int):
        sl = slice(i * self.cfg.batch_size, (i + 1) * self.cfg.batch_size)
        c, o = self.centre[sl], self.context[sl]
        neg = torch.multinomial(self.noise, len(c) * self.cfg.negatives, replacement=True,
                                generator=self.gen).view(len(c), -1)
        return c, o, neg


class SkipGramTask(Task):
    """The model computes the negative-sampling loss of a ``(centre, context, negatives)`` batch."""

    name = "skipgram"

    def training_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        return {"loss": model(*batch)}


class _Epochs(Callback):
    """Re-draws the pairs before each epoch after the first (drawn before training, so that the
    Trainer sees a sized epoch) and keeps the per-epoch history of the result."""

    def __init__(self, pairs: EpochPairs):
        self.pairs, self.history, self.batches, self.started = pairs, [], 0, False

    def on_train_epoch_start(self, trainer) -> None:
        if self.started:
            self.pairs.resample()
        self.started, self.batches = True, 0

    def on_train_batch_end(self, trainer, outputs) -> None:
        self.batches += 1

    def on_epoch_end(self, trainer, logs) -> None:
        self.history.append({"epoch": len(self.history) + 1, "train_loss": float(logs.get("train/loss", math.nan)),
                             "val_loss": float(logs.get("val/loss", math.nan)), "pairs": len(self.pairs.centre)})


def _sparse_adam(params, lr: float) -> torch.optim.Optimizer:
    return torch.optim.SparseAdam(list(params), lr=lr)


@register_recipe("ch02-word2vec", config=Word2VecConfig)
def word2vec(cfg: Word2VecConfig) -> dict:
    """Train skip-gram with negative sampling on Tiny Shakespeare (or the SST-2 training text); report
    held-out loss and neighbours."""
    from ..data import load_dataset

    gen = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    if cfg.corpus == "sst2":  # unlabelled text: the sentences only
        train_words = tokenize(" ".join(s for s, _ in load_dataset("sst2", root=cfg.data_root, split="train")))
        val_words = tokenize(" ".join(s for s, _ in load_dataset("sst2", root=cfg.data_root, split="dev")))
    else:
        train_words = tokenize(load_dataset("tinyshakespeare", root=cfg.data_root, split="train"))
        val_words = tokenize(load_dataset("tinyshakespeare", root=cfg.data_root, split="val"))
    counts = Counter(train_words)
    vocab = [w for w, c in counts.most_common() if c >= cfg.min_count]
    stoi = {w: i for i, w in enumerate(vocab)}
    freq = torch.tensor([counts[w] for w in vocab], dtype=torch.float64)
    ids = torch.tensor([stoi[w] for w in train_words if w in stoi])
    val_ids = torch.tensor([stoi[w] for w in val_words if w in stoi])
    noise = (freq ** 0.75 / (freq ** 0.75).sum()).float()  # negative-sampling distribution
    f = freq / freq.sum()
    keep_prob = ((f / cfg.subsample).sqrt() + 1) * cfg.subsample / f if cfg.subsample > 0 else torch.ones_like(f)

    model = SkipGram(len(vocab), cfg.embed_dim)
    vc, vo = skipgram_pairs(val_ids, cfg.window, torch.Generator().manual_seed(cfg.seed + 1))
    val_neg = torch.multinomial(noise, len(vc) * cfg.negatives, replacement=True,
                                generator=torch.Generator().manual_seed(cfg.seed + 2)).view(len(vc), -1)
    val_batches = [(vc[s:s + 8192], vo[s:s + 8192], val_neg[s:s + 8192]) for s in range(0, len(vc), 8192)]

    @torch.no_grad()
    def val_loss() -> float:
        model.cpu()
        return sum(float(model(*b)) * len(b[0]) for b in val_batches) / len(vc)

    loss_before = val_loss()
    pairs = EpochPairs(ids, keep_prob, noise, cfg, gen)
    pairs.resample()
    epochs = _Epochs(pairs)
    # batch_size=None: the items are batches already (shuffled when each epoch is drawn)
    trainer = make_trainer(cfg, model, SkipGramTask(), DataLoader(pairs, batch_size=None),
                           DataLoader(val_batches, batch_size=None), callbacks=[epochs],
                           optimizer=_sparse_adam, lr=cfg.lr, epochs=cfg.epochs, max_steps=cfg.max_steps,
                           precision="32")
    t0 = time.perf_counter()
    trainer.fit()
    elapsed = time.perf_counter() - t0
    steps = trainer.global_step
    history = epochs.history
    stopped_early = epochs.batches < len(pairs)
    if stopped_early and (not history or len(history) < trainer.epoch + 1):
        history.append({"epoch": len(history) + 1, "train_loss": math.nan, "val_loss": val_loss(),
                        "pairs": len(pairs.centre)})
    loss_after = val_loss()

    queries = [q for q in cfg.queries if q in stoi]
    sims, idx = model.neighbours(torch.tensor([stoi[q] for q in queries], dtype=torch.long), cfg.topk)
    neighbours = {q: [(vocab[j], round(float(s), 3)) for j, s in zip(idx[i].tolist(), sims[i].tolist(), strict=True)]
                  for i, q in enumerate(queries)}
    result = {
        "vocab_size": len(vocab), "train_tokens": len(ids), "val_pairs": len(vc),
        "val_loss_before": loss_before, "val_loss_after": loss_after,
        "val_loss_unigram_baseline": (1 + cfg.negatives) * math.log(2.0),  # all scores 0 at init
        "epochs_run": len(history), "steps": steps, "seconds": elapsed, "stopped_early": stopped_early,
        "history": history, "neighbours": neighbours,
    }
    if cfg.out_dir:  # the input vectors, for starting other models' embedding layers (Ch. 5 D8)
        from ..nn.pretrained_embedding import save_word_vectors

        Path(cfg.out_dir).mkdir(parents=True, exist_ok=True)
        result["word_vectors"] = str(save_word_vectors(Path(cfg.out_dir) / "word_vectors.pt", vocab,
                                                       model.inp.weight.detach()))
    if cfg.out_dir and cfg.plots:
        out = Path(cfg.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        import matplotlib.pyplot as plt

        from ..viz.embeddings import embed, plot_embedding

        top = torch.arange(min(cfg.plot_words, len(vocab)))
        coords = embed(F.normalize(model.inp.weight.detach()[top], dim=-1), "tsne", perplexity=20.0)
        fig = plot_embedding(coords, annotate=[vocab[i] if i < 80 else "" for i in top.tolist()],
                             title=f"skip-gram embeddings of the {len(top)} most frequent words (t-SNE)")
        fig.set_size_inches(10, 8)
        fig.savefig(out / "word2vec_tsne.png", dpi=90)
        plt.close(fig)
        result["figure"] = str(out / "word2vec_tsne.png")
    return save_result(cfg, result)
