"""ROUGE written out (Lin 2004; book §6.7, line 14834), and extractive oracle labels built on it.

The book's ROUGE-N is a recall over reference n-grams:

    ROUGE-N = sum_{g in ngrams_n(ref)} min(Count_cand(g), Count_ref(g)) / sum_{g in ngrams_n(ref)} Count_ref(g)

Precision divides the same clipped overlap by the candidate's n-gram count, and the F-measure is
``2PR / (P + R)`` (0 when both are 0). ROUGE-L replaces the overlap by the length of the longest
common subsequence of the two token lists. Text is tokenised as the ``rouge-score`` package does
without stemming: lower case, every run of characters outside ``[a-z0-9]`` is a separator.

This is the readable reference path. :func:`tensorprism.metrics.qa.rouge` (torchmetrics) is the
batch metric the recipes report; the tests check both against the ``rouge-score`` package.
:func:`oracle_sentences` gives extractive summarisation its labels: the sentences whose selection
maximises ROUGE against the reference summary (greedy, as in Nallapati et al. 2017 / BertSum).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from ..errors import ConfigError

__all__ = ["rouge_tokens", "rouge_n", "rouge_l", "rouge_scores", "oracle_sentences", "lead_sentences"]

_SEP = re.compile(r"[^a-z0-9]+")


def rouge_tokens(text: str) -> list[str]:
    """Lower-cased alphanumeric tokens of ``text`` (``rouge-score``'s tokenizer, no stemming)."""
    return [t for t in _SEP.split(text.lower()) if t]


def _prf(overlap: int, n_cand: int, n_ref: int) -> tuple[float, float, float]:
    p = overlap / n_cand if n_cand else 0.0
    r = overlap / n_ref if n_ref else 0.0
    return p, r, (2 * p * r / (p + r) if p + r > 0 else 0.0)


def rouge_n(candidate: Sequence[str], reference: Sequence[str], n: int = 1) -> tuple[float, float, float]:
    """``(precision, recall, F)`` of ROUGE-N between two token lists (recall = the book's formula)."""
    if n < 1:
        raise ConfigError(f"ROUGE-N needs n >= 1, got {n}")
    cand = Counter(tuple(candidate[i : i + n]) for i in range(len(candidate) - n + 1))
    ref = Counter(tuple(reference[i : i + n]) for i in range(len(reference) - n + 1))
    overlap = sum(min(c, ref[g]) for g, c in cand.items())
    return _prf(overlap, sum(cand.values()), sum(ref.values()))


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence, one row of the DP table at a time: O(|a| |b|)."""
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(candidate: Sequence[str], reference: Sequence[str]) -> tuple[float, float, float]:
    """``(precision, recall, F)`` of ROUGE-L: LCS / candidate length, LCS / reference length."""
    return _prf(_lcs(candidate, reference), len(candidate), len(reference))


def rouge_scores(candidate: str, reference: str) -> dict[str, float]:
    """``{"rouge1_fmeasure", "rouge1_precision", "rouge1_recall", ... "rougeL_*"}`` of one pair of
    texts, the keys :func:`tensorprism.metrics.qa.rouge` uses."""
    c, r = rouge_tokens(candidate), rouge_tokens(reference)
    out = {}
    for key, (p, rec, f) in (("rouge1", rouge_n(c, r, 1)), ("rouge2", rouge_n(c, r, 2)), ("rougeL", rouge_l(c, r))):
        out.update({f"{key}_precision": p, f"{key}_recall": rec, f"{key}_fmeasure": f})
    return out


def oracle_sentences(sentences: Sequence[str], reference: str, k: int = 1) -> list[int]:
    """Indices (ascending) of at most ``k`` sentences chosen greedily to maximise ROUGE-1 F +
    ROUGE-2 F of their concatenation against ``reference``; stops early when no sentence raises
    the score. An empty document gives ``[]``; ties go to the earlier sentence."""
    if k < 1:
        raise ConfigError(f"k must be >= 1 sentences, got {k}")
    ref = rouge_tokens(reference)
    chosen: list[int] = []
    best = 0.0
    for _ in range(min(k, len(sentences))):
        pick, pick_score = None, best
        for i in range(len(sentences)):
            if i in chosen:
                continue
            toks = [t for j in sorted([*chosen, i]) for t in rouge_tokens(sentences[j])]
            score = rouge_n(toks, ref, 1)[2] + rouge_n(toks, ref, 2)[2]
            if score > pick_score:
                pick, pick_score = i, score
        if pick is None:
            break
        chosen.append(pick)
        best = pick_score
    return sorted(chosen)


def lead_sentences(sentences: Sequence[str], k: int = 1) -> str:
    """The lead-k baseline: the first ``k`` sentences joined by a space (``""`` for no sentences)."""
    if k < 1:
        raise ConfigError(f"k must be >= 1 sentences, got {k}")
    return " ".join(sentences[:k])
