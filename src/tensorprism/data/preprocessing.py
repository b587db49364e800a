"""Preprocessing fitted on a training split, described as plain JSON so it travels with the model.

A dataset that transforms its raw data with statistics of its training split (standardisation of
scikit-learn tables, the per-channel normalisation of MNIST/CIFAR-10, the vocabulary of a text set)
exposes that transform as ``dataset.preprocessing``, a :class:`Preprocessing`. The run builder
stores ``preprocessing.to_dict()`` in the run's ``run_info`` (checkpoint header and
``config.yaml``); ``prism predict -i raw.npy``, ``prism eval`` and :class:`~tensorprism.train.run.
Predictor` rebuild it with :meth:`Preprocessing.from_dict` and apply it to raw inputs, so a model
never sees data prepared differently from its training data.

Kinds (``to_dict()["kind"]``):

* ``standardize``  -- ``(x - mean) / scale`` per feature, then reshaped to the sample shape;
* ``min-max``      -- ``lo + (x - min)(hi - lo) / (max - min)`` per feature;
* ``image-normalize`` -- images in ``0..255``: ``(x / 255 - mean_c) / std_c`` per channel;
* ``char-vocab``   -- a string to character ids;
* ``word-vocab``   -- sentences to word ids (``<pad>`` = 0, unknown words to ``<unk>``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor

from ..errors import ConfigError, DataError, ShapeError

KINDS: dict[str, type[Preprocessing]] = {}


class Preprocessing:
    """Base class: a transform of raw inputs, rebuilt from :meth:`to_dict` with :meth:`from_dict`."""

    kind: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        KINDS[cls.kind] = cls

    def params(self) -> dict[str, Any]:
        """The constructor arguments, JSON-able (lists, numbers, strings)."""
        raise NotImplementedError(f"{type(self).__name__} must define params() (abstract base)")

    def __call__(self, raw: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __call__ (abstract base)")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.params()}

    @staticmethod
    def from_dict(doc: dict[str, Any]) -> Preprocessing:
        """Rebuild a transform from :meth:`to_dict`'s output (as read from a run directory)."""
        if not isinstance(doc, dict) or doc.get("kind") not in KINDS:
            kind = doc.get("kind") if isinstance(doc, dict) else type(doc).__name__
            raise ConfigError(f"unknown preprocessing {kind!r}; known kinds: {', '.join(sorted(KINDS))}")
        params = {k: v for k, v in doc.items() if k != "kind"}
        try:
            return KINDS[doc["kind"]](**params)
        except TypeError as exc:
            raise ConfigError(f"preprocessing {doc['kind']!r} has unexpected settings {sorted(params)}: {exc}") from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Preprocessing) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.kind})"


def _numeric(raw: Any, what: str) -> Tensor:
    x = torch.as_tensor(raw)
    if x.dtype == torch.bool or x.is_complex() or not (x.is_floating_point() or x.dtype in _INTS):
        raise DataError(f"{what} needs numeric inputs, got dtype {x.dtype}")
    return x.to(torch.float32)


_INTS = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


class Standardize(Preprocessing):
    """``(x - mean) / scale`` per feature, fitted on the training rows.

    Args:
        mean, scale: ``F`` per-feature statistics (``scale`` > 0).
        shape: the sample shape the model takes (``prod(shape) == F``; default ``(F,)``).

    ``__call__`` takes raw rows ``(N, F)`` or ``(N, *shape)`` and returns ``(N, *shape)`` float32.
    """

    kind = "standardize"

    def __init__(self, mean: Sequence[float], scale: Sequence[float], shape: Sequence[int] | None = None):
        self.mean = torch.as_tensor(mean, dtype=torch.float32).flatten()
        self.scale = torch.as_tensor(scale, dtype=torch.float32).flatten()
        if self.mean.shape != self.scale.shape or bool((self.scale <= 0).any()):
            raise ConfigError("standardize needs mean and scale of one length with scale > 0")
        self.shape = tuple(int(s) for s in shape) if shape is not None else (len(self.mean),)

    def params(self) -> dict[str, Any]:
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist(), "shape": list(self.shape)}

    def __call__(self, raw: Any) -> Tensor:
        x = _numeric(raw, "standardize")
        n_feat = len(self.mean)
        if x.dim() < 2 or x[0].numel() != n_feat:
            also = f" or (N, {', '.join(map(str, self.shape))})" if self.shape != (n_feat,) else ""
            raise ShapeError(f"raw inputs of shape {tuple(x.shape)} do not have the {n_feat} features the "
                             f"model was trained on; expected an array of shape (N, {n_feat}){also}")
        return ((x.reshape(len(x), n_feat) - self.mean) / self.scale).reshape(len(x), *self.shape)


