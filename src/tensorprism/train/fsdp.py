"""Fully sharded data parallelism (FSDP2, :func:`torch.distributed.fsdp.fully_shard`) for the Trainer.

With ``strategy="fsdp"`` every process holds only ``1/world_size`` of each parameter, gradient and
optimiser moment (a :class:`~torch.distributed.tensor.DTensor` sharded on dimension 0). A block
gathers its full parameters just before its forward (and again before its backward) and frees them
right after, so the peak memory is the shards plus one block's full parameters, instead of the whole
model and its optimiser state on every process as with DDP.

Wrapping policy (per block, as torchtitan does it): each *block* is its own FSDP unit (one
all-gather per block, overlapped with the previous block's compute on GPUs), then the root module
takes whatever is left (embeddings, final norm, head; tied weights stay together). The blocks are

1. the classes a model lists in its ``fsdp_blocks`` attribute, if it has one;
2. otherwise the transformer layers of :mod:`tensorprism.nn.transformer` (every Transformer, BERT,
   GPT and ViT family model is built from them);
3. otherwise the members of every :class:`~torch.nn.ModuleList` of two or more modules of one class
   (ResNet stages, GNN convolutions, ...).

Activation checkpointing (``activation_checkpointing=True``, :mod:`tensorprism.nn.checkpointing`,
where the block rule above lives) recomputes each block's forward during the backward pass (:func:`torch.utils.checkpoint.checkpoint`) instead of storing its activations:
memory for one block's activations instead of all of them, at the price of one more forward. It
replaces the block's ``forward`` on the instance, so parameter names (and checkpoints) are unchanged.
It works with every strategy, on one process too.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from ..nn.checkpointing import block_classes, blocks_of, set_grad_checkpointing


def apply_activation_checkpointing(model: nn.Module) -> int:
    """Recompute every block's forward in the backward pass; returns the number of blocks
    (:func:`tensorprism.nn.checkpointing.set_grad_checkpointing`)."""
    return set_grad_checkpointing(model, True)


def mixed_precision_policy(precision: str, device: torch.device) -> Any:
    """FSDP2's :class:`~torch.distributed.fsdp.MixedPrecisionPolicy` for a resolved precision:
    on CUDA with ``"bf16"``, parameters are gathered in bf16 for compute while the shards, the
    optimiser and the gradient reduction stay fp32; ``None`` otherwise (CPUs use autocast as usual)."""
    if device.type != "cuda" or precision != "bf16":
        return None
    from torch.distributed.fsdp import MixedPrecisionPolicy

    return MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)


def shard_model(model: nn.Module, device: torch.device, mp_policy: Any = None) -> int:
    """Apply ``fully_shard`` to every block, then to the root (in place); returns the block count.

    Must run after the model is on ``device`` and before the optimiser is built (the optimiser
    must hold the sharded parameters)."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    from . import distributed as D

    mesh = init_device_mesh(device.type, (D.world_size(),))
    kwargs = {"mesh": mesh, **({"mp_policy": mp_policy} if mp_policy is not None else {})}
    blocks = blocks_of(model)
    for block in blocks:
        fully_shard(block, **kwargs)
    fully_shard(model, **kwargs)
    return len(blocks)


def is_sharded(model: nn.Module) -> bool:
    """Whether ``fully_shard`` was applied to ``model``."""
    from torch.distributed.fsdp import FSDPModule

    return isinstance(model, FSDPModule)


def local_numel(model: nn.Module) -> int:
    """Elements of the parameters this process holds (its shards under FSDP, everything otherwise)."""
    total = 0
    for p in model.parameters():
        total += p.to_local().numel() if hasattr(p, "to_local") else p.numel()
    return total


__all__ = ["block_classes", "blocks_of", "apply_activation_checkpointing", "mixed_precision_policy",
           "shard_model", "is_sharded", "local_numel"]
