"""Behavioural errata of Chapter 3 not pinned elsewhere (catalogue ``book/ch03.md`` §5)."""

import torch
from torch import nn

from tensorprism.nn.mlp import MLP


def test_erratum_E17_batch_norm_before_or_after_the_activation_is_a_setting_l4263():
    """E17 (l.4263-4266 vs 4291-4292): the TF listing puts BN after ReLU, the PyTorch listing before it,
    so the "same" model differs between frameworks. The order is the setting norm_position ("before":
    Linear -> BN -> ReLU, the PyTorch listing and Ioffe & Szegedy; "after": Linear -> ReLU -> BN), and
    the two are different functions of the same weights."""
    torch.manual_seed(0)
    before = MLP(5, [8], 3, norm="batch", norm_position="before").eval()
    after = MLP(5, [8], 3, norm="batch", norm_position="after").eval()
    for kind in (nn.Linear, nn.BatchNorm1d):  # the same weights (module indices differ)
        for a, b in zip((m for m in after.modules() if isinstance(m, kind)),
                        (m for m in before.modules() if isinstance(m, kind)), strict=True):
            a.load_state_dict(b.state_dict())
    kinds = [type(m) for m in before.modules() if isinstance(m, (nn.Linear, nn.BatchNorm1d, nn.ReLU))]
    assert kinds[:3] == [nn.Linear, nn.BatchNorm1d, nn.ReLU]
    kinds = [type(m) for m in after.modules() if isinstance(m, (nn.Linear, nn.BatchNorm1d, nn.ReLU))]
    assert kinds[:3] == [nn.Linear, nn.ReLU, nn.BatchNorm1d]
    for m in (before, after):  # non-trivial running statistics, so BN is not the identity
        bn = next(b for b in m.modules() if isinstance(b, nn.BatchNorm1d))
        bn.running_mean.fill_(0.3)
        bn.running_var.fill_(2.0)
    x = torch.randn(16, 5)
    assert not torch.allclose(before(x), after(x))
