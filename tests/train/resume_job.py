"""A small training job used by the resume tests; run as a script it trains slowly so that the
test can kill it with SIGKILL part-way through an epoch."""

import sys
import time

import torch

from tensorprism.train import Callback, Trainer

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from train_helpers import make_blobs, make_mlp  # noqa: E402


class Slow(Callback):
    def __init__(self, seconds: float):
        self.seconds = seconds

    def on_train_batch_end(self, trainer, outputs):
        time.sleep(self.seconds)


def build(out_dir, callbacks=(), init_seed=1) -> Trainer:
    """3 epochs × 8 batches (the last one short), 2 batches per step, dropout, AdamW, cosine with
    warm-up, a checkpoint every 2 optimiser steps (4 batches), early-stopping state."""
    torch.set_num_threads(1)
    return Trainer(
        make_mlp(dropout=0.3, seed=init_seed), "classification",
        train_data=make_blobs(n=60), val_data=make_blobs(n=24, seed=1),
        epochs=3, batch_size=8, accumulate=2, lr=3e-2, weight_decay=1e-2,
        scheduler={"name": "cosine", "warmup": 3}, checkpoint_every_steps=2, early_stopping_patience=10,
        out_dir=str(out_dir), seed=7, progress=False, tensorboard=False, plots=False,
        callbacks=list(callbacks),
    )


if __name__ == "__main__":
    build(sys.argv[1], callbacks=[Slow(float(sys.argv[2]))]).fit()
