"""``benchmarks/gpu_suite.sh --dry-run``: every GPU measurement runs at tiny size on the CPU (two gloo
processes for the DDP/FSDP section), so the suite prepared for a lent GPU cannot rot unnoticed."""

import json
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_suite_dry_run_writes_every_result(tmp_path):
    env = {**os.environ, "OUT": str(tmp_path), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_suite.sh"), "--dry-run"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    log = (tmp_path / "log.txt").read_text() if (tmp_path / "log.txt").exists() else ""
    assert done.returncode == 0, done.stdout + done.stderr + log[-3000:]
    results = {name: json.loads((tmp_path / f"{name}.json").read_text())
               for name in ("mfu", "resnet20", "fastcifar", "trainer")}
    mfu = results["mfu"]
    assert mfu["tokens_per_s"] > 0 and mfu["flops_per_token"] == 6 * mfu["params_non_embedding_pos"] + 12 * 2 * 2 * 32 * 64
    assert 0 <= results["resnet20"]["test_acc"] <= 1 and 0 <= results["fastcifar"]["test_acc"] <= 1
    runs = results["trainer"]["runs"]
    assert results["trainer"]["all_finite"] and {(r["strategy"], r["sharded"]) for r in runs} == {("ddp", False), ("fsdp", True)}
    assert all(r["world_size"] == 2 and r["backend"] == "gloo" for r in runs)
    assert "| trainer | all losses finite: True" in (tmp_path / "summary.md").read_text()


def test_card_peaks_and_flops_formula():
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from gpu_suite import card_peak, flops_per_token

    assert card_peak("NVIDIA H100 80GB HBM3") == 989.4 and card_peak("NVIDIA A100-SXM4-80GB") == 312.0
    assert card_peak("NVIDIA H100 PCIe") == 756.0 and card_peak("Quadro K600") is None
    # GPT-2 small at T=1024 (nanoGPT's estimate): 6 N + 12 L H Q T with N = 123.6M non-position parameters
    assert flops_per_token(123_653_376, 12, 12, 64, 1024) == 6 * 123_653_376 + 12 * 12 * 12 * 64 * 1024
