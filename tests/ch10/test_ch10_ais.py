"""Annealed importance sampling of an RBM's log-partition function against the exact enumeration
over the hidden states (an RBM with real 8×8-digit biases and 12 hidden units)."""

import pytest
import torch
from sklearn.datasets import load_digits

from tensorprism.errors import ShapeError
from tensorprism.functional.ais import (
    ais_log_partition,
    base_log_partition,
    rbm_unnormalised_log_marginal,
)
from tensorprism.models import create_model


def _rbm():
    torch.manual_seed(0)
    m = create_model("rbm", data_shape=(64,), hidden=12).double()
    x = torch.tensor(load_digits().data, dtype=torch.float64) / 16.0
    p = x.mean(0).clamp(0.02, 0.98)
    with torch.no_grad():  # weights large enough for a multi-modal p(v); biases from the real pixel means
        m.weight.normal_(0, 0.4)
        m.v_bias.copy_(torch.log(p / (1 - p)) - 0.5 * m.weight.sum(1))
        m.h_bias.normal_(0, 1)
    return m, torch.log(p / (1 - p))


def test_annealing_path_starts_at_the_base_model_and_ends_at_the_rbm():
    m, base = _rbm()
    v = torch.bernoulli(torch.full((5, 64), 0.5, dtype=torch.float64))
    end = rbm_unnormalised_log_marginal(v, m.weight, m.v_bias, m.h_bias, 1.0, base)
    assert torch.allclose(end, -m.free_energy(v))
    start = rbm_unnormalised_log_marginal(v, m.weight, m.v_bias, m.h_bias, 0.0, base)
    assert torch.allclose(start, v @ base + 12 * torch.log(torch.tensor(2.0, dtype=torch.float64)))
    # Z_0 by enumeration over a 6-pixel base model
    vs = torch.cartesian_prod(*[torch.tensor([0.0, 1.0], dtype=torch.float64)] * 6)
    b6 = base[:6]
    assert torch.allclose(base_log_partition(b6, 3), torch.logsumexp(vs @ b6, 0) + 3 * torch.log(torch.tensor(2.0)))


def test_ais_estimate_of_log_z_agrees_with_the_exact_enumeration():
    m, base = _rbm()
    exact = float(m.log_partition().detach())
    g = torch.Generator().manual_seed(1)
    est, log_w = ais_log_partition(m.weight, m.v_bias, m.h_bias, num_chains=100, num_betas=1000, base_bias=base,
                                   generator=g)
    assert log_w.shape == (100,)
    assert abs(float(est) - exact) < 0.1, (float(est), exact)
    crude = float(m.log_partition_ais(num_chains=100, num_betas=2, generator=g))  # plain importance sampling
    assert abs(crude - exact) > abs(float(est) - exact)  # annealing is what makes the estimate good
    with pytest.raises(ShapeError, match="v_bias"):
        ais_log_partition(m.weight, m.v_bias[:3], m.h_bias)
