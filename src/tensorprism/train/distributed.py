"""Running the same Trainer on several processes with ``torch.distributed`` (launched by torchrun).

``torchrun --nproc_per_node=N script.py`` sets ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``; the Trainer
then initialises the process group (NCCL on GPUs, gloo on CPUs), wraps the model in
:class:`~torch.nn.parallel.DistributedDataParallel`, shards the data with a distributed sampler,
and lets only rank 0 print, log and write checkpoints.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def env_world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def init_distributed(device: torch.device) -> bool:
    """Initialise the default process group from torchrun's environment; True when distributed."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size() > 1
    if env_world_size() <= 1 or not dist.is_available():
        return False
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend=backend)
    return True


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_main_process() -> bool:
    return rank() == 0


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """Sum ``t`` over processes (a no-op on one process)."""
    if is_distributed():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def all_gather_object(obj):
    """``[obj of rank 0, obj of rank 1, ...]`` (a one-element list on one process)."""
    if not is_distributed():
        return [obj]
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_tensors(tensors: list[torch.Tensor], src: int = 0) -> None:
    """Copy rank ``src``'s values into ``tensors`` on every process (a no-op on one process)."""
    if not is_distributed():
        return
    with torch.no_grad():
        for t in tensors:
            dist.broadcast(t.data, src=src)


def average_gradients(params: list[torch.Tensor]) -> None:
    """Average the gradients of ``params`` over processes, as DDP would, in one flat all-reduce.

    A parameter with a gradient on some process but not on this one counts as a zero gradient here;
    a parameter without a gradient anywhere keeps ``grad=None`` (so the optimiser skips it).
    """
    if not is_distributed() or not params:
        return
    has = torch.tensor([p.grad is not None for p in params], dtype=torch.float32, device=params[0].device)
    dist.all_reduce(has)
    grads = []
    for p, present in zip(params, has.tolist(), strict=True):
        if present:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            grads.append(p.grad)
    if not grads:
        return
    from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

    flat = _flatten_dense_tensors(grads)
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    for g, avg in zip(grads, _unflatten_dense_tensors(flat, grads), strict=True):
        g.copy_(avg)


def barrier() -> None:
    if is_distributed():
        dist.barrier()
