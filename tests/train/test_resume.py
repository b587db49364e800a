"""Exact resume: an interrupted run, resumed, ends bitwise equal to an uninterrupted one."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from resume_job import build
from train_helpers import Interrupt, StopAt


def records(run: Path) -> list[dict]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k != "time"} for line in lines]


def assert_same_run(a: Path, ta, b: Path, tb) -> None:
    sa, sb = ta.model.state_dict(), tb.model.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), f"{key} differs"
    assert ta.global_step == tb.global_step and ta.history == tb.history
    assert records(a) == records(b)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted")
    return out, build(out).fit()


@pytest.mark.parametrize("stop, resume_at", [((7, 1), (6, 4)), ((1, 2), (8, 0))],
                         ids=["mid-epoch", "epoch-boundary"])
def test_interrupted_then_resumed_is_bitwise_identical(tmp_path, reference, stop, resume_at):
    with pytest.raises(Interrupt):
        build(tmp_path, callbacks=[StopAt(*stop)]).fit()
    saved = json.loads((tmp_path / "checkpoints" / "last.json").read_text())
    assert (saved["global_step"], saved["batch_in_epoch"]) == resume_at  # (step, position in epoch)
    resumed = build(tmp_path, init_seed=99).fit(resume_from=tmp_path)
    assert_same_run(*reference, tmp_path, resumed)


def test_sigkill_mid_epoch_then_resume_is_bitwise_identical(tmp_path, reference):
    script = Path(__file__).with_name("resume_job.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path), "0.05"], env=env)
    last = tmp_path / "checkpoints" / "last.json"
    deadline = time.time() + 60
    try:
        while time.time() < deadline and proc.poll() is None:
            if last.exists():
                meta = json.loads(last.read_text())
                if meta["global_step"] >= 6 and meta["batch_in_epoch"] > 0:
                    break
            time.sleep(0.01)
        time.sleep(0.1)  # a couple of batches past the checkpoint, inside epoch 2
        assert proc.poll() is None, "the job finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert not list((tmp_path / "checkpoints").glob(".*.tmp"))  # no half-written file was left as a checkpoint
    resumed = build(tmp_path, init_seed=99).fit(resume_from=tmp_path)
    assert_same_run(*reference, tmp_path, resumed)