class MinMaxScale(Preprocessing):
    """Min-max normalisation per feature (book l.2640-2644): ``lo + (x - min)(hi - lo)/(max - min)``.

    Args:
        data_min, data_max: ``F`` per-feature statistics of the training rows (see :meth:`fit`).
        feature_range: ``(lo, hi)``, default ``(0, 1)``.

    ``__call__`` takes raw rows ``(N, F)`` and returns ``(N, F)`` float32; a constant training
    feature is only shifted. Equal to scikit-learn's ``MinMaxScaler`` (tested).
    """

    kind = "min-max"

    def __init__(self, data_min: Sequence[float], data_max: Sequence[float],
                 feature_range: Sequence[float] = (0.0, 1.0)):
        self.data_min = torch.as_tensor(data_min, dtype=torch.float32).flatten()
        self.data_max = torch.as_tensor(data_max, dtype=torch.float32).flatten()
        if self.data_min.shape != self.data_max.shape or bool((self.data_max < self.data_min).any()):
            raise ConfigError("min-max scaling needs data_min and data_max of one length with max >= min")
        self.feature_range = (float(feature_range[0]), float(feature_range[1]))

    @classmethod
    def fit(cls, rows: Any, feature_range: Sequence[float] = (0.0, 1.0)) -> MinMaxScale:
        """Statistics of the training rows ``(N, F)``."""
        from ..functional.features import min_max_statistics

        lo, hi = min_max_statistics(_numeric(rows, "min-max scaling"))
        return cls(lo.tolist(), hi.tolist(), feature_range)

    def params(self) -> dict[str, Any]:
        return {"data_min": self.data_min.tolist(), "data_max": self.data_max.tolist(),
                "feature_range": list(self.feature_range)}

    def __call__(self, raw: Any) -> Tensor:
        from ..functional.features import min_max_scale

        x = _numeric(raw, "min-max scaling")
        if x.dim() != 2 or x.shape[1] != len(self.data_min):
            raise ShapeError(f"raw inputs of shape {tuple(x.shape)} do not have the {len(self.data_min)} features "
                             f"the scaler was fitted on; expected (N, {len(self.data_min)})")
        return min_max_scale(x, self.data_min, self.data_max, self.feature_range)


class ImageNormalize(Preprocessing):
    """Images stored as ``0..255``: ``(x / 255 - mean_c) / std_c`` per channel (``normalize=False``:
    ``x / 255`` only). ``__call__`` takes ``(N, C, H, W)`` (or ``(N, H, W)`` for one channel)."""

    kind = "image-normalize"

    def __init__(self, mean: Sequence[float], std: Sequence[float], normalize: bool = True):
        self.mean, self.std, self.normalize = [float(m) for m in mean], [float(s) for s in std], bool(normalize)
        if len(self.mean) != len(self.std) or min(self.std, default=1.0) <= 0:
            raise ConfigError("image-normalize needs one mean and one std > 0 per channel")

    def params(self) -> dict[str, Any]:
        return {"mean": self.mean, "std": self.std, "normalize": self.normalize}

    def __call__(self, raw: Any) -> Tensor:
        x = _numeric(raw, "image-normalize")
        c = len(self.mean)
        if x.dim() == 3 and c == 1:
            x = x.unsqueeze(1)
        if x.dim() != 4 or x.shape[1] != c:
            raise ShapeError(f"raw images of shape {tuple(x.shape)}: expected (N, {c}, H, W) with values "
                             f"0..255{' or (N, H, W)' if c == 1 else ''}")
        x = x / 255.0
        if not self.normalize:
            return x
        return (x - torch.tensor(self.mean).view(1, c, 1, 1)) / torch.tensor(self.std).view(1, c, 1, 1)


