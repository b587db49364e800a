"""Two torchrun "nodes" on one machine (``--nnodes=2``, c10d rendezvous over loopback), one process
each, train like one process with the same global batch: the multi-node launch of
``docs/distributed.md`` exercised end to end."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_distributed import check_against_single_process, free_port


@pytest.mark.slow  # two torchrun launchers and their workers: ~30-60 s on a shared machine
def test_two_torchrun_nodes_over_loopback_equal_single_process(tmp_path):
    out = tmp_path / "ddp"
    out.mkdir()
    script = Path(__file__).with_name("ddp_job.py")
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    nodes = [
        subprocess.Popen(
            [sys.executable, "-m", "torch.distributed.run", "--nnodes=2", "--nproc_per_node=1",
             f"--node_rank={rank}", "--rdzv_backend=c10d", f"--rdzv_endpoint=127.0.0.1:{port}",
             "--rdzv_id=prism-loopback", "--max_restarts=0", str(script), str(out)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for rank in (0, 1)
    ]
    logs = [node.communicate(timeout=300)[0] for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], "\n".join(log[-2000:] for log in logs)
    check_against_single_process(tmp_path, out)  # both ranks' weights equal the 1-process run's
