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

Activation checkpointing (``activation_checkpointing=True``) recomputes each block's forward during
the backward pass (:func:`torch.utils.checkpoint.checkpoint`) instead of storing its activations:
memory for one block's activations instead of all of them, at the price of one more forward. It
replaces the block's ``forward`` on the instance, so parameter names (and checkpoints) are unchanged.
It works with every strategy, on one process too.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
import torch.nn as nn

from ..errors import ConfigError


def block_classes(model: nn.Module) -> tuple[type, ...]:
    """The classes whose instances are FSDP units / activation-checkpointed blocks of ``model``."""
    declared = getattr(model, "fsdp_blocks", None)
    if declared is not None:
        classes = tuple(declared) if isinstance(declared, (list, tuple)) else (declared,)
        if not all(isinstance(c, type) and issubclass(c, nn.Module) for c in classes):
            raise ConfigError(f"{type(model).__name__}.fsdp_blocks must be a tuple of nn.Module classes, "
                              f"got {declared!r}")
        return classes
    from ..nn.transformer import TransformerEncoderLayer  # the decoder layer subclasses it

    if any(isinstance(m, TransformerEncoderLayer) for m in model.modules()):
        return (TransformerEncoderLayer,)
    found: list[type] = []
    for m in model.modules():
        if isinstance(m, nn.ModuleList) and len(m) >= 2 and len({type(c) for c in m}) == 1:
            cls = type(m[0])
            if cls not in found:
                found.append(cls)
    return tuple(found)


def blocks_of(model: nn.Module) -> list[nn.Module]:
    """The block instances of ``model`` in definition order, outermost only (a block inside a block
    is part of its parent's unit)."""
    classes = block_classes(model)
    if not classes:
        return []
    out: list[nn.Module] = []
    inside: set[int] = set()
    for m in model.modules():
        if id(m) in inside or m is model:
            continue
        if isinstance(m, classes):
            out.append(m)
            inside.update(id(sub) for sub in m.modules())
    return out


def apply_activation_checkpointing(model: nn.Module) -> int:
    """Recompute every block's forward in the backward pass; returns the number of blocks."""
    from torch.utils.checkpoint import checkpoint

    blocks = blocks_of(model)
    if not blocks:
        raise ConfigError(
            f"activation_checkpointing: {type(model).__name__} has no blocks to checkpoint (no "
            f"transformer layers, no list of repeated modules); give the model an `fsdp_blocks` "
            f"attribute naming its block classes, or turn activation_checkpointing off")
    for block in blocks:
        if getattr(block, "_tensorprism_checkpointed", False):
            continue
        forward = block.forward

        @functools.wraps(forward)
        def checkpointed(*args: Any, _forward=forward, **kwargs: Any) -> Any:
            if not torch.is_grad_enabled():  # evaluation: nothing to recompute
                return _forward(*args, **kwargs)
            return checkpoint(_forward, *args, use_reentrant=False, **kwargs)

        block.forward = checkpointed
        block._tensorprism_checkpointed = True
    return len(blocks)


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
