"""The `prism` command: sub-commands, config/overrides, and one-line errors without tracebacks."""

import json
import subprocess
import sys

import numpy as np
import pytest
import yaml

from tensorprism.cli import main

FAST = ["epochs=2", "progress=false", "tensorboard=false"]


def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "digits"
    assert main(["train", "--out", str(out), "--seed", "1", *FAST]) == 0
    return out


def test_train_defaults_to_mlp_on_digits_and_writes_a_run(run_dir):
    cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert cfg["model"]["name"] == "mlp" and cfg["dataset"]["name"] == "digits"
    assert cfg["model"]["config"]["in_features"] == 64 and cfg["model"]["config"]["num_classes"] == 10
    assert cfg["trainer"]["seed"] == 1 and cfg["trainer"]["epochs"] == 2
    for name in ("metrics.jsonl", "report.md", "checkpoints/last.safetensors", "plots/confusion_matrix.png"):
        assert (run_dir / name).exists(), name


def test_eval_reports_test_metrics_of_a_run(run_dir, capsys):
    rc, out, _ = run(capsys, "eval", str(run_dir), "--json")
    metrics = json.loads(out)
    assert rc == 0 and metrics["test/acc"] > 0.5 and len(metrics["test/confusion_matrix"]) == 10
    rc, out, _ = run(capsys, "eval", str(run_dir / "checkpoints" / "best.safetensors"), "--split", "val")
    assert rc == 0 and "val/acc" in out


def test_predict_on_a_split_and_on_an_array_file(run_dir, capsys, tmp_path):
    rc, out, _ = run(capsys, "predict", str(run_dir), "--limit", "3")
    assert rc == 0 and out.splitlines()[0].split()[0] == "0" and "more" in out
    x = np.random.default_rng(0).normal(size=(5, 64)).astype(np.float64)
    np.save(tmp_path / "x.npy", x)
    rc, out, _ = run(capsys, "predict", str(run_dir), "--input", str(tmp_path / "x.npy"),
                     "--output", str(tmp_path / "p.csv"))
    preds = np.loadtxt(tmp_path / "p.csv", dtype=int)
    assert rc == 0 and preds.shape == (5,) and set(preds) <= set(range(10))


def test_predict_input_of_the_wrong_shape_is_a_one_line_error(run_dir, capsys, tmp_path):
    np.save(tmp_path / "bad.npy", np.zeros((3, 63), dtype=np.float32))
    rc, _, err = run(capsys, "predict", str(run_dir), "--input", str(tmp_path / "bad.npy"))
    assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "shape (3, 63)" in err and "expected an array of shape (N, 64)" in err
    np.save(tmp_path / "int.npy", np.zeros((3, 64), dtype=np.int64))
    rc, _, _ = run(capsys, "predict", str(run_dir), "--input", str(tmp_path / "int.npy"))
    assert rc == 0  # raw pixels are integers: the run's standardisation makes them floats
    rc, _, err = run(capsys, "predict", str(run_dir), "--input", str(tmp_path / "int.npy"), "--preprocessed")
    assert rc == 2 and "the model takes float32 inputs" in err