class CharVocab(Preprocessing):
    """Characters to ids (``chars[i]`` has id ``i``); ``__call__(text) -> (T,)`` int64 ids."""

    kind = "char-vocab"

    def __init__(self, chars: Sequence[str]):
        self.chars = list(chars)
        self.stoi = {ch: i for i, ch in enumerate(self.chars)}

    @classmethod
    def fit(cls, text: str) -> CharVocab:
        return cls(sorted(set(text)))

    def params(self) -> dict[str, Any]:
        return {"chars": self.chars}

    def __len__(self) -> int:
        return len(self.chars)

    def __call__(self, raw: str) -> Tensor:
        unknown = sorted(set(raw) - self.stoi.keys())
        if unknown:
            raise DataError(f"characters {unknown[:10]} are not in the model's vocabulary of {len(self)} "
                            f"characters (fitted on its training text)")
        return torch.tensor([self.stoi[ch] for ch in raw], dtype=torch.long)

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.chars[int(i)] for i in ids)


class WordVocab(Preprocessing):
    """Sentences to word ids with :class:`~tensorprism.data.text.tokenize.WordTokenizer` rules
    (lower-cased words and punctuation); id 0 is ``<pad>``, unknown words map to ``<unk>``.
    ``__call__(sentences) -> list`` of ``(T_i,)`` int64 id tensors (at least one id each)."""

    kind = "word-vocab"

    def __init__(self, itos: Sequence[str], lower: bool = True):
        from .text.tokenize import PAD, UNK, Vocab, WordTokenizer

        itos = list(itos)
        if itos[:2] != [PAD, UNK]:
            raise ConfigError(f"word-vocab must start with {PAD!r} and {UNK!r}, got {itos[:2]}")
        self.tokenizer = WordTokenizer(Vocab(itos[2:], specials=(PAD, UNK)), lower=lower)

    @classmethod
    def fit(cls, sentences: Sequence[str], *, min_freq: int = 1, max_size: int | None = None) -> WordVocab:
        from .text.tokenize import PAD, UNK, WordTokenizer

        tok = WordTokenizer().fit(sentences, min_freq=min_freq, max_size=max_size, specials=(PAD, UNK))
        return cls(tok.vocab.itos)

    def params(self) -> dict[str, Any]:
        return {"itos": self.tokenizer.vocab.itos, "lower": self.tokenizer.lower}

    def __len__(self) -> int:
        return len(self.tokenizer)

    def __call__(self, raw: Sequence[str] | str) -> list[Tensor]:
        sentences = [raw] if isinstance(raw, str) else list(raw)
        unk = self.tokenizer.vocab.unk_id
        return [torch.tensor(self.tokenizer.encode(str(s)) or [unk], dtype=torch.long) for s in sentences]


class DocumentVocab(WordVocab):
    """Texts to ``(S, W)`` word-id tensors for hierarchical models: each text is split into sentences
    (:func:`~tensorprism.data.text.documents.split_sentences`), each sentence encoded as by
    :class:`WordVocab`, and the document padded with ``<pad>`` (id 0) to its longest sentence, keeping
    at most ``max_sentences`` sentences of ``max_words`` words. ``__call__(texts) -> list`` of
    ``(S_i, W_i)`` int64 tensors (a text without words gives one ``<unk>``)."""

    kind = "document-vocab"

    def __init__(self, itos: Sequence[str], lower: bool = True, max_sentences: int = 16, max_words: int = 40):
        super().__init__(itos, lower)
        if max_sentences < 1 or max_words < 1:
            raise ConfigError(f"max_sentences and max_words must be >= 1, got {max_sentences} and {max_words}")
        self.max_sentences, self.max_words = int(max_sentences), int(max_words)

    @classmethod
    def fit(cls, texts: Sequence[str], *, min_freq: int = 1, max_size: int | None = None, max_sentences: int = 16,
            max_words: int = 40) -> DocumentVocab:
        vocab = WordVocab.fit(texts, min_freq=min_freq, max_size=max_size)
        return cls(vocab.tokenizer.vocab.itos, max_sentences=max_sentences, max_words=max_words)

    def params(self) -> dict[str, Any]:
        return {**super().params(), "max_sentences": self.max_sentences, "max_words": self.max_words}

    def __call__(self, raw: Sequence[str] | str) -> list[Tensor]:
        from .text.documents import pad_documents, split_sentences

        texts = [raw] if isinstance(raw, str) else list(raw)
        out = []
        for text in texts:
            sentences = [ids for ids in (self.tokenizer.encode(s) for s in split_sentences(str(text))) if ids]
            sentences = sentences or [[self.tokenizer.vocab.unk_id]]
            out.append(pad_documents([sentences], max_sentences=self.max_sentences, max_words=self.max_words)[0])
        return out


