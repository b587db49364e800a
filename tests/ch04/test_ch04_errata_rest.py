"""Chapter 4 errata pinned (catalogue ../shared/book/ch04.md §5, entries 11, 13, 20, 24 and 27)."""

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from tensorprism.models.cnn.mobile import EFFICIENTNET_PARAMS, compound_scaling
from tensorprism.vision.ensembles import StackedEnsemble
from tensorprism.vision.style_transfer import gram_matrix, style_loss
from tensorprism.vision.transfer import l2sp_penalty


def test_erratum_11_efficientnet_coefficients_are_bases_raised_to_phi_not_b1_multipliers():
    """Catalogue ch04 §5 entry 11 (book line 6851, formula 6849): the book presents α = 1.2, β = 1.1,
    γ = 1.15 as the "B1 multipliers"; in the formula they are the base coefficients raised to φ
    (depth α^φ, width β^φ, resolution γ^φ), chosen by Tan & Le under α·β²·γ² ≈ 2 so FLOPs grow
    ≈ 2^φ. The released B1 is not (1.2, 1.1, 1.15) either (depth 1.1, width 1.0, 240 px)."""
    assert compound_scaling(1) == pytest.approx((1.2, 1.1, 1.15))
    d, w, r = compound_scaling(2)
    assert (d, w, r) == pytest.approx((1.2**2, 1.1**2, 1.15**2))
    assert (d, w, r) != pytest.approx((1.2, 1.1, 1.15))  # the book's reading: fixed multipliers
    alpha, beta, gamma = compound_scaling(1)
    assert 1.9 < alpha * beta**2 * gamma**2 < 2.0  # the resource constraint the book omits
    assert d * w**2 * r**2 == pytest.approx((alpha * beta**2 * gamma**2) ** 2)  # FLOPs ≈ 2^φ
    width, depth, res, _ = EFFICIENTNET_PARAMS["b1"]
    assert (depth, width, res) == (1.1, 1.0, 240)
    assert (depth, width, res / 224) != pytest.approx((1.2, 1.1, 1.15), abs=0.01)


def test_erratum_13_l2sp_pulls_towards_the_pretrained_weights_not_towards_zero():
    """Catalogue ch04 §5 entry 13 (book line 7602): the transfer objective's penalty λ‖W‖² shrinks
    the pre-trained weights towards 0 (and is a constant when they are frozen). The library's
    ``l2sp_penalty`` is α Σ ‖W − W⁰‖² towards the pre-trained values W⁰ (L2-SP, Li et al. 2018;
    not from the book): zero at W⁰, gradient 2α(W − W⁰), and frozen parameters are left out."""
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    reference = {k: v.detach().clone() for k, v in model.state_dict().items()}
    alpha = 0.1
    book = alpha * sum(p.pow(2).sum() for p in model.parameters())
    assert l2sp_penalty(model, reference, alpha).item() == 0.0
    assert book.item() > 0.0  # the book's penalty already pulls the untouched pre-trained weights
    with torch.no_grad():
        model.weight.add_(0.5)
    penalty = l2sp_penalty(model, reference, alpha)
    assert penalty.item() == pytest.approx(alpha * 0.25 * 6 * 1.0, rel=1e-6)
    penalty.backward()
    assert torch.allclose(model.weight.grad, 2 * alpha * (model.weight - reference["weight"]))
    assert torch.allclose(model.weight.grad, torch.full((2, 3), 0.1))  # not 2α·W (towards zero)
    assert not torch.allclose(model.weight.grad, 2 * alpha * model.weight.detach())
    model.bias.requires_grad_(False)
    with torch.no_grad():
        model.bias.add_(1.0)
    assert l2sp_penalty(model, reference, alpha).item() == pytest.approx(penalty.item(), rel=1e-6)


class _Memoriser(nn.Module):
    """Returns the stored label, confidently, for the ids it was trained on; noise for any other id
    (column 0 of ``x`` is the example's id)."""

    def __init__(self, labels: torch.Tensor, n_ids: int):
        super().__init__()
        self.register_buffer("labels", labels)
        self.register_buffer("noise", 4 * torch.randn(n_ids, 2, generator=torch.Generator().manual_seed(1)))

    def forward(self, x):
        ids = x[:, 0].long()
        known = (ids < len(self.labels))[:, None]
        seen = 20 * (F.one_hot(self.labels[ids.clamp(max=len(self.labels) - 1)], 2).float() - 0.5)
        return torch.where(known, seen, self.noise[ids])


class _Honest(nn.Module):
    def forward(self, x):
        return torch.stack([-3 * x[:, 1], 3 * x[:, 1]], 1)


