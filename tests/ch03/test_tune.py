import pytest
import yaml

from tensorprism.cli import main
from tensorprism.cli.tune import parse_space
from tensorprism.errors import ConfigError


def test_parse_space_kinds_and_errors():
    space = parse_space(["lr=log(1e-4,1e-1)", "model.hidden=choice([64],[128, 64])", "batch_size=int(16,128)", "model.dropout=float(0,0.5)"])
    assert space["lr"] == ("log", [1e-4, 0.1])
    assert space["model.hidden"] == ("choice", [[64], [128, 64]])
    assert space["batch_size"] == ("int", [16, 128])
    with pytest.raises(ConfigError, match="key=kind"):
        parse_space(["lr=loguniform(1,2)"])
    with pytest.raises(ConfigError, match="lo < hi"):
        parse_space(["lr=float(1,0.1)"])


def test_prism_tune_grid_search_writes_best_settings(tmp_path, capsys):
    out = tmp_path / "study"
    code = main(["tune", "--sampler", "grid", "--trials", "2", "--space", "lr=choice(0.00001, 0.01)",
                 "--out", str(out), "epochs=2", "model.hidden=[32]"])
    assert code == 0
    best = yaml.safe_load((out / "best.yaml").read_text())
    assert best["metric"] == "val/acc" and best["direction"] == "maximize" and best["n_trials"] == 2
    assert best["best_settings"] == {"lr": 0.01}  # lr 1e-5 barely moves in 2 epochs
    assert (out / "trials.csv").read_text().count("\n") == 3
    assert "best: trial" in capsys.readouterr().out
