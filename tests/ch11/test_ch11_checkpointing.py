"""Activation checkpointing as a model option: same outputs and gradients, fewer stored activations."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from tensorprism.errors import ConfigError
from tensorprism.models import create_model
from tensorprism.nn.checkpointing import is_grad_checkpointing, set_grad_checkpointing

CASES = {
    "resnet": (lambda: create_model("resnet", layers=(2, 2), widths=(8, 16), stem="cifar", stem_width=8),
               lambda: torch.randn(4, 3, 16, 16), 4),
    "vit": (lambda: create_model("vit-cifar", depth=3, embed_dim=32, num_heads=2, drop_rate=0.1),
            lambda: torch.randn(4, 3, 32, 32), 3),
    "gpt": (lambda: create_model("gpt-char", n_layer=3, n_embd=32, n_head=2, block_size=16, dropout=0.1),
            lambda: torch.randint(0, 65, (4, 16)), 3),
}


def _saved_bytes(model: nn.Module, x: torch.Tensor) -> int:
    """Bytes of the tensors autograd stores for the backward pass outside checkpointed blocks."""
    seen: dict[int, int] = {}

    def pack(t):
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(x)
    (out[0] if isinstance(out, tuple) else out).float().logsumexp(-1).mean().backward()
    return sum(seen.values())


@pytest.mark.parametrize("case", list(CASES))
def test_checkpointed_model_has_the_same_outputs_and_gradients(case):
    build, make_x, blocks = CASES[case]
    torch.manual_seed(0)
    plain = build().train()  # dropout on: the checkpoint replays the RNG state in the recomputation
    ckpt = copy.deepcopy(plain)
    assert ckpt.set_grad_checkpointing() == blocks and is_grad_checkpointing(ckpt)
    assert plain.state_dict().keys() == ckpt.state_dict().keys()
    x = make_x()
    outs = []
    for m in (plain, ckpt):
        torch.manual_seed(1)
        out = m(x)
        out.float().logsumexp(-1).mean().backward()
        outs.append(out.detach())
    torch.testing.assert_close(outs[1], outs[0])
    for (name, p), q in zip(plain.named_parameters(), ckpt.parameters(), strict=True):
        torch.testing.assert_close(q.grad, p.grad, msg=name)


@pytest.mark.parametrize("case", ["resnet", "gpt"])
def test_checkpointing_stores_fewer_activations_and_turns_off(case):
    build, make_x, _ = CASES[case]
    torch.manual_seed(0)
    model = build()
    x = make_x()
    plain = _saved_bytes(model, x)
    model.set_grad_checkpointing(True)
    assert _saved_bytes(model, x) < 0.5 * plain
    model.set_grad_checkpointing(False)
    assert not is_grad_checkpointing(model) and _saved_bytes(model, x) == plain
    assert all("forward" not in vars(m) for m in model.modules())  # the class's forward again


def test_model_without_blocks_is_refused():
    with pytest.raises(ConfigError, match="no blocks to checkpoint"):
        set_grad_checkpointing(nn.Sequential(nn.Linear(2, 2), nn.ReLU()))
