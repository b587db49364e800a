"""Pre-training objectives of §6.4 (lines 13045-13053, 13561-13567, 13822-13853).

* :func:`mask_tokens` — BERT's masked LM corruption: choose 15 % of the (non-special) tokens; of
  those 80 % become ``[MASK]``, 10 % a random token, 10 % stay (Devlin et al. 2019; the book gives
  neither rate, erratum 5.1.5). Called per batch it is RoBERTa's dynamic masking (line 13822).
* :func:`sentence_pairs` — NSP (50 % true next / 50 % random segment) or ALBERT's SOP (50 % in
  order / 50 % swapped) examples.
* :func:`span_corruption` — T5: contiguous spans replaced by one sentinel each in the input, the
  target lists each sentinel followed by the span it hides (line 13843).
* :func:`denoise` — BART noise: token masking, deletion, text infilling (Poisson span lengths,
  each span one mask) and sentence permutation; the model reconstructs the original (13851).
* :func:`distillation_loss` — DistilBERT (Sanh et al. 2019): ``T^2 KL(p_T^teacher || p_T^student)``
  on temperature-softened distributions + hard-label CE + cosine alignment of hidden states (the
  book's ``alpha L_soft + (1 - alpha) L_hard`` has no temperature, erratum 5.1.21). It is the
  library's one distillation loss, :func:`tensorprism.losses.distillation.distillation_loss`
  (CNN students use it too), re-exported here.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import torch
from torch import Tensor

from ...errors import ConfigError
from ...losses.distillation import distillation_loss

__all__ = ["mask_tokens", "sentence_pairs", "span_corruption", "denoise", "distillation_loss"]


def mask_tokens(
    input_ids: Tensor,
    mask_token_id: int,
    vocab_size: int,
    special_mask: Tensor | None = None,
    mlm_probability: float = 0.15,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Returns ``(corrupted ids, labels)``; labels are the original ids at chosen positions and
    -100 elsewhere. ``special_mask`` (True at [CLS]/[SEP]/padding) positions are never chosen."""
    gen = dict(generator=generator, device=input_ids.device)
    chosen = torch.rand(input_ids.shape, **gen) < mlm_probability
    if special_mask is not None:
        chosen &= ~special_mask.bool()
    labels = input_ids.masked_fill(~chosen, -100)
    r = torch.rand(input_ids.shape, **gen)
    ids = input_ids.masked_fill(chosen & (r < 0.8), mask_token_id)
    random_tok = chosen & (r >= 0.8) & (r < 0.9)
    ids = torch.where(random_tok, torch.randint(vocab_size, input_ids.shape, **gen), ids)
    return ids, labels


def sentence_pairs(
    documents: Sequence[Sequence[Sequence[int]]], mode: str = "nsp", seed: int = 0
) -> list[tuple[list[int], list[int], int]]:
    """Segment pairs ``(A, B, label)`` from documents given as lists of tokenised sentences.

    ``nsp``: label 1 if B is the sentence after A in the same document, 0 if B is a random
    sentence from another document. ``sop``: label 1 if (A, B) are consecutive in order, 0 if the
    same two sentences are swapped (no topic cue to exploit).
    """
    if mode not in {"nsp", "sop"}:
        raise ConfigError(f"mode must be 'nsp' or 'sop', got {mode!r}")
    rng = random.Random(seed)
    out = []
    for d, doc in enumerate(documents):
        for i in range(len(doc) - 1):
            a, b = list(doc[i]), list(doc[i + 1])
            if rng.random() < 0.5:
                out.append((a, b, 1))
            elif mode == "sop":
                out.append((b, a, 0))
            else:
                others = [j for j in range(len(documents)) if j != d and documents[j]]
                if not others:
                    raise ConfigError("NSP needs at least two non-empty documents for random segments")
                other = documents[rng.choice(others)]
                out.append((a, list(rng.choice(other)), 0))
    return out


