"""The pre-training noise of ch06-summarise (BART text infilling, T5 span corruption) on real
descriptions, its dynamic redraw, and the recipes' refusal of bad settings."""

from __future__ import annotations

import pytest

from tensorprism import load_dataset
from tensorprism.errors import ConfigError
from tensorprism.functional.rouge import rouge_scores

pytest.importorskip("tokenizers")


@pytest.fixture(scope="module")
def tok():
    from tensorprism.data.text.subword import train_bpe
    from tensorprism.recipes.ch06_summarise import N_SENTINELS

    texts = [d for d, _ in load_dataset("debian-descriptions", split="val")[:200]]
    specials = ("<pad>", "<s>", "</s>", "<mask>", *(f"<extra_id_{k}>" for k in range(N_SENTINELS)))
    return train_bpe(texts, vocab_size=400, special_tokens=specials, add_bos_eos=True)


def _body(tok, text):
    return tok.encode(text)[1:-1]


def test_bart_noise_infills_spans_and_the_target_is_the_original(tok):
    from tensorprism.recipes.ch06_summarise import _corruption

    body = _body(tok, load_dataset("debian-descriptions", split="test")[0][0])
    src, tgt = _corruption("bart", tok)(body, 5)
    assert tgt == [tok.bos_id, *body, tok.eos_id]
    assert src[0] == tok.bos_id and src[-1] == tok.eos_id and tok.mask_id in src
    assert len(src) < len(tgt)  # spans of Poisson(3) tokens collapse into one mask each
    assert sorted(t for t in src[1:-1] if t != tok.mask_id) != sorted(body)  # tokens are missing


def test_t5_noise_hides_spans_behind_sentinels_the_target_restores(tok):
    from tensorprism.recipes.ch06_summarise import N_SENTINELS, _corruption

    sentinels = [tok.token_to_id(f"<extra_id_{k}>") for k in range(N_SENTINELS)]
    body = _body(tok, load_dataset("debian-descriptions", split="test")[1][0])
    src, tgt = _corruption("t5", tok)(body, 3)
    assert tgt[0] == tok.bos_id and tgt[1] == sentinels[0] and src[-1] == tgt[-1] == tok.eos_id
    # putting each span back behind its sentinel gives the original body
    spans, cur = {}, None
    for t in tgt[1:-1]:
        if t in sentinels:
            cur = t
            spans[cur] = []
        else:
            spans[cur].append(t)
    restored = [x for t in src[:-1] for x in (spans[t] if t in sentinels else [t])]
    assert restored == body
    assert 0.05 < sum(len(s) for s in spans.values()) / len(body) < 0.3  # 15 % noise


def test_noise_is_drawn_afresh_at_every_read(tok):
    from tensorprism.recipes.ch06_summarise import _corruption, _Noised

    seqs = [_body(tok, d) for d, _ in load_dataset("debian-descriptions", split="test")[:3]]
    data = _Noised(seqs, _corruption("bart", tok), seed=0)
    first, second = data[0], data[0]
    assert first[1] == second[1] and first[0] != second[0]
    again = _Noised(seqs, _corruption("bart", tok), seed=0)
    assert again[0] == first  # the same seed gives the same sequence of draws


def test_empty_summaries_score_zero_and_bad_arms_are_refused(tmp_path):
    assert rouge_scores("", "a synopsis")["rouge1_fmeasure"] == 0.0
    assert rouge_scores("a synopsis", "")["rougeL_fmeasure"] == 0.0
    from tensorprism.recipes import run_recipe

    with pytest.raises(ConfigError, match="arms"):
        run_recipe("ch06-domain-adapt", arms=("none", "more"), out_dir=str(tmp_path))
    with pytest.raises(ConfigError):
        run_recipe("ch06-summarise", method="summarise-well", out_dir=str(tmp_path))
