"""Model zoo: canonical parameter counts (counted on the meta device, nothing allocated) and the shared interface."""

import pytest
import torch

from tensorprism.errors import ShapeError
from tensorprism.models import count_parameters, create_model, list_models
from tensorprism.models.cnn.mobile import EFFICIENTNET_PARAMS, compound_scaling

CANONICAL = {  # torchvision / the papers, 1000 classes, 224×224 (299 for Inception-v3)
    "alexnet": 61_100_840,
    "vgg11": 132_863_336, "vgg13": 133_047_848, "vgg16": 138_357_544, "vgg19": 143_667_240,
    "vgg11_bn": 132_868_840, "vgg13_bn": 133_053_736, "vgg16_bn": 138_365_992, "vgg19_bn": 143_678_248,
    "resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032, "resnet101": 44_549_160, "resnet152": 60_192_808,
    "googlenet": 6_624_904, "inception_v3": 27_161_264,
    "mobilenet_v1": 4_231_976, "mobilenet_v2": 3_504_872, "mobilenet_v3_large": 5_483_032, "mobilenet_v3_small": 2_542_856,
    "efficientnet_b0": 5_288_548, "efficientnet_b1": 7_794_184, "efficientnet_b2": 9_109_994, "efficientnet_b3": 12_233_232,
    "efficientnet_b4": 19_341_616, "efficientnet_b5": 30_389_784, "efficientnet_b6": 43_040_704, "efficientnet_b7": 66_347_960,
    "densenet121": 7_978_856, "densenet161": 28_681_000, "densenet169": 14_149_480, "densenet201": 20_013_928,
    "squeezenet1_0": 1_248_424, "squeezenet1_1": 1_235_496,
    # CIFAR ResNets (He et al. 2016, Table 6: 0.27 M, 0.46 M, 0.66 M, 0.85 M, 1.7 M)
    "resnet20-cifar": 269_722, "resnet32-cifar": 464_154, "resnet44-cifar": 658_586, "resnet56-cifar": 853_018,
    "resnet110-cifar": 1_727_962,
    "lenet5": 61_706, "capsnet": 8_215_568,
}
BOOK_DERIVED = {  # book catalogue §3.4 (derived from the listings)
    "alexnet-book": 62_378_344, "mnist-cnn-book": 693_962, "mnist-cnn-book-torch": 804_554, "hpo-cnn-book": 216_650,
    "cifar-cnn-book": 315_722, "cifar-cnn-book-same": 545_098, "embedding-cnn-book": 9_512_960, "srcnn": 20_099,
    "unet": 31_030_593, "unet-bilinear": 31_377_793,
}


def _meta(name, **kw):
    with torch.device("meta"):
        return create_model(name, **kw)


@pytest.mark.parametrize("name,count", sorted({**CANONICAL, **BOOK_DERIVED}.items()))
def test_parameter_count_matches_canonical(name, count):
    assert count_parameters(_meta(name)) == count


def test_erratum_fcn_toy_output_is_four_times_input_line_8613():
    """Book L77/L78 (lines 8588–8634): two ×2 upsamplings and no down-sampling give 1024² logits for 256²."""
    assert count_parameters(_meta("fcn", downsample=False)) == 741_013
    x = torch.randn(1, 3, 256, 256, device="meta")
    assert _meta("fcn", downsample=False)(x).shape == (1, 21, 1024, 1024)
    assert _meta("fcn")(x).shape == (1, 21, 256, 256)


def test_erratum_alexnet_spatial_sizes_line_6239():
    """227 input, 11×11/4 with pad 2 gives 56 (not 55); 224 with pad 2 gives 55 → 27 after the 3/2 pool."""
    m = _meta("alexnet-book")
    assert m.stem[0](torch.empty(1, 3, 227, 227, device="meta")).shape[-1] == 56
    assert m.stem(torch.empty(1, 3, 224, 224, device="meta")).shape[-2:] == (27, 27)
    assert m.forward_features(torch.empty(1, 3, 224, 224, device="meta")).shape[1:] == (256, 6, 6)  # flatten 9216
    grouped = _meta("alexnet-book", groups=(1, 2, 1, 2, 2))  # the text's 5×5×48 conv2 (2 GPUs)
    assert grouped.stages[0][0].weight.shape == (256, 48, 5, 5)