class PairVocab(Preprocessing):
    """(source, target) sentence pairs to word ids for encoder–decoders: one vocabulary per side
    (:class:`~tensorprism.data.text.tokenize.WordTokenizer` rules; ids 0-3 are ``<pad>``, ``<unk>``,
    ``<bos>``, ``<eos>`` on both), the target wrapped in ``<bos> … <eos>``, both cut to ``max_len``
    tokens. ``__call__(sources) -> list`` of ``(S_i,)`` source ids (for translating raw sentences);
    :meth:`decode` turns target ids back into text."""

    kind = "pair-vocab"

    def __init__(self, src_itos: Sequence[str], tgt_itos: Sequence[str], lower: bool = True,
                 max_len: int | None = None):
        from .text.tokenize import BOS, EOS, PAD, UNK, Vocab, WordTokenizer

        specials = [PAD, UNK, BOS, EOS]
        if list(src_itos[:4]) != specials or list(tgt_itos[:4]) != specials:
            raise ConfigError(f"pair-vocab vocabularies must start with {specials}")
        if max_len is not None and max_len < 3:
            raise ConfigError(f"max_len must be >= 3 (<bos>, a token, <eos>) or None, got {max_len}")
        self.src = WordTokenizer(Vocab(list(src_itos[4:])), lower=lower)
        self.tgt = WordTokenizer(Vocab(list(tgt_itos[4:])), lower=lower)
        self.lower, self.max_len = lower, max_len
        self.pad_id, self.unk_id, self.bos_id, self.eos_id = 0, 1, 2, 3

    @classmethod
    def fit(cls, pairs: Sequence[tuple[str, str]], *, min_freq: int = 1, max_len: int | None = None) -> PairVocab:
        from .text.tokenize import WordTokenizer

        src = WordTokenizer().fit([a for a, _ in pairs], min_freq=min_freq)
        tgt = WordTokenizer().fit([b for _, b in pairs], min_freq=min_freq)
        return cls(src.vocab.itos, tgt.vocab.itos, max_len=max_len)

    def params(self) -> dict[str, Any]:
        return {"src_itos": self.src.vocab.itos, "tgt_itos": self.tgt.vocab.itos, "lower": self.lower,
                "max_len": self.max_len}

    def sizes(self) -> tuple[int, int]:
        return len(self.src.vocab), len(self.tgt.vocab)

    def _source(self, text: str) -> Tensor:
        ids = self.src.encode(str(text))[: self.max_len] or [self.unk_id]
        return torch.tensor(ids, dtype=torch.long)

    def encode_pair(self, source: str, target: str) -> tuple[Tensor, Tensor]:
        """``(source ids (S,), target ids (T,))``, the target as ``<bos> … <eos>``."""
        body = self.tgt.encode(str(target))[: self.max_len - 2 if self.max_len else None]
        return self._source(source), torch.tensor([self.bos_id, *body, self.eos_id], dtype=torch.long)

    def __call__(self, raw: Sequence[str] | str) -> list[Tensor]:
        return [self._source(t) for t in ([raw] if isinstance(raw, str) else list(raw))]

    def decode(self, ids: Sequence[int]) -> str:
        """Target text of ``ids``, up to the first ``<eos>``, without ``<bos>``/padding."""
        ids = [int(i) for i in ids]
        ids = ids[: ids.index(self.eos_id)] if self.eos_id in ids else ids
        return self.tgt.decode(ids)


def preprocessing_of(dataset: Any) -> Preprocessing | None:
    """The preprocessing a dataset applied to its raw data, or ``None``: ``dataset.preprocessing``,
    or for an :class:`~tensorprism.data.arrays.ImageDataset` (MNIST, CIFAR-10) its normalisation."""
    from .arrays import ImageDataset

    pre = getattr(dataset, "preprocessing", None)
    if pre is None and isinstance(dataset, ImageDataset) and not dataset.raw:
        # uint8 images are converted per batch on access: the transform is the dataset's own
        return ImageNormalize(dataset.mean, dataset.std, dataset.normalize)
    if pre is not None and not isinstance(pre, Preprocessing):
        raise ConfigError(f"{type(dataset).__name__}.preprocessing must be a Preprocessing, got {type(pre).__name__}")
    return pre


__all__ = ["CharVocab", "DocumentVocab", "ImageNormalize", "KINDS", "PairVocab", "Preprocessing", "Standardize", "WordVocab", "preprocessing_of"]
