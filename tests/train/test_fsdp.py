"""FSDP2 (``strategy="fsdp"``) on CPU with gloo: two processes train like one process with the same
global batch, sharded checkpoints resume exactly at another world size (2 -> 1 and 1 -> 2), gather
into one safetensors file, and bad checkpoints fail clearly without anything being overwritten.

One module fixture forks the two gloo processes once (each trains, is interrupted mid-epoch and
resumes another run); the other tests reuse its run directories. Tolerance: the two world sizes
sum the same numbers in another order (a reduce-scatter of per-rank means against one mean), so
weights agree to ``rtol=1e-4, atol=1e-5`` after 8 AdamW steps, not bitwise.
"""

import json
import multiprocessing as mp
import os
import shutil
import socket
import sys
from pathlib import Path

import pytest
import torch
import torch._dynamo  # noqa: F401  (imported once here, not in each forked worker)
import torchmetrics  # noqa: F401
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).parent))
from fsdp_job import Interrupt, StopAtStep, build, full_weights, make_gpt, write_result  # noqa: E402

from tensorprism.errors import CheckpointError, ConfigError  # noqa: E402
from tensorprism.train import Trainer  # noqa: E402
from tensorprism.train.checkpoint import load_weights, read_checkpoint  # noqa: E402
from tensorprism.train.fsdp import blocks_of  # noqa: E402
from tensorprism.train.sharded import consolidate, read_manifest  # noqa: E402

TOL = {"rtol": 1e-4, "atol": 1e-5}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, port: int, root: str) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    try:
        # (a) a fresh 2-process run, killed during step 3 (last checkpoint: step 2, mid-epoch)
        try:
            build(f"{root}/a", batch_size=8, checkpoint_every_steps=1, callbacks=[StopAtStep(3)]).fit()
        except Interrupt:
            pass
        # (b) resume, on 2 processes, the run interrupted on 1 process
        t = build(f"{root}/b", batch_size=8).fit(resume_from=f"{root}/b")
        write_result(t, root, "b_resumed_on_2")
        # (c) resume, sharded on 2 processes, from the consolidated file of the 1-process run
        t = build(f"{root}/c", batch_size=8).fit(resume_from=f"{root}/b_step2.safetensors")
        write_result(t, root, "c_file_on_2")
    finally:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("fsdp")
    ref = build(root / "ref", batch_size=16).fit()  # one process, uninterrupted, global batch 16
    with pytest.raises(Interrupt):
        build(root / "b", batch_size=16, checkpoint_every_steps=1, callbacks=[StopAtStep(3)]).fit()
    consolidate(root / "b", root / "b_step2.safetensors")
    ctx = mp.get_context("fork")
    port = free_port()
    procs = [ctx.Process(target=_worker, args=(r, port, str(root))) for r in (0, 1)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)
    assert [p.exitcode for p in procs] == [0, 0]
    return root, ref


def assert_same_weights(got: dict, want: dict) -> None:
    assert got.keys() == want.keys()
    for key in want:
        torch.testing.assert_close(got[key], want[key], **TOL, msg=key)


def test_two_processes_shard_per_block_and_match_one_process(runs):
    root, ref = runs
    info = [json.loads((root / f"b_resumed_on_2-rank{r}.json").read_text()) for r in (0, 1)]
    assert [i["world_size"] for i in info] == [2, 2] and all(i["sharded"] for i in info)
    assert info[0]["steps"] == ref.global_step == 8
    # each process holds about half of the parameters (dimension-0 shards of every tensor)
    assert all(0.45 < i["local_numel"] / i["numel"] < 0.55 for i in info), info
    assert_same_weights(load_file(str(root / "b_resumed_on_2.safetensors")), full_weights(ref))
    for key, values in ref.history.items():  # the same loss curve, epoch by epoch
        assert info[0]["history"][key] == pytest.approx(values, rel=1e-4), key
    assert len(blocks_of(make_gpt())) == 2  # one FSDP unit per transformer layer


def test_a_consolidated_file_resumes_sharded_on_two_processes(runs):
    root, ref = runs
    info = json.loads((root / "c_file_on_2-rank1.json").read_text())
    assert info["sharded"] and info["steps"] == 8
    assert_same_weights(load_file(str(root / "c_file_on_2.safetensors")), full_weights(ref))


def test_a_checkpoint_of_two_processes_resumes_on_one(runs, tmp_path):
    root, ref = runs
    manifest = json.loads((root / "a" / "checkpoints" / "last.sharded.json").read_text())
    assert (manifest["world_size"], manifest["global_step"]) == (2, 2)  # mid-epoch: 4 steps per epoch
    assert sum(f.startswith("shards/") for f in manifest["files"]) == 2  # one file per process
    run = tmp_path / "a"
    shutil.copytree(root / "a", run)
    resumed = build(run, batch_size=16).fit(resume_from=run)
    assert resumed.global_step == 8
    assert_same_weights(full_weights(resumed), full_weights(ref))
    assert resumed.history["train/loss"] == pytest.approx(ref.history["train/loss"], rel=1e-4)