def test_efficientnet_compound_scaling_table():
    d, w, r = compound_scaling(1.0)
    assert (d, w, r) == pytest.approx((1.2, 1.1, 1.15))
    assert 1.2 * 1.1**2 * 1.15**2 == pytest.approx(1.92, abs=0.01)  # α·β²·γ² ≈ 2 (Tan & Le)
    assert EFFICIENTNET_PARAMS["b7"][:2] == (2.0, 3.1)


# one model per architecture (scaled variants share the code); CapsNet outputs capsule lengths, no head
_SCALED = ("resnet34", "resnet101", "resnet152", "vgg13", "vgg19", "efficientnet_b", "densenet161", "densenet169",
           "densenet201", "resnet32-", "resnet44-", "resnet56-", "resnet110-", "capsnet")
CNN_MODELS = [n for n in list_models(family="cnn") if not n.startswith(_SCALED) or n == "efficientnet_b0"]


@pytest.mark.parametrize("name", CNN_MODELS)
def test_shared_interface_on_meta_device(name):
    m = _meta(name).eval()
    size = m.default_cfg["input_size"][-1]  # each model's declared input size (224, 299, 32, 28...)
    x = torch.empty(2, m.in_chans, size, size, device="meta")
    pre = m.forward_head(m.forward_features(x), pre_logits=True)
    if not name.startswith("squeezenet"):  # SqueezeNet's classifier is a conv: pre-logits stay a map
        assert pre.shape == (2, m.num_features)
    assert m(x).shape == (2, m.num_classes)
    maps = m.feature_maps(x)
    assert [f.shape[1] for f in maps[-len(m.feature_info):]] == [f.channels for f in m.feature_info]
    for f, info in zip(maps[-len(m.feature_info):], m.feature_info, strict=True):
        assert 0.7 * size / info.reduction <= f.shape[-1] <= -(-size // info.reduction)


def test_configurable_classes_width_and_input_channels():
    m = create_model("resnet18", num_classes=7, in_chans=1)
    x = torch.randn(2, 1, 64, 64)
    assert m(x).shape == (2, 7)
    m.reset_classifier(3)
    assert m(x).shape == (2, 3)
    m.reset_classifier(0)
    assert m(x).shape == (2, 512)
    assert count_parameters(_meta("mobilenet_v2", width=0.5)) < count_parameters(_meta("mobilenet_v2"))
    assert count_parameters(_meta("resnet18", widths=(32, 64, 128, 256), stem_width=32)) < 11_689_512 / 3


def test_channels_last_input_gets_a_helpful_error():
    m = create_model("resnet20-cifar")
    with pytest.raises(ShapeError, match="channels-last"):
        m(torch.randn(2, 32, 32, 3))


def test_inception_v3_returns_aux_logits_in_training():
    m = _meta("inception_v3", num_classes=5)
    m.train()
    logits, aux = m(torch.empty(2, 3, 299, 299, device="meta"))
    assert logits.shape == aux.shape == (2, 5)


def test_small_models_run_for_real():
    for name, shape in [("lenet5", (2, 1, 28, 28)), ("mnist-cnn-modern", (2, 1, 28, 28)), ("resnet20-cifar", (2, 3, 32, 32)),
                        ("mobilenet_v3_small", (2, 3, 64, 64)), ("squeezenet1_1", (2, 3, 64, 64))]:
        m = create_model(name)
        out = m(torch.randn(*shape))
        out.sum().backward()
        assert torch.isfinite(out).all()
    unet = create_model("unet", base_width=8, depth=3)
    assert unet(torch.randn(1, 1, 24, 24)).shape == (1, 1, 24, 24)
    with pytest.raises(ShapeError, match="divisible by 8"):
        unet(torch.randn(1, 1, 20, 20))
    assert create_model("fcn-resnet18", num_classes=3)(torch.randn(1, 3, 64, 64)).shape == (1, 3, 64, 64)
    assert create_model("srcnn")(torch.randn(1, 3, 20, 20)).shape == (1, 3, 20, 20)
