"""Two CPU processes (gloo, DDP, distributed sampler) equal one process with the same global batch.

The fast test forks two workers that get torchrun's environment variables (RANK, WORLD_SIZE,
MASTER_ADDR/PORT), which is all the Trainer reads; the slow test launches real ``torchrun``.
"""

import json
import multiprocessing as mp
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch._dynamo  # noqa: F401  (imported once here, not in each forked worker)
import torchmetrics  # noqa: F401
from ddp_job import build, write_result
from safetensors.torch import load_file


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, port: int, out: str) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    try:
        write_result(build(out, batch_size=8).fit(), out)
    finally:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def check_against_single_process(tmp_path: Path, ddp_dir: Path) -> None:
    single = build(tmp_path / "single", batch_size=16).fit()
    info = [json.loads((ddp_dir / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [i["world_size"] for i in info] == [2, 2]
    assert info[0]["steps"] == single.global_step == 8
    for r in (0, 1):
        ddp = load_file(str(ddp_dir / f"rank{r}.safetensors"))
        for key, value in single.model.state_dict().items():
            torch.testing.assert_close(ddp[key], value, rtol=1e-5, atol=1e-6)
    for key, value in single.final_metrics.items():
        if isinstance(value, float):
            assert info[0]["metrics"][key] == pytest.approx(value, rel=1e-5, abs=1e-6), key
    # only rank 0 logged and checkpointed: one metrics record per epoch, one set of checkpoints
    lines = (ddp_dir / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]
    assert (ddp_dir / "checkpoints" / "last.safetensors").exists()


def test_two_process_ddp_equals_single_process_with_same_global_batch(tmp_path):
    ddp_dir = tmp_path / "ddp"
    ddp_dir.mkdir()
    ctx = mp.get_context("fork")
    port = free_port()
    procs = [ctx.Process(target=_worker, args=(r, port, str(ddp_dir))) for r in (0, 1)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    check_against_single_process(tmp_path, ddp_dir)


@pytest.mark.slow
def test_torchrun_two_processes_equal_single_process(tmp_path):
    ddp_dir = tmp_path / "ddp"
    ddp_dir.mkdir()
    script = Path(__file__).with_name("ddp_job.py")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(script), str(ddp_dir)]
    done = subprocess.run(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    check_against_single_process(tmp_path, ddp_dir)
