"""The likelihood recipes' shared training settings: ``lr_schedule`` (constant or cosine, the same
meaning in ``ch10-vae``, ``ch10-pixelcnn`` and ``ch10-realnvp``) and PixelCNN's ``channels_last``
(a memory layout, so the same numbers)."""

import json

import pytest
import torch

from tensorprism.errors import ConfigError
from tensorprism.recipes import run_recipe
from tensorprism.testing import require_datasets

QUIET = dict(progress=False, tensorboard=False, plots=False, device="cpu", threads=1)
TINY = {
    "ch10-vae": (dict(max_train=128, epochs=2, batch_size=32, iwae_k=4, iwae_examples=8,
                      model_config={"hidden": [16], "latent_dim": 2}), "binarized-mnist", "vae"),
    "ch10-pixelcnn": (dict(max_train=128, max_test=32, epochs=2, batch_size=32, samples=1,
                           model_config={"channels": 8, "blocks": 1}), "binarized-mnist", "pixelcnn"),
    "ch10-realnvp": (dict(max_train=128, max_eval=32, epochs=2, batch_size=32, samples=1,
                          model_config={"hidden": 8, "scales": 1}), "mnist", "flow"),
}


@pytest.mark.parametrize("recipe", sorted(TINY))
def test_an_unknown_lr_schedule_is_refused_before_any_work(recipe, tmp_path):
    kwargs, _, _ = TINY[recipe]
    with pytest.raises(ConfigError, match="lr_schedule"):
        run_recipe(recipe, lr_schedule="step", out_dir=str(tmp_path / "run"), **kwargs, **QUIET)
    assert not (tmp_path / "run").exists()


@pytest.mark.data
@pytest.mark.parametrize("recipe", sorted(TINY))
def test_cosine_lr_schedule_anneals_to_one_percent_over_the_epochs(recipe, tmp_path):
    kwargs, dataset, sub = TINY[recipe]
    require_datasets(dataset)
    run_recipe(recipe, lr_schedule="cosine", lr=1e-3, out_dir=str(tmp_path / "run"), **kwargs, **QUIET)
    rows = [json.loads(line) for line in (tmp_path / "run" / sub / "metrics.jsonl").read_text().splitlines()]
    lrs = [r["lr"] for r in rows if "lr" in r]
    assert len(lrs) == 2 and lrs[0] < 1e-3 and lrs[1] == pytest.approx(1e-5, rel=1e-6)


@pytest.mark.data
def test_pixelcnn_channels_last_is_a_layout_not_a_different_model(tmp_path):
    require_datasets("binarized-mnist")
    kwargs, _, _ = TINY["ch10-pixelcnn"]
    plain = run_recipe("ch10-pixelcnn", out_dir=str(tmp_path / "a"), **kwargs, **QUIET)
    fast = run_recipe("ch10-pixelcnn", channels_last=True, out_dir=str(tmp_path / "b"), **kwargs, **QUIET)
    assert fast["test_nll_nats"] == pytest.approx(plain["test_nll_nats"], rel=1e-4)
    from tensorprism.train.checkpoint import load_model

    a, b = load_model(tmp_path / "a" / "pixelcnn"), load_model(tmp_path / "b" / "pixelcnn")
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        torch.testing.assert_close(pa, pb.contiguous(), rtol=1e-4, atol=1e-5, msg=name)


@pytest.mark.data
@pytest.mark.parametrize("recipe", ["ch10-pixelcnn", "ch10-realnvp"])
def test_prism_eval_reads_a_likelihood_run_without_being_told_the_dataset(recipe, tmp_path, capsys):
    kwargs, dataset, sub = TINY[recipe]
    require_datasets(dataset)
    run_recipe(recipe, out_dir=str(tmp_path / "run"), **{**kwargs, "epochs": 1}, **QUIET)
    from tensorprism.cli import main

    capsys.readouterr()
    assert main(["eval", str(tmp_path / "run" / sub), "--batch-size", "500"]) == 0
    out = capsys.readouterr().out
    assert f"on {dataset}/test" in out and "test/bits_per_dim" in out
