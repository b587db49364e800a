"""Chapter 10 reference equations: VAE terms, IWAE bound, autoencoder penalties, GAN losses,
gradient penalty, spectral norm, flow log-determinants — each against an independent oracle."""

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions import Bernoulli, Normal, kl_divergence

from tensorprism.errors import ConfigError, ShapeError
from tensorprism.functional import adversarial as A
from tensorprism.functional import flows as FL
from tensorprism.functional import generative as G


# ------------------------------------------------------------------------------------ VAE terms
def test_reparameterize_and_closed_form_kl_match_torch_distributions():
    mu, logvar, eps = torch.randn(5, 4), torch.randn(5, 4), torch.randn(5, 4)
    assert torch.allclose(G.reparameterize(mu, logvar, eps), mu + torch.exp(0.5 * logvar) * eps)
    q, p = Normal(mu, torch.exp(0.5 * logvar)), Normal(torch.zeros(4), torch.ones(4))
    assert torch.allclose(G.gaussian_kl(mu, logvar), kl_divergence(q, p).sum(1), atol=1e-5)
    assert torch.allclose(G.gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 3)), torch.zeros(2))
    with pytest.raises(ShapeError):
        G.reparameterize(mu, logvar[:, :3])


def test_log_likelihoods_match_torch_distributions():
    logits, x = torch.randn(3, 1, 4, 4), torch.bernoulli(torch.full((3, 1, 4, 4), 0.4))
    assert torch.allclose(G.bernoulli_log_likelihood(logits, x), Bernoulli(logits=logits).log_prob(x).flatten(1).sum(1))
    mean, xs = torch.randn(3, 6), torch.randn(3, 6)
    assert torch.allclose(G.gaussian_log_likelihood(mean, xs, 0.3), Normal(mean, math.exp(0.15)).log_prob(xs).sum(1))
    z, m, lv = torch.randn(2, 5), torch.randn(2, 5), torch.randn(2, 5)
    assert torch.allclose(G.log_normal_diag(z, m, lv), Normal(m, torch.exp(0.5 * lv)).log_prob(z).sum(-1), atol=1e-5)


def test_bernoulli_likelihood_refuses_data_outside_the_unit_interval():
    with pytest.raises(ShapeError, match=r"\[0, 1\].*normalize=False"):
        G.bernoulli_log_likelihood(torch.zeros(2, 4), torch.tensor([[0.0, 1.0, -0.42, 2.8]] * 2))
    with pytest.raises(ShapeError):
        G.bernoulli_log_likelihood(torch.zeros(2, 4), torch.full((2, 4), float("nan")))


def _linear_gaussian(x, q_mu, q_logvar, k, gen):
    """p(z) = N(0, 1), p(x|z) = N(z, 1): log p(x) = log N(x; 0, 2) exactly."""
    eps = torch.randn(k, *q_mu.shape, generator=gen)
    z = q_mu + torch.exp(0.5 * q_logvar) * eps
    lpx = Normal(z, 1.0).log_prob(x).sum(-1)
    return lpx, G.log_normal_diag(z), G.log_normal_diag(z, q_mu.expand_as(z), q_logvar.expand_as(z))


def test_erratum_elbo_sign_negative_elbo_upper_bounds_the_exact_nll():
    """Catalogue §5.10 (book L23204–23212): the book adds +E[log p(x|z)] and +KL and minimises the
    sum. The loss to minimise is -E[log p(x|z)] + KL (the negative ELBO), an upper bound of
    -log p(x) that is tight at the exact posterior. Checked on a linear-Gaussian model."""
    x = torch.tensor([[1.3]])
    exact = -Normal(0.0, math.sqrt(2.0)).log_prob(x).sum()
    gen = torch.Generator().manual_seed(0)
    for q_mu, q_lv in [(0.65, math.log(0.5)), (0.0, 0.0), (2.0, -1.0)]:  # the first is the exact posterior
        mu, lv = torch.tensor([[q_mu]]), torch.tensor([[q_lv]])
        lpx, _, _ = _linear_gaussian(x, mu, lv, 50_000, gen)
        loss = G.negative_elbo(lpx.mean(0), G.gaussian_kl(mu, lv)).squeeze()
        assert loss >= exact - 0.02
        if q_mu == 0.65:  # the book's sum: below -log p(x) at the exact posterior, so no bound
            book_loss = (lpx.mean(0) + G.gaussian_kl(mu, lv)).squeeze()
            assert book_loss < exact - 1.0
    lpx, _, _ = _linear_gaussian(x, torch.tensor([[0.65]]), torch.tensor([[math.log(0.5)]]), 50_000, gen)
    assert abs(float(G.negative_elbo(lpx.mean(0), G.gaussian_kl(torch.tensor([[0.65]]),
                                                                 torch.tensor([[math.log(0.5)]])))) - float(exact)) < 0.02