def test_consolidated_checkpoint_is_one_ordinary_file_that_also_resumes(runs, tmp_path):
    root, _ = runs
    out = consolidate(root / "a", tmp_path / "step2.safetensors")
    weights, state = read_checkpoint(out)
    model = load_weights(make_gpt(), weights)  # the normal loader takes it
    assert model.wte.weight.shape == (11, 16) and state["global_step"] == 2
    with pytest.raises(CheckpointError, match="already exists"):
        consolidate(root / "a", out)
    from tensorprism.cli import main

    assert main(["data", "consolidate", str(root / "a"), "--out", str(tmp_path / "cli.safetensors")]) == 0
    assert read_checkpoint(tmp_path / "cli.safetensors")[0].keys() == weights.keys()
    run = tmp_path / "a"
    shutil.copytree(root / "a", run)
    from_shards = build(run, batch_size=16).fit(resume_from=run)
    from_file = build(tmp_path / "c", batch_size=16).fit(resume_from=out)
    for key, value in full_weights(from_shards).items():
        assert torch.equal(full_weights(from_file)[key], value), key


def _copy(root: Path, tmp_path: Path) -> tuple[Path, Path, dict]:
    run = tmp_path / "a"
    shutil.copytree(root / "a", run)
    manifest = run / "checkpoints" / "last.sharded.json"
    folder, data = read_manifest(manifest)
    return run, folder, data


def _snapshot(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in run.rglob("*") if p.is_file() and p.name != ".lock"}


def test_a_missing_shard_is_a_clear_error_and_nothing_is_overwritten(runs, tmp_path):
    run, folder, _ = _copy(runs[0], tmp_path)
    shard = sorted((folder / "shards").glob("*.safetensors"))[1]
    shard.unlink()
    before = _snapshot(run)
    with pytest.raises(CheckpointError, match=f"incomplete: 1 of its 3 files are missing.*{shard.name}"):
        build(run, batch_size=16).fit(resume_from=run)
    assert _snapshot(run) == before


def test_a_corrupt_shard_is_a_clear_error_and_nothing_is_overwritten(runs, tmp_path):
    run, folder, _ = _copy(runs[0], tmp_path)
    shard = sorted((folder / "shards").glob("*.safetensors"))[0]
    data = bytearray(shard.read_bytes())
    data[-3] ^= 0x10  # one bit of one weight
    shard.write_bytes(bytes(data))
    before = _snapshot(run)
    with pytest.raises(CheckpointError, match=f"corrupt: .*{shard.name} does not match the SHA-256"):
        build(run, batch_size=16).fit(resume_from=run)
    assert _snapshot(run) == before


def test_resuming_mid_epoch_with_another_global_batch_is_refused(runs, tmp_path):
    run, _, _ = _copy(runs[0], tmp_path)
    before = _snapshot(run)
    with pytest.raises(CheckpointError, match=r"2 process\(es\) with batch_size=8 .*global batch 16.*"
                                              r"1 process\(es\) with batch_size=8.*set batch_size=16"):
        build(run, batch_size=8).fit(resume_from=run)
    assert _snapshot(run) == before


def test_strategy_is_validated_and_fsdp_refuses_manual_optimisation(tmp_path):
    from fsdp_job import make_tokens

    from tensorprism.train.tasks.language_model import LanguageModelTask

    with pytest.raises(ConfigError, match="strategy"):
        Trainer(make_gpt(), "language-model", strategy="zero3")

    class Manual(LanguageModelTask):
        manual_optimization = True

    with pytest.raises(ConfigError, match="strategy='fsdp' does not support manual optimisation"):
        Trainer(make_gpt(), Manual(), train_data=make_tokens(), strategy="fsdp", progress=False).fit()


def test_activation_checkpointing_keeps_names_and_gradients():
    torch.manual_seed(0)
    x = torch.randint(0, 11, (4, 8))
    plain, ckpt = make_gpt(), make_gpt()
    from tensorprism.train.fsdp import apply_activation_checkpointing

    assert apply_activation_checkpointing(ckpt) == 2
    assert plain.state_dict().keys() == ckpt.state_dict().keys()
    for m in (plain, ckpt):
        m(x).logsumexp(-1).mean().backward()
    for (name, p), q in zip(plain.named_parameters(), ckpt.parameters(), strict=True):
        torch.testing.assert_close(q.grad, p.grad, msg=name)
