"""Language-modelling and translation metrics (book §5.6.1, M1).

* :func:`perplexity` and :func:`bits_per_char` from a mean cross-entropy in nats.
* :func:`bleu` / :func:`sentence_bleu`: thin wrappers around sacreBLEU (Post 2018), the standard
  implementation: clipped n-gram precisions :math:`p_n`, brevity penalty
  :math:`\\mathrm{BP}=\\min(1, e^{1-r/c})`, :math:`\\mathrm{BLEU}=\\mathrm{BP}\\exp(\\sum_n w_n\\log p_n)`
  with uniform :math:`w_n = 1/N`. Scores are on sacreBLEU's 0-100 scale.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["perplexity", "bits_per_char", "bleu", "sentence_bleu"]


def perplexity(mean_nll: float) -> float:
    """``exp`` of the mean negative log-likelihood per token (in nats)."""
    return math.exp(mean_nll)


def bits_per_char(mean_nll: float) -> float:
    """Mean negative log-likelihood per character converted from nats to bits (÷ ln 2)."""
    return mean_nll / math.log(2)


def bleu(hypotheses: Sequence[str], references: Sequence[str] | Sequence[Sequence[str]], *,
         tokenize: str = "13a", lowercase: bool = False, max_ngram_order: int = 4) -> float:
    """Corpus BLEU (0-100) with sacreBLEU. ``references`` is one reference per hypothesis or a
    list of reference streams (several references each). ``tokenize="13a"`` is WMT's default;
    ``"none"`` scores text that is already tokenised (as most Multi30k results are reported)."""
    from ..optional import require

    sacrebleu = require("sacrebleu", feature="BLEU")

    refs = [list(references)] if references and isinstance(references[0], str) else [list(r) for r in references]
    metric = sacrebleu.metrics.BLEU(tokenize=tokenize, lowercase=lowercase, max_ngram_order=max_ngram_order,
                                    force=tokenize == "none")  # pre-tokenised text is intended then
    return float(metric.corpus_score(list(hypotheses), refs).score)


def sentence_bleu(hypothesis: str, references: Sequence[str], *, max_ngram_order: int = 4,
                  smooth_method: str = "exp") -> float:
    """Sentence BLEU (0-100). Without smoothing a sentence with no matching 4-gram scores 0, as in
    the book's example (l. 11537-11544, erratum C22); sacreBLEU smooths by default (``"exp"``).
    ``max_ngram_order=2`` is BLEU with weights (1/2, 1/2) over uni- and bigrams."""
    from ..optional import require

    sacrebleu = require("sacrebleu", feature="BLEU")

    metric = sacrebleu.metrics.BLEU(max_ngram_order=max_ngram_order, smooth_method=smooth_method,
                                    effective_order=True)
    return float(metric.sentence_score(hypothesis, list(references)).score)
