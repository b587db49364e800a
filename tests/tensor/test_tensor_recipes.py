"""Chapter 1–2 recipes: the §2.7 tensor forms equal torch.nn, the skip-gram pieces follow their
equations, and the recipes run on the real data."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tensorprism.recipes import run_recipe
from tensorprism.recipes.tensor_basics import (
    conv2d_tensor_form,
    mlp_tensor_form,
    nchw_to_nhwc,
    nhwc_to_nchw,
)
from tensorprism.recipes.tensor_word2vec import SkipGram, skipgram_pairs, tokenize
from tensorprism.testing import require_path, shared_data


@pytest.fixture(autouse=True)
def _runs_in_tmp(tmp_path, monkeypatch):
    """Recipe runs without out_dir go to runs/<recipe>-<timestamp>: keep them out of the checkout."""
    monkeypatch.chdir(tmp_path)


def test_mlp_tensor_form_uses_the_books_in_by_out_weights():
    mlp = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))
    x = torch.randn(4, 6)
    out = mlp_tensor_form(x, [mlp[0].weight.T, mlp[2].weight.T], [mlp[0].bias, mlp[2].bias])
    torch.testing.assert_close(out, mlp(x))


def test_conv_tensor_form_equals_conv2d_forward_and_backward():
    x = torch.randn(2, 3, 7, 6, requires_grad=True)
    conv = nn.Conv2d(3, 4, (3, 2), padding=1)
    y, ref = conv2d_tensor_form(x, conv.weight, conv.bias, padding=1), conv(x)
    torch.testing.assert_close(y, ref)
    g = torch.randn_like(ref)
    for a, b in zip(torch.autograd.grad(y, (x, conv.weight), g), torch.autograd.grad(ref, (x, conv.weight), g), strict=True):
        torch.testing.assert_close(a, b)
    img = torch.arange(1, 17.0).reshape(1, 1, 4, 4)  # l.997–1007
    assert conv2d_tensor_form(img, torch.tensor([[1.0, 0, -1]] * 3)[None, None]).squeeze().tolist() == [[-6, -6], [-6, -6]]
    x = torch.randn(2, 3, 4, 5)
    assert nchw_to_nhwc(x).shape == (2, 4, 5, 3) and torch.equal(nhwc_to_nchw(nchw_to_nhwc(x)), x)


def test_skipgram_loss_is_the_negative_sampling_objective():
    torch.manual_seed(0)
    m = SkipGram(10, 4)
    nn.init.normal_(m.out.weight)
    c, o, neg = torch.tensor([1, 2]), torch.tensor([3, 4]), torch.tensor([[5, 6], [7, 8]])
    v, u = m.inp.weight, m.out.weight
    ref = -torch.stack([F.logsigmoid(v[c[b]] @ u[o[b]]) + sum(F.logsigmoid(-v[c[b]] @ u[k]) for k in neg[b])
                        for b in range(2)]).mean()
    torch.testing.assert_close(m(c, o, neg), ref)
    # with zero output vectors every score is 0: loss = (1 + K) log 2
    nn.init.zeros_(m.out.weight)
    assert m(c, o, neg).item() == pytest.approx(3 * math.log(2))


def test_skipgram_pairs_with_dynamic_window():
    ids = torch.arange(100)
    centre, context = skipgram_pairs(ids, 3, torch.Generator().manual_seed(0))
    dist = (centre - context).abs()
    assert dist.min() >= 1 and dist.max() <= 3
    # distance 1 is always kept (97 pairs each way), distance 3 with probability 1/3
    assert int((dist == 1).sum()) == 2 * 99
    assert 0.2 < int((dist == 3).sum()) / (2 * 97) < 0.5
    assert tokenize("O'er the hill, 'tis THOU!") == ["o'er", "the", "hill", "tis", "thou"]


@pytest.mark.data
def test_tensor_batch_recipe_on_real_mnist_and_shakespeare():
    require_path(shared_data("tinyshakespeare", "input.txt"), "Tiny Shakespeare")
    r = run_recipe("ch01-tensor-batches", out_dir=None, batch_size=8, data_root=str(shared_data()))
    assert r["nhwc"] == [8, 28, 28, 3] and r["nchw_roundtrip_exact"] and r["lookup_equals_index"]
    assert r["book_conv_4x4"] == [[-6, -6], [-6, -6]] and r["book_max_pool"] == [[6, 8], [15, 16]]
    assert r["book_avg_pool"] == [[3.75, 5.25], [12, 13]]
    assert r["channel_mean_after_norm"] < 1e-5


@pytest.mark.data
def test_tensor_networks_recipe_matches_torch_and_counts_parameters():
    r = run_recipe("ch02-tensor-networks", out_dir=None, batch_size=8, data_root=str(shared_data()))
    assert r["mlp_forward_max_abs_diff"] < 1e-12 and r["cnn_grad_max_abs_diff"] < 1e-9
    assert (r["params_mnist_mlp_784_128_64_10"], r["params_simple_nn_2_3_1"], r["params_keras_4_3_2"]) == (109386, 13, 23)
    assert (r["params_conv2d_3_to_16_k3"], r["params_lstm_8_to_16_keras"]) == (448, 1600)


@pytest.mark.data
def test_word2vec_recipe_lowers_the_held_out_loss(tmp_path):
    require_path(shared_data("tinyshakespeare", "input.txt"), "Tiny Shakespeare")
    r = run_recipe("ch02-word2vec", out_dir=str(tmp_path), epochs=1, max_steps=120, embed_dim=32, plots=False,
                   data_root=str(shared_data()), queries=["thou"])
    assert r["val_loss_before"] == pytest.approx(r["val_loss_unigram_baseline"], rel=1e-6)
    assert r["val_loss_after"] < 0.9 * r["val_loss_before"]
    assert len(r["neighbours"]["thou"]) == 6 and r["steps"] == 120 and r["stopped_early"]


@pytest.mark.slow
@pytest.mark.data
def test_mnist_compress_recipe_keeps_accuracy_at_a_fifth_of_the_parameters():
    r = run_recipe("ch02-mnist-compress", out_dir=None, epochs=1, methods=["cp"], ratios=[0.2],
                   finetune_steps=50, data_root=str(shared_data()))
    row = r["rows"][0]
    assert r["test_acc"] > 0.97 and row["param_ratio"] < 0.25 and row["acc_finetuned"] > 0.95
