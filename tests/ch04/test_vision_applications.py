"""Metric learning, style transfer and Grad-CAM (book §4.6.4)."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from tensorprism.errors import CheckpointError, DatasetNotFoundError
from tensorprism.vision.gradcam import GradCAM, plot_feature_maps
from tensorprism.vision.io import read_image
from tensorprism.vision.metric_learning import batch_hard_triplet_loss, recall_at_k, triplet_loss
from tensorprism.vision.style_transfer import (
    TORCHVISION_VGG19_CONV_INDICES,
    VGG19_LAYERS,
    VGGFeatures,
    content_loss,
    export_vgg19,
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


def test_export_vgg19_folds_batch_norm_and_loads_as_a_plain_vgg19(tmp_path):
    torch.manual_seed(0)
    narrow = dict(widths=(4, 8, 8, 8, 8), hidden=(), pool_size=1, num_classes=3)
    from tensorprism.models import create_model

    bn_model = create_model("vgg19_bn", **narrow)
    for m in bn_model.modules():  # non-trivial running statistics and affine parameters
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5), m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5), m.bias.data.uniform_(-0.2, 0.2)
    path = export_vgg19(bn_model.eval(), tmp_path / "vgg.safetensors")
    plain = load_vgg19(path, **narrow)  # the file has no classifier keys: the convs alone load
    inferred = load_vgg19(path)  # widths read from the file, no FC layers
    assert [m.out_channels for m in inferred.modules() if isinstance(m, nn.Conv2d)][::4] == [4, 8, 8, 8]
    assert not any(isinstance(m, nn.Linear) and m.out_features == 4096 for m in inferred.modules())
    layers = ["conv1_1", "conv3_1", "conv5_1"]
    x = torch.rand(2, 3, 32, 32)
    got, want = VGGFeatures(plain, layers)(x), VGGFeatures(bn_model, layers)(x)
    for name in layers:
        torch.testing.assert_close(got[name], want[name], rtol=1e-4, atol=1e-5)
    with pytest.raises(CheckpointError, match="matching widths"):
        load_vgg19(path, widths=(8, 8, 8, 8, 8), hidden=(), pool_size=1)
    with pytest.raises(ValueError, match="16 conv units"):
        export_vgg19(create_model("vgg16", **narrow), tmp_path / "x.safetensors")


def test_read_image_crops_resizes_and_converts(tmp_path):
    from PIL import Image

    rgba = (torch.arange(40 * 60 * 4) % 256).to(torch.uint8).reshape(40, 60, 4).numpy()
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    full = read_image(tmp_path / "a.png")
    assert full.shape == (1, 3, 40, 60) and full.dtype == torch.float32
    torch.testing.assert_close(full[0, :, 3, 7], torch.from_numpy(rgba[3, 7, :3]).float() / 255)
    Image.fromarray(rgba[..., 0], "L").save(tmp_path / "g.png")
    small = read_image(tmp_path / "g.png", size=16)
    assert small.shape == (1, 3, 16, 16) and 0 <= small.min() and small.max() <= 1
    torch.testing.assert_close(small[:, 0], small[:, 2])  # grey repeated to RGB
    with pytest.raises(DatasetNotFoundError, match="not found"):
        read_image(tmp_path / "missing.png")
    with pytest.raises(DatasetNotFoundError, match="no picture|needs scikit-image"):
        read_image("skimage:not_a_picture")


@pytest.mark.parametrize("optimizer, lr", [("lbfgs", None), ("adam", 0.05)])
def test_style_transfer_mechanics_reduce_the_loss(optimizer, lr):
    torch.manual_seed(0)
    feats = VGGFeatures(load_vgg19(widths=(8, 16, 16, 16, 16), hidden=(8, 8)), ["conv1_1", "conv2_1", "conv2_2"])
    content, style = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    image, history = style_transfer(content, style, feats, steps=8, content_layer="conv2_2",
                                    style_layers=("conv1_1", "conv2_1"), beta=1e4, lr=lr, optimizer=optimizer)
    assert image.shape == content.shape and history[-1] < history[0] and 0 <= image.min() and image.max() <= 1
    assert all(not p.requires_grad for p in feats.parameters())
    with pytest.raises(ValueError, match="expected 'lbfgs' or 'adam'"):
        style_transfer(content, style, feats, steps=1, content_layer="conv2_2", style_layers=("conv1_1",), optimizer="sgd")


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
