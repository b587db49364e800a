"""Validation every N steps, restore-best in memory, the wrap hook (DP-SGD style) and progress modes."""

import json
import logging
import sys
import types

import pytest
import torch
import torch.nn as nn
from train_helpers import QUIET, Interrupt, StopAt, make_blobs, make_mlp

from tensorprism.train import Callback, Trainer, read_checkpoint
from tensorprism.train.callbacks import progress_visible


def weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


# ------------------------------------------------------------------ validation every N steps
class StepSpy(Callback):
    def __init__(self):
        self.steps = []

    def on_step_validation(self, trainer, logs):
        self.steps.append((trainer.global_step, sorted(logs)))


def test_validation_every_n_steps_runs_logs_and_leaves_training_unchanged(tmp_path):
    def fit(**kw):
        return Trainer(make_mlp(dropout=0.3), train_data=make_blobs(), val_data=make_blobs(seed=1), epochs=2,
                       batch_size=8, seed=4, **QUIET, **kw).fit()

    spy = StepSpy()
    with_val = fit(val_every_steps=5, callbacks=[spy], out_dir=str(tmp_path), plots=False)
    plain = fit()
    assert [s for s, _ in spy.steps] == [5, 10, 15, 20]  # 12 batches per epoch
    assert all({"val/loss", "val/acc"} <= set(keys) for _, keys in spy.steps)
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "batch" in r and "val/loss" in r] == [5, 10, 15, 20]
    for key, value in weights(plain.model).items():  # dropout masks untouched by the validations
        assert torch.equal(with_val.model.state_dict()[key], value), key


# ------------------------------------------------------------------ restore-best
class SpoilLastEpoch(Callback):
    """Ruins the weights during the last epoch, so the final weights are far from the best."""

    def on_train_batch_end(self, trainer, outputs):
        if trainer.epoch == trainer.config.epochs - 1:
            with torch.no_grad():
                for p in trainer.model.parameters():
                    p.copy_(torch.randn_like(p) * 5)


class Snapshots(Callback):
    def __init__(self):
        self.seen = []

    def on_epoch_end(self, trainer, logs):
        self.seen.append((logs["val/loss"], weights(trainer.model)))


@pytest.mark.parametrize("out_dir", [False, True], ids=["in-memory", "with-out-dir"])
def test_restore_best_loads_the_best_weights_and_reports_their_metrics(tmp_path, out_dir):
    snaps = Snapshots()
    t = Trainer(make_mlp(), train_data=make_blobs(), val_data=make_blobs(seed=1), test_data=make_blobs(seed=2),
                epochs=4, lr=0.05, restore_best=True, monitor="val/loss", mode="min", callbacks=[SpoilLastEpoch(), snaps],
                out_dir=str(tmp_path) if out_dir else None, plots=False, **QUIET).fit()
    best_loss, best_weights = min(snaps.seen, key=lambda s: s[0])
    assert snaps.seen[-1][0] > best_loss  # the last epoch really was worse
    for key, value in best_weights.items():
        assert torch.equal(t.model.state_dict()[key], value), key
    assert t.final_metrics["val/loss"] == pytest.approx(best_loss, rel=1e-6)
    assert t.final_metrics["test/loss"] == pytest.approx(t.evaluate("test")["test/loss"], rel=1e-6)


def test_restore_best_survives_an_interruption(tmp_path):
    def build(out, callbacks=()):
        return Trainer(make_mlp(), train_data=make_blobs(), val_data=make_blobs(seed=1), epochs=4, lr=0.05,
                       restore_best=True, monitor="val/loss", mode="min", out_dir=str(out), plots=False,
                       callbacks=[SpoilLastEpoch(), *callbacks], **QUIET)

    ref = build(tmp_path / "ref").fit()
    with pytest.raises(Interrupt):
        build(tmp_path / "run", [StopAt(2, 3)]).fit()  # inside the last epoch: the best is on disk only
    resumed = build(tmp_path / "run").fit(resume_from=tmp_path / "run")
    for key, value in ref.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], value), key
    assert resumed.final_metrics["val/loss"] == ref.final_metrics["val/loss"]


