"""A tiny GPT trained with ``strategy="fsdp"`` on one or more processes (the FSDP tests' job).

Run under ``torchrun --nproc_per_node=2 fsdp_job.py OUT`` (batch 8 per process) or imported by
the tests, which fork the processes themselves. Dropout is off, so runs at different world sizes
with the same global batch differ only by floating-point summation order.
"""

import json
import sys

import torch
from safetensors.torch import save_file
from torch.utils.data import TensorDataset

from tensorprism.models.transformer.gpt import GPT, GPTConfig
from tensorprism.train import Callback, Trainer

V, T = 11, 8


class Interrupt(Exception):
    """Stands for a crash after a given optimiser step."""


class StopAtStep(Callback):
    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, outputs):
        if trainer.global_step == self.step:
            raise Interrupt


def make_tokens(n: int = 64, seed: int = 0) -> TensorDataset:
    """Sequences of a noisy counting pattern (mod V): input ids ``(n, T)`` and next tokens ``(n, T)``."""
    g = torch.Generator().manual_seed(seed)
    start = torch.randint(0, V, (n, 1), generator=g)
    seq = (start + torch.arange(T + 1)) % V
    flip = torch.rand(seq.shape, generator=g) < 0.1
    seq = torch.where(flip, torch.randint(0, V, seq.shape, generator=g), seq)
    return TensorDataset(seq[:, :-1], seq[:, 1:])


def make_gpt():
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=V, block_size=T, n_layer=2, n_head=2, n_embd=16))


def build(out_dir, batch_size: int, callbacks=(), **kw) -> Trainer:
    torch.set_num_threads(1)
    settings = {"epochs": 2, "lr": 3e-3, "seed": 3, "strategy": "fsdp", "progress": False,
                "tensorboard": False, "plots": False, **kw}
    return Trainer(make_gpt(), "language-model", train_data=make_tokens(), val_data=make_tokens(16, seed=1),
                   batch_size=batch_size, out_dir=str(out_dir), callbacks=list(callbacks), **settings)


def full_weights(t: Trainer) -> dict[str, torch.Tensor]:
    """The whole model's weights on every process (gathered from the shards under FSDP)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    sd = get_model_state_dict(t.model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    return {k: v.detach().clone().contiguous() for k, v in sd.items()}


def write_result(t: Trainer, out: str, tag: str) -> None:
    from tensorprism.train.fsdp import local_numel

    weights = full_weights(t)
    if t.rank == 0:
        save_file(weights, f"{out}/{tag}.safetensors")
    with open(f"{out}/{tag}-rank{t.rank}.json", "w") as fh:
        json.dump({"world_size": t.world_size, "steps": t.global_step, "history": t.history,
                   "sharded": t.sharded, "local_numel": local_numel(t.model),
                   "numel": sum(p.numel() for p in t.model.parameters())}, fh)


if __name__ == "__main__":
    write_result(build(sys.argv[1], batch_size=8).fit(), sys.argv[1], "torchrun")
