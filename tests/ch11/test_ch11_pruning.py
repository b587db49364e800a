"""Unstructured (per-layer, global, iterative) and structured L1 filter pruning."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import prune as torch_prune

from tensorprism.compress import (
    prunable_filter_pairs,
    prune_filters_l1,
    prune_magnitude,
    remove_masks,
    sparsity,
    sparsity_schedule,
)
from tensorprism.errors import ConfigError
from tensorprism.models import count_parameters
from tensorprism.models.cnn.classic import LeNetConfig, lenet5
from tensorprism.models.cnn.resnet import ResNetConfig, resnet


def _resnet20(layers=(3, 3, 3)):
    return resnet(ResNetConfig(num_classes=10, layers=layers, widths=(16, 32, 64), stem="cifar", stem_width=16,
                               shortcut="pad"))


@pytest.mark.parametrize("amount", [-0.1, 1.5, True, "half", float("nan")])
def test_pruning_amount_outside_unit_interval_is_refused(amount):
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        prune_magnitude(lenet5(LeNetConfig()), amount)
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        prune_filters_l1(lenet5(LeNetConfig()), amount)


def test_per_layer_magnitude_pruning_matches_torch_and_each_layer_reaches_the_amount():
    model, ref = lenet5(LeNetConfig()), lenet5(LeNetConfig())
    ref.load_state_dict(model.state_dict())
    prune_magnitude(model, 0.6)
    for m, r in zip(model.modules(), ref.modules(), strict=True):
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            torch_prune.l1_unstructured(r, "weight", amount=round(0.6 * r.weight.numel()))
            assert torch.equal(m.weight_mask, r.weight_mask)
            assert abs(float((m.weight == 0).float().mean()) - 0.6) < 0.01
    assert abs(sparsity(model) - 0.6) < 0.01


def test_global_pruning_uses_one_threshold_and_iterative_pruning_keeps_zeros():
    model = lenet5(LeNetConfig())
    prune_magnitude(model, 0.5, scope="global")
    assert abs(sparsity(model) - 0.5) < 1e-3
    per_layer = [float((m.weight == 0).float().mean()) for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    assert max(per_layer) - min(per_layer) > 0.1  # layers lose different fractions
    kept = [m.weight[m.weight != 0].abs().min() for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    pruned_max = max(float(m.weight_orig.detach()[m.weight_mask == 0].abs().max())
                     for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d)))
    assert pruned_max <= float(min(kept))  # one global threshold
    # fine-tuning with the masks: pruned weights stay zero, then a second round prunes further
    before = {id(m): m.weight_mask.clone() for m in model.modules() if hasattr(m, "weight_mask")}
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model(torch.randn(8, 1, 28, 28)).sum().backward()
    opt.step()
    assert abs(sparsity(model) - 0.5) < 1e-3
    prune_magnitude(model, 0.8, scope="global")
    assert abs(sparsity(model) - 0.8) < 1e-3
    for m in model.modules():
        if hasattr(m, "weight_mask"):
            assert bool((m.weight_mask <= before[id(m)]).all())  # once pruned, always pruned
    remove_masks(model)
    assert not any(n.endswith("_mask") for n, _ in model.named_buffers()) and abs(sparsity(model) - 0.8) < 1e-3


def test_sparsity_schedule_is_a_cubic_ramp_to_the_target():
    s = sparsity_schedule(0.9, 5)
    assert len(s) == 5 and s[-1] == pytest.approx(0.9) and all(a < b for a, b in zip(s, s[1:], strict=False))
    assert s[0] - 0.0 > s[-1] - s[-2]  # large cuts first
    with pytest.raises(ConfigError):
        sparsity_schedule(0.9, 0)


def _zero_channels_like(model: nn.Module, pruned: nn.Module) -> nn.Module:
    """``model`` with every removed filter's conv weight/bias (and BN affine) set to zero, so its
    channel outputs 0 after the ReLU: it must then compute exactly what the pruned network does."""
    for (conv, norms, _), (small, _, _) in zip(prunable_filter_pairs(model), prunable_filter_pairs(pruned), strict=True):
        scores = conv.weight.detach().abs().sum(dim=(1, 2, 3))
        keep = torch.topk(scores, small.out_channels).indices
        drop = torch.ones(conv.out_channels, dtype=torch.bool)
        drop[keep] = False
        with torch.no_grad():
            conv.weight[drop] = 0
            if conv.bias is not None:
                conv.bias[drop] = 0
            for bn in norms:
                bn.weight[drop] = 0
                bn.bias[drop] = 0
    return model


@pytest.mark.parametrize("build, shape, pairs", [(lambda: lenet5(LeNetConfig()), (1, 28, 28), 2),
                                                  (lambda: _resnet20((1, 1, 1)), (3, 32, 32), 3)])
def test_filter_pruning_removes_the_smallest_l1_filters_and_computes_the_same_function(build, shape, pairs):
    torch.manual_seed(0)
    model = build().eval()
    with torch.no_grad():  # distinct BN statistics, so a wrong channel mapping would show
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 2)
    assert len(prunable_filter_pairs(model)) == pairs
    small = prune_filters_l1(model, 0.5).eval()
    assert count_parameters(small) < 0.75 * count_parameters(model)
    x = torch.randn(4, *shape)
    assert small(x).shape == model(x).shape
    reference = _zero_channels_like(model, small)
    assert torch.allclose(small(x), reference(x), atol=1e-5)
    assert torch.allclose(prune_filters_l1(model, 0.0)(x), model(x))
    tiny = prune_filters_l1(model, 1.0, min_channels=1)
    assert all(c.out_channels == 1 for c, _, _ in prunable_filter_pairs(tiny))
