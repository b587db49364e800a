import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tensorprism.data import augment as A
from tensorprism.data.transforms import Normalize
from tensorprism.errors import ConfigError, ShapeError

kornia = pytest.importorskip("kornia")
KE, KG = kornia.enhance, kornia.geometry.transform


def _images(n=6, c=3, h=17, w=23, seed=0):
    return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------- oracles: kornia and PIL

FACTOR = torch.tensor([0.25, 0.6, 1.0, 1.3, 1.75, 0.9])


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (A.adjust_brightness, KE.adjust_brightness_accumulative),
        (A.adjust_contrast, KE.adjust_contrast_with_mean_subtraction),
        (A.adjust_saturation, KE.adjust_saturation_with_gray_subtraction),
        (A.adjust_sharpness, KE.sharpness),
    ],
    ids=["brightness", "contrast", "saturation", "sharpness"],
)
def test_colour_ops_match_kornia_per_sample_factors(ours, theirs):
    x = _images()
    torch.testing.assert_close(ours(x, FACTOR), theirs(x, FACTOR), atol=1e-6, rtol=0)


def test_hue_shift_in_turns_matches_kornia_in_radians():
    x, shift = _images(), torch.tensor([-0.5, -0.3, 0.0, 0.1, 0.25, 0.45])
    torch.testing.assert_close(A.adjust_hue(x, shift), KE.adjust_hue(x, 2 * math.pi * shift), atol=1e-5, rtol=0)
    torch.testing.assert_close(A.hsv_to_rgb(A.rgb_to_hsv(x)), x, atol=1e-5, rtol=0)


