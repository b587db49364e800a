import pytest

from tensorprism.cli import main


@pytest.mark.slow
def test_prism_train_without_arguments_reaches_97_percent_on_digits(tmp_path, capsys):
    """The issue's bar: the default run (mlp on digits) >= 97 % test accuracy (in < 60 s, see
    benchmarks/default_digits.py for timings)."""
    import json

    assert main(["train", "--out", str(tmp_path), "progress=false"]) == 0
    final = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
    assert final["final"] and final["test/acc"] >= 0.97
