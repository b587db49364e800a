"""Chapter 10 tasks on the Trainer: autoencoder penalties, the VAE objective, the adversarial task
(losses, clipping, EMA, exact resume, NaN divergence) and the density task — on real 8×8 digits."""

import json

import pytest
import torch
from sklearn.datasets import load_digits
from torch.utils.data import TensorDataset

from tensorprism.errors import ConfigError, NonFiniteError, ShapeError
from tensorprism.models import create_model
from tensorprism.train import Callback, Trainer
from tensorprism.train.checkpoint import read_checkpoint
from tensorprism.train.tasks import create_task

QUIET = {"progress": False, "tensorboard": False, "plots": False, "device": "cpu"}


class Interrupt(Exception):
    """Stands for a crash part-way through training."""


class StopAt(Callback):
    def __init__(self, batch_in_epoch: int, epoch: int):
        self.where = (epoch, batch_in_epoch)

    def on_train_batch_end(self, trainer, outputs):
        if (trainer.epoch, trainer.batch_in_epoch) == self.where:
            raise Interrupt


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0  # (1797, 1, 8, 8) in [0, 1]
    return x, torch.tensor(d.target)


def _split(x, y, n_train=512, n_val=128):
    return TensorDataset(x[:n_train], y[:n_train]), TensorDataset(x[-n_val:], y[-n_val:])


# ------------------------------------------------------------------------------------ autoencoder
def test_sparse_and_contractive_autoencoder_train_and_report_their_penalties(digits):
    x, y = digits
    train, val = _split(x, y, n_train=192, n_val=64)
    torch.manual_seed(0)
    m = create_model("ae-sparse", data_shape=(1, 8, 8), latent_dim=8)
    task = create_task("autoencoder", sparsity="kl", sparsity_weight=0.5, contractive_weight=0.01, noise="masking",
                       mask_prob=0.2)
    out = task.training_step(m, (x[:32], y[:32]))
    assert {"loss", "recon", "sparsity", "jacobian"} <= set(out) and out["jacobian"] > 0
    before = Trainer(m, task, val_data=val, **QUIET).evaluate("val")["val/mse"]
    t = Trainer(m, task, train_data=train, val_data=val, epochs=2, batch_size=64, lr=3e-3, **QUIET).fit()
    assert t.final_metrics["val/mse"] < before


def test_kl_sparsity_on_a_relu_code_is_refused_by_the_task(digits):
    x, y = digits
    m = create_model("ae-mlp", data_shape=(1, 8, 8), latent_dim=16)  # ReLU code, as the book's listing
    x = x[:16] * 0 + 1  # large activations: the ReLU mean exceeds 1
    with torch.no_grad():
        for p in m.parameters():
            p.fill_(0.1)
    with pytest.raises(ShapeError, match="sigmoid"):
        create_task("autoencoder", sparsity="kl").training_step(m, (x, y[:16]))
    with pytest.raises(ConfigError):
        create_task("autoencoder", noise="salt")


# ------------------------------------------------------------------------------------ VAE
def test_vae_task_minimises_the_negative_elbo_and_iwae_tightens_it(digits):
    x, y = digits
    xb = torch.bernoulli(x, generator=torch.Generator().manual_seed(0))
    train, val = _split(xb, y, n_train=512)
    torch.manual_seed(0)
    m = create_model("vae-mlp", data_shape=(1, 8, 8), hidden=(32,), latent_dim=4)
    task = create_task("vae", iwae_k=32, warmup_steps=10)
    before = Trainer(m, task, val_data=val, **QUIET).evaluate("val")["val/nelbo"]
    t = Trainer(m, task, train_data=train, val_data=val, test_data=val, epochs=3, batch_size=64, lr=1e-2,
                **QUIET).fit()
    fm = t.final_metrics
    assert fm["val/nelbo"] < before - 5 and fm["test/kl"] > 0
    assert fm["test/nelbo"] == pytest.approx(fm["test/recon"] + fm["test/kl"], rel=1e-4)
    assert fm["test/nll"] < fm["test/nelbo"]  # the importance-weighted bound is tighter
    assert task.beta_at(5) == pytest.approx(0.5)


def test_conditional_vae_gets_labels_and_bernoulli_refuses_normalised_images(digits):
    x, y = digits
    m = create_model("cvae-mlp", data_shape=(1, 8, 8), hidden=(16,), latent_dim=2, num_classes=10)
    out = create_task("vae").training_step(m, (torch.bernoulli(x[:8]), y[:8]))
    assert torch.isfinite(out["loss"])
    normalised = (x[:8] - 0.3) / 0.4
    with pytest.raises(ShapeError, match=r"\[0, 1\]"):
        create_task("vae").training_step(create_model("vae-mlp", data_shape=(1, 8, 8)), (normalised, y[:8]))


# ------------------------------------------------------------------------------------ adversarial
def _gan(ema=True):
    torch.manual_seed(0)
    return create_model("gan-mlp-small", data_shape=(1, 8, 8), latent_dim=8, g_hidden=(32,), d_hidden=(32,), ema=ema)


def _gan_trainer(out, digits, ema=True, callbacks=None, **task_kw):
    x, y = digits
    train, val = _split(x, y, n_train=128, n_val=32)
    task = create_task("adversarial", **{"loss": "wasserstein", "gp_weight": 1.0, "n_critic": 2, "ema_decay": 0.9,
                                         **task_kw})
    return Trainer(_gan(ema), task, train_data=train, val_data=val, epochs=2, batch_size=64, lr=1e-3, seed=3,
                   out_dir=str(out), checkpoint_every_steps=1, callbacks=callbacks, optimizer="adam",
                   optimizer_kwargs={"betas": (0.5, 0.9)}, **QUIET)


