"""Documents as sentences of words, padded to ``(N, S, W)`` for hierarchical models (book §7.2.3).

:func:`split_sentences` cuts a text after ``.``, ``!`` or ``?`` followed by white space, and at
blank lines and line breaks that end a line of verse or a list item (so poems, quotes and
definitions split into their lines). :func:`pad_documents` turns ragged documents (lists of
sentences of token ids) into one id tensor, truncating to ``max_sentences`` × ``max_words``; a
padded position holds ``pad_id`` and the model's mask is ``ids != pad_id``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch
from torch import Tensor

from ...errors import DataError

__all__ = ["split_sentences", "pad_documents"]

_BOUNDARY = re.compile(r"(?<=[.!?])\s+|\n\s*\n|\n(?=\s*[-*\"A-Z0-9(])")


def split_sentences(text: str) -> list[str]:
    """The non-empty sentences of ``text``, stripped (see the module docs for the rule)."""
    return [s for s in (p.strip() for p in _BOUNDARY.split(text)) if s]


def pad_documents(docs: Sequence[Sequence[Sequence[int]]], pad_id: int = 0, max_sentences: int | None = None,
                  max_words: int | None = None) -> Tensor:
    """``docs[i][s]`` = the token ids of sentence ``s`` of document ``i`` -> ids ``(N, S, W)`` long.

    ``S``/``W`` are the longest document/sentence (capped by ``max_sentences``/``max_words``,
    which truncate). A document that is not a list of lists of ints raises :class:`DataError`
    naming it; empty sentences and empty documents are allowed (they become padding).
    """
    for i, doc in enumerate(docs):
        if isinstance(doc, (str, bytes)) or not isinstance(doc, Sequence):
            raise DataError(f"document {i} must be a list of sentences (lists of token ids), got {type(doc).__name__}")
        for s, sent in enumerate(doc):
            if isinstance(sent, (str, bytes)) or not isinstance(sent, Sequence) or not all(
                    isinstance(t, int) and not isinstance(t, bool) for t in sent):
                raise DataError(f"sentence {s} of document {i} must be a list of int token ids, got {sent!r:.60}; "
                                "tokenise the text first (e.g. WordTokenizer.encode)")
            if pad_id in sent:
                raise DataError(f"sentence {s} of document {i} contains the padding id {pad_id}; "
                                "real tokens must differ from pad_id")
    S = max((len(d) for d in docs), default=0)
    W = max((len(s) for d in docs for s in d), default=0)
    S, W = max(min(S, max_sentences or S), 1), max(min(W, max_words or W), 1)
    out = torch.full((len(docs), S, W), pad_id, dtype=torch.long)
    for i, doc in enumerate(docs):
        for s, sent in enumerate(doc[:S]):
            sent = list(sent[:W])
            if sent:
                out[i, s, : len(sent)] = torch.tensor(sent, dtype=torch.long)
    return out
