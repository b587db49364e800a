"""Extractive QA end to end on real sentences: a small BERT learns to point at the answer span,
decoded with `best_span` and scored with SQuAD exact match / F1."""

from __future__ import annotations

import random

import torch

from tensorprism import create_model
from tensorprism.metrics.qa import exact_match, qa_f1
from tensorprism.models.transformer.bert import best_span
from tensorprism.testing import require_path, shared_data

STEPS = 200


def _examples(sentences, vocab, rng):
    """Question = a word of the sentence that occurs once; answer = that word's span."""
    out = []
    for s in sentences:
        words = s.split()
        once = [w for w in words if words.count(w) == 1 and len(w) > 2]
        if not once or len(words) > 40:
            continue
        w = rng.choice(once)
        ids = [2, vocab[w], 3] + [vocab[x] for x in words] + [3]  # [CLS] q [SEP] context [SEP]
        pos = 3 + words.index(w)
        out.append((ids, pos, words, w))
    return out


def test_qa_head_learns_spans_on_sst2_sentences():
    path = require_path(shared_data("sst2", "dev.tsv"), "SST-2 sentences as QA contexts")
    sentences = [line.split("\t", 1)[1] for line in path.read_text(encoding="utf-8").splitlines()[1:]]
    vocab = {w: i + 5 for i, w in enumerate(sorted({w for s in sentences for w in s.split()}))}
    rng = random.Random(0)
    train_sents, test = sentences[:700], _examples(sentences[700:], vocab, rng)[:100]
    torch.manual_seed(0)
    model = create_model("bert-mini", vocab_size=len(vocab) + 5, hidden_size=64, num_layers=2, num_heads=2,
                         intermediate_size=128, max_position=64, head="qa", dropout=0.0, attn_dropout=0.0)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)

    def batch(rows):
        L = max(len(r[0]) for r in rows)
        ids = torch.zeros(len(rows), L, dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r[0])] = torch.tensor(r[0])
        types = (torch.arange(L)[None, :] >= 3).long()
        return ids, types, (ids != 0).long(), torch.tensor([r[1] for r in rows])

    for _ in range(STEPS):
        ids, types, am, pos = batch(_examples(rng.sample(train_sents, 32), vocab, rng))  # fresh questions
        loss = model(ids, types, am, start_positions=pos, end_positions=pos)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    ids, types, am, _ = batch(test)
    with torch.no_grad():
        out = model(ids, types, am)
    context = (types == 1) & (am == 1) & (ids != 3)
    s, e = best_span(out["start_logits"], out["end_logits"], max_answer_len=5, allowed=context)
    preds = [" ".join(r[2][a - 3 : b - 2]) for r, a, b in zip(test, s.tolist(), e.tolist(), strict=True)]
    answers = [r[3] for r in test]
    # a random context word is right ~5 % of the time; 200 steps of a 2-layer model reach ~50 %
    assert exact_match(preds, answers) > 30
    assert qa_f1(preds, answers) >= exact_match(preds, answers)
