"""Encoder–decoder, BERT/ALBERT, GPT behaviours and the pre-training objectives."""

from __future__ import annotations

import pytest
import torch

from tensorprism import count_parameters, create_model
from tensorprism.models.transformer.bert import best_span
from tensorprism.models.transformer.objectives import (
    denoise,
    distillation_loss,
    mask_tokens,
    sentence_pairs,
    span_corruption,
)


def test_canonical_parameter_counts():
    with torch.device("meta"):  # shapes only: no memory, no initialisation cost
        assert count_parameters(create_model("bert-base")) == 110_106_428  # HF BertForPreTraining
        assert count_parameters(create_model("gpt2")) == 124_439_808  # GPT-2 small, tied head
        assert count_parameters(create_model("minilm-l6")) == 22_713_216  # all-MiniLM-L6-v2


def test_albert_factorises_embeddings_and_shares_layers():
    albert = create_model("albert-base", num_layers=4, vocab_size=3000)
    emb = albert.bert.embeddings
    assert emb.word.weight.shape == (3000, 128) and emb.project.weight.shape == (768, 128)
    assert len(albert.bert.encoder.layers) == 1  # one layer applied num_layers times
    bert_like = create_model("bert-base", vocab_size=3000, num_layers=4)
    assert count_parameters(albert) < count_parameters(bert_like) / 3


def test_erratum_gpt_is_causal_future_tokens_do_not_change_past_logits():
    """Book L6-6 (line 13735) has no causal mask: each position sees the future. Ours: changing
    token t leaves logits at positions < t unchanged."""
    gpt = create_model("gpt-char", vocab_size=20, n_layer=2).eval()
    x = torch.randint(0, 20, (1, 10))
    y = x.clone()
    y[0, 6] = (y[0, 6] + 1) % 20
    with torch.no_grad():
        a, b = gpt(x), gpt(y)
    torch.testing.assert_close(a[:, :6], b[:, :6])
    assert not torch.allclose(a[:, 6:], b[:, 6:])


def test_erratum_gpt_loss_predicts_the_next_token():
    """Book L6-6 trains on unshifted targets (predict the current token = copy). Ours shifts."""
    gpt = create_model("gpt-char", vocab_size=20, n_layer=1).eval()
    x = torch.randint(0, 20, (2, 8))
    logits = gpt(x)
    expect = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, 20), x[:, 1:].reshape(-1))
    torch.testing.assert_close(gpt.loss(x), expect)


@pytest.mark.parametrize("position", ["rotary", "alibi", "sinusoidal"])
def test_gpt_cached_generation_equals_recomputation(position):
    gpt = create_model("gpt-char", vocab_size=30, n_layer=2, block_size=16, position=position).eval()
    prompt = torch.randint(0, 30, (2, 5))
    out = gpt.generate(prompt, max_new_tokens=20)  # beyond block_size: cropping for sinusoidal
    seq = prompt
    with torch.no_grad():
        for _ in range(20):
            ctx = seq if position != "sinusoidal" else seq[:, -16:]
            seq = torch.cat([seq, gpt(ctx)[:, -1].argmax(-1, keepdim=True)], 1)
    assert torch.equal(out, seq)


def _tiny_seq2seq(**kw):
    return create_model("transformer-small", src_vocab_size=13, tgt_vocab_size=13, d_model=32, nhead=4,
                        num_encoder_layers=2, num_decoder_layers=2, d_ff=64, dropout=0.0, **kw)


@pytest.mark.parametrize("norm_first", [False, True])
def test_seq2seq_incremental_decoding_equals_full_decoder(norm_first):
    model = _tiny_seq2seq(norm_first=norm_first).eval()
    src = torch.tensor([[3, 4, 5, 6, 0, 0], [7, 8, 9, 10, 11, 12]])
    out = model.generate(src, bos_id=1, eos_id=2, max_new_tokens=7)
    with torch.no_grad():
        seq = torch.ones(2, 1, dtype=torch.long)
        for _ in range(7):
            seq = torch.cat([seq, model(src, seq)[:, -1].argmax(-1, keepdim=True)], 1)
    for o, s in zip(out.tolist(), seq.tolist(), strict=True):
        n = o.index(2) + 1 if 2 in o else len(o)
        assert o[:n] == s[:n]
    beams = model.generate(src, bos_id=1, eos_id=2, max_new_tokens=7, num_beams=3)
    assert beams.shape[0] == 2


