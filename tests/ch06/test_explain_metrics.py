"""Attention maps, rollout, attributions, and the QA/summarisation metrics."""

from __future__ import annotations

import matplotlib
import pytest
import torch

from tensorprism import create_model
from tensorprism.explain.attention import (
    attention_maps,
    attention_rollout,
    integrated_gradients,
    plot_attention,
    plot_attention_grid,
    saliency,
)
from tensorprism.metrics.qa import exact_match, qa_f1, rouge

matplotlib.use("Agg")


def _bert():
    return create_model("bert-mini", vocab_size=60, num_layers=2, hidden_size=32, num_heads=4,
                        intermediate_size=64, head="sequence", dropout=0.0, attn_dropout=0.0).eval()


def test_attention_maps_per_layer_and_rollout_rows_are_distributions():
    ids = torch.randint(5, 60, (2, 7))
    maps = attention_maps(_bert(), ids)
    assert len(maps) == 2 and maps[0].shape == (2, 4, 7, 7)
    roll = attention_rollout(maps)
    torch.testing.assert_close(roll.sum(-1), torch.ones(2, 7))
    gpt_maps = attention_maps(create_model("gpt-char", vocab_size=60, n_layer=3), ids)
    assert len(gpt_maps) == 3 and torch.all(gpt_maps[0].triu(1) == 0)  # causal
    assert torch.all(attention_rollout(gpt_maps).triu(1).abs() < 1e-7)  # rollout keeps causality


def test_rollout_of_identity_attention_is_identity():
    eye = torch.eye(5).expand(1, 2, 5, 5)
    torch.testing.assert_close(attention_rollout([eye, eye]), torch.eye(5)[None])


def test_plots_have_labels(tmp_path):
    maps = attention_maps(_bert(), torch.randint(5, 60, (1, 4)))
    toks = ["[CLS]", "a", "b", "[SEP]"]
    ax = plot_attention(maps[0][0, 0], toks, toks)
    assert ax.get_xlabel() == "Key Positions" and [t.get_text() for t in ax.get_xticklabels()] == toks
    plot_attention_grid(maps, toks).savefig(tmp_path / "grid.png")
    assert (tmp_path / "grid.png").stat().st_size > 0


def test_integrated_gradients_completeness_on_a_bert_classifier():
    model = _bert()
    ids = torch.randint(5, 60, (2, 6))
    emb = model.bert.embeddings.word(ids).detach()
    f = lambda e: model(None, inputs_embeds=e)["logits"][:, 1]  # noqa: E731
    ig = integrated_gradients(f, emb, steps=64)
    with torch.no_grad():
        gap = f(emb) - f(torch.zeros_like(emb))
    torch.testing.assert_close(ig.sum((1, 2)), gap, rtol=1e-2, atol=1e-3)
    assert saliency(f, emb).shape == (2, 6)


def test_integrated_gradients_is_exact_for_a_linear_function():
    w = torch.randn(3, 4)
    x = torch.randn(2, 3, 4)
    ig = integrated_gradients(lambda e: (e * w).sum((1, 2)), x, steps=3)
    torch.testing.assert_close(ig, x * w)


def test_squad_exact_match_and_f1():
    preds = ["The Denver Broncos!", "blue car", "nothing"]
    refs = [["Denver Broncos", "Broncos"], "red car", "a river"]
    assert exact_match(preds, refs) == pytest.approx(100 / 3)  # articles/punctuation ignored
    # F1: 1 (exact), 2*0.5*0.5/1 = 0.5 ("car"), 0
    assert qa_f1(preds, refs) == pytest.approx(50.0)


def test_rouge_n_recall_matches_the_book_formula():
    """Book line 14834: ROUGE-N = matched reference n-grams / reference n-grams."""
    pred, ref = "the cat sat on the mat today", "the cat was on the mat"
    r = rouge([pred], [ref], keys=("rouge1", "rouge2"))
    assert r["rouge1_recall"] == pytest.approx(5 / 6, abs=1e-6)  # the, cat, on, the, mat
    assert r["rouge2_recall"] == pytest.approx(3 / 5, abs=1e-6)  # the cat, on the, the mat
