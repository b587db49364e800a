"""Hierarchical attention (HAN) on the Debian fortunes, 43 categories (book §7.2.3, L7-8, L7-9)::

    prism run ch07-han

Texts are split into sentences (:func:`~tensorprism.data.text.documents.split_sentences`) and
words (:class:`~tensorprism.data.text.WordTokenizer`, words seen ``min_freq`` times in training),
padded to ``max_sentences × max_words``. Three models, trained alike:

* ``attention``: HAN (word and sentence attention);
* ``baseline``: a flat bidirectional GRU over the document's first ``max_sentences·max_words``
  words with mean pooling (the usual flat baseline, no attention);
* ``han-mean`` (when ``with_han_mean``): the hierarchical network with mean pooling at both levels
  -- the same network without attention.

The picture ``pictures/han-attention.html`` colours each word of test documents by its word
weight and draws each sentence's weight as a bar.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from . import register_recipe
from .ch07_common import Ch07Config, compare, fit, pictures_dir, seed_all, subset, text_weights_html


@dataclass
class Ch07HANConfig(Ch07Config):
    """Attributes:
        min_freq: keep words seen at least this often in training (others are ``<unk>``).
        max_sentences: sentences kept per document.
        max_words: words kept per sentence.
        embed_dim: word vector size.
        hidden_size: GRU size per direction (both models).
        dropout: on embeddings and before the classifier.
        with_han_mean: also train the hierarchical network with mean pooling.
    """

    min_freq: int = 2
    max_sentences: int = 8
    max_words: int = 24
    embed_dim: int = 64
    hidden_size: int = 32
    dropout: float = 0.2
    epochs: int = 5
    with_han_mean: bool = True


def _tensors(rows, tok, cfg):
    from ..data.arrays import ArrayDataset
    from ..data.text.documents import pad_documents, split_sentences

    docs = [[tok.encode(s) for s in split_sentences(t)] for t, _ in rows]
    docs = [[s for s in d if s] for d in docs]
    ids = pad_documents(docs, pad_id=0, max_sentences=cfg.max_sentences, max_words=cfg.max_words)
    if ids.shape[1:] != (cfg.max_sentences, cfg.max_words):  # same shape for every split
        full = torch.zeros(len(docs), cfg.max_sentences, cfg.max_words, dtype=torch.long)
        full[:, : ids.shape[1], : ids.shape[2]] = ids
        ids = full
    flat = ids.flatten(1)
    order = torch.argsort((flat == 0).to(torch.int8), dim=1, stable=True)  # words first, padding last
    flat = flat.gather(1, order)
    y = torch.tensor([label for _, label in rows])
    return ArrayDataset(ids, y), ArrayDataset(flat, y), docs


@register_recipe("ch07-han", config=Ch07HANConfig,
                 description="HAN vs a flat BiGRU (and HAN without attention) on the fortunes, 43 categories")
def han_recipe(cfg: Ch07HANConfig) -> dict:
    from ..data import load_dataset
    from ..data.text import WordTokenizer
    from ..models import create_model
    from .kit import save_result

    rows = {s: load_dataset("fortunes", split=s) for s in ("train", "val", "test")}
    if cfg.max_train:
        rows["train"] = [rows["train"][i] for i in subset(range(len(rows["train"])), cfg.max_train, cfg.seed)]
    for s in ("val", "test"):
        rows[s] = rows[s][: cfg.max_eval] if cfg.max_eval else rows[s]
    tok = WordTokenizer().fit([t for t, _ in rows["train"]], min_freq=cfg.min_freq)
    data = {s: _tensors(r, tok, cfg) for s, r in rows.items()}
    V, C = len(tok), 43
    out, models = {}, {}
    variants = [("attention", "han", 0), ("baseline", "rnn-classifier", 1)]
    if cfg.with_han_mean:
        variants.append(("han-mean", "han-mean", 0))
    for role, name, which in variants:
        seed_all(cfg.seed)
        if name == "rnn-classifier":
            model = create_model(name, vocab_size=V, embed_dim=cfg.embed_dim, hidden_size=cfg.hidden_size,
                                 cell="gru", bidirectional=True, pooling="mean", dropout=cfg.dropout, num_classes=C)
        else:
            model = create_model(name, vocab_size=V, embed_dim=cfg.embed_dim, hidden_size=cfg.hidden_size,
                                 dropout=cfg.dropout, num_classes=C)
        d = {s: data[s][which] for s in data}
        _, out[role] = fit(cfg, role, model, "classification", d["train"], d["val"], d["test"],
                           eval_batch_size=256)
        out[role]["model"] = name
        models[role] = model
    result = compare(out["attention"], out["baseline"])
    if "han-mean" in out:
        result["han_mean"] = out["han-mean"]
        result["difference_vs_han_mean"] = compare(out["attention"], out["han-mean"])["difference"]
    pics = pictures_dir(cfg)
    if pics is not None and cfg.pictures:
        _draw(pics, models["attention"].eval(), data["test"][0], data["test"][2], rows["test"], tok, cfg)
    return save_result(cfg, result)


def _draw(pics, model, ds, docs, rows, tok, cfg) -> None:
    from ..data import data_root
    from ..data.datasets.fortunes import fortune_categories

    names = fortune_categories(data_root(None))
    ids = ds.data[: cfg.pictures]
    with torch.no_grad():
        logits, att = model.attend(ids)
    pages = []
    for i in range(len(ids)):
        sentences = []
        for s, sent in enumerate(docs[i][: cfg.max_sentences]):
            words = tok.vocab.lookup(sent[: cfg.max_words])
            sentences.append((words, att.word_weights[i, s, : len(words)].tolist(), float(att.sentence_weights[i, s])))
        title = f"true: {names[rows[i][1]]} / predicted: {names[int(logits[i].argmax())]}"
        pages.append({"title": title, "sentences": sentences})
    text_weights_html(pics / "han-attention.html", pages)
