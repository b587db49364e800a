"""Embedding layers started from word2vec vectors vs random ones (book Ch. 5 D8), measured on SST-2.

Skip-gram vectors are trained by the ``ch02-word2vec`` recipe on the *text* of the SST-2 training
phrases (no labels), then a BiLSTM sentiment classifier (``bilstm-sst2``, 100-d embeddings) is
trained on a small labelled subset of the training phrases (``max_train``, default 2,000 — the
regime where pre-trained vectors are expected to matter) twice per seed: embedding rows copied
from the vectors (:func:`~tensorprism.nn.pretrained_embedding.embedding_from_vectors`; words
without a vector drawn at the vectors' scale) and the default random initialisation. The weights
of the best dev epoch are scored on the 1,821 test sentences.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..config import setting
from . import register_recipe
from .ch05_common import Items
from .kit import RecipeConfig, make_trainer, run_dir, save_result


@dataclass
class Word2VecInitConfig(RecipeConfig):
    """Attributes:
    vectors: a ``word_vectors.pt`` written by ``ch02-word2vec``; ``None``: train them here on the
        SST-2 training text (``w2v_epochs``, ``w2v_time_budget_s``) into ``<out_dir>/word2vec``.
    max_train: labelled training phrases the classifier sees (the first ones of a seeded shuffle).
    embed_dim: must equal the vectors' width.
    hidden_size, epochs, batch_size, lr: the BiLSTM and its Adam training.
    freeze: keep the copied vectors fixed.
    seeds: classifier initialisations and data orders (each trained with both embeddings).
    data_root: where SST-2 is (default: ``$TENSORPRISM_DATA`` or ``~/.cache/tensorprism/data``).
    """

    vectors: str | None = None
    w2v_epochs: int = setting(5, min=1)
    w2v_time_budget_s: float | None = setting(300.0, gt=0)
    max_train: int = setting(2000, min=1)
    embed_dim: int = setting(100, min=1)
    hidden_size: int = setting(64, min=1)
    epochs: int = setting(6, min=1)
    batch_size: int = setting(32, min=1)
    lr: float = setting(1e-3, gt=0)
    freeze: bool = False
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    data_root: str | None = None


@register_recipe("ch05-sst2-word2vec-init", config=Word2VecInitConfig)
def word2vec_init(cfg: Word2VecInitConfig) -> dict:
    """Test accuracy of the BiLSTM with word2vec-initialised vs random embeddings (mean over seeds)."""
    from .. import create_model, load_dataset
    from ..data.text import PadCollator, WordTokenizer
    from ..errors import ConfigError
    from ..nn.pretrained_embedding import embedding_from_vectors, load_word_vectors
    from . import run_recipe

    w2v: dict = {}
    path = cfg.vectors
    if path is None:
        out = run_dir(cfg, "word2vec")
        w2v = run_recipe("ch02-word2vec", corpus="sst2", embed_dim=cfg.embed_dim, epochs=cfg.w2v_epochs,
                         time_budget_s=cfg.w2v_time_budget_s, seed=cfg.seed, data_root=cfg.data_root,
                         out_dir=str(out) if out else None, overwrite=cfg.overwrite, progress=cfg.progress,
                         tensorboard=False, plots=False, device="cpu")
        if "word_vectors" not in w2v:
            raise ConfigError("training the vectors here needs out_dir (they are passed on as a file); "
                              "set out_dir, or pass vectors= a word_vectors.pt")
        path = w2v["word_vectors"]
    words, vectors = load_word_vectors(path)
    if vectors.shape[1] != cfg.embed_dim:
        raise ConfigError(f"embed_dim={cfg.embed_dim} but the vectors in {path} have {vectors.shape[1]} dimensions")

    train_all = load_dataset("sst2", root=cfg.data_root, split="train")
    order = torch.randperm(len(train_all), generator=torch.Generator().manual_seed(cfg.seed)).tolist()
    train = [train_all[i] for i in order[: cfg.max_train]]
    dev = load_dataset("sst2", root=cfg.data_root, split="dev")
    test = load_dataset("sst2", root=cfg.data_root, split="test")
    tok = WordTokenizer().fit(s for s, _ in train)
    pad = tok.vocab.stoi["<pad>"]
    collate = PadCollator(("x", "y"), pad_id=pad)

    def items(rows):
        return Items([(tok.encode(s) or [tok.vocab.unk_id], y) for s, y in rows], collate)

    runs: dict[str, list[float]] = {"word2vec": [], "random": []}
    coverage = 0.0
    for seed in cfg.seeds:
        for init in runs:
            torch.manual_seed(seed)
            model = create_model("bilstm-sst2", vocab_size=len(tok), embed_dim=cfg.embed_dim,
                                 hidden_size=cfg.hidden_size, pad_id=pad)
            if init == "word2vec":
                model.embed, info = embedding_from_vectors(tok.vocab.itos, words, vectors, padding_idx=pad,
                                                           freeze=cfg.freeze,
                                                           generator=torch.Generator().manual_seed(seed))
                coverage = info.coverage
            tr = make_trainer(cfg, model, "classification", items(train), items(dev), items(test),
                              sub=f"{init}/seed-{seed}", epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                              optimizer="adam", seed=seed, precision="32", restore_best=True, monitor="val/acc",
                              mode="max", grad_clip_norm=5.0).fit()
            runs[init].append(float(tr.final_metrics["test/acc"]))
    result = {"vectors": str(Path(path)), "vocab": len(tok), "coverage": coverage, "train_sentences": len(train),
              **{f"{k}_test_acc": v for k, v in runs.items()},
              **{f"{k}_test_acc_mean": statistics.mean(v) for k, v in runs.items()}}
    if w2v:
        result["word2vec"] = {k: w2v[k] for k in ("vocab_size", "train_tokens", "val_loss_before", "val_loss_after",
                                                  "seconds") if k in w2v}
    return save_result(cfg, result)