def test_iwae_bound_tightens_with_k_towards_the_exact_log_likelihood():
    x = torch.tensor([[1.3], [-0.4]])
    exact = Normal(0.0, math.sqrt(2.0)).log_prob(x).sum(1)
    q_mu, q_lv = torch.zeros(2, 1), torch.zeros(2, 1)  # a poor proposal: the prior
    gen = torch.Generator().manual_seed(0)
    bounds = []
    for k in (1, 10, 1000):
        reps = torch.stack([G.iwae_bound(*_linear_gaussian(x, q_mu, q_lv, k, gen)) for _ in range(200 if k < 1000 else 20)])
        bounds.append(reps.mean(0))
    assert (bounds[0] < bounds[1]).all() and (bounds[1] < bounds[2] + 1e-3).all()
    assert torch.allclose(bounds[2], exact, atol=0.02) and (bounds[0] < exact).all()
    with pytest.raises(ShapeError):
        G.iwae_bound(torch.zeros(3), torch.zeros(3), torch.zeros(3))


# ------------------------------------------------------------------------------------ AE penalties
def test_kl_sparsity_matches_the_formula_and_l1_is_the_mean_code_norm():
    h = torch.rand(8, 5)
    rho, rh = 0.05, h.mean(0)
    expected = (rho * torch.log(rho / rh) + (1 - rho) * torch.log((1 - rho) / (1 - rh))).sum()
    assert torch.allclose(G.kl_sparsity(h, rho), expected)
    assert torch.allclose(G.kl_sparsity(torch.full((4, 3), rho), rho), torch.zeros(()), atol=1e-6)
    assert torch.allclose(G.l1_sparsity(h - 0.5), (h - 0.5).abs().sum(1).mean())


def test_erratum_sparse_autoencoder_kl_needs_sigmoid_units():
    """Catalogue §5.11 / C10-02 (book L23117–23166): the listing applies the KL sparsity penalty to
    ReLU activations, whose batch mean can exceed 1 (log of a negative number: NaN) or be 0 (inf).
    The KL is defined for rates in (0, 1): sigmoid units; ReLU codes are refused with a hint."""
    relu = F.relu(torch.randn(16, 4) * 3 + 1)
    rh = relu.mean(0)
    book = (0.05 * torch.log(0.05 / rh) + 0.95 * torch.log(0.95 / (1 - rh))).sum()
    assert not torch.isfinite(book)  # what the book's formula gives on these activations
    with pytest.raises(ShapeError, match="sigmoid"):
        G.kl_sparsity(relu, 0.05)
    assert torch.isfinite(G.kl_sparsity(torch.sigmoid(torch.randn(16, 4)), 0.05))


def test_contractive_penalty_closed_form_equals_the_exact_autograd_jacobian():
    torch.manual_seed(0)
    layer = nn.Linear(6, 4)
    x = torch.randn(5, 6, requires_grad=True)
    h = torch.sigmoid(layer(x))
    exact = G.jacobian_frobenius(h, x)
    jac = torch.stack([torch.autograd.functional.jacobian(lambda v: torch.sigmoid(layer(v)), xn)
                       for xn in x.detach()])  # (N, 4, 6)
    assert torch.allclose(exact, jac.pow(2).sum((1, 2)), atol=1e-6)
    assert torch.allclose(G.contractive_penalty_sigmoid(h, layer.weight), exact, atol=1e-6)
    exact.sum().backward()  # create_graph: the penalty trains the encoder
    assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0
    with pytest.raises(ShapeError):
        G.jacobian_frobenius(h, x.detach())


