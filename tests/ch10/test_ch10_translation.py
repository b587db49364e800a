"""CycleGAN (book C10-12 sizes, the cycle/identity losses as equations, training with exact resume)
and SRGAN (pixel-only pre-training, then the adversarial game; PSNR/SSIM; exact resume), on real
8×8 digits (sklearn)."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch.utils.data import TensorDataset

from tensorprism.errors import ConfigError, ShapeError
from tensorprism.models import count_parameters, create_model
from tensorprism.train import Callback, Trainer
from tensorprism.train.tasks import create_task
from tensorprism.train.tasks.cycle import UnpairedImages
from tensorprism.train.tasks.sr_adversarial import image_quality

QUIET = {"progress": False, "tensorboard": False, "plots": False, "device": "cpu"}


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    return torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0  # (1797, 1, 8, 8) in [0, 1]


class Interrupt(Exception):
    """Stands for a crash part-way through training."""


class StopAt(Callback):
    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, outputs):
        if trainer.global_step == self.step:
            raise Interrupt


def _same_state(a: nn.Module, b: nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


# ------------------------------------------------------------------------------------ CycleGAN
def test_cyclegan_book_configuration_has_the_catalogued_sizes():
    m = create_model("cyclegan-book")  # C10-12: 9 residual blocks, no down-sampling, zero padding, 3 channels
    assert count_parameters(m.g_ab) == 683_587 and count_parameters(m.d_a) == 136_385
    out = m(torch.rand(1, 3, 64, 64) * 2 - 1)
    assert out.shape == (1, 3, 64, 64) and out.abs().max() <= 1
    assert m.d_a(torch.rand(1, 3, 64, 64)).shape == (1, 1, 15, 15)  # one logit per patch
    with pytest.raises(ConfigError, match="divisible"):
        create_model("cyclegan", img_size=30, downsample=2)


def test_cycle_and_identity_losses_follow_the_equations():
    class Negate(nn.Module):
        def forward(self, x):
            return -x

    m = create_model("cyclegan", img_size=8, width=4, res_blocks=1, downsample=1, d_width=4)
    m.g_ab, m.g_ba = Negate(), Negate()  # G = F = −x: every round trip is exact, the identity maps are not
    task = create_task("cycle-adversarial", cycle_weight=10.0, identity_weight=0.5)
    a, b = torch.rand(4, 1, 8, 8) * 2 - 1, torch.rand(4, 1, 8, 8) * 2 - 1
    out = task._losses(m, a, b)
    assert float(out["cycle_a"]) == 0 and float(out["cycle_b"]) == 0
    assert torch.allclose(out["identity"], 2 * b.abs().mean() + 2 * a.abs().mean())
    assert torch.allclose(out["g_loss"], out["adv"] + 10.0 * 0.5 * out["identity"])
    with pytest.raises(ConfigError, match="UnpairedImages"):
        task._pair(torch.rand(2, 1, 8, 8))
    with pytest.raises(ShapeError, match=r"\[0, 1\]"):
        task._pair((a, b))  # images in [-1, 1] instead of [0, 1]
    with pytest.raises(ConfigError, match="one shape"):
        UnpairedImages(torch.rand(3, 1, 8, 8), torch.rand(3, 1, 4, 4))


def test_image_pool_fills_then_swaps_about_half_and_is_part_of_the_checkpointed_state():
    from tensorprism.models.generative.cyclegan import ImagePool

    torch.manual_seed(0)
    pool = ImagePool(4, (1, 2, 2))
    first = torch.arange(6.0).view(6, 1, 1, 1).expand(6, 1, 2, 2).clone()
    out = pool.query(first[:4])
    # while filling, every new image is stored and used
    assert torch.equal(out, first[:4]) and int(pool.count) == 4 and torch.equal(pool.images, first[:4])
    # once full, every output is either the new image or one that was in the history
    history = set(pool.images[:, 0, 0, 0].tolist())
    out = pool.query(torch.full((3, 1, 2, 2), -1.0))
    assert set(out[:, 0, 0, 0].tolist()) <= history | {-1.0}
    assert {"images", "count"} <= set(pool.state_dict())
    assert torch.equal(ImagePool(0, (1, 2, 2)).query(first), first)
    m = create_model("cyclegan", img_size=8, width=4, res_blocks=1, downsample=1, d_width=4)
    assert m.pool_a.size == 50 and "pool_b.images" in m.state_dict()  # the paper's history of 50
    assert create_model("cyclegan", img_size=8, width=4, res_blocks=1, downsample=1, pool_size=0).pool_a.size == 0
    with pytest.raises(ConfigError):
        create_model("cyclegan", img_size=8, pool_size=-1)


def test_image_pool_draws_half_from_history_once_full():
    from tensorprism.models.generative.cyclegan import ImagePool

    torch.manual_seed(1)
    pool = ImagePool(50, (1,))
    pool.query(torch.zeros(50, 1))  # full of zeros
    hits = [int((pool.query(torch.ones(1, 1)) == 0).item()) for _ in range(40)]
    # a "0" comes back only while zeros remain; the first draw each time is a fair coin
    assert 10 <= sum(hits) <= 30


def _cycle_trainer(out, digits, callbacks=None):
    torch.manual_seed(0)
    a, b = digits[:64], 1 - digits[64:160]  # digits vs inverted digits (a toy pair for the mechanics)
    model = create_model("cyclegan", img_size=8, width=4, res_blocks=1, downsample=1, d_width=4)
    return Trainer(model, create_task("cycle-adversarial"), train_data=UnpairedImages(a, b),
                   val_data=UnpairedImages(digits[-32:], 1 - digits[-64:-32]), epochs=2, batch_size=32, lr=2e-3,
                   seed=1, out_dir=str(out), checkpoint_every_steps=1, callbacks=callbacks, optimizer="adam",
                   optimizer_kwargs={"betas": (0.5, 0.999)}, **QUIET)


def test_cyclegan_trains_on_unpaired_batches_and_resumes_exactly(tmp_path, digits):
    fresh = _cycle_trainer(tmp_path / "fresh", digits)
    before = fresh.evaluate("val")["val/cycle"]
    ref = _cycle_trainer(tmp_path / "ref", digits).fit()
    assert ref.global_step == 6 and ref.final_metrics["val/cycle"] < before
    with pytest.raises(Interrupt):
        _cycle_trainer(tmp_path / "cut", digits, callbacks=[StopAt(4)]).fit()
    resumed = _cycle_trainer(tmp_path / "cut", digits).fit(resume_from=tmp_path / "cut")
    _same_state(ref.model, resumed.model)
    t = ref.model.translate(digits[:5])
    assert t.shape == (5, 1, 8, 8) and 0 <= float(t.min()) and float(t.max()) <= 1


# ------------------------------------------------------------------------------------ SRGAN
def test_image_quality_matches_the_psnr_definition_and_ssim_of_identical_images_is_one(digits):
    from tensorprism.vision.superres import psnr

    hr = digits[:6]
    up = F.interpolate(F.avg_pool2d(hr, 2), scale_factor=2, mode="bilinear", align_corners=False)
    q = image_quality(up, hr)
    assert torch.allclose(q["psnr"], psnr(up, hr), atol=1e-4)
    assert torch.allclose(image_quality(hr, hr)["ssim"], torch.ones(6), atol=1e-5)
    assert (q["ssim"] < 1).all()


def _sr_trainer(out, digits, callbacks=None, pretrain_steps=2):
    torch.manual_seed(0)
    hr = digits[:96]
    lr_ = F.avg_pool2d(hr, 2)
    model = create_model("srgan", in_chans=1, img_size=8, width=8, blocks=1, d_width=4, d_stages=2)
    task = create_task("sr-adversarial", adv_weight=1e-2, pretrain_steps=pretrain_steps)
    val = TensorDataset(F.avg_pool2d(digits[-32:], 2), digits[-32:])
    return Trainer(model, task, train_data=TensorDataset(lr_, hr), val_data=val, epochs=2, batch_size=32, lr=2e-3,
                   seed=1, out_dir=str(out), checkpoint_every_steps=1, callbacks=callbacks, optimizer="adam",
                   **QUIET)


def test_srgan_pretrains_on_pixels_then_plays_the_game_and_resumes_exactly(tmp_path, digits):
    t = _sr_trainer(tmp_path / "pre", digits, pretrain_steps=100)
    d0 = [p.clone() for p in t.model.discriminator.parameters()]
    t.fit()
    assert all(torch.equal(p, q) for p, q in zip(d0, t.model.discriminator.parameters(), strict=True))
    assert {"val/psnr", "val/ssim"} <= set(t.final_metrics)
    ref = _sr_trainer(tmp_path / "ref", digits).fit()
    assert any(not torch.equal(p, q) for p, q in zip(d0, ref.model.discriminator.parameters(), strict=True))
    with pytest.raises(Interrupt):
        _sr_trainer(tmp_path / "cut", digits, callbacks=[StopAt(4)]).fit()
    resumed = _sr_trainer(tmp_path / "cut", digits).fit(resume_from=tmp_path / "cut")
    _same_state(ref.model, resumed.model)
    with pytest.raises(ShapeError, match="low-resolution"):
        ref.model(torch.rand(2, 1, 8, 8))
    with pytest.raises(ConfigError, match="feature_net"):
        create_task("sr-adversarial", feature_weight=1.0)


def test_classifier_features_standardise_stay_frozen_in_eval_mode_and_pass_gradients_to_the_image():
    from tensorprism.train.tasks.sr_adversarial import ClassifierFeatures

    torch.manual_seed(0)
    clf = create_model("mnist-cnn-modern", in_chans=3, img_size=8)
    phi = ClassifierFeatures(clf, (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)).train()
    assert not clf.training and not any(p.requires_grad for p in clf.parameters())
    x = torch.rand(2, 3, 8, 8, requires_grad=True)
    std = (x - torch.tensor([0.5, 0.4, 0.3]).view(1, 3, 1, 1)) / torch.tensor([0.2, 0.25, 0.3]).view(1, 3, 1, 1)
    assert torch.allclose(phi(x), clf.forward_features(std))
    phi(x).pow(2).sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    with pytest.raises(ConfigError, match="forward_features"):
        ClassifierFeatures(nn.Linear(2, 2), (0.5,), (0.5,))
