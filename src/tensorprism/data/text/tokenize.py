"""Vocabularies with special tokens, and character / word tokenisers (book D1-D3, D6).

A :class:`Vocab` maps tokens to ids with the special tokens first (``<pad>`` = 0 by default, so
padding never collides with a real token, as Keras' ``Tokenizer`` reserves index 0), an ``<unk>``
id for out-of-vocabulary tokens, and ``max_size`` / ``min_freq`` cut-offs (the book's
``build_vocab(max_size=10000)``, ``Tokenizer(num_words=10000)``).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from ...errors import ConfigError

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"


class Vocab:
    """Token ↔ id table. Specials come first, then tokens by decreasing frequency (ties by first
    appearance). ``vocab[token]`` gives the id (``<unk>``'s id for unknown tokens when the vocab
    has one, else :class:`KeyError`); ``vocab.lookup(ids)`` goes back."""

    def __init__(self, tokens: Sequence[str], specials: Sequence[str] = (PAD, UNK, BOS, EOS)):
        self.itos: list[str] = list(specials) + [t for t in tokens if t not in set(specials)]
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ConfigError("vocabulary tokens must be unique")
        self.specials = tuple(specials)
        self.unk_id = self.stoi.get(UNK)

    @classmethod
    def build(cls, token_lists: Iterable[Iterable[str]], *, min_freq: int = 1,
              max_size: int | None = None, specials: Sequence[str] = (PAD, UNK, BOS, EOS)) -> Vocab:
        """Count tokens over ``token_lists``; keep those seen ``min_freq`` times, at most
        ``max_size`` of them (specials not counted)."""
        counts: Counter[str] = Counter()
        for toks in token_lists:
            counts.update(toks)
        kept = [t for t, c in counts.most_common() if c >= min_freq and t not in specials]
        return cls(kept[:max_size] if max_size is not None else kept, specials)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def __getitem__(self, token: str) -> int:
        idx = self.stoi.get(token, self.unk_id)
        if idx is None:
            raise KeyError(f"token {token!r} is not in the vocabulary and it has no {UNK!r} entry")
        return idx

    def encode(self, tokens: Iterable[str]) -> list[int]:
        return [self[t] for t in tokens]

    def lookup(self, ids: Iterable[int]) -> list[str]:
        return [self.itos[int(i)] for i in ids]

    def id(self, token: str) -> int:
        """The id of a token that must be present (e.g. a special): no ``<unk>`` fallback."""
        if token not in self.stoi:
            raise KeyError(f"{token!r} is not in the vocabulary; specials are {self.specials}")
        return self.stoi[token]

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"itos": self.itos, "specials": list(self.specials)}))

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        d = json.loads(Path(path).read_text())
        n = len(d["specials"])
        return cls(d["itos"][n:], d["specials"])

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)}, specials={list(self.specials)})"


class CharTokenizer:
    """Character-level tokeniser (D2/D3): ``sorted(set(text))``, case-sensitive unless
    ``lower=True``. ``specials`` default to none, so ids are exactly the book's ``char_to_idx``."""

    def __init__(self, vocab: Vocab, lower: bool = False):
        self.vocab, self.lower = vocab, lower

    @classmethod
    def fit(cls, text: str, *, lower: bool = False, specials: Sequence[str] = ()) -> CharTokenizer:
        text = text.lower() if lower else text
        return cls(Vocab(sorted(set(text)), specials), lower)

    def encode(self, text: str) -> list[int]:
        return self.vocab.encode(text.lower() if self.lower else text)

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(t for t in self.vocab.lookup(ids) if t not in self.vocab.specials)

    def __len__(self) -> int:
        return len(self.vocab)


_WORD_RE = re.compile(r"[\w']+|[^\w\s]")


class WordTokenizer:
    """Word tokeniser: lower-case (optional) and split into words and punctuation marks.

    ``tokenize("I love this product!") == ["i", "love", "this", "product", "!"]``. Keras'
    ``Tokenizer`` drops punctuation instead; keep it here (it carries sentiment, e.g. "!").
    """

    def __init__(self, vocab: Vocab | None = None, lower: bool = True):
        self.vocab, self.lower = vocab, lower

    def tokenize(self, text: str) -> list[str]:
        return _WORD_RE.findall(text.lower() if self.lower else text)

    def fit(self, texts: Iterable[str], **vocab_kw) -> WordTokenizer:
        self.vocab = Vocab.build((self.tokenize(t) for t in texts), **vocab_kw)
        return self

    def encode(self, text: str, *, bos: bool = False, eos: bool = False) -> list[int]:
        if self.vocab is None:
            raise ConfigError("WordTokenizer has no vocabulary yet: call fit(texts) or pass vocab=")
        ids = self.vocab.encode(self.tokenize(text))
        return ([self.vocab.id(BOS)] if bos else []) + ids + ([self.vocab.id(EOS)] if eos else [])

    def decode(self, ids: Iterable[int], *, skip_specials: bool = True) -> str:
        toks = self.vocab.lookup(ids)
        if skip_specials:  # padding and sentence markers go; <unk> stays visible
            toks = [t for t in toks if t == UNK or t not in self.vocab.specials]
        return " ".join(toks)

    def __len__(self) -> int:
        return 0 if self.vocab is None else len(self.vocab)
