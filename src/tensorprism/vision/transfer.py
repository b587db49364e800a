r"""Transfer learning (book §4.5.3, lines 7580–7698): freeze, replace the head, discriminative learning
rates, loading local weight files, and the L2-SP penalty.

The book's objective :math:`L_{task}(W_{new}) + \lambda \sum_i \|W_{pre,i}\|^2` (line 7602) is constant
when the pre-trained weights are frozen and shrinks them towards 0 otherwise (erratum 13); the useful
form, L2-SP (Li, Grandvalet & Davoine 2018, *not from the book*), pulls them towards their pre-trained
values: :math:`\lambda \sum_i \|W_i - W^{0}_i\|^2`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch.nn as nn

from ..errors import CheckpointError
from ..train.tasks.vision import FineTuneTask, discriminative_param_groups, l2sp_penalty

__all__ = ["freeze", "unfreeze", "discriminative_param_groups", "save_backbone", "load_backbone", "l2sp_penalty",
           "FineTuneTask"]


def freeze(model: nn.Module, keep_trainable: Iterable[str] = ("classifier",), freeze_bn: bool = True) -> nn.Module:
    """``requires_grad=False`` on every parameter except those under the ``keep_trainable`` prefixes;
    with ``freeze_bn`` the frozen batch-norm layers also stop updating their running statistics."""
    keep = tuple(keep_trainable)
    for name, p in model.named_parameters():
        p.requires_grad = name.startswith(keep)
    if freeze_bn:
        for name, m in model.named_modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and not name.startswith(keep):
                m.eval()
                m.train = lambda mode=True, _m=m: _m  # stays in eval mode when model.train() is called
    return model


def unfreeze(model: nn.Module) -> nn.Module:
    """Make every parameter trainable again (and batch-norm layers follow ``train()`` again)."""
    for p in model.parameters():
        p.requires_grad = True
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and "train" in m.__dict__:
            del m.train
    return model


def save_backbone(model: nn.Module, path: str | Path) -> Path:
    """Save every weight except the classifier as safetensors (a local "pre-trained weights" file)."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items() if not k.startswith("classifier.")}
    save_file(state, str(path))
    return path


def load_backbone(model: nn.Module, path: str | Path) -> nn.Module:
    """Load a file written by :func:`save_backbone` (or any safetensors state dict without the classifier):
    every non-classifier tensor must be present with the same shape; the classifier keeps its fresh init."""
    from safetensors.torch import load_file

    state = load_file(str(path))
    own = {k: v for k, v in model.state_dict().items() if not k.startswith("classifier.")}
    missing = sorted(set(own) - set(state))
    wrong = [k for k in own if k in state and state[k].shape != own[k].shape]
    if missing or wrong:
        raise CheckpointError(f"{path} does not fit {type(model).__name__}: missing {missing[:3]}, shape mismatch {wrong[:3]}")
    model.load_state_dict(state, strict=False)
    return model
