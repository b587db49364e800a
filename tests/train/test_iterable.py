"""Unsized training data (an IterableDataset without __len__): epochs end with the iterator, max_steps
and schedules work, and a run interrupted mid-epoch resumes bitwise identical."""

import json

import pytest
import torch
from torch.utils.data import IterableDataset
from train_helpers import QUIET, Interrupt, StopAt, make_blobs, make_mlp

from tensorprism.errors import ConfigError
from tensorprism.train import Trainer


class Stream(IterableDataset):
    """Examples in a per-epoch order drawn from the dataset's own generator (seeded by the epoch,
    which the Trainer sets through ``set_epoch``); no ``__len__``."""

    def __init__(self, n: int = 60, seed: int = 0):
        self.x, self.y = make_blobs(n=n, seed=seed).tensors
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        order = torch.randperm(len(self.x), generator=torch.Generator().manual_seed(100 + self.epoch))
        for i in order.tolist():
            yield self.x[i], self.y[i]


def build(out_dir=None, callbacks=(), **kw) -> Trainer:
    settings = {"epochs": 2, "batch_size": 8, "lr": 0.05, "seed": 3, **QUIET, **kw}
    return Trainer(make_mlp(dropout=0.3), train_data=Stream(), val_data=make_blobs(n=24, seed=1),
                   out_dir=str(out_dir) if out_dir else None, plots=False, callbacks=list(callbacks), **settings)


def test_epochs_run_until_the_iterator_ends():
    t = build().fit()
    assert t.batches_per_epoch is None
    assert (t.epoch, t.global_step) == (2, 16)  # 60 examples: 8 batches per epoch, the last short
    assert len(t.history["train/loss"]) == 2 and "val/acc" in t.final_metrics


def test_a_partial_accumulation_group_at_the_end_of_an_epoch_still_steps():
    t = build(accumulate=3).fit()
    assert t.global_step == 6  # batches 3, 6 and the last two of each epoch


def test_max_steps_stops_inside_an_epoch():
    t = build(epochs=5, max_steps=5).fit()
    assert (t.global_step, t.epoch, t.batch_in_epoch) == (5, 0, 5)


def test_schedules_that_need_the_total_ask_for_max_steps():
    with pytest.raises(ConfigError, match="'cosine' needs the total number of optimiser steps.*set max_steps"):
        build(scheduler="cosine").fit()
    assert build(scheduler="cosine", max_steps=10, epochs=5).fit().global_step == 10
    assert build(scheduler={"name": "step", "step_size": 4}).fit().global_step == 16


def _records(run):
    return [{k: v for k, v in json.loads(line).items() if k != "time"}
            for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_interrupted_mid_epoch_then_resumed_is_bitwise_identical(tmp_path):
    kw = {"accumulate": 2, "checkpoint_every_steps": 1, "epochs": 3}
    ref = build(tmp_path / "ref", **kw).fit()
    with pytest.raises(Interrupt):
        build(tmp_path / "run", callbacks=[StopAt(5, 1)], **kw).fit()
    saved = json.loads((tmp_path / "run" / "checkpoints" / "last.json").read_text())
    assert (saved["epoch"], saved["batch_in_epoch"], saved["global_step"]) == (1, 4, 6)  # mid-epoch
    resumed = build(tmp_path / "run", **kw).fit(resume_from=tmp_path / "run")
    for key, value in ref.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], value), key
    assert resumed.global_step == ref.global_step and resumed.history == ref.history
    assert _records(tmp_path / "run") == _records(tmp_path / "ref")
