"""Question-answering and summarisation metrics (book §6.7, M1-M3), computed by torchmetrics.

* :func:`exact_match` and :func:`qa_f1` — the SQuAD metrics (Rajpurkar et al. 2016): answers are
  normalised (lower case, punctuation and the articles a/an/the removed, whitespace collapsed);
  EM is 1 when the normalised prediction equals any reference; F1 is the token-overlap
  ``2PR / (P + R)`` with the best reference. The book names F1 without a formula (line 14940).
* :func:`rouge` — ROUGE-N / ROUGE-L (Lin 2004). The book's formula (line 14834) is ROUGE-N
  *recall*; precision and F-measure are returned as well.

All scores are in ``[0, 100]`` for EM/F1 and ``[0, 1]`` for ROUGE, as the libraries report them.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["exact_match", "qa_f1", "squad_scores", "rouge"]


def _refs(references: Sequence[str] | Sequence[Sequence[str]]) -> list[list[str]]:
    return [[r] if isinstance(r, str) else list(r) for r in references]


def squad_scores(predictions: Sequence[str], references: Sequence[str] | Sequence[Sequence[str]]) -> dict[str, float]:
    """``{"exact_match", "f1"}`` (0-100) of predicted answer strings against one or more
    reference answers each."""
    from torchmetrics.functional.text import squad

    refs = _refs(references)
    if len(refs) != len(predictions):
        raise ValueError(f"{len(predictions)} predictions but {len(refs)} reference sets")
    preds = [{"prediction_text": p, "id": str(i)} for i, p in enumerate(predictions)]
    target = [{"answers": {"answer_start": [0] * len(r), "text": r}, "id": str(i)} for i, r in enumerate(refs)]
    return {k: float(v) for k, v in squad(preds, target).items()}


def exact_match(predictions: Sequence[str], references: Sequence[str] | Sequence[Sequence[str]]) -> float:
    """SQuAD exact match (0-100), ``1/N sum_i I(norm(y_hat_i) in norm(refs_i))`` (line 14942)."""
    return squad_scores(predictions, references)["exact_match"]


def qa_f1(predictions: Sequence[str], references: Sequence[str] | Sequence[Sequence[str]]) -> float:
    """SQuAD token-overlap F1 (0-100), the best over each prediction's references."""
    return squad_scores(predictions, references)["f1"]


def rouge(predictions: Sequence[str], references: Sequence[str] | Sequence[Sequence[str]],
          keys: Sequence[str] = ("rouge1", "rouge2", "rougeL")) -> dict[str, float]:
    """Mean ROUGE precision/recall/F-measure over the pairs, e.g. ``{"rouge2_recall": ...}``."""
    from torchmetrics.functional.text import rouge_score

    refs = _refs(references)
    out = rouge_score(list(predictions), refs, rouge_keys=tuple(keys), accumulate="best")
    return {k: float(v) for k, v in out.items()}