def test_posterize_solarize_equalize_match_kornia():
    x = _images()
    bits, thr = torch.tensor([1, 2, 4, 6, 7, 8]), torch.rand(6, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(A.posterize(x, bits), KE.posterize(x, bits), atol=0, rtol=0)
    torch.testing.assert_close(A.solarize(x, thr), KE.solarize(x, thr), atol=0, rtol=0)
    q = (x * 255).round() / 255  # equalize works on 8-bit levels
    torch.testing.assert_close(A.equalize(q), KE.equalize(q), atol=1e-6, rtol=0)


def test_equalize_autocontrast_sharpness_match_pil_on_uint8_images():
    from PIL import Image, ImageEnhance, ImageOps

    x8 = torch.randint(30, 200, (3, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    x = x8.float() / 255

    def pil(fn):
        ims = [np.array(fn(Image.fromarray(im.permute(1, 2, 0).numpy()))) for im in x8]
        return torch.from_numpy(np.stack(ims)).permute(0, 3, 1, 2).float() / 255

    torch.testing.assert_close(A.equalize(x), pil(ImageOps.equalize), atol=1e-6, rtol=0)
    # PIL rounds to uint8: agreement within one grey level (plus rounding)
    torch.testing.assert_close(A.autocontrast(x), pil(ImageOps.autocontrast), atol=1.5 / 255, rtol=0)
    torch.testing.assert_close(A.adjust_sharpness(x, 1.7), pil(lambda im: ImageEnhance.Sharpness(im).enhance(1.7)), atol=1.5 / 255, rtol=0)


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_rotation_matches_kornia_rotate(mode):
    x, angle = _images(), torch.tensor([-45.0, -10.0, 0.0, 7.5, 30.0, 90.0])
    torch.testing.assert_close(A.rotate(x, angle, mode=mode), KG.rotate(x, angle, mode=mode), atol=2e-5, rtol=0)


def test_translation_and_general_affine_warp_match_kornia():
    x = _images(n=5, h=13, w=19)
    t = torch.tensor([[1.5, -2.0], [0.0, 3.0], [-4.25, 0.5], [2.0, 2.0], [0.3, -0.7]])
    torch.testing.assert_close(A.translate(x, t[:, 0], t[:, 1]), KG.translate(x, t), atol=1e-5, rtol=0)
    # any source map I'(p) = I(S (p - c) + b + c) equals kornia's forward warp p = S^-1 (s - c - b) + c
    g = torch.Generator().manual_seed(3)
    s, b = torch.eye(2) + 0.3 * torch.randn(5, 2, 2, generator=g), 2 * torch.randn(5, 2, generator=g)
    c = torch.tensor([(19 - 1) / 2, (13 - 1) / 2])
    si = torch.linalg.inv(s)
    forward = torch.cat([si, (c - (si @ (c + b).unsqueeze(2)).squeeze(2)).unsqueeze(2)], 2)
    ours = A.warp(x, torch.cat([s, b.unsqueeze(2)], 2))
    torch.testing.assert_close(ours, KG.warp_affine(x, forward, (13, 19), align_corners=True), atol=2e-5, rtol=0)


def test_flips_match_kornia_and_twice_is_identity():
    x = _images()
    assert torch.equal(A.hflip(x), KG.hflip(x)) and torch.equal(A.vflip(x), KG.vflip(x))
    assert torch.equal(A.hflip(A.hflip(x)), x) and torch.equal(A.vflip(A.vflip(x)), x)


def test_crop_and_erase_match_kornia_given_kornias_sampled_boxes():
    import kornia.augmentation as K

    x = _images(n=6, h=8, w=8)
    torch.manual_seed(0)
    kcrop = K.RandomCrop((8, 8), padding=2)
    params = kcrop.forward_parameters(x.shape)
    corner = params["src"][:, 0].long()  # (x, y) of each crop's top-left in the padded image
    ours = A.crop(torch.nn.functional.pad(x, (2, 2, 2, 2)), corner[:, 1], corner[:, 0], (8, 8))
    torch.testing.assert_close(ours, kcrop(x, params=params), atol=0, rtol=0)
    kerase = K.RandomErasing(p=1.0)
    params = kerase.forward_parameters(x.shape)
    box = [params[k].long() for k in ("ys", "xs", "heights", "widths")]
    torch.testing.assert_close(A.erase(x, A.box_mask(*box, (8, 8), x.device), 0.0), kerase(x, params=params), atol=0, rtol=0)


def test_mixup_and_cutmix_match_kornia_given_kornias_pairs_and_boxes():
    import kornia.augmentation as K

    x, y = _images(n=6, h=8, w=8), torch.arange(6)
    torch.manual_seed(0)
    kmix = K.RandomMixUpV2(data_keys=["input", "class"])
    params = kmix.forward_parameters(x.shape)
    theirs, _ = kmix(x, y, params=params)
    # kornia's lambda weighs the partner image; ours weighs the image itself
    ours, _ = A.mix(x, y, 1 - params["mixup_lambdas"], params["mixup_pairs"], 6)
    torch.testing.assert_close(ours, theirs, atol=1e-6, rtol=0)
    kcut = K.RandomCutMixV2(data_keys=["input", "class"], use_correct_lambda=True)
    params = kcut.forward_parameters(x.shape)
    theirs, labels = kcut(x, y, params=params)
    corners = params["crop_src"][0].long()  # (N, 4, 2) inclusive (x, y) corners
    top, left = corners[:, 0, 1], corners[:, 0, 0]
    h, w = corners[:, 2, 1] - top + 1, corners[:, 2, 0] - left + 1
    kept = 1 - (h * w).float() / 64
    ours, _ = A.mix(x, y, kept, params["mix_pairs"][0], 6, mask=A.box_mask(top, left, h, w, (8, 8), x.device))
    torch.testing.assert_close(ours, theirs, atol=0, rtol=0)
    torch.testing.assert_close(kept, labels[0, :, 2])  # (num_mix, N, [y, y_partner, lambda])


# ---------------------------------------------------------------- the book's exercise and erratum

GRID = torch.arange(1.0, 17.0).view(1, 1, 4, 4)


def test_exercise_12_flip_and_rotation_on_4x4():
    """Book Exercise 12 (lines 9616-9622): (a) h-flip, (b) 90 degrees clockwise."""
    flipped = [[4, 3, 2, 1], [8, 7, 6, 5], [12, 11, 10, 9], [16, 15, 14, 13]]
    clockwise = [[13, 9, 5, 1], [14, 10, 6, 2], [15, 11, 7, 3], [16, 12, 8, 4]]
    assert A.hflip(GRID)[0, 0].tolist() == flipped
    torch.testing.assert_close(A.rotate(GRID, -90.0)[0, 0], torch.tensor(clockwise, dtype=torch.float32), atol=1e-4, rtol=0)


def test_erratum_rotation_is_about_the_image_centre():
    """Book line 7240 (catalogue erratum 25) rotates about the origin (0, 0), which turns most of
    the image out of the frame; the implementation rotates about the centre ((W-1)/2, (H-1)/2),
    so the centre pixel of an odd-sized image is fixed and a 180-degree turn loses nothing."""
    x = _images(n=1, c=1, h=9, w=9)
    for angle in (13.0, 90.0, 180.0):
        y = A.rotate(x, angle)
        assert torch.allclose(y[..., 4, 4], x[..., 4, 4], atol=1e-5)
    torch.testing.assert_close(A.rotate(x, 180.0), x.flip(-1).flip(-2), atol=1e-5, rtol=0)


# ---------------------------------------------------------------- random transforms: properties

shapes = st.tuples(st.integers(1, 4), st.sampled_from([1, 3]), st.integers(3, 20), st.integers(3, 20))
RANDOM = [
    lambda: A.RandomCrop(padding=3),
    lambda: A.RandomHorizontalFlip(),
    lambda: A.RandomVerticalFlip(),
    lambda: A.ColorJitter(0.4, 0.4, 0.4, 0.1),
    lambda: A.RandomRotation(30),
    lambda: A.RandomErasing(p=1.0, value="random"),
    lambda: A.Cutout(4),
    lambda: A.RandAugment(2, 15),
]


@settings(max_examples=20, deadline=None)
@given(shape=shapes, which=st.integers(0, len(RANDOM) - 1), seed=st.integers(0, 2**16))
def test_random_transforms_keep_shape_dtype_and_range(shape, which, seed):
    x = torch.rand(shape, generator=torch.Generator().manual_seed(seed))
    t = RANDOM[which]()
    y = t(x, generator=torch.Generator().manual_seed(seed))
    assert y.shape == x.shape and y.dtype == x.dtype
    if not isinstance(t, A.RandomErasing):  # erasing with noise writes N(0, 1) values
        assert y.min() >= 0 and y.max() <= 1


@settings(max_examples=15, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**16))
def test_zero_magnitude_is_identity(shape, seed):
    x = torch.rand(shape, generator=torch.Generator().manual_seed(seed))
    g = torch.Generator().manual_seed(seed)
    ops = [o for o in A.RANDAUGMENT_OPS if o not in A.RandAugment.MAGNITUDE_FREE]
    for t in (A.RandomRotation(0), A.ColorJitter(0, 0, 0, 0), A.RandomCrop(padding=0),
              A.RandomErasing(p=0.0), A.Cutout(0), A.RandAugment(3, 0, ops=ops)):
        torch.testing.assert_close(t(x, generator=g), x, atol=1e-5, rtol=0)
    y = torch.arange(shape[0]) % 3
    xm, ym = A.Mixup(alpha=0.0, num_classes=3)(x, y, generator=g)
    assert torch.equal(xm, x) and torch.equal(ym, torch.nn.functional.one_hot(y, 3).float())


def test_randomness_is_per_sample_and_seeded():
    x = _images(n=1).expand(16, -1, -1, -1).contiguous()  # 16 copies of one image
    for t in (A.RandomRotation(40), A.ColorJitter(0.5, 0.5, 0.5, 0.2), A.RandomCrop(padding=4), A.RandAugment(2, 12)):
        y = t(x, generator=torch.Generator().manual_seed(0))
        assert len({round(v, 5) for v in y.sum((1, 2, 3)).tolist()}) > 8, t
        assert torch.equal(y, t(x, generator=torch.Generator().manual_seed(0)))
    flips = A.RandomHorizontalFlip()(x, generator=torch.Generator().manual_seed(0))
    flipped = (flips == A.hflip(x)).flatten(1).all(1)
    assert 0 < flipped.sum() < 16


def test_randaugment_applies_each_images_own_op_at_the_global_magnitude():
    x = _images(n=24, h=12, w=12)
    out = A.RandAugment(1, 15, ops=["identity", "rotate", "solarize", "posterize"])(x, generator=torch.Generator().manual_seed(0))
    candidates = torch.stack([x, A.rotate(x, 15.0), A.rotate(x, -15.0), A.solarize(x, 0.5), A.posterize(x, 6)])
    match = ((candidates - out.unsqueeze(0)).abs().flatten(2).amax(2) < 1e-5)  # (5, N)
    assert match.any(0).all()  # every image got exactly one of the ops, unmixed with others
    assert match[0].any() and (match[1] | match[2]).any() and match[3].any() and match[4].any()


def test_random_crop_is_a_window_of_the_padded_image():
    x = _images(n=4, h=8, w=8)
    g = torch.Generator().manual_seed(5)
    top, left = torch.randint(0, 9, (4,), generator=g), torch.randint(0, 9, (4,), generator=g)
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
    expected = torch.stack([padded[i, :, t:t + 8, lf:lf + 8] for i, (t, lf) in enumerate(zip(top, left, strict=True))])
    assert torch.equal(A.crop(padded, top, left, (8, 8)), expected)
    out = A.RandomCrop(padding=4, padding_mode="reflect")(x, generator=g)
    assert out.shape == x.shape
    assert A.RandomCrop(size=5)(x).shape == (4, 3, 5, 5)


def test_random_erasing_area_and_cutout_square():
    x = torch.ones(200, 1, 20, 20)
    y = A.RandomErasing(p=1.0, scale=(0.1, 0.2), ratio=(1.0, 1.0))(x, generator=torch.Generator().manual_seed(0))
    frac = (y == 0).float().mean((1, 2, 3))
    assert frac.min() >= 0.08 and frac.max() <= 0.22  # sqrt-rounding of the box sides
    c = A.Cutout(6)(torch.ones(50, 1, 20, 20), generator=torch.Generator().manual_seed(0))
    zeros = (c == 0).flatten(1).sum(1)
    assert zeros.max() == 36 and zeros.min() >= 9  # a full square, or clipped by the border


def test_mixup_mixes_images_and_targets_with_the_same_lambda():
    x = _images(n=8)
    y = torch.arange(8) % 4
    xm, ym = A.Mixup(alpha=0.4, num_classes=4)(x, y, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(ym.sum(1), torch.ones(8))
    lam, perm = A.Mixup(alpha=0.4, num_classes=4).sample(8, torch.Generator().manual_seed(0))
    torch.testing.assert_close(xm, lam.view(-1, 1, 1, 1) * x + (1 - lam.view(-1, 1, 1, 1)) * x[perm])
    assert len(set(lam.tolist())) == 8  # one lambda per image
    lam_batch, _ = A.Mixup(alpha=0.4, per_sample=False).sample(8, torch.Generator().manual_seed(0))
    assert len(set(lam_batch.tolist())) == 1
    with pytest.raises(ConfigError, match="num_classes"):
        A.Mixup()(x, y)


def test_cutmix_target_weights_equal_the_pasted_area():
    n = 32
    x = torch.arange(1.0, n + 1).view(n, 1, 1, 1).expand(n, 3, 16, 16).contiguous() / (n + 1)
    y = torch.arange(n)
    xm, ym = A.CutMix(alpha=1.0, num_classes=n)(x, y, generator=torch.Generator().manual_seed(0))
    own = (xm == x).all(1).float().mean((1, 2))  # fraction of each image still its own
    torch.testing.assert_close(ym[torch.arange(n), y], own, atol=1e-6, rtol=0)
    assert (own < 1).sum() > n // 2  # most images received a patch


def test_compose_threads_a_seeded_generator_and_targets():
    x, y = _images(n=8, h=16, w=16), torch.arange(8) % 2
    make = lambda: A.Compose(  # noqa: E731
        [A.RandomCrop(padding=2), A.RandomHorizontalFlip(), A.ColorJitter(0.3, 0.3), A.CutMix(1.0, 2),
         Normalize((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))], seed=11)
    p1, p2 = make(), make()
    for _ in range(2):  # the generator advances, batch after batch, identically
        (a, ya), (b, yb) = p1(x, y), p2(x, y)
        assert torch.equal(a, b) and torch.equal(ya, yb)
    assert not torch.equal(p1(x, y)[0], make()(x, y)[0])
    with pytest.raises(ConfigError, match=r"pipeline\(x, y\)"):
        make()(x)


def test_normalize_per_channel_and_inverse():
    x = _images()
    norm = Normalize((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))
    mean, std = torch.tensor([0.4914, 0.4822, 0.4465]), torch.tensor([0.2470, 0.2435, 0.2616])
    torch.testing.assert_close(norm(x), (x - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1))
    torch.testing.assert_close(norm.inverse(norm(x)), x)
    assert "mean=(0.4914" in repr(norm)


# ---------------------------------------------------------------- input errors


def test_channels_last_images_get_a_permute_hint():
    x = torch.rand(4, 32, 32, 3)
    for t in (A.RandomHorizontalFlip(), A.RandAugment(), Normalize((0.5,) * 3, (0.5,) * 3)):
        with pytest.raises(ShapeError, match=r"images look channels-last; call \.permute\(0,3,1,2\)"):
            t(x)


def test_wrong_rank_and_integer_images_are_rejected_with_a_fix():
    with pytest.raises(ShapeError, match="unsqueeze"):
        A.RandomRotation(10)(torch.rand(3, 32, 32))
    with pytest.raises(ShapeError, match=r"x.float\(\) / 255"):
        A.ColorJitter(0.2)(torch.zeros(2, 3, 8, 8, dtype=torch.uint8))
    with pytest.raises(ConfigError, match="magnitude"):
        A.RandAugment(magnitude=40)
    with pytest.raises(ConfigError, match="unknown RandAugment ops"):
        A.RandAugment(ops=["rotate", "sheer_x"])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_same_seed_same_augmentation_on_cpu_and_gpu():
    x = _images(n=8, h=16, w=16)
    t = A.Compose([A.RandomCrop(padding=2), A.RandomRotation(20), A.ColorJitter(0.3, 0.3, 0.3, 0.05), A.RandAugment(2, 9)])
    cpu = t(x, generator=torch.Generator().manual_seed(0))
    gpu = t(x.cuda(), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-4, rtol=0)
