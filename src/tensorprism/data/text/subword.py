"""Subword tokenisers trained locally with Hugging Face ``tokenizers`` (book §6.4; D2).

* :func:`train_wordpiece` — BERT's WordPiece (Schuster & Nakajima 2012): BERT normalisation
  (lower-casing, accent stripping), whitespace/punctuation pre-split, ``##`` continuation pieces,
  ``[CLS] A [SEP] B [SEP]`` templates with segment ids.
* :func:`train_bpe` — GPT-2's byte-level BPE (Sennrich et al. 2016; Radford et al. 2019): works
  on UTF-8 bytes, so any text round-trips exactly and there is no unknown token.

Both return a :class:`SubwordTokenizer`, which encodes batches into padded tensors and is saved as
one ``tokenizer.json`` beside a model's weights (``save(run_dir)`` / ``SubwordTokenizer.load``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ...errors import ConfigError, DatasetNotFoundError

__all__ = ["SubwordTokenizer", "train_wordpiece", "train_bpe"]

FILE = "tokenizer.json"


class SubwordTokenizer:
    """A trained ``tokenizers.Tokenizer`` with the ids a model needs (pad, mask, cls/sep, bos/eos)."""

    def __init__(self, tokenizer: Any):
        self.tokenizer = tokenizer

    # ----------------------------------------------------------------------------- vocabulary
    def __len__(self) -> int:
        return self.tokenizer.get_vocab_size()

    @property
    def vocab_size(self) -> int:
        return len(self)

    def token_to_id(self, token: str) -> int | None:
        return self.tokenizer.token_to_id(token)

    def _special(self, *names: str) -> int | None:
        for n in names:
            i = self.tokenizer.token_to_id(n)
            if i is not None:
                return i
        return None

    @property
    def pad_id(self) -> int:
        i = self._special("[PAD]", "<pad>")
        return 0 if i is None else i

    @property
    def mask_id(self) -> int | None:
        return self._special("[MASK]", "<mask>")

    @property
    def bos_id(self) -> int | None:
        return self._special("[CLS]", "<s>")

    @property
    def eos_id(self) -> int | None:
        return self._special("[SEP]", "</s>")

    def special_ids(self) -> list[int]:
        """Ids of the special tokens (never split, never masked by MLM)."""
        return sorted(self.tokenizer.get_added_tokens_decoder())

    # ------------------------------------------------------------------------------ encoding
    def encode(self, text: str, pair: str | None = None, add_special_tokens: bool = True) -> list[int]:
        return self.tokenizer.encode(text, pair, add_special_tokens=add_special_tokens).ids

    def tokens(self, text: str) -> list[str]:
        return self.tokenizer.encode(text, add_special_tokens=False).tokens

    def decode(self, ids: Iterable[int], skip_special_tokens: bool = True) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=skip_special_tokens)

    def encode_batch(self, texts: Sequence[str], pairs: Sequence[str] | None = None,
                     max_length: int | None = None) -> dict[str, Tensor]:
        """Pad to the longest (truncate to ``max_length``): ``input_ids``, ``token_type_ids``,
        ``attention_mask`` as ``(N, L)`` tensors."""
        tok = self.tokenizer
        if max_length is not None:
            tok.enable_truncation(max_length)
        else:
            tok.no_truncation()
        tok.enable_padding(pad_id=self.pad_id, pad_token=tok.id_to_token(self.pad_id) or "[PAD]")
        inputs = list(texts) if pairs is None else list(zip(texts, pairs, strict=True))
        enc = tok.encode_batch(inputs)
        tok.no_padding()
        return {"input_ids": torch.tensor([e.ids for e in enc]),
                "token_type_ids": torch.tensor([e.type_ids for e in enc]),
                "attention_mask": torch.tensor([e.attention_mask for e in enc])}

    # ------------------------------------------------------------------------------ storage
    def save(self, directory: str | Path) -> Path:
        """Write ``tokenizer.json`` into ``directory`` (a run directory, beside the weights)."""
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save(str(path / FILE))
        return path / FILE

    @classmethod
    def load(cls, path: str | Path) -> SubwordTokenizer:
        """From a ``tokenizer.json`` file or a directory holding one."""
        from ...optional import require

        Tokenizer = require("tokenizers", feature="subword tokenizers").Tokenizer
        p = Path(path)
        p = p / FILE if p.is_dir() else p
        if not p.is_file():
            raise DatasetNotFoundError(f"no tokenizer at {p}; train one with train_wordpiece/train_bpe and save() it")
        return cls(Tokenizer.from_file(str(p)))

    def __repr__(self) -> str:
        model = type(self.tokenizer.model).__name__
        return f"SubwordTokenizer({model}, vocab_size={len(self)})"


def _texts(texts: Iterable[str]) -> Iterable[str]:
    if isinstance(texts, str):
        raise ConfigError("train_* expects an iterable of texts, got a single string; wrap it in a list")
    return texts


def train_wordpiece(texts: Iterable[str], vocab_size: int = 8000, min_frequency: int = 2, lowercase: bool = True,
                    special_tokens: Sequence[str] = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")) -> SubwordTokenizer:
    """Train BERT-style WordPiece on ``texts``; ``[PAD]`` gets id 0."""
    from ...optional import require

    tk = require("tokenizers", feature="WordPiece training")
    Tokenizer, decoders, models, normalizers = tk.Tokenizer, tk.decoders, tk.models, tk.normalizers
    pre_tokenizers, processors, trainers = tk.pre_tokenizers, tk.processors, tk.trainers

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=lowercase)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                        special_tokens=list(special_tokens))
    tok.train_from_iterator(_texts(texts), trainer)
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    return SubwordTokenizer(tok)


def train_bpe(texts: Iterable[str], vocab_size: int = 8000, min_frequency: int = 2,
              special_tokens: Sequence[str] = ("<pad>", "<s>", "</s>", "<mask>"),
              add_bos_eos: bool = False) -> SubwordTokenizer:
    """Train GPT-2-style byte-level BPE; ``add_bos_eos`` wraps encodings in ``<s> ... </s>``."""
    from ...optional import require

    tk = require("tokenizers", feature="BPE training")
    Tokenizer, decoders, models, pre_tokenizers = tk.Tokenizer, tk.decoders, tk.models, tk.pre_tokenizers
    processors, trainers = tk.processors, tk.trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                  special_tokens=list(special_tokens),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(_texts(texts), trainer)
    if add_bos_eos:
        bos, eos = tok.token_to_id("<s>"), tok.token_to_id("</s>")
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A </s>", pair="<s> $A </s> $B:1 </s>:1", special_tokens=[("<s>", bos), ("</s>", eos)])
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return SubwordTokenizer(tok)
