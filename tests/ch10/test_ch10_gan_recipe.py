"""``ch10-gan`` beyond MNIST: CIFAR-10 (the model takes the data's channels and size, the feature
classifier too, FID normalised with the loader's statistics), a VAE as the baseline trained by the
ELBO, and models the recipe cannot train refused in one line."""

import pytest

from tensorprism.errors import ConfigError
from tensorprism.recipes import run_recipe
from tensorprism.testing import require_datasets

QUIET = dict(progress=False, tensorboard=False, plots=False, device="cpu", threads=1)
TINY = dict(max_train=64, epochs=1, batch_size=32, eval_samples=40, classifier_epochs=1, classifier_max_train=128)


@pytest.mark.data
def test_dcgan_on_cifar10_takes_the_data_shape_and_is_measured_against_the_real_floor(tmp_path):
    require_datasets("cifar10")
    r = run_recipe("ch10-gan", model="dcgan", dataset="cifar10", model_config={"g_width": 8, "d_width": 8},
                   out_dir=str(tmp_path / "run"), **TINY, **QUIET)
    assert r["dataset"] == "cifar10" and r["eval_samples"] == 40 and r["steps"] == 2
    assert r["fid_our_classifier"] > r["real_floor_fid"] >= 0
    from tensorprism.train.checkpoint import load_model

    g = load_model(tmp_path / "run" / "gan")
    assert g.data_shape == (3, 32, 32)  # from the data, not the model's MNIST default
    assert load_model(tmp_path / "run" / "classifier").in_chans == 3


@pytest.mark.data
def test_a_vae_is_the_likelihood_baseline_and_other_kinds_are_refused(tmp_path):
    require_datasets("fashion-mnist")
    r = run_recipe("ch10-gan", model="vae-conv", dataset="fashion-mnist", model_config={"widths": [8, 8]},
                   out_dir=str(tmp_path / "vae"), **TINY, **QUIET)
    assert r["loss"] == "elbo" and r["discriminator_params"] == 0 and r["generator_params"] > 0
    assert (tmp_path / "vae" / "vae" / "config.yaml").is_file() and r["fid_our_classifier"] >= 0
    with pytest.raises(ConfigError, match="ch10-realnvp"):
        run_recipe("ch10-gan", model="realnvp", dataset="mnist", out_dir=str(tmp_path / "flow"), **TINY, **QUIET)
