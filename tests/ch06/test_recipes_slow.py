"""Short runs of the Chapter 6 recipes on real data (slow: minutes on a shared CPU)."""

from __future__ import annotations

import pytest

from tensorprism.recipes import run_recipe
from tensorprism.testing import require_path, shared_data


@pytest.fixture(autouse=True)
def _runs_in_tmp(tmp_path, monkeypatch):
    """Recipe runs without out_dir go to runs/<recipe>-<timestamp>: keep them out of the checkout."""
    monkeypatch.chdir(tmp_path)

pytestmark = pytest.mark.slow


def test_char_gpt_learns_shakespeare_quickly(tmp_path):
    require_path(shared_data("tinyshakespeare", "input.txt"), "Tiny Shakespeare")
    r = run_recipe("ch06-char-gpt", max_iters=150, out_dir=str(tmp_path), sample_tokens=20)
    assert r["val_loss"] < 2.8  # from ln(65) = 4.17 at initialisation
    assert (tmp_path / "vocab.json").is_file()


def test_translation_pipeline_runs_end_to_end(tmp_path):
    require_path(shared_data("multi30k", "train.de.gz"), "Multi30k")
    r = run_recipe("ch06-translation", train_limit=2000, max_steps=30, eval_limit=16, d_model=64, d_ff=128,
                   layers=1, vocab_size=2000, warmup=10, out_dir=str(tmp_path))
    assert 0.0 <= r["bleu_test2016"] <= 100.0 and r["val_loss"] < 7.6  # below ln(2000)
    assert (tmp_path / "tokenizer.json").is_file()


def test_sst2_finetuning_pipeline_runs(tmp_path):
    require_path(shared_data("sst2", "train.tsv"), "SST-2")
    r = run_recipe("ch06-sst2", encoder="bert-mini-scratch", train_limit=256, epochs=1, out_dir=str(tmp_path))
    assert 0.0 <= r["test_acc"] <= 1.0


def test_sst2_mlm_pretraining_lowers_held_out_mlm_loss_and_budgets_stop_it(tmp_path):
    require_path(shared_data("sst2", "train.tsv"), "SST-2")
    tiny = dict(layers=1, hidden=32, heads=2, vocab_size=2000, train_limit=256, epochs=1)
    r = run_recipe("ch06-sst2", encoder="bert-mini-mlm", pretrain_steps=40, pretrain_batch=64, pretrain_lr=2e-3,
                   max_steps=3, out_dir=str(tmp_path), **tiny)
    assert r["pretrain_steps_done"] == 40 and r["finetune_steps_done"] == 3
    assert r["mlm_dev_loss_after"] < r["mlm_dev_loss_before"] - 0.5  # from ≈ ln(2000) = 7.6
    assert (tmp_path / "result.json").is_file()
    assert all((tmp_path / stage / "checkpoints" / "last.safetensors").is_file() for stage in ("pretrain-mlm", "finetune"))
    r = run_recipe("ch06-sst2", encoder="bert-mini-mlm", pretrain_steps=40, pretrain_time_budget_s=1e-3,
                   time_budget_s=1e-3, out_dir=str(tmp_path / "budgets"), **tiny)
    assert r["pretrain_steps_done"] == 1 and r["finetune_steps_done"] == 1