def test_resume_continues_a_finished_run_to_more_epochs(run_dir, capsys, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    rc, out, _ = run(capsys, "resume", str(copy), "--epochs", "3")
    lines = (copy / "metrics.jsonl").read_text().splitlines()
    records = [json.loads(x) for x in lines]
    assert rc == 0 and "epoch 3" in out
    assert [(r["epoch"], r.get("final", False)) for r in records] == [(1, False), (2, False), (3, False), (3, True)]


def test_overrides_may_follow_options_and_bad_arguments_are_rejected(capsys, tmp_path):
    rc, _, _ = run(capsys, "train", "epochs=1", "--out", str(tmp_path / "r"), "progress=false", "dataset=iris")
    assert rc == 0 and "iris" in (tmp_path / "r" / "config.yaml").read_text()
    with pytest.raises(SystemExit):
        main(["models", "--nonsense"])


def test_config_file_then_flags_then_overrides(tmp_path, capsys, monkeypatch):
    cfg = tmp_path / "run.yaml"
    cfg.write_text(yaml.safe_dump({"model": {"name": "mlp", "config": {"hidden": [16]}}, "dataset": "iris",
                                   "trainer": {"epochs": 5, "lr": "5e-1", "weight_decay": "1e-4"}}))
    out = tmp_path / "iris"
    rc, _, _ = run(capsys, "train", "--config", str(cfg), "--lr", "1e-2", "--out", str(out),
                   "epochs=1", "model.hidden=[8]", "scheduler={name: cosine, warmup: 2}", *FAST[1:])
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert rc == 0 and saved["dataset"]["name"] == "iris"
    assert saved["trainer"]["lr"] == 0.01 and saved["trainer"]["epochs"] == 1
    assert saved["trainer"]["weight_decay"] == 1e-4  # YAML's "1e-4" string read as a number
    assert saved["trainer"]["scheduler"] == {"name": "cosine", "warmup": 2}
    assert saved["model"]["config"]["hidden"] == [8] and saved["model"]["config"]["in_features"] == 4


@pytest.mark.parametrize("argv, expected", [
    (["train", "model=mpl"], "unknown model 'mpl'. Did you mean 'mlp'"),
    (["train", "dataset=digit"], "unknown dataset 'digit'. Did you mean 'digits'"),
    (["train", "task=regresion"], "unknown task 'regresion'. Did you mean 'regression'"),
    (["train", "epoch=3"], "unknown run setting 'epoch' (did you mean 'epochs'?)"),
    (["train", "model.hiden=[3]"], "unknown option 'hiden' (did you mean 'hidden'?)"),
    (["train", "optimizer=adamm"], "unknown optimizer 'adamm' (did you mean 'adam'?)"),
    (["train", "model.in_features=10", *FAST], "expected inputs of 10 features per sample but got shape (32, 64)"),
    (["run", "nosuchrecipe"], "unknown recipe 'nosuchrecipe'"),
    (["eval", "/nonexistent/run"], "no checkpoint found at /nonexistent/run"),
])
def test_errors_are_one_line_without_traceback(argv, expected, capsys, tmp_path):
    rc, _, err = run(capsys, *argv, *(["--out", str(tmp_path / "r")] if argv[0] == "train" else []))
    assert rc == 2
    assert err.startswith(f"prism {argv[0]}: error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert expected in err


def test_missing_dataset_says_how_to_obtain_it(capsys, tmp_path):
    rc, _, err = run(capsys, "train", "dataset=cifar10", f"dataset.root={tmp_path}", "--out", str(tmp_path / "r"))
    assert rc == 2 and "Traceback" not in err
    assert "dataset 'cifar10' not found" in err and "obtain" in err


def test_models_lists_name_family_and_parameter_count(capsys):
    rc, out, _ = run(capsys, "models", "mlp*")
    row = next(line.split() for line in out.splitlines() if line.startswith("mlp "))
    assert rc == 0 and row[:3] == ["mlp", "mlp", "17,226"]


def test_datasets_lists_size_availability_and_source(capsys):
    rc, out, _ = run(capsys, "datasets")
    row = next(line for line in out.splitlines() if line.startswith("digits "))
    assert rc == 0 and " yes " in row and "1,797" in row and "scikit-learn" in row


def test_run_lists_recipes_without_a_name(capsys):
    rc, out, _ = run(capsys, "run")
    assert rc == 0 and out.splitlines()[0].split() == ["recipe", "description"]


def test_subcommands_are_discovered_from_the_cli_package():
    from tensorprism.cli import build_parser

    choices = build_parser()._subparsers._group_actions[0].choices
    assert {"train", "eval", "predict", "resume", "models", "datasets", "run"} <= set(choices)


def test_console_script_entry_point():
    done = subprocess.run([sys.executable, "-m", "tensorprism.cli", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "train" in done.stdout and "resume" in done.stdout


def test_resume_of_a_run_without_a_registered_model_says_why(capsys, tmp_path):
    import torch
    from torch.utils.data import TensorDataset

    from tensorprism.train import Trainer

    data = TensorDataset(torch.randn(16, 3), torch.randint(0, 2, (16,)))
    Trainer(torch.nn.Linear(3, 2), train_data=data, epochs=1, out_dir=str(tmp_path), progress=False,
            plots=False, tensorboard=False).fit()
    rc, _, err = run(capsys, "resume", str(tmp_path))
    assert rc == 2 and "names no registered model" in err and err.count("\n") == 1
