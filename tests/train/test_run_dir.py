import json

import yaml
from train_helpers import make_blobs, make_mlp

from tensorprism.train import Trainer


def test_run_directory_has_config_metrics_checkpoints_plots_and_report(tmp_path):
    data = make_blobs()
    t = Trainer(make_mlp(), train_data=data, val_data=data, test_data=data, epochs=2, batch_size=32,
                out_dir=str(tmp_path), progress=False, log_every_steps=2,
                run_info={"dataset": {"name": "blobs"}}).fit()
    cfg = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert cfg["trainer"]["epochs"] == 2 and cfg["task"]["name"] == "classification"
    assert cfg["dataset"] == {"name": "blobs"}
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if "batch" in r]
    assert [r["step"] for r in steps] == [2, 4, 6] and "train/loss" in steps[0]  # 3 steps per epoch
    lines = [r for r in records if "batch" not in r]
    assert [r["epoch"] for r in lines] == [1, 2, 2] and {"train/loss", "val/acc", "lr"} <= set(lines[0])
    assert lines[-1]["final"] and lines[-1]["test/acc"] == t.final_metrics["test/acc"]
    assert {p.name for p in (tmp_path / "checkpoints").iterdir()} >= {"last.safetensors", "best.safetensors",
                                                                    "last.json", "best.json"}
    plots = {p.name for p in (tmp_path / "plots").iterdir()}
    assert {"loss.png", "acc.png", "confusion_matrix.png"} <= plots
    for name in plots:
        assert (tmp_path / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (tmp_path / "report.md").read_text()
    assert "test/acc" in report and "![confusion_matrix](plots/confusion_matrix.png)" in report
    assert f"{t.final_metrics['test/acc']:.4f}" in report
    assert any((tmp_path / "tensorboard").iterdir())