def test_seq2seq_source_padding_does_not_change_outputs():
    model = _tiny_seq2seq().eval()
    tgt = torch.tensor([[1, 5, 6]])
    with torch.no_grad():
        a = model(torch.tensor([[3, 4, 5]]), tgt)
        b = model(torch.tensor([[3, 4, 5, 0, 0, 0]]), tgt)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_seq2seq_learns_to_copy():
    torch.manual_seed(0)
    model = _tiny_seq2seq(norm_first=True)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(150):
        src = torch.randint(3, 13, (32, 5))
        tgt = torch.cat([torch.ones(32, 1, dtype=torch.long), src, torch.full((32, 1), 2)], 1)
        loss = model.loss(src, tgt, label_smoothing=0.1)
        opt.zero_grad()
        loss.backward()
        opt.step()
    src = torch.randint(3, 13, (16, 5))
    out = model.generate(src, bos_id=1, eos_id=2, max_new_tokens=6)
    assert (out[:, 1:6] == src).float().mean() > 0.9


def test_mlm_masking_rates_80_10_10():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 1000, (200, 100))
    special = torch.zeros_like(ids, dtype=torch.bool)
    special[:, 0] = True
    x, labels = mask_tokens(ids, mask_token_id=4, vocab_size=1000, special_mask=special, generator=g)
    chosen = labels != -100
    assert not chosen[:, 0].any()
    assert abs(chosen.float().mean() - 0.15 * 0.99) < 0.01
    assert torch.equal(labels[chosen], ids[chosen])
    frac_mask = (x[chosen] == 4).float().mean()
    frac_same = (x[chosen] == ids[chosen]).float().mean()
    assert abs(frac_mask - 0.8) < 0.02 and abs(frac_same - 0.1) < 0.02  # ~10 % random, ~10 % kept
    assert torch.equal(x[~chosen], ids[~chosen])


def test_bert_pretraining_loss_uses_masked_positions_and_pair_label():
    bert = create_model("bert-mini", vocab_size=50, num_layers=1, hidden_size=32, num_heads=2,
                        intermediate_size=64, dropout=0.0, attn_dropout=0.0)
    ids = torch.randint(5, 50, (2, 8))
    labels = torch.full_like(ids, -100)
    labels[0, 3] = ids[0, 3]
    out = bert(ids, mlm_labels=labels, pair_labels=torch.tensor([1, 0]))
    mlm = torch.nn.functional.cross_entropy(out["mlm_logits"][0, 3][None], ids[0, 3][None])
    pair = torch.nn.functional.cross_entropy(out["pair_logits"], torch.tensor([1, 0]))
    torch.testing.assert_close(out["loss"], mlm + pair)


def test_erratum_nsp_loss_is_cross_entropy_on_the_true_label():
    """Book lines 13567/14230 write -log P(isNext) - log P(isNotNext), summing both classes;
    that is constant-sum nonsense (minimised by no distribution). NSP is CE on the true label."""
    logits = torch.tensor([[2.0, -1.0]])
    p = logits.softmax(-1)[0]
    book = -(p.log().sum())
    ours = torch.nn.functional.cross_entropy(logits, torch.tensor([0]))
    assert not torch.isclose(book, ours) and torch.isclose(ours, -p[0].log())


