"""No data loss and no silent corruption: existing runs are refused unless overwritten or resumed, a
run directory is locked while in use, checkpoints verify a content hash, broken ones are clear errors."""

import json
import os
import stat
import struct
import warnings

import pytest
import torch
from safetensors.torch import save_file
from train_helpers import QUIET, make_blobs, make_mlp

from tensorprism.errors import CheckpointError, ConfigError
from tensorprism.train import (
    Callback,
    RunLock,
    Trainer,
    load_weights,
    read_checkpoint,
    resolve_checkpoint,
)
from tensorprism.train.checkpoint import HASH_KEY, atomic_write_text, content_hash


def run(out, **kw) -> Trainer:
    settings = {"epochs": 1, "plots": False, **QUIET, **kw}
    return Trainer(make_mlp(), train_data=make_blobs(), val_data=make_blobs(seed=1), out_dir=str(out), **settings)


# ------------------------------------------------------------------ existing runs, locks
def test_an_existing_run_is_refused_and_left_untouched(tmp_path):
    run(tmp_path).fit()
    before = {p.name: p.read_bytes() for p in (tmp_path / "checkpoints").iterdir()}
    metrics = (tmp_path / "metrics.jsonl").read_text()
    with pytest.raises(ConfigError, match="already holds a run .*overwrite=True"):
        run(tmp_path, lr=0.5).fit()
    assert {p.name: p.read_bytes() for p in (tmp_path / "checkpoints").iterdir()} == before
    assert (tmp_path / "metrics.jsonl").read_text() == metrics


def test_overwrite_replaces_the_run_cleanly_and_keeps_other_files(tmp_path):
    run(tmp_path, epochs=2).fit()
    (tmp_path / "notes.txt").write_text("mine")
    run(tmp_path, overwrite=True).fit()
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1]  # nothing left of the 2-epoch run
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_resuming_the_run_in_its_own_directory_is_allowed(tmp_path):
    run(tmp_path).fit()
    t = run(tmp_path, epochs=2).fit(resume_from=tmp_path)
    assert t.epoch == 2


def test_a_second_trainer_on_a_locked_directory_is_refused_naming_the_pid(tmp_path):
    seen = {}

    class SecondRun(Callback):
        def on_fit_start(self, trainer):
            with pytest.raises(ConfigError, match=f"in use by another run \\(pid {os.getpid()}\\)") as err:
                run(tmp_path, overwrite=True).fit()
            seen["error"] = str(err.value)

    run(tmp_path, callbacks=[SecondRun()]).fit()
    assert "error" in seen
    with RunLock(tmp_path):  # released at the end of fit
        pass


def test_leftover_temporary_files_are_cleaned_at_start(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    stale = tmp_path / "checkpoints" / ".last.safetensors.1a2b3c.tmp"
    stale.write_bytes(b"half a checkpoint")
    run(tmp_path / "checkpoints" / "..", overwrite=True).fit()
    assert not stale.exists()


def test_written_files_get_normal_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        run(tmp_path).fit()
        atomic_write_text(tmp_path / "extra.txt", "x")
    finally:
        os.umask(old)
    for path in [tmp_path / "config.yaml", tmp_path / "extra.txt", *(tmp_path / "checkpoints").iterdir()]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


def test_out_dir_that_is_a_file_or_cannot_be_created_is_refused_before_training(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(ConfigError, match="is a file, expected a directory"):
        run(target).fit()
    with pytest.raises(ConfigError, match="cannot create out_dir .*choose a writable directory"):
        run(target / "sub").fit()


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_an_unwritable_out_dir_is_refused_before_training(tmp_path):
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(ConfigError, match="not writable"):
            run(locked).fit()
    finally:
        locked.chmod(0o700)


def test_falling_back_from_last_to_best_warns(tmp_path):
    run(tmp_path).fit()
    (tmp_path / "checkpoints" / "last.safetensors").unlink()
    with pytest.warns(UserWarning, match="no last.safetensors; using best.safetensors"):
        assert resolve_checkpoint(tmp_path).name == "best.safetensors"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resolve_checkpoint(tmp_path, prefer="best")


# ------------------------------------------------------------------ integrity
def _data_offset(path, key):
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    begin, _ = json.loads(raw[8:8 + n])[key]["data_offsets"]
    return 8 + n + begin


def test_a_flipped_bit_in_a_weight_is_detected(tmp_path):
    run(tmp_path).fit()
    path = tmp_path / "checkpoints" / "last.safetensors"
    read_checkpoint(path)  # intact: fine
    raw = bytearray(path.read_bytes())
    raw[_data_offset(path, "model.0.weight") + 5] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="corrupt: its tensors do not match the content hash"):
        read_checkpoint(path)


def _write(path, tensors, meta_text):
    save_file(tensors, str(path), metadata={"tensorprism": meta_text, HASH_KEY: content_hash(tensors)})


def test_broken_header_and_missing_tensor_reference_are_clear_errors(tmp_path):
    tensors = {"model.w": torch.ones(2)}
    _write(tmp_path / "a.safetensors", tensors, '{"format": "tensorprism-checkpoint/1", "epoch": ')
    with pytest.raises(CheckpointError, match="broken metadata header \\(not valid JSON"):
        read_checkpoint(tmp_path / "a.safetensors")
    meta = {"format": "tensorprism-checkpoint/1", "rng": {"__tensor__": "state.rng"}}
    _write(tmp_path / "b.safetensors", tensors, json.dumps(meta))
    with pytest.raises(CheckpointError, match="refers to tensor 'state.rng' that the file does not hold"):
        read_checkpoint(tmp_path / "b.safetensors")
    (tmp_path / "c.safetensors").write_bytes(b"\x00" * 5)
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        read_checkpoint(tmp_path / "c.safetensors")


def test_weights_of_the_wrong_dtype_or_shape_are_clear_errors():
    model = torch.nn.Linear(3, 2)
    good = model.state_dict()
    with pytest.raises(CheckpointError, match="'weight' is torch.int64 in the checkpoint but torch.float32"):
        load_weights(model, {**good, "weight": torch.zeros(2, 3, dtype=torch.long)})
    with pytest.raises(CheckpointError, match="do not fit Linear: .*size mismatch"):
        load_weights(model, {**good, "weight": torch.zeros(4, 3)})


def test_a_checkpoint_of_another_optimiser_cannot_resume_silently(tmp_path):
    run(tmp_path, optimizer="adamw").fit()
    with pytest.raises(CheckpointError, match="cannot resume this run"):
        run(tmp_path, optimizer="sgd", epochs=2).fit(resume_from=tmp_path)


def test_a_second_fit_of_the_same_trainer_continues_its_own_run(tmp_path):
    t = run(tmp_path)
    t.fit()
    t.config.epochs = 2
    assert t.fit().epoch == 2
    assert "overwrite" not in (tmp_path / "config.yaml").read_text()  # replaying never overwrites


def test_bad_optimizer_options_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="cannot build optimizer 'sgd' with optimizer_kwargs=.*momentum"):
        run(tmp_path, optimizer="sgd", optimizer_kwargs={"momentum": -1}).fit()
    with pytest.raises(ConfigError, match="cannot build optimizer 'adamw'.*nesterov"):
        run(tmp_path, optimizer_kwargs={"nesterov": True}).fit()


def test_a_run_records_its_registered_task_so_it_can_be_rebuilt(tmp_path):
    run(tmp_path).fit()
    _, state = read_checkpoint(tmp_path / "checkpoints" / "last.safetensors")
    assert state["run_info"]["task"] == {"name": "classification"}
