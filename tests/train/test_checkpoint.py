import json
import pickle
import struct

import pytest
import torch
from train_helpers import QUIET, make_blobs, make_mlp

from tensorprism import create_model
from tensorprism.errors import CheckpointError
from tensorprism.train import Trainer, load_model, read_checkpoint, save_checkpoint
from tensorprism.train.checkpoint import atomic_write, decode_state, encode_state


def test_optimizer_state_round_trips_through_tensors_and_json():
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, betas=(0.8, 0.95))
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    tensors = {}
    meta = json.loads(json.dumps(encode_state(opt.state_dict(), tensors, "opt")))
    back = decode_state(meta, tensors)
    assert back["param_groups"][0]["betas"] == (0.8, 0.95)  # tuples survive JSON
    assert set(back["state"]) == {0, 1}  # integer keys survive JSON
    for k in ("exp_avg", "exp_avg_sq", "step"):
        assert torch.equal(back["state"][0][k], opt.state_dict()["state"][0][k])


def test_arbitrary_objects_are_refused_rather_than_pickled(tmp_path):
    with pytest.raises(CheckpointError, match="no pickled objects"):
        save_checkpoint(tmp_path / "x.safetensors", {}, {"bad": object()})


def test_checkpoint_is_plain_safetensors_with_json_header(tmp_path, monkeypatch):
    t = Trainer(make_mlp(), train_data=make_blobs(), epochs=1, out_dir=str(tmp_path), plots=False, **QUIET).fit()
    path = tmp_path / "checkpoints" / "last.safetensors"
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])  # the safetensors header is JSON
    meta = json.loads(header["__metadata__"]["tensorprism"])
    assert meta["epoch"] == 1 and meta["global_step"] == t.global_step
    assert "model.0.weight" in header and any(k.startswith("state.optimizers.0.state") for k in header)

    def refuse(*a, **k):
        raise AssertionError("checkpoint loading must not unpickle")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    weights, state = read_checkpoint(path)
    assert torch.equal(weights["0.weight"], t.model[0].weight.detach())
    assert state["rng"]["torch"].dtype == torch.uint8


def test_failed_write_leaves_the_previous_checkpoint_intact(tmp_path):
    target = tmp_path / "last.safetensors"
    target.write_bytes(b"previous")

    def crash(tmp):
        with open(tmp, "wb") as fh:
            fh.write(b"half a file")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, crash)
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["last.safetensors"]


def test_corrupt_or_missing_checkpoint_gives_a_clear_error(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 32)
    with pytest.raises(CheckpointError, match="not a readable safetensors checkpoint"):
        read_checkpoint(bad)
    with pytest.raises(CheckpointError, match="no checkpoint found"):
        load_model(tmp_path / "nothing-here")
    # a recipe's run directory with its models in sub-folders: the error names them
    for sub in ("generator", "classifier"):
        (tmp_path / "recipe" / sub / "checkpoints").mkdir(parents=True)
    with pytest.raises(CheckpointError, match=r"holds the runs classifier/, generator/: pass one of them"):
        load_model(tmp_path / "recipe")


def test_load_model_rebuilds_a_registered_model_from_its_spec(tmp_path):
    model = create_model("mlp", in_features=6, num_classes=3, hidden=[8])
    t = Trainer(model, train_data=make_blobs(), epochs=1, out_dir=str(tmp_path), plots=False, **QUIET).fit()
    again = load_model(tmp_path)
    assert again.prism_spec == model.prism_spec
    x = make_blobs().tensors[0]
    with torch.no_grad():
        assert torch.equal(again.eval()(x), t.model.eval()(x))


def test_weights_of_another_shape_are_rejected_clearly(tmp_path):
    save_checkpoint(tmp_path / "w.safetensors", make_mlp(features=4).state_dict(), {})
    from tensorprism.train import load_weights

    with pytest.raises(CheckpointError, match="do not fit Sequential: .*size mismatch"):
        load_weights(make_mlp(features=6), tmp_path / "w.safetensors")
