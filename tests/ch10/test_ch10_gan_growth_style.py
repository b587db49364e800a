"""Progressive growing (fade-in, minibatch stddev, equalised LR), the small StyleGAN (mapping,
modulated convolutions, noise, up-sampling) and the conditional DCGAN: equations against explicit
loops, the two book errata, and training on the adversarial task with exact resume (8×8 digits)."""

import pytest
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch.utils.data import TensorDataset

from tensorprism.errors import ShapeError
from tensorprism.functional.gan_blocks import (
    equalized_scale,
    fade_in,
    minibatch_stddev,
    modulated_conv2d,
    modulated_conv2d_reference,
    pixel_norm,
)
from tensorprism.models import create_model
from tensorprism.train import Callback, Trainer
from tensorprism.train.tasks import create_task

QUIET = {"progress": False, "tensorboard": False, "plots": False, "device": "cpu"}


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0  # (1797, 1, 8, 8) in [0, 1]
    return x, torch.tensor(d.target)


# ------------------------------------------------------------------------------------ equations
def test_minibatch_stddev_pixel_norm_and_equalized_scale_follow_their_equations():
    torch.manual_seed(0)
    x = torch.randn(6, 3, 4, 4)
    out = minibatch_stddev(x, group_size=4)  # 6 examples: groups of 3 (largest divisor <= 4)
    assert out.shape == (6, 4, 4, 4) and torch.equal(out[:, :3], x)
    for j in range(2):  # group j holds examples j, j+2, j+4
        members = x[j::2]
        expect = (members.var(0, unbiased=False) + 1e-8).sqrt().mean()
        for i in range(j, 6, 2):
            assert torch.allclose(out[i, 3], expect.expand(4, 4), atol=1e-6)
    assert minibatch_stddev(x[:1]).shape == (1, 4, 4, 4)  # a batch of one: its own group
    p = pixel_norm(x)
    assert torch.allclose(p.pow(2).mean(1), torch.ones(6, 4, 4), atol=1e-4)
    assert equalized_scale((8, 3, 3, 3)) == pytest.approx(2 ** 0.5 / 27 ** 0.5)


def test_modulated_convolution_fast_path_equals_the_reference_and_demodulation_normalises():
    torch.manual_seed(0)
    x, w, s = torch.randn(3, 4, 6, 6), torch.randn(5, 4, 3, 3), torch.rand(3, 4) + 0.5
    for demod in (True, False):
        ref = modulated_conv2d_reference(x, w, s, demod, padding=1)
        assert torch.allclose(modulated_conv2d(x, w, s, demod, padding=1), ref, atol=1e-5)
    plain = modulated_conv2d(x, w, torch.ones(3, 4), demodulate=False, padding=1)
    assert torch.allclose(plain, F.conv2d(x, w, padding=1), atol=1e-5)  # style 1 = an ordinary convolution
    # demodulation removes the style's overall scale: each output channel's kernel has unit norm
    assert torch.allclose(modulated_conv2d(x, w, 10 * s, True, 1), modulated_conv2d(x, w, s, True, 1), atol=1e-4)
    with pytest.raises(ShapeError, match="style"):
        modulated_conv2d(x, w, torch.ones(3, 5))


# ------------------------------------------------------------------------------------ errata
def test_erratum_pggan_fade_in_blends_old_to_new_so_growing_changes_nothing_at_first():
    """Catalogue ch09-11 §5 item 14 (book L24123–24125): the book blends
    G_blend = α·G_old + (1 − α)·G_new with α going from 0 to 1, which starts from the untrained new
    layers alone and fades the trained ones in. Right: (1 − α)·G_old + α·G_new with α: 0 → 1, so
    the network just grown (α = 0) computes exactly what the smaller one did, for the generator, the
    discriminator and the real images it is shown."""
    old, new = torch.zeros(2, 3), torch.ones(2, 3)
    assert torch.equal(fade_in(old, new, 0.0), old) and torch.equal(fade_in(old, new, 1.0), new)
    assert torch.allclose(fade_in(old, new, 0.25), torch.full((2, 3), 0.25))
    book = lambda a: a * old + (1 - a) * new  # noqa: E731
    assert torch.equal(book(0.0), new)  # the book's start: the new, untrained path only

    torch.manual_seed(0)
    m = create_model("pggan", img_size=28, width=8, latent_dim=16, stable_steps=3, fade_steps=4).eval()
    z, x = torch.randn(4, 16), torch.rand(4, 1, 28, 28) * 2 - 1
    for last_stable, grown in ((2, 3), (9, 10)):  # end of stage s-1 (α = 1) and start of stage s (α = 0)
        m.set_progress(last_stable)
        s_old = m.stage_alpha()
        g_old, d_old = m(z), m.discriminate(m.prepare_real(x))
        m.set_progress(grown)
        assert m.stage_alpha() == (s_old[0] + 1, 0.0)
        assert torch.equal(m(z), g_old)
        # equal up to float rounding: pooling by 2 twice vs by 4 at once
        assert torch.allclose(m.discriminate(m.prepare_real(x)), d_old, atol=1e-6, rtol=0)
        m.set_progress(grown + 2)  # half-way: the new layers now contribute
        assert m.stage_alpha()[1] == 0.5 and not torch.allclose(m(z), g_old)
    with pytest.raises(ShapeError, match=r"\[0, 1\]"):
        fade_in(old, new, 1.5)