# ------------------------------------------------------------------------------------ GAN losses
def test_gan_losses_on_logits_equal_the_bce_formulations_of_the_book():
    real, fake = torch.randn(7), torch.randn(7)
    bce = nn.BCELoss()
    d_book = bce(torch.sigmoid(real), torch.ones(7)) + bce(torch.sigmoid(fake), torch.zeros(7))
    assert torch.allclose(A.discriminator_loss(real, fake, "non-saturating"), d_book, atol=1e-6)
    assert torch.allclose(A.discriminator_loss(real, fake, "saturating"), d_book, atol=1e-6)
    assert torch.allclose(A.generator_loss(fake, "non-saturating"), bce(torch.sigmoid(fake), torch.ones(7)), atol=1e-6)
    assert torch.allclose(A.generator_loss(fake, "saturating"), torch.log(1 - torch.sigmoid(fake)).mean(), atol=1e-6)
    assert torch.allclose(A.discriminator_loss(real, fake, "hinge"), F.relu(1 - real).mean() + F.relu(1 + fake).mean())
    assert torch.allclose(A.generator_loss(fake, "hinge"), -fake.mean())
    assert torch.isfinite(A.generator_loss(torch.tensor([80.0]), "saturating"))  # no log(0)
    with pytest.raises(ConfigError, match="unknown GAN loss"):
        A.discriminator_loss(real, fake, "minimax")


def test_erratum_wgan_critic_minimises_its_loss():
    """Catalogue §5.13 (book L24097): the book says the critic *maximises* L_C = -E[C(x)] + E[C(G(z))].
    Maximising it pushes C(real) down and C(fake) up. The critic must minimise L_C, i.e. widen
    E[C(x)] - E[C(G(z))] (the Kantorovich-Rubinstein estimate); a descent step on our loss does."""
    torch.manual_seed(0)
    critic = nn.Linear(3, 1)
    real, fake = torch.randn(64, 3) + 2, torch.randn(64, 3) - 2

    def gap():
        with torch.no_grad():
            return float(critic(real).mean() - critic(fake).mean())

    before = gap()
    loss = A.discriminator_loss(critic(real), critic(fake), "wasserstein")
    assert torch.allclose(loss, -critic(real).mean() + critic(fake).mean())
    loss.backward()
    with torch.no_grad():
        for p in critic.parameters():
            p -= 0.1 * p.grad
    assert gap() > before


def test_gradient_penalty_of_a_linear_critic_is_the_squared_norm_gap():
    w = torch.tensor([[3.0, 4.0]])
    critic = nn.Linear(2, 1, bias=False)
    critic.weight.data.copy_(w)
    gp = A.gradient_penalty(critic, torch.randn(5, 2), torch.randn(5, 2))
    assert torch.allclose(gp, torch.tensor((5.0 - 1.0) ** 2))
    gp.backward()
    assert torch.allclose(critic.weight.grad, 2 * (5.0 - 1.0) * w / 5.0)  # d/dw (||w|| - 1)^2


@pytest.mark.parametrize("layer, dim", [(lambda: nn.Linear(7, 5), 0), (lambda: nn.Conv2d(3, 4, 3), 0),
                                         (lambda: nn.ConvTranspose2d(3, 4, 3), 1)], ids=["linear", "conv", "convT"])
def test_spectral_norm_power_iteration_equals_torch_parametrization(layer, dim):
    from torch.nn.utils.parametrizations import spectral_norm

    torch.manual_seed(0)
    m = spectral_norm(layer(), dim=dim)
    w = m.parametrizations.weight.original.detach().clone()
    u, v = m.parametrizations.weight[0]._u.clone(), m.parametrizations.weight[0]._v.clone()
    m.train()
    normalised = m.weight  # one power iteration, then W / sigma
    sigma, u2, v2 = A.spectral_norm_power_iteration(w, u, v, n_iter=1, dim=dim)
    assert torch.allclose(normalised, w / sigma, atol=1e-6)
    assert torch.allclose(u2, m.parametrizations.weight[0]._u, atol=1e-6)
    sigma_many, _, _ = A.spectral_norm_power_iteration(w, u, v, n_iter=200, dim=dim)
    assert torch.allclose(sigma_many, torch.linalg.matrix_norm(A.weight_matrix(w, dim), ord=2), rtol=1e-4)


