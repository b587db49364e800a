"""Bad command lines and files give one clear line on stderr, never a traceback, never a silent
acceptance, and never a lost run."""

import subprocess
import sys

import pytest
import torch

from tensorprism.cli import main

QUIET = ["progress=false", "plots=false", "tensorboard=false"]


def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def one_line(err):
    return err.count("\n") == 1 and "Traceback" not in err


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "digits"
    assert main(["train", "--out", str(out), "--epochs", "1", *QUIET]) == 0
    return out


@pytest.mark.parametrize("override, expected", [
    ("epochs=abc", "epochs (in trainer) must be an integer >= 1, got 'abc'"),
    ("epochs=", "epochs (in trainer) must be an integer >= 1, got an empty value"),
    ("epochs=0", "epochs (in trainer) must be an integer >= 1"),
    ("seed=abc", "seed (in trainer) must be an integer"),
    ("lr=-1", "lr (in trainer) must be a number > 0, got -1"),
    ("dataset.limit=0", "dataset.limit must be an integer >= 1"),
])
def test_bad_settings_are_refused_before_anything_runs(override, expected, capsys, tmp_path):
    rc, _, err = run(capsys, "train", "--out", str(tmp_path / "r"), override)
    assert rc == 2 and one_line(err) and expected in err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("text, expected", [
    ("- a\n- b\n", "holds a list, but a run configuration is a mapping"),
    ("3\n", "holds a number, but a run configuration is a mapping"),
    ("model: [\n", "is not valid YAML"),
    ("model: !!python/object/apply:os.system ['echo pwned']\n", "is not valid YAML (Python tags"),
    ("epochs: 1\nepochs: [\n", "is not valid YAML"),
])
def test_bad_config_files_are_one_line_errors(text, expected, capsys, tmp_path):
    cfg = tmp_path / "run.yaml"
    cfg.write_text(text)
    rc, _, err = run(capsys, "train", "-c", str(cfg), "--out", str(tmp_path / "r"))
    assert rc == 2 and one_line(err) and expected in err


def test_a_missing_config_file_is_named(capsys, tmp_path):
    rc, _, err = run(capsys, "train", "-c", str(tmp_path / "nope.yaml"))
    assert rc == 2 and one_line(err) and "nope.yaml not found" in err


def test_eval_batch_size_zero_is_refused(digits_run, capsys):
    rc, _, err = run(capsys, "eval", str(digits_run), "--batch-size", "0")
    assert rc == 2 and one_line(err) and "eval_batch_size (in trainer) must be an integer >= 1" in err


def test_resume_with_negative_epochs_is_refused_and_leaves_the_config_alone(digits_run, capsys):
    before = (digits_run / "config.yaml").read_bytes()
    rc, _, err = run(capsys, "resume", str(digits_run), "--epochs", "-5")
    assert rc == 2 and one_line(err) and "epochs (in trainer) must be an integer >= 1, got -5" in err
    assert (digits_run / "config.yaml").read_bytes() == before


def test_eval_on_a_dataset_of_another_kind_is_refused(digits_run, capsys):
    rc, _, err = run(capsys, "eval", str(digits_run), "--dataset", "karate")
    assert rc == 2 and one_line(err) and "not of the kind the model was trained on" in err