def test_erratum_stylegan_has_style_modulation_upsampling_and_a_consistent_mapping():
    """Catalogue ch09-11 C10-13 / I10.18 (book L24011–24062): the book's "StyleGAN" never feeds the
    style w to the synthesis layers (no AdaIN or modulation), never up-samples (output 4×4), and its
    mapping layers 2–8 take latent_dim inputs (works only when latent_dim == dlatent_dim). Right: every
    synthesis layer is modulated by an affine map of w, resolution doubles per stage up to the image
    size, and the mapping chains latent_dim → w_dim → … → w_dim."""
    torch.manual_seed(0)
    m = create_model("stylegan-small", latent_dim=12, w_dim=20, width=8, img_size=28).eval()
    g = m.generator
    assert m(torch.randn(2, 12)).shape == (2, 1, 28, 28)  # 7 → 14 → 28, not the book's 4×4
    assert g.mapping(torch.randn(2, 12)).shape == (2, 20) and len(g.mapping.net) == 16  # 8 layers
    noise = [torch.randn(2, 1, 7 * 2 ** ((i + 1) // 2), 7 * 2 ** ((i + 1) // 2)) for i in range(len(g.layers))]
    ws = g.styles(torch.randn(2, 12))
    base = g.synthesis(ws, noise)
    assert torch.equal(g.synthesis(ws, noise), base)  # fixed styles and noise: deterministic
    other = g.styles(torch.randn(2, 12))
    assert not torch.allclose(g.synthesis(other, noise), base, atol=1e-4)  # the style reaches the image
    coarse = ws.clone()
    coarse[:, :2] = other[:, :2]  # mix the coarse styles only
    assert not torch.allclose(g.synthesis(coarse, noise), base, atol=1e-4)
    with torch.no_grad():
        for layer in g.layers:
            layer.noise.strength.fill_(0.5)
    assert not torch.allclose(g.synthesis(ws, [torch.randn_like(n) for n in noise]), g.synthesis(ws, noise))
    assert torch.allclose(g.styles(torch.randn(3, 12), truncation=0.0), g.w_avg.expand(3, g.num_ws, 20))
    with pytest.raises(ShapeError, match="styles"):
        g.synthesis(ws[:, :2])


# ------------------------------------------------------------------------------------ training
class Interrupt(Exception):
    """Stands for a crash part-way through training."""


class StopAt(Callback):
    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, outputs):
        if trainer.global_step == self.step:
            raise Interrupt


def _trainer(out, digits, model, callbacks=None, epochs=2, n_train=96, **task_kw):
    x, y = digits
    train, val = TensorDataset(x[:n_train], y[:n_train]), TensorDataset(x[-32:], y[-32:])
    task = create_task("adversarial", **{"loss": "non-saturating", **task_kw})
    return Trainer(model, task, train_data=train, val_data=val, epochs=epochs, batch_size=32, lr=1e-3, seed=3,
                   out_dir=str(out), checkpoint_every_steps=1, callbacks=callbacks, optimizer="adam",
                   optimizer_kwargs={"betas": (0.0, 0.99)}, **QUIET)


def _pggan():
    torch.manual_seed(0)  # 8×8 digits: 4×4 then 8×8; 6 steps: 2 stable at 4×4, fade (α 0, .5), 2 stable at 8×8
    return create_model("pggan", img_size=8, width=8, latent_dim=8, stable_steps=2, fade_steps=2, ema=True)


def test_pggan_grows_through_the_fade_in_on_the_adversarial_task_and_resumes_exactly(tmp_path, digits):
    ref = _trainer(tmp_path / "ref", digits, _pggan(), ema_decay=0.9).fit()
    assert ref.global_step == 6 and int(ref.model.progress) == 5 and ref.model.stage_alpha() == (1, 1.0)
    with pytest.raises(Interrupt):  # crash in the middle of the fade-in
        _trainer(tmp_path / "cut", digits, _pggan(), callbacks=[StopAt(3)], ema_decay=0.9).fit()
    resumed = _trainer(tmp_path / "cut", digits, _pggan(), ema_decay=0.9).fit(resume_from=tmp_path / "cut")
    a, b = ref.model.state_dict(), resumed.model.state_dict()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert torch.isfinite(torch.tensor(ref.final_metrics["val/d_loss"]))
    s = ref.model.sample(5)
    assert s.shape == (5, 1, 8, 8) and 0 <= float(s.min()) and float(s.max()) <= 1


def test_stylegan_and_conditional_dcgan_train_on_the_adversarial_task(tmp_path, digits):
    torch.manual_seed(0)
    sg = create_model("stylegan-small", img_size=8, width=8, latent_dim=8, w_dim=8, mapping_layers=2, ema=True)
    before = [p.clone() for p in sg.generator.mapping.parameters()]
    t = _trainer(tmp_path / "sg", digits, sg, epochs=1, ema_decay=0.9).fit()
    assert any(not torch.equal(p, q) for p, q in zip(before, t.model.generator.mapping.parameters(), strict=True))
    assert float(t.model.generator_ema.w_avg.abs().sum()) > 0  # the running mean of w is tracked
    assert t.model.sample(3, truncation=0.7).shape == (3, 1, 8, 8)

    torch.manual_seed(0)
    cg = create_model("cdcgan", img_size=8, g_width=8, d_width=8, latent_dim=8)
    t = _trainer(tmp_path / "cg", digits, cg, epochs=1, loss="hinge").fit()
    assert {"val/d_loss", "val/g_loss"} <= set(t.final_metrics)
    x = torch.rand(4, 1, 8, 8) * 2 - 1
    d = t.model.discriminate(x, torch.tensor([0, 1, 2, 3]))
    assert not torch.allclose(d, t.model.discriminate(x, torch.tensor([4, 5, 6, 7])))  # the projection sees y
    assert t.model.sample(10).shape == (10, 1, 8, 8)
    with pytest.raises(ShapeError, match="conditional"):
        t.model(torch.randn(2, 8))


def test_stylegan_path_length_regularisation_runs_lazily_keeps_its_mean_and_resumes_exactly(tmp_path, digits):
    """StyleGAN2's path-length penalty every 2nd generator step: reported as ``pl`` on those steps,
    the running mean is task state (checkpointed, restored on resume: the resumed run ends equal);
    a generator without styles/synthesis and bad settings are refused."""
    from tensorprism.errors import ConfigError
    from tensorprism.train.checkpoint import read_checkpoint

    def sg():
        torch.manual_seed(0)
        return create_model("stylegan-small", img_size=8, width=8, latent_dim=8, w_dim=8, mapping_layers=2)

    seen = []

    class Record(Callback):
        def on_train_batch_end(self, trainer, outputs):
            seen.append("pl" in outputs)

    ref = _trainer(tmp_path / "ref", digits, sg(), callbacks=[Record()], pl_weight=2.0, pl_interval=2).fit()
    assert seen == [i % 2 == 0 for i in range(len(seen))] and len(seen) == 6
    assert ref.task.pl_mean > 0
    with pytest.raises(Interrupt):
        _trainer(tmp_path / "cut", digits, sg(), callbacks=[StopAt(3)], pl_weight=2.0, pl_interval=2).fit()
    _, state = read_checkpoint(tmp_path / "cut" / "checkpoints" / "last.safetensors")
    assert state["task"]["pl_mean"] > 0
    resumed = _trainer(tmp_path / "cut", digits, sg(), pl_weight=2.0, pl_interval=2).fit(resume_from=tmp_path / "cut")
    assert resumed.task.pl_mean == ref.task.pl_mean
    a, b = ref.model.state_dict(), resumed.model.state_dict()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    with pytest.raises(ConfigError, match="style-based generator"):
        _trainer(tmp_path / "dc", digits, create_model("dcgan", img_size=8, g_width=8, d_width=8, latent_dim=8),
                 pl_weight=1.0).fit()
    with pytest.raises(ConfigError, match="pl_weight must be >= 0"):
        create_task("adversarial", pl_interval=0)