# ------------------------------------------------------------------------------------ flows
def test_affine_coupling_log_det_equals_slogdet_of_the_full_jacobian_and_inverts():
    torch.manual_seed(0)
    x = torch.randn(3, 2, 4, 4)
    mask = FL.checkerboard_mask(4, 4, 1)
    net = nn.Conv2d(2, 4, 3, padding=1)

    def f(v):
        s, t = net(v * mask).chunk(2, 1)
        return FL.affine_coupling(v, mask, torch.tanh(s), t)

    y, ld = f(x)
    assert torch.allclose(ld, G.jacobian_logdet(lambda v: f(v)[0], x), atol=1e-4)
    s, t = net(y * mask).chunk(2, 1)
    back, ld_inv = FL.affine_coupling(y, mask, torch.tanh(s), t, reverse=True)
    assert torch.allclose(back, x, atol=1e-5) and torch.allclose(ld_inv, -ld)


def test_erratum_realnvp_log_det_is_plus_sum_s():
    """Catalogue §5.15 (book L24161): with y2 = x2 * exp(s(x1)) + t(x1), log p(x) = log p_z(y) +
    sum_i s_i(x1); the book writes -sum s_i (the log-determinant of the inverse map)."""
    x = torch.randn(2, 1, 2, 2)
    mask = FL.checkerboard_mask(2, 2, 0)
    s, t = torch.full_like(x, 0.7), torch.zeros_like(x)
    _, ld = FL.affine_coupling(x, mask, s, t)
    assert torch.allclose(ld, torch.full((2,), 2 * 0.7))  # two unmasked entries, +s each
    jac = G.jacobian_logdet(lambda v: FL.affine_coupling(v, mask, s[:1].expand_as(v), t[:1].expand_as(v))[0], x)
    assert torch.allclose(jac, ld, atol=1e-5) and (ld > 0).all()


def test_squeeze_actnorm_and_invertible_conv_log_dets():
    x = torch.randn(2, 2, 4, 4)
    assert torch.equal(FL.unsqueeze2x2(FL.squeeze2x2(x)), x)
    assert torch.allclose(G.jacobian_logdet(FL.squeeze2x2, x), torch.zeros(2), atol=1e-5)  # a permutation
    ls, b = torch.randn(1, 2, 1, 1), torch.randn(1, 2, 1, 1)
    y, ld = FL.actnorm(x, ls, b)
    assert torch.allclose(ld, G.jacobian_logdet(lambda v: FL.actnorm(v, ls, b)[0], x), atol=1e-4)
    assert torch.allclose(FL.actnorm(y, ls, b, reverse=True)[0], x, atol=1e-5)
    w = torch.linalg.qr(torch.randn(2, 2))[0] @ torch.diag(torch.tensor([1.5, 0.5]))
    y, ld = FL.invertible_conv1x1(x, w)
    assert torch.allclose(ld, G.jacobian_logdet(lambda v: FL.invertible_conv1x1(v, w)[0], x), atol=1e-4)
    assert torch.allclose(FL.invertible_conv1x1(y, w, reverse=True)[0], x, atol=1e-5)
    with pytest.raises(ShapeError, match="singular"):
        FL.invertible_conv1x1(x, torch.zeros(2, 2))
    with pytest.raises(ShapeError, match="even"):
        FL.squeeze2x2(torch.randn(1, 1, 3, 4))


def test_bits_per_dim_converts_nats_and_the_dequantisation_offset():
    assert FL.bits_per_dim(784 * math.log(2), 784) == pytest.approx(1.0)
    assert FL.bits_per_dim(-784 * math.log(256), 784, bins=256) == pytest.approx(0.0)