def test_without_restore_best_the_final_weights_stay():
    snaps = Snapshots()
    t = Trainer(make_mlp(), train_data=make_blobs(), val_data=make_blobs(seed=1), epochs=3, lr=0.05,
                callbacks=[SpoilLastEpoch(), snaps], **QUIET).fit()
    assert t.final_metrics["val/loss"] == pytest.approx(snaps.seen[-1][0])


def test_restore_best_without_validation_warns_and_keeps_the_weights():
    with pytest.warns(UserWarning, match="restore_best: 'val/acc' was never logged"):
        Trainer(make_mlp(), train_data=make_blobs(), epochs=1, restore_best=True, **QUIET).fit()


# ------------------------------------------------------------------ the wrap hook
class Counting(nn.Module):
    """A model wrapper in the manner of Opacus' GradSampleModule: calls through, counts batches."""

    def __init__(self, module):
        super().__init__()
        self._module = module
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self._module(x)


class CountingLoader:
    def __init__(self, loader):
        self.loader, self.batches = loader, 0

    def __iter__(self):
        for batch in self.loader:
            self.batches += 1
            yield batch

    def __len__(self):
        return len(self.loader)

    def __getattr__(self, name):  # sampler, generator, dataset: those of the wrapped loader
        return getattr(self.loader, name)


class Wrap(Callback):
    def setup_wrap(self, trainer, model, optimizers, loaders):
        self.model = Counting(model)
        self.loader = CountingLoader(loaders["train"])
        self.optimizer = torch.optim.SGD(trainer.model.parameters(), lr=0.1)  # e.g. a DP optimiser
        return self.model, [self.optimizer], {**loaders, "train": self.loader}


def test_setup_wrap_replaces_model_optimiser_and_loader_and_checkpoints_stay_plain(tmp_path):
    wrap = Wrap()
    t = Trainer(make_mlp(), train_data=make_blobs(), epochs=2, batch_size=16, scheduler="cosine",
                callbacks=[wrap], out_dir=str(tmp_path), plots=False, **QUIET).fit()
    assert wrap.loader.batches == 12 and wrap.model.calls >= 12  # 6 batches x 2 epochs (+ no val)
    assert t.optimizers == [wrap.optimizer] and t.schedulers[0].optimizer is wrap.optimizer
    assert t.forward_model is wrap.model and t.model is wrap.model._module
    keys = set(read_checkpoint(tmp_path / "checkpoints" / "last.safetensors")[0])
    assert keys == set(t.model.state_dict())  # the plain module's names, no wrapper prefix


# ------------------------------------------------------------------ progress
def fit_quiet_model(progress):
    return Trainer(make_mlp(), train_data=make_blobs(), epochs=2, batch_size=8, progress=progress,
                   tensorboard=False).fit()


def test_progress_false_shows_nothing_and_logs_epoch_lines(capsys, caplog):
    with caplog.at_level(logging.INFO, logger="tensorprism.train"):
        fit_quiet_model(False)
    assert capsys.readouterr().err == ""
    lines = [r.getMessage() for r in caplog.records if r.name == "tensorprism.train"]
    assert len(lines) == 2 and lines[0].startswith("epoch 1/2  train/loss ") and lines[0].endswith(" s)")


def test_progress_auto_without_a_terminal_prints_one_line_per_epoch(capsys):
    fit_quiet_model("auto")
    err = capsys.readouterr().err
    assert "%|" not in err  # no bar in a log file
    lines = err.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("epoch 2/2  train/loss ")


def test_progress_true_forces_a_bar_into_logs(capsys):
    fit_quiet_model(True)
    err = capsys.readouterr().err
    assert "%|" in err and "epoch 2/2  train/loss" in err


def test_auto_sees_terminals_and_notebooks(monkeypatch):
    class Stream:
        def __init__(self, tty):
            self.tty = tty

        def isatty(self):
            return self.tty

        def write(self, text):
            return len(text)

        def flush(self):
            pass

    monkeypatch.setattr(sys, "stderr", Stream(True))
    assert progress_visible()
    monkeypatch.setattr(sys, "stderr", Stream(False))
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    assert not progress_visible()
    kernel = type("ZMQInteractiveShell", (), {})()
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: kernel))
    assert progress_visible()
