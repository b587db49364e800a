"""Metric learning, style transfer and Grad-CAM (book §4.6.4)."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from tensorprism.errors import CheckpointError
from tensorprism.vision.gradcam import GradCAM, plot_feature_maps
from tensorprism.vision.metric_learning import batch_hard_triplet_loss, recall_at_k, triplet_loss
from tensorprism.vision.style_transfer import (
    TORCHVISION_VGG19_CONV_INDICES,
    VGG19_LAYERS,
    VGGFeatures,
    content_loss,
    gram_matrix,
    load_vgg19,
    style_loss,
    style_transfer,
)


def test_triplet_loss_plain_equals_torch_and_squared_is_the_keras_form():
    a, p, n = torch.randn(8, 16), torch.randn(8, 16), torch.randn(8, 16)
    torch.testing.assert_close(triplet_loss(a, p, n, 0.2), F.triplet_margin_loss(a, p, n, margin=0.2))
    sq = triplet_loss(a, p, n, 0.2, squared=True)
    torch.testing.assert_close(sq, F.relu((a - p).pow(2).sum(1) - (a - n).pow(2).sum(1) + 0.2).mean())


def test_batch_hard_mining_picks_hardest_pairs():
    emb = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 3.0], [0.0, 0.5]])
    labels = torch.tensor([0, 0, 1, 1])
    # anchor 0: hardest positive 1 (d=1), hardest negative 3 (d=0.5) -> 1 - 0.5 + 0.2
    d = torch.cdist(emb, emb)
    expected = torch.stack([
        F.relu(d[0, 1] - d[0, 3] + 0.2), F.relu(d[1, 0] - d[1, 3] + 0.2),
        F.relu(d[2, 3] - d[2, 1] + 0.2), F.relu(d[3, 2] - d[3, 0] + 0.2),
    ]).mean()
    torch.testing.assert_close(batch_hard_triplet_loss(emb, labels, 0.2), expected)
    assert recall_at_k(emb, labels, emb, labels, 1, exclude_self=True) == pytest.approx(0.5)


def test_gram_content_and_style_losses_follow_gatys():
    f = torch.randn(1, 3, 4, 5)
    g = gram_matrix(f)
    torch.testing.assert_close(g[0], f[0].reshape(3, 20) @ f[0].reshape(3, 20).T)
    torch.testing.assert_close(gram_matrix(f, "hw"), g / 20)
    torch.testing.assert_close(gram_matrix(f, "chw"), g / 60)
    f2 = torch.randn(1, 3, 4, 5)
    assert content_loss(f2, f).item() == pytest.approx(0.5 * (f2 - f).pow(2).sum().item())
    assert style_loss(f2, g).item() == pytest.approx(((gram_matrix(f2) - g) ** 2).sum().item() / (4 * 9 * 400))


def test_vgg19_loads_torchvision_layout_from_a_local_file(tmp_path):
    """Erratum 27: the book's PyTorch content index '21' is conv4_2, not block5_conv2."""
    assert VGG19_LAYERS[TORCHVISION_VGG19_CONV_INDICES.index(21)] == "conv4_2"
    assert [VGG19_LAYERS[TORCHVISION_VGG19_CONV_INDICES.index(i)] for i in (0, 5, 10, 19, 28)] == [
        "conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"]
    small = dict(widths=(4, 8, 8, 8, 8), hidden=(6, 6), num_classes=7)
    with torch.device("meta"):
        ref = load_vgg19(**small)
    state = {}
    for i, conv in zip(TORCHVISION_VGG19_CONV_INDICES, [m for m in ref.modules() if isinstance(m, nn.Conv2d)], strict=True):
        state[f"features.{i}.weight"] = torch.full(conv.weight.shape, float(i))
        state[f"features.{i}.bias"] = torch.zeros(conv.bias.shape)
    for i, lin in zip((0, 3, 6), [m for m in ref.modules() if isinstance(m, nn.Linear)], strict=True):
        state[f"classifier.{i}.weight"] = torch.zeros(lin.weight.shape)
        state[f"classifier.{i}.bias"] = torch.full(lin.bias.shape, float(i))
    from safetensors.torch import save_file

    save_file(state, str(tmp_path / "vgg19.safetensors"))
    model = load_vgg19(tmp_path / "vgg19.safetensors", **small)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert convs[9].weight.flatten()[0].item() == 21.0  # conv4_2 <- features.21
    assert model.classifier.bias[0].item() == 6.0
    with pytest.raises(CheckpointError, match="not found"):
        load_vgg19(tmp_path / "missing.pth")


def test_style_transfer_mechanics_reduce_the_loss():
    torch.manual_seed(0)
    feats = VGGFeatures(load_vgg19(widths=(8, 16, 16, 16, 16), hidden=(8, 8)), ["conv1_1", "conv2_1", "conv2_2"])
    content, style = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    image, history = style_transfer(content, style, feats, steps=8, content_layer="conv2_2",
                                    style_layers=("conv1_1", "conv2_1"), beta=1e4, lr=0.05)
    assert image.shape == content.shape and history[-1] < history[0]
    assert all(not p.requires_grad for p in feats.parameters())


def test_gradcam_equals_cam_for_gap_linear_models(tmp_path):
    torch.manual_seed(0)
    conv = nn.Conv2d(1, 4, 3, padding=1)
    head = nn.Linear(4, 3)
    model = nn.Sequential(conv, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), head)
    x = torch.randn(2, 1, 8, 8)
    cam = GradCAM(model, model[1])(x, class_idx=1, normalize=False)
    act = F.relu(conv(x))
    expected = F.relu(torch.einsum("k,nkhw->nhw", head.weight[1], act)) / 64  # CAM / (H·W)
    torch.testing.assert_close(cam, expected.detach())
    out = plot_feature_maps(act[0], tmp_path / "maps.png")
    assert out.exists() and out.stat().st_size > 0