# ------------------------------------------------------------------------------------ KDE
def test_kde_log_density_and_cross_validated_bandwidth_match_scikit_learn():
    from sklearn.model_selection import GridSearchCV
    from sklearn.neighbors import KernelDensity

    from tensorprism.functional.kde import kde_bandwidth_cv, kde_log_density

    g = torch.Generator().manual_seed(0)
    data = torch.cat([torch.randn(60, 2, generator=g) * 0.5, torch.randn(40, 2, generator=g) + 3]).double()
    pts = torch.randn(7, 2, generator=g).double() * 2
    ref = KernelDensity(kernel="gaussian", bandwidth=0.4).fit(data.numpy()).score_samples(pts.numpy())
    assert torch.allclose(kde_log_density(pts, data, 0.4), torch.from_numpy(ref), atol=1e-8)
    grid = [0.1, 0.2, 0.3, 0.5, 0.8, 1.2]
    search = GridSearchCV(KernelDensity(kernel="gaussian"), {"bandwidth": grid}, cv=5).fit(data.numpy())
    best, scores = kde_bandwidth_cv(data, grid, folds=5)
    assert best == search.best_params_["bandwidth"]
    assert scores == pytest.approx(list(search.cv_results_["mean_test_score"]), rel=1e-9)
    assert torch.isfinite(kde_log_density(torch.full((1, 2), 1e3, dtype=torch.float64), data, 0.1)).all()
    with pytest.raises(ShapeError):
        kde_log_density(pts, data[:, :1], 0.4)


def test_r1_penalty_of_a_linear_critic_is_its_squared_weight_norm_and_trains_it():
    """R1 = E||grad_x D(x)||^2 on real images: for D(x) = w.x it is ||w||^2 = 25 whatever x, and its
    gradient with respect to w is 2w (the graph is kept so it trains the discriminator)."""
    critic = nn.Linear(2, 1, bias=False)
    critic.weight.data.copy_(torch.tensor([[3.0, 4.0]]))
    r1 = A.r1_penalty(critic, torch.randn(6, 2))
    assert torch.allclose(r1, torch.tensor(25.0))
    r1.backward()
    assert torch.allclose(critic.weight.grad, 2 * critic.weight.data)
    x = torch.randn(4, 1, 3, 3)  # a non-linear critic: against autograd per example
    conv = nn.Sequential(nn.Conv2d(1, 2, 2), nn.Tanh(), nn.Flatten(), nn.Linear(8, 1))
    per = [torch.autograd.grad(conv(xi[None]).sum(), xi)[0].pow(2).sum() for xi in x.clone().requires_grad_(True)]
    assert torch.allclose(A.r1_penalty(conv, x), torch.stack(per).mean(), atol=1e-6)


def test_path_length_penalty_matches_the_closed_form_of_a_linear_synthesis():
    """g(w) = sum_l W_l w_l (an image): J^T y for layer l is W_l^T y, so the length is
    sqrt(mean_l ||W_l^T y||^2); the running mean moves by decay toward the batch mean; the penalty
    is the mean squared deviation from the new mean and trains the synthesis weights."""
    torch.manual_seed(0)
    n, layers, d, hw = 5, 3, 4, 6
    W = torch.randn(layers, d, hw * hw, requires_grad=True)

    def synthesis(ws):
        return torch.einsum("nld,ldp->np", ws, W).view(-1, 1, hw, hw)

    ws = torch.randn(n, layers, d)
    y = torch.randn(n, 1, hw, hw) / hw
    pen, lengths, new_mean = A.path_length_penalty(synthesis, ws, mean_length=2.0, decay=0.1, noise=y)
    jt_y = torch.einsum("ldp,np->nld", W.detach(), y.view(n, -1))
    expect = jt_y.pow(2).sum(-1).mean(1).sqrt()
    assert torch.allclose(lengths, expect, atol=1e-5)
    assert new_mean == pytest.approx(2.0 + 0.1 * (float(expect.mean()) - 2.0), rel=1e-6)
    assert torch.allclose(pen, (expect - new_mean).pow(2).mean(), atol=1e-5)
    pen.backward()
    assert W.grad is not None and float(W.grad.abs().sum()) > 0
    # (N, D) styles: the plain norm; bad shapes and decays are refused
    _, l2, _ = A.path_length_penalty(lambda w: synthesis(w.unsqueeze(1).expand(-1, layers, -1)), ws[:, 0], 0.0,
                                     noise=y)
    manual = torch.einsum("ldp,np->nd", W.detach(), y.view(n, -1)).norm(dim=1)
    assert torch.allclose(l2, manual, atol=1e-5)
    with pytest.raises(ShapeError):
        A.path_length_penalty(synthesis, torch.randn(n), 0.0)
    with pytest.raises(ConfigError, match="decay"):
        A.path_length_penalty(synthesis, ws, 0.0, decay=0.0)