def test_r1_regularised_gan_trains_reports_the_penalty_and_refuses_bad_settings(tmp_path, digits):
    """StyleGAN's R1 on the real images, lazily every 2nd discriminator step: reported as ``r1``
    on those steps only; negative weights and intervals < 1 are refused."""
    seen = []

    class Record(Callback):
        def on_train_batch_end(self, trainer, outputs):
            seen.append((trainer.global_step, "r1" in outputs))

    tr = _gan_trainer(tmp_path / "r1", digits, callbacks=[Record()], loss="non-saturating", gp_weight=0.0,
                      n_critic=1, r1_weight=1.0, r1_interval=2)
    tr.fit()
    # global_step has advanced past the step that ran: R1 ran at steps 0, 2, ... -> seen at 1, 3, ...
    assert seen == [(s, (s - 1) % 2 == 0) for s in range(1, len(seen) + 1)]
    assert all(torch.isfinite(p).all() for p in tr.model.parameters())
    for bad in ({"r1_weight": -1.0}, {"r1_interval": 0}):
        with pytest.raises(ConfigError, match="r1_weight must be >= 0"):
            create_task("adversarial", **bad)


def test_adversarial_task_resumes_exactly_after_an_interruption(tmp_path, digits):
    ref = _gan_trainer(tmp_path / "ref", digits).fit()
    with pytest.raises(Interrupt):
        _gan_trainer(tmp_path / "cut", digits, callbacks=[StopAt(1, 1)]).fit()
    resumed = _gan_trainer(tmp_path / "cut", digits).fit(resume_from=tmp_path / "cut")
    a, b = ref.model.state_dict(), resumed.model.state_dict()
    assert any(k.startswith("generator_ema.") for k in a)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert ref.global_step == resumed.global_step == 4
    assert not torch.equal(a["generator_ema.net.0.weight"], a["generator.net.0.weight"])


def test_each_gan_loss_trains_and_clipping_bounds_the_critic(digits, tmp_path):
    for loss in ("saturating", "non-saturating", "hinge"):
        t = _gan_trainer(tmp_path / loss, digits, ema=False, loss=loss, gp_weight=0.0, n_critic=1, ema_decay=None)
        t.config.epochs = 1
        t.fit()
        assert {"val/d_loss", "val/g_loss", "val/d_real_acc"} <= set(t.final_metrics)
    t = _gan_trainer(tmp_path / "clip", digits, ema=False, gp_weight=0.0, clip_value=0.01, ema_decay=None)
    t.fit()
    assert max(float(p.detach().abs().max()) for p in t.model.discriminator.parameters()) <= 0.01
    with pytest.raises(ConfigError, match="ema=True"):
        _gan_trainer(tmp_path / "noema", digits, ema=False).fit()


def test_a_diverging_gan_stops_with_the_non_finite_error_and_a_checkpoint_to_resume(tmp_path, digits):
    t = _gan_trainer(tmp_path / "nan", digits, ema=False, ema_decay=None, loss="non-saturating", gp_weight=0.0)
    calls = {"n": 0}
    original = t.model.discriminate

    def poisoned(x, y=None):  # the discriminator blows up on the third training step
        calls["n"] += 1
        out = original(x, y)
        return out * float("nan") if t.global_step >= 2 and t.model.training else out

    t.model.discriminate = poisoned
    with pytest.raises(NonFiniteError, match="loss became nan"):
        t.fit()
    weights, state = read_checkpoint(tmp_path / "nan" / "checkpoints" / "last.safetensors")
    assert state["global_step"] == 2 and all(torch.isfinite(w).all() for w in weights.values())
    assert json.loads((tmp_path / "nan" / "checkpoints" / "last.json").read_text())["global_step"] == 2


# ------------------------------------------------------------------------------------ density
def test_density_task_trains_a_flow_and_pixelcnn_and_checks_its_inputs(digits):
    x, y = digits
    train, val = _split(x * 15 / 16, y, n_train=128, n_val=64)  # 17 grey levels of the digits, in [0, 1)
    torch.manual_seed(0)
    flow = create_model("realnvp", img_size=8, scales=1, hidden=8)
    task = create_task("density", dequantize=True, bins=17)
    before = Trainer(flow, task, val_data=val, **QUIET).evaluate("val")["val/nll"]
    t = Trainer(flow, task, train_data=train, val_data=val, epochs=1, batch_size=32, lr=1e-3, **QUIET).fit()
    assert t.final_metrics["val/nll"] < before and t.final_metrics["val/bits_per_dim"] > 0
    pcnn = create_model("pixelcnn", img_size=8, channels=8, blocks=1)
    with pytest.raises(ShapeError, match="0s and 1s"):
        create_task("density").training_step(pcnn, (x[:4], y[:4]))
    out = create_task("density").evaluation_step(pcnn, (torch.bernoulli(x[:4]), y[:4]))
    assert float(out["bits_per_dim"]) == pytest.approx(float(out["nll"]) / (64 * 0.6931471805599453), rel=1e-5)
    with pytest.raises(ConfigError, match="flow or autoregressive"):
        create_task("density").training_step(create_model("vae-mlp", data_shape=(1, 8, 8)), (x[:4], y[:4]))