def test_sentence_pairs_nsp_and_sop():
    docs = [[[1, 2], [3], [4, 5]], [[10], [11], [12]]]
    nsp = sentence_pairs(docs, "nsp", seed=1)
    sop = sentence_pairs(docs, "sop", seed=1)
    assert len(nsp) == len(sop) == 4 and {lab for *_, lab in nsp} == {0, 1}
    for a, b, lab in sop:
        if lab == 0:
            assert any(a == d[i + 1] and b == d[i] for d in docs for i in range(len(d) - 1))


def test_t5_span_corruption_reconstructs_the_original():
    toks = list(range(100, 140))
    sentinels = [900 - i for i in range(20)]
    inp, tgt = span_corruption(toks, sentinels, noise_density=0.15, mean_span_length=3, seed=3)
    # put the spans back: replace each sentinel in the input with what follows it in the target
    spans, cur = {}, None
    for t in tgt:
        if t in sentinels:
            cur = t
            spans[cur] = []
        else:
            spans[cur].append(t)
    rebuilt = [x for t in inp for x in (spans[t] if t in sentinels else [t])]
    assert rebuilt == toks
    assert abs(sum(len(v) for v in spans.values()) - 6) <= 1  # 15 % of 40


def test_bart_noise_operations():
    toks = list(range(10, 30))
    assert sorted(denoise(toks, 0, permute_sentences=True, sentence_sep=14)) == sorted(toks)
    assert len(denoise(toks, 0, delete_prob=0.5, seed=1)) < len(toks)
    infilled = denoise(toks, 0, infill_prob=0.3, seed=2)
    assert 0 in infilled and len(infilled) < len(toks)
    assert denoise(toks, 0) == toks


def test_distillation_loss_is_zero_for_identical_student_and_teacher():
    t = torch.randn(4, 7, 30)
    assert distillation_loss(t, t, alpha_hard=0.0) < 1e-6
    s = torch.randn(4, 7, 30, requires_grad=True)
    labels = torch.randint(0, 30, (4, 7))
    labels[:, :2] = -100
    loss = distillation_loss(s, t, labels, temperature=2.0, student_hidden=torch.randn(4, 7, 8),
                             teacher_hidden=torch.randn(4, 7, 8), alpha_cos=1.0)
    loss.backward()
    assert loss > 0 and torch.all(s.grad[:, :2] == 0)  # unlabelled positions take no soft term


def test_best_span_respects_order_and_length():
    start = torch.tensor([[-10.0, 0.0, 5.0, 0.0]])
    end = torch.tensor([[9.0, 0.0, 0.0, 1.0]])  # argmax(end) = 0 < argmax(start) = 2: the book's bug
    s, e = best_span(start, end, max_answer_len=2)
    assert (s.item(), e.item()) == (2, 3)


def test_erratum_seq2seq_loss_ignores_padding():
    """Book L6-40 (line 15544) multiplies a `reduction='mean'` (already scalar) loss by the pad mask,
    so padding still counts. Ours: appending pad tokens to the targets leaves the loss unchanged."""
    model = _tiny_seq2seq().eval()
    src = torch.tensor([[3, 4, 5, 6]])
    tgt = torch.tensor([[1, 7, 8, 2]])
    with torch.no_grad():
        a = model.loss(src, tgt)
        b = model.loss(src, torch.cat([tgt, torch.zeros(1, 3, dtype=torch.long)], 1))
    torch.testing.assert_close(a, b)


def test_erratum_teacher_forcing_shifts_decoder_input():
    """Book L6-41 (line 15565) compares model(src, tgt) with tgt[:, 1:] (off by one). Ours feeds
    tgt[:, :-1] and scores tgt[:, 1:]: the loss is the CE of logits(src, tgt[:, :-1]) vs tgt[:, 1:]."""
    model = _tiny_seq2seq().eval()
    src, tgt = torch.tensor([[3, 4, 5]]), torch.tensor([[1, 9, 10, 11, 2]])
    with torch.no_grad():
        logits = model(src, tgt[:, :-1])
        expect = torch.nn.functional.cross_entropy(logits[0], tgt[0, 1:])
        torch.testing.assert_close(model.loss(src, tgt), expect)