def test_train_refuses_an_existing_run_unless_overwrite(digits_run, capsys, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(digits_run, copy)
    metrics = (copy / "metrics.jsonl").read_bytes()
    rc, _, err = run(capsys, "train", "--out", str(copy), "--epochs", "1", *QUIET)
    assert rc == 2 and "already holds a run" in err and "--overwrite" in err
    assert (copy / "metrics.jsonl").read_bytes() == metrics
    rc, _, _ = run(capsys, "train", "--out", str(copy), "--epochs", "1", "--overwrite", *QUIET)
    assert rc == 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error of a machine without CUDA")
def test_device_cuda_without_cuda_is_a_clear_error(capsys, tmp_path):
    rc, _, err = run(capsys, "train", "--device", "cuda", "--out", str(tmp_path / "r"))
    assert rc == 2 and one_line(err) and "device='cuda' is not available" in err


def test_unexpected_exceptions_are_one_line_with_exit_1_and_traceback_on_request(monkeypatch, capsys):
    from tensorprism.cli import models

    def boom(args):
        raise RuntimeError("disk\non fire")

    monkeypatch.setattr(models, "run", boom)
    rc, _, err = run(capsys, "models")
    assert rc == 1 and one_line(err)
    assert err.startswith("prism models: error: RuntimeError: disk on fire") and "--traceback" in err
    with pytest.raises(RuntimeError):
        main(["--traceback", "models"])


def test_ctrl_c_exits_130_with_one_line(monkeypatch, capsys):
    from tensorprism.cli import models

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(models, "run", interrupted)
    rc, _, err = run(capsys, "models")
    assert rc == 130 and err == "prism models: interrupted\n"


def test_a_closed_pipe_ends_quietly():
    # more output than a pipe buffers, so writing must hit the closed pipe
    code = ("import sys; from tensorprism.cli import main, models; "
            "models.run = lambda args: [print('x' * 99) for _ in range(20000)] and 0; sys.exit(main(['models']))")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()  # the reader goes away, as `| head -1` does
    err = proc.stderr.read().decode()
    assert proc.wait() == 0 and "Traceback" not in err and "BrokenPipe" not in err


def test_resume_refuses_a_run_whose_data_it_cannot_rebuild(capsys, tmp_path):
    from tensorprism.data import load_dataset
    from tensorprism.models import create_model
    from tensorprism.train import Trainer

    subset = torch.utils.data.Subset(load_dataset("digits", split="train"), range(64))  # a recipe's own data
    Trainer(create_model("mlp"), "classification", train_data=subset, epochs=1, out_dir=str(tmp_path),
            progress=False, plots=False, tensorboard=False,
            run_info={"dataset": {"name": "digits"}, "task": {"name": "classification"}}).fit()
    metrics = (tmp_path / "metrics.jsonl").read_bytes()
    rc, _, err = run(capsys, "resume", str(tmp_path), "--epochs", "2")
    assert rc == 2 and one_line(err) and "was not written by prism train" in err
    assert (tmp_path / "metrics.jsonl").read_bytes() == metrics


def test_a_model_pattern_that_matches_nothing_says_so(capsys):
    rc, out, err = run(capsys, "models", "nosuch*")
    assert rc == 2 and one_line(err) and "no registered model matches pattern 'nosuch*'" in err
    assert out == ""


@pytest.mark.parametrize("model, dataset, says", [
    ("swin-cifar", "karate", "use a graph model"),   # image model on a graph dataset
    ("gcn", "digits", "use a graph dataset"),        # graph model on image data
])
def test_graph_model_and_non_graph_dataset_are_refused_before_loading(capsys, tmp_path, model, dataset, says):
    rc, _, err = run(capsys, "train", "--model", model, "--dataset", dataset, "--epochs", "1",
                     "--out", str(tmp_path / "r"), *QUIET)
    assert rc != 0 and one_line(err) and says in err and "Traceback" not in err
    assert not (tmp_path / "r" / "checkpoints").exists()


@pytest.mark.parametrize("model", ["faster-rcnn", "mask-rcnn"])
def test_detection_model_is_refused_by_train_and_pointed_to_its_recipe(capsys, tmp_path, model):
    rc, _, err = run(capsys, "train", "--model", model, "--dataset", "mnist", "--epochs", "1",
                     "--out", str(tmp_path / "r"), *QUIET)
    assert rc != 0 and one_line(err) and "detection model" in err and f"prism run ch04-{model}" in err
    assert "Traceback" not in err and not (tmp_path / "r" / "checkpoints").exists()


def _generative_models():
    from tensorprism.models import list_models, model_paradigm

    return [m for m in list_models() if model_paradigm(m) == "generative"]


@pytest.mark.parametrize("model", _generative_models())
def test_generative_model_under_the_datasets_supervised_task_is_refused_with_its_task_named(capsys, tmp_path, model):
    """Every registered generative model: `prism train` on a labelled dataset without --task would
    run classification on it; it is refused in one line that names the task of the model's kind."""
    from tensorprism.models import model_kind
    from tensorprism.train.run import TASK_OF_GENERATIVE_KIND

    rc, _, err = run(capsys, "train", "--model", model, "--dataset", "digits", "--epochs", "1",
                     "--out", str(tmp_path / "r"), *QUIET)
    assert rc != 0 and one_line(err) and "Traceback" not in err
    if model_kind(model) == "translation":  # two domains, which no registered dataset gives: its recipe
        assert "prism run ch10-cyclegan" in err and "prism run ch10-srgan" in err
    else:
        assert f"--task {TASK_OF_GENERATIVE_KIND[model_kind(model)]}" in err
    assert not (tmp_path / "r" / "checkpoints").exists()


@pytest.mark.parametrize("model", ["cyclegan", "srgan"])
def test_translation_models_are_refused_even_under_their_own_task(capsys, tmp_path, model):
    """A labelled image dataset gives neither two unpaired domains nor low/high-resolution pairs."""
    task = "cycle-adversarial" if model == "cyclegan" else "sr-adversarial"
    rc, _, err = run(capsys, "train", "--model", model, "--dataset", "digits", "--task", task, "--epochs", "1",
                     "--out", str(tmp_path / "r"), *QUIET)
    assert rc != 0 and one_line(err) and "two domains" in err and "prism run ch10-" in err
