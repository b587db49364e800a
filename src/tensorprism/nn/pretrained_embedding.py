"""Embedding layers started from pre-trained word vectors (book Ch. 5, D8, l.11703: "GloVe, Word2Vec
initialisation"; no code in the book).

The ``ch02-word2vec`` recipe writes ``word_vectors.pt`` (``{"words": [...], "vectors": (V, d)}``) into
its run directory; :func:`load_word_vectors` reads it (or any file of that form) and
:func:`embedding_from_vectors` builds an ``nn.Embedding`` for another model's vocabulary: rows of
words the vectors know are copied, the others drawn from a normal distribution with the known
vectors' standard deviation (so that both kinds of rows have the same scale), the padding row is
zero. ``freeze=True`` keeps the table fixed during fine-tuning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from ..errors import ConfigError, DataError, ShapeError

__all__ = ["EmbeddingInit", "embedding_from_vectors", "load_word_vectors", "save_word_vectors"]


def save_word_vectors(path: str | Path, words: Sequence[str], vectors: Tensor) -> Path:
    """Write ``{"words": list, "vectors": (V, d) float32}`` with ``torch.save``."""
    if vectors.dim() != 2 or len(words) != vectors.shape[0]:
        raise ShapeError(f"need one vector per word: {len(words)} words, vectors {tuple(vectors.shape)}")
    path = Path(path)
    torch.save({"words": list(words), "vectors": vectors.detach().float().cpu()}, path)
    return path


def load_word_vectors(path: str | Path) -> tuple[list[str], Tensor]:
    """Read a file of :func:`save_word_vectors` (a run directory: its ``word_vectors.pt``)."""
    path = Path(path)
    if path.is_dir():
        path = path / "word_vectors.pt"
    if not path.is_file():
        raise DataError(f"no word vectors at {path}; run `prism run ch02-word2vec out_dir=DIR` to make them")
    doc = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(doc, dict) or set(doc) != {"words", "vectors"}:
        raise DataError(f"{path} is not a word-vector file (expected keys 'words' and 'vectors')")
    return list(doc["words"]), doc["vectors"]


@dataclass
class EmbeddingInit:
    """What :func:`embedding_from_vectors` did: ``found`` of ``total`` vocabulary words had a vector."""

    found: int
    total: int

    @property
    def coverage(self) -> float:
        return self.found / max(1, self.total)


def embedding_from_vectors(vocab: Sequence[str], words: Sequence[str], vectors: Tensor,
                           padding_idx: int | None = None, freeze: bool = False, lower: bool = True,
                           generator: torch.Generator | None = None) -> tuple[nn.Embedding, EmbeddingInit]:
    """``nn.Embedding(len(vocab), d)`` with the rows of known words copied from ``vectors (V', d)``.

    ``lower``: look words up lower-cased (the word2vec recipe's tokens are lower case).
    """
    if vectors.dim() != 2 or len(words) != vectors.shape[0]:
        raise ShapeError(f"need one vector per word: {len(words)} words, vectors {tuple(vectors.shape)}")
    if not len(vocab):
        raise ConfigError("embedding_from_vectors needs a non-empty vocabulary")
    index = {w: i for i, w in enumerate(words)}
    dim = vectors.shape[1]
    std = float(vectors.std()) if vectors.numel() > 1 else 1.0
    weight = torch.randn(len(vocab), dim, generator=generator) * std
    found = 0
    for row, word in enumerate(vocab):
        j = index.get(word.lower() if lower else word)
        if j is not None:
            weight[row] = vectors[j]
            found += 1
    if padding_idx is not None:
        weight[padding_idx] = 0.0
    emb = nn.Embedding.from_pretrained(weight, freeze=freeze, padding_idx=padding_idx)
    return emb, EmbeddingInit(found, len(vocab))
