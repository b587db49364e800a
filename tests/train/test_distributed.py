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

from tensorprism.train import Callback


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Interrupt(Exception):
    pass


class StopAtStep(Callback):
    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, outputs):
        if trainer.global_step == self.step:
            raise Interrupt


class RankSeed(Callback):
    """Gives each rank its own dropout stream on a fresh run, so the resume must restore the RNG
    state of every rank, not only rank 0's."""

    def on_fit_start(self, trainer):
        if trainer.global_step == 0:
            torch.manual_seed(100 + trainer.rank)


def _worker(rank: int, port: int, out: str, mode: str = "plain") -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    try:
        if mode == "plain":
            write_result(build(out, batch_size=8).fit(), out)
        elif mode == "interrupt":  # dropout on, checkpoint every 2 steps, stop after step 3
            try:
                build(out, batch_size=8, dropout=0.3, checkpoint_every_steps=2,
                      callbacks=[RankSeed(), StopAtStep(3)]).fit()
            except Interrupt:
                pass
        else:
            resume = mode == "resume"
            t = build(out, batch_size=8, dropout=0.3, checkpoint_every_steps=2, callbacks=[RankSeed()])
            write_result(t.fit(resume_from=out if resume else None), out)
    finally:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def run_workers(out: Path, mode: str = "plain") -> None:
    out.mkdir(exist_ok=True)
    ctx = mp.get_context("fork")
    port = free_port()
    procs = [ctx.Process(target=_worker, args=(r, port, str(out), mode)) for r in (0, 1)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]


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
    run_workers(tmp_path / "ddp")
    check_against_single_process(tmp_path, tmp_path / "ddp")


def test_ddp_resume_mid_epoch_restores_each_ranks_rng_and_is_bitwise_identical(tmp_path):
    run_workers(tmp_path / "ref", "uninterrupted")
    run_workers(tmp_path / "run", "interrupt")
    saved = json.loads((tmp_path / "run" / "checkpoints" / "last.json").read_text())
    assert (saved["global_step"], saved["batch_in_epoch"]) == (2, 2)  # mid-epoch (4 batches per epoch)
    run_workers(tmp_path / "run", "resume")
    for r in (0, 1):
        ref = load_file(str(tmp_path / "ref" / f"rank{r}.safetensors"))
        got = load_file(str(tmp_path / "run" / f"rank{r}.safetensors"))
        assert all(torch.equal(ref[k], got[k]) for k in ref)


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