def test_erratum_24_stacking_on_in_sample_predictions_leaks_held_out_fit_does_not():
    """Catalogue ch04 §5 entry 24 (book line 8015): the stacking set D' = {(f_1(x_i), …, f_M(x_i), y_i)}
    uses the members' predictions on their own training data. A member that memorised its training
    set looks perfect there, so a meta-model fitted in-sample trusts it and fails on new data. The
    library's ``StackedEnsemble`` is fitted on held-out predictions (blending; sklearn's
    ``StackingClassifier`` uses cross-validated ones): fitted that way it ignores the memoriser."""
    g = torch.Generator().manual_seed(0)
    n = 600
    x1 = torch.randn(n, generator=g)
    y = (x1 + 0.7 * torch.randn(n, generator=g) > 0).long()
    x = torch.stack([torch.arange(n, dtype=torch.float32), x1], 1)
    train, held, test = slice(0, 200), slice(200, 400), slice(400, 600)
    members = [_Memoriser(y[train], n), _Honest()]
    in_sample = StackedEnsemble(members).fit(x[train], y[train])  # the book's D'
    held_out = StackedEnsemble(members).fit(x[held], y[held])
    acc_in = (in_sample.predict(x[test]) == y[test]).float().mean().item()
    acc_held = (held_out.predict(x[test]) == y[test]).float().mean().item()
    honest = ((x1[test] > 0).long() == y[test]).float().mean().item()
    assert acc_held >= honest - 0.03
    assert acc_held > acc_in + 0.1


def test_erratum_27_style_loss_is_the_gatys_normalisation_not_the_listings_mean():
    """Catalogue ch04 §5 entry 27 (book lines 8848–8852 vs the listings): the formula is
    Σ (G_g − G_s)² / (4 N² M²) per layer, with G = F Fᵀ; the PyTorch listing takes the mean squared
    error of Grams divided by a·b·c·d, which is (4 / N²) times the formula. The library's
    ``style_loss`` is the formula; the listing's variant stays available through ``gram_matrix``."""
    g = torch.Generator().manual_seed(0)
    gen, sty = torch.randn(1, 3, 4, 5, generator=g), torch.randn(1, 3, 4, 5, generator=g)
    n, m = 3, 20
    gg, gs = gen.reshape(n, m) @ gen.reshape(n, m).T, sty.reshape(n, m) @ sty.reshape(n, m).T
    formula = (gg - gs).pow(2).sum() / (4 * n**2 * m**2)
    ours = style_loss(gen, gram_matrix(sty))
    assert torch.allclose(ours, formula)
    listing = F.mse_loss(gram_matrix(gen, "chw"), gram_matrix(sty, "chw"))
    assert torch.allclose(listing, formula * 4 / n**2)
    assert not torch.allclose(listing, ours, rtol=0.1)
    assert math.isclose(F.mse_loss(gram_matrix(gen, "hw"), gram_matrix(sty, "hw")).item(),
                        (formula * 4).item(), rel_tol=1e-5)


def test_erratum_20_bn_order_of_the_tf_and_pytorch_listings_is_a_setting():
    """Catalogue ch04 §5 entry 20 (book lines 7467–7473 vs 7500–7503): the TF listing (and the §4.3.1
    example) uses conv → ReLU → BN, the PyTorch listing conv → BN → ReLU, so the two "same" models
    differ. ``ConvNormAct`` defaults to conv → BN → ReLU and ``norm_position="after"`` is the TF
    order; with the same weights and non-trivial BN statistics they compute different functions
    (after the ReLU, BN's shift can make outputs negative)."""
    from tensorprism.nn.conv import ConvNormAct

    torch.manual_seed(0)
    before = ConvNormAct(2, 3, 3).eval()
    after = ConvNormAct(2, 3, 3, norm_position="after").eval()
    assert [type(m) for m in before] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU]
    assert [type(m) for m in after] == [nn.Conv2d, nn.ReLU, nn.BatchNorm2d]
    assert before[0].bias is None and after[0].bias is not None
    with torch.no_grad():
        after[0].weight.copy_(before[0].weight)
        after[0].bias.zero_()
        for bn in (before[1], after[2]):
            bn.running_mean.fill_(0.5)
            bn.running_var.fill_(2.0)
    x = torch.randn(2, 2, 5, 5)
    assert (before(x) >= 0).all()
    assert (after(x) < 0).any()
    assert not torch.allclose(before(x), after(x))
    with pytest.raises(Exception, match="norm_position"):
        ConvNormAct(2, 3, norm_position="middle")