def _span_mask(n: int, noise_density: float, mean_span: float, rng: random.Random) -> list[bool]:
    """T5's noise mask: round(n * density) noise tokens in spans of mean length ``mean_span``,
    alternating with non-noise spans, starting with non-noise."""
    num_noise = max(1, min(n - 1, round(n * noise_density)))
    num_spans = max(1, round(num_noise / mean_span))

    def split(total: int, parts: int) -> list[int]:  # random composition into positive parts
        cuts = sorted(rng.sample(range(1, total), parts - 1)) if parts > 1 else []
        return [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]

    num_spans = min(num_spans, num_noise, n - num_noise)
    noise, keep = split(num_noise, num_spans), split(n - num_noise, num_spans)
    mask = []
    for k, z in zip(keep, noise, strict=True):
        mask += [False] * k + [True] * z
    return mask


def span_corruption(
    tokens: Sequence[int], sentinel_ids: Sequence[int], noise_density: float = 0.15,
    mean_span_length: float = 3.0, eos_id: int | None = None, seed: int = 0,
) -> tuple[list[int], list[int]]:
    """T5 span corruption of one sequence: ``(inputs, targets)``.

    ``"Thank you for inviting me"`` -> inputs ``"Thank <X> inviting me"``, targets
    ``"<X> you for <Y>"``: each masked span becomes one sentinel (``sentinel_ids[k]`` for the
    k-th span) in the input; the target is each sentinel followed by its span, then a final
    sentinel (and ``eos_id`` when given).
    """
    rng = random.Random(seed)
    mask = _span_mask(len(tokens), noise_density, mean_span_length, rng)
    inputs, targets, k, prev = [], [], 0, False
    for tok, m in zip(tokens, mask, strict=True):
        if m and not prev:
            if k >= len(sentinel_ids):
                raise ConfigError(f"need more than {len(sentinel_ids)} sentinel ids for this sequence")
            inputs.append(sentinel_ids[k])
            targets.append(sentinel_ids[k])
            k += 1
        (targets if m else inputs).append(tok)
        prev = m
    targets.append(sentinel_ids[k] if k < len(sentinel_ids) else sentinel_ids[-1])
    if eos_id is not None:
        inputs.append(eos_id)
        targets.append(eos_id)
    return inputs, targets


def _poisson(lam: float, rng: random.Random) -> int:
    """Knuth's Poisson sampler (small lambda)."""
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def denoise(
    tokens: Sequence[int], mask_id: int, *, mask_prob: float = 0.0, delete_prob: float = 0.0,
    infill_prob: float = 0.0, poisson_lambda: float = 3.0, sentence_sep: int | None = None,
    permute_sentences: bool = False, vocab_size: int | None = None, seed: int = 0,
) -> list[int]:
    """BART's ``Corrupt(x)`` for one sequence; the training target is ``tokens`` itself.

    Order: sentence permutation (split after each ``sentence_sep``), token masking, token
    deletion, text infilling (spans with Poisson(``poisson_lambda``) lengths, a 0-length span
    inserts a mask, replaced by a single ``mask_id`` until ``infill_prob`` of tokens are covered).
    """
    rng = random.Random(seed)
    toks = list(tokens)
    if permute_sentences:
        if sentence_sep is None:
            raise ConfigError("permute_sentences needs sentence_sep (the id that ends a sentence)")
        sents, cur = [], []
        for t in toks:
            cur.append(t)
            if t == sentence_sep:
                sents.append(cur)
                cur = []
        if cur:
            sents.append(cur)
        rng.shuffle(sents)
        toks = [t for s in sents for t in s]
    toks = [mask_id if rng.random() < mask_prob else t for t in toks]
    toks = [t for t in toks if rng.random() >= delete_prob]
    if infill_prob > 0:
        budget = round(len(toks) * infill_prob)
        while budget > 0 and toks:
            n = min(_poisson(poisson_lambda, rng), len(toks))
            start = rng.randrange(0, len(toks) - n + 1)
            toks[start : start + n] = [mask_id]
            budget -= max(n, 1)
    return toks
