"""Activation (gradient) checkpointing of a model's repeated blocks (book §11, I11.02).

A checkpointed block keeps only its input during the forward pass and recomputes its internal
activations in the backward pass (:func:`torch.utils.checkpoint.checkpoint`, non-reentrant): the
activation memory of a deep network drops from all blocks' to one block's (plus each block's
input), at the cost of one more forward per block. Outputs and gradients are unchanged (up to the
non-determinism of the kernels; dropout draws the same masks, the RNG state is replayed).

The blocks are found as for FSDP units (the same rule serves :mod:`tensorprism.train.fsdp`):

1. the classes a model lists in its ``fsdp_blocks`` attribute (e.g. the residual blocks of a ResNet);
2. otherwise the transformer layers of :mod:`tensorprism.nn.transformer` (every Transformer, BERT,
   GPT and ViT family model);
3. otherwise the members of every :class:`~torch.nn.ModuleList` of two or more modules of one class.

:func:`set_grad_checkpointing` (also ``model.set_grad_checkpointing()`` on every registered model,
as in timm) turns it on and off in place; it replaces each block's ``forward`` on the instance, so
parameter names and checkpoints are unchanged. ``Trainer(activation_checkpointing=True)`` calls it.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
import torch.nn as nn

from ..errors import ConfigError

__all__ = ["block_classes", "blocks_of", "set_grad_checkpointing", "is_grad_checkpointing"]


def block_classes(model: nn.Module) -> tuple[type, ...]:
    """The classes whose instances are FSDP units / activation-checkpointed blocks of ``model``."""
    declared = getattr(model, "fsdp_blocks", None)
    if declared is not None:
        classes = tuple(declared) if isinstance(declared, (list, tuple)) else (declared,)
        if not all(isinstance(c, type) and issubclass(c, nn.Module) for c in classes):
            raise ConfigError(f"{type(model).__name__}.fsdp_blocks must be a tuple of nn.Module classes, "
                              f"got {declared!r}")
        return classes
    from .transformer import TransformerEncoderLayer  # the decoder layer subclasses it

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


def set_grad_checkpointing(model: nn.Module, enable: bool = True) -> int:
    """Recompute every block's forward in the backward pass (``enable=False``: store activations
    again); returns the number of blocks. Evaluation (no grad) always runs the plain forward."""
    from torch.utils.checkpoint import checkpoint

    blocks = blocks_of(model)
    if not blocks:
        raise ConfigError(
            f"activation checkpointing: {type(model).__name__} has no blocks to checkpoint (no "
            f"transformer layers, no list of repeated modules); give the model an `fsdp_blocks` "
            f"attribute naming its block classes, or turn activation checkpointing off")
    for block in blocks:
        on = getattr(block, "_tensorprism_checkpointed", False)
        if enable and not on:
            forward = block.forward

            @functools.wraps(forward)
            def checkpointed(*args: Any, _forward=forward, **kwargs: Any) -> Any:
                if not torch.is_grad_enabled():  # evaluation: nothing to recompute
                    return _forward(*args, **kwargs)
                return checkpoint(_forward, *args, use_reentrant=False, **kwargs)

            block._tensorprism_plain_forward = vars(block).get("forward")  # None: the class's method
            block.forward = checkpointed
            block._tensorprism_checkpointed = True
        elif not enable and on:
            own = block._tensorprism_plain_forward
            if own is None:
                del block.forward
            else:
                block.forward = own
            del block._tensorprism_plain_forward
            block._tensorprism_checkpointed = False
    return len(blocks)


def is_grad_checkpointing(model: nn.Module) -> bool:
    """Whether any block of ``model`` is checkpointed."""
    return any(getattr(m, "_tensorprism_checkpointed", False) for m in model.modules())
