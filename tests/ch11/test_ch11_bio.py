"""Biologically inspired learning (book §11, I11.14–I11.15): LIF neurons with surrogate gradients,
Hebbian/Oja/Sanger learning against PCA, and the Hopfield network."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tensorprism.errors import ConfigError, ShapeError
from tensorprism.functional.hebbian import hebb_update, hopfield_weights, oja_update, sanger_update
from tensorprism.functional.spiking import lif_euler_reference, lif_sequence, lif_step, spike


# ------------------------------------------------------------------------------------------ LIF
def test_lif_first_spike_time_matches_the_ode():
    """The discrete step V = βV + (1-β)I with β = exp(-dt/τ) is the exact solution of the book's
    τ dV/dt = -V + I for a constant current: the first spike comes at τ ln(I / (I - ϑ)), and forward
    Euler at a fine step (the reference) agrees."""
    tau, current, dt = 10.0, 1.5, 0.01
    beta = math.exp(-dt / tau)
    steps = 2500
    s, _ = lif_sequence(torch.full((steps, 1, 1), current), beta, threshold=1.0, reset="zero")
    first = (int(s[:, 0, 0].nonzero()[0]) + 1) * dt
    analytic = tau * math.log(current / (current - 1.0))
    euler = lif_euler_reference(current, tau, t_end=steps * dt, dt=dt)
    assert first == pytest.approx(analytic, abs=2 * dt)
    assert euler[0] == pytest.approx(analytic, abs=2 * dt)
    # the same number of spikes over the window (regular firing, period = first-spike time)
    assert int(s.sum()) == len(euler)
    # below threshold the neuron never fires
    quiet, _ = lif_sequence(torch.full((steps, 1, 1), 0.9), beta)
    assert quiet.sum() == 0


def test_lif_resets():
    v = torch.tensor([0.5, 0.9])
    s, v_sub = lif_step(v, torch.tensor([1.0, 0.5]), 0.5, threshold=1.0, reset="subtract", scale_input=False)
    assert s.tolist() == [1.0, 0.0]
    assert v_sub.tolist() == pytest.approx([0.25, 0.95])  # 1.25 - 1 ; 0.45 + 0.5
    _, v_zero = lif_step(v, torch.tensor([1.0, 0.5]), 0.5, reset="zero", scale_input=False)
    assert v_zero.tolist() == pytest.approx([0.0, 0.95])
    with pytest.raises(ConfigError, match="reset"):
        lif_step(v, v, 0.5, reset="hard")


def test_surrogate_gradient_is_the_fast_sigmoid_derivative():
    x = torch.tensor([-0.5, -0.01, 0.0, 0.2, 1.0], requires_grad=True)
    out = spike(x, slope=10.0)
    assert out.tolist() == [0.0, 0.0, 0.0, 1.0, 1.0]  # Θ(x) with Θ(0) = 0: fire only above threshold
    out.sum().backward()
    expected = 1 / (1 + 10 * x.detach().abs()) ** 2
    assert torch.allclose(x.grad, expected)
    # without the surrogate the step has no gradient at all: the reason for it
    y = torch.tensor([0.3], requires_grad=True)
    assert (y > 0).float().grad_fn is None


def test_snn_learns_through_time_and_fires_sparsely():
    from tensorprism.models import create_model

    torch.manual_seed(0)
    model = create_model("snn-mlp", img_size=8, hidden=(32,), steps=6)
    x = torch.randn(32, 1, 8, 8)
    y = (x.mean((1, 2, 3)) > 0).long()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(30):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        first = first if first is not None else float(loss.detach())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss) < 0.5 * first
    assert 0 < model.firing_rate < 1
    assert model.lifs[0].beta_logit.grad is not None  # the membrane decay is learned too
    assert model.forward_head(model.forward_features(x), pre_logits=True).shape == (32, 32)


# -------------------------------------------------------------------------------- Hebbian rules
def _digits():
    from sklearn.datasets import load_digits

    return load_digits().data


def test_oja_and_sanger_recover_the_principal_components_of_digits():
    from sklearn.decomposition import PCA as SkPCA

    from tensorprism.unsupervised import PCA
    from tensorprism.unsupervised.hebbian import HebbianPCA

    X = _digits()
    ref = PCA(3).fit(X).components_
    assert np.allclose(np.abs(ref), np.abs(SkPCA(3).fit(X).components_), atol=1e-6)
    oja = HebbianPCA(1, rule="oja").fit(X)
    w = oja.components_[0]
    assert abs(w @ ref[0]) / np.linalg.norm(w) >= 0.99
    assert np.linalg.norm(w) == pytest.approx(1.0, abs=0.02)  # Oja's decay keeps |w| = 1
    gha = HebbianPCA(3, rule="sanger").fit(X)
    W = gha.components_ / np.linalg.norm(gha.components_, axis=1, keepdims=True)
    for i in range(3):
        assert abs(W[i] @ ref[i]) >= 0.99
    assert gha.transform(X).shape == (len(X), 3)


def test_book_hebb_rule_grows_without_bound():
    """Book L24826–24830 gives Δw_ij = η x_i y_j alone: for a linear neuron the weight norm grows
    geometrically (each step multiplies it by about 1 + ηλ₁), so the rule needs Oja's decay term (or
    an explicit normalisation) to converge; the book does not say so."""
    from tensorprism.unsupervised.hebbian import HebbianPCA

    hebb = HebbianPCA(1, rule="hebb", epochs=5).fit(_digits())
    norms = hebb.norm_history_
    assert all(b > 1.5 * a for a, b in zip(norms, norms[1:], strict=False))
    assert norms[-1] > 100


def test_rule_reference_equations():
    g = torch.Generator().manual_seed(0)
    x, w = torch.randn(5, 4, generator=g), torch.randn(4, generator=g)
    loop_hebb = w + 0.1 * sum((xb @ w) * xb for xb in x) / 5
    loop_oja = w + 0.1 * sum((xb @ w) * (xb - (xb @ w) * w) for xb in x) / 5
    assert torch.allclose(hebb_update(w, x, 0.1), loop_hebb)
    assert torch.allclose(oja_update(w, x, 0.1), loop_oja)
    assert torch.allclose(sanger_update(w[None], x, 0.1)[0], loop_oja)  # one neuron: Sanger = Oja


def test_hebbian_pca_refuses_bad_settings():
    from tensorprism.unsupervised.hebbian import HebbianPCA

    with pytest.raises(ConfigError, match="sanger"):
        HebbianPCA(2, rule="oja").fit(_digits())
    with pytest.raises(ConfigError, match="rule"):
        HebbianPCA(1, rule="stdp").fit(_digits())


# -------------------------------------------------------------------------------------- Hopfield
def test_hopfield_stores_recalls_and_descends_energy():
    from tensorprism.unsupervised.hopfield import HopfieldNetwork, flip, overlap

    g = torch.Generator().manual_seed(0)
    xi = torch.randint(0, 2, (10, 200), generator=g).float() * 2 - 1
    net = HopfieldNetwork(200).store(xi)
    assert torch.allclose(net.weights, hopfield_weights(xi))  # matrix product = pattern-by-pattern rule
    assert torch.equal(net.weights, net.weights.T) and net.weights.diag().abs().sum() == 0
    probes = flip(xi, 0.2, g)
    final, sweeps = net.recall(probes, generator=g)
    assert bool((overlap(final, xi) == 1).all())  # α = 0.05: every pattern restored from 20 % noise
    assert bool((net.energy(final) <= net.energy(probes)).all())
    assert sweeps < 50


def test_hopfield_capacity_collapses_beyond_the_ags_load():
    from tensorprism.unsupervised.hopfield import capacity_curve

    low, high = capacity_curve(200, [0.05, 0.25], trials=1, noise=0.05)
    assert low.recalled >= 0.95 and low.mean_overlap > 0.98
    assert high.recalled < 0.3 and high.mean_overlap < 0.8


def test_hopfield_rejects_non_binary_patterns():
    from tensorprism.unsupervised.hopfield import HopfieldNetwork

    with pytest.raises(ShapeError, match="2 \\* x - 1"):
        HopfieldNetwork(4).store(torch.tensor([[0.0, 1.0, 1.0, 0.0]]))
    with pytest.raises(ShapeError, match=r"\(P, 4\)"):
        HopfieldNetwork(4).store(torch.ones(2, 5))
