"""Trains the same small model on one or more processes; each rank writes its final weights and
metrics. Run under ``torchrun --nproc_per_node=2 ddp_job.py OUT`` (batch 8 per process)."""

import json
import sys

import torch
from safetensors.torch import save_file

from tensorprism.train import Trainer

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from train_helpers import make_blobs, make_mlp  # noqa: E402


def build(out_dir, batch_size: int, dropout: float = 0.0, **kw) -> Trainer:
    torch.set_num_threads(1)
    return Trainer(make_mlp(seed=0, dropout=dropout), "classification", train_data=make_blobs(n=64),
                   val_data=make_blobs(n=24, seed=1), epochs=2, batch_size=batch_size, lr=0.05,
                   out_dir=str(out_dir), seed=3, progress=False, tensorboard=False, plots=False, **kw)


def write_result(t: Trainer, out: str) -> None:
    save_file({k: v.contiguous() for k, v in t.model.state_dict().items()}, f"{out}/rank{t.rank}.safetensors")
    with open(f"{out}/rank{t.rank}.json", "w") as fh:
        json.dump({"world_size": t.world_size, "steps": t.global_step,
                   "metrics": Trainer.scalars(t.final_metrics)}, fh)


if __name__ == "__main__":
    write_result(build(sys.argv[1], batch_size=8).fit(), sys.argv[1])
