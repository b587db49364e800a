"""Chapter 10 models: the book's parameter counts, the repaired listings, flows and PixelCNN
invariants, and clear errors for bad inputs."""

import pytest
import torch

from tensorprism.errors import ConfigError, ShapeError
from tensorprism.functional.generative import jacobian_logdet
from tensorprism.models import count_parameters, create_model


@pytest.mark.parametrize("name, params", [("ae-mlp", 402_448), ("ae-sparse", 402_448), ("ae-conv", 9_569),
                                          ("vae-mlp", 418_104)])
def test_parameter_counts_of_the_books_listings(name, params):
    """Catalogue §3.4: DAE/sparse AE 784-256-784, ConvAutoencoder (C10-04), VAE 784-256-20 (C10-03)."""
    assert count_parameters(create_model(name)) == params


@pytest.mark.parametrize("name, g, d", [("gan-mlp", 579_728, 533_505), ("gan-mlp-small", 247_440, 233_985),
                                        ("cgan-mlp", 562_192, 538_625)])
def test_gan_parameter_counts_of_the_books_listings(name, g, d):
    m = create_model(name)
    assert (count_parameters(m.generator), count_parameters(m.discriminator)) == (g, d)


def test_erratum_video_autoencoder_keeps_clips_apart():
    """C10-06 (book L23488–23552): ``h_n.unsqueeze(0).repeat(seq_len, 1, 1)`` feeds a (T, B, H)
    tensor to a batch-first LSTM, so the reconstruction of one clip depends on the other clips of
    the batch. Repaired: each clip's reconstruction depends on that clip alone."""
    torch.manual_seed(0)
    m = create_model("ae-video", img_size=16, frames=4, widths=(4, 8), feature_dim=16, hidden_size=8).eval()
    clips = torch.rand(3, 4, 1, 16, 16)
    with torch.no_grad():
        alone = m(clips[:1])
        together = m(clips)
        changed = m(torch.cat([clips[:1], torch.rand(2, 4, 1, 16, 16)]))
    assert torch.allclose(together[:1], alone, atol=1e-6) and torch.allclose(changed[:1], alone, atol=1e-6)
    assert m(clips[:, :2]).shape == (3, 2, 1, 16, 16)  # any number of frames


def test_erratum_lstm_autoencoder_decodes_autoregressively_from_the_code():
    """C10-05 (book L23404–23443): the decoder LSTM(50, 1) cannot take inputs of size 1 with a
    hidden state of size 50, and the listing feeds it the ground truth. Here the decoder starts from
    the code and a zero start token and feeds back its own outputs: the reconstruction depends on
    the input only through the code."""
    torch.manual_seed(0)
    m = create_model("ae-lstm", hidden_size=8).eval()
    x = torch.randn(2, 7, 1)
    out, code = m(x, return_code=True)
    assert out.shape == x.shape and code.shape == (2, 8)
    assert torch.allclose(m.decode(code, 7), out)


def test_generative_models_refuse_wrong_latents_data_and_labels():
    gan = create_model("dcgan")
    with pytest.raises(ShapeError, match=r"latent codes \(N, 64\)"):
        gan(torch.randn(2, 100))
    vae = create_model("vae-mlp")
    with pytest.raises(ShapeError, match="expects data"):
        vae(torch.rand(2, 784))
    with pytest.raises(ShapeError, match=r"latent codes \(N, 20\)"):
        vae.decode(torch.randn(2, 10))
    cvae = create_model("cvae-mlp")
    with pytest.raises(ShapeError, match="conditional"):
        cvae(torch.rand(2, 1, 28, 28))
    with pytest.raises(ShapeError, match=r"\[0, 10\)"):
        cvae(torch.rand(2, 1, 28, 28), torch.tensor([3, 12]))
    with pytest.raises(ShapeError, match="not conditional"):
        vae(torch.rand(2, 1, 28, 28), torch.tensor([1, 2]))
    with pytest.raises(ConfigError):
        create_model("dcgan", img_size=30)


def test_samples_have_the_data_shape_and_range_and_conditional_labels_cycle():
    torch.manual_seed(0)
    for name in ("gan-mlp-small", "vae-mlp", "cvae-mlp", "dcgan"):
        s = create_model(name).sample(4)
        assert s.shape == (4, 1, 28, 28) and s.min() >= 0 and s.max() <= 1
    cgan = create_model("cgan-mlp")
    assert torch.equal(cgan.sample_labels(12), torch.arange(12) % 10)


def test_gan_ema_copy_is_frozen_and_sampled_from():
    m = create_model("dcgan", ema=True)
    assert all(not p.requires_grad for p in m.generator_ema.parameters())
    with torch.no_grad():
        for p in m.generator_ema.parameters():
            p.zero_()
    g = torch.Generator().manual_seed(0)
    assert torch.allclose(m.sample(2, generator=g), torch.full((2, 1, 28, 28), 0.5))  # tanh(0) -> 0.5
    assert not torch.allclose(m.sample(2, use_ema=False), torch.full((2, 1, 28, 28), 0.5))


def test_sngan_discriminator_layers_are_spectrally_normalised():
    m = create_model("sngan", d_width=8).train()
    convs = [mod for mod in m.discriminator.modules() if hasattr(mod, "parametrizations")]
    assert len(convs) >= 3
    with torch.no_grad():
        for _ in range(20):  # power iterations converge over forwards
            m.discriminate(torch.randn(2, 1, 28, 28))
        for mod in convs:
            w = mod.weight.flatten(1)
            assert float(torch.linalg.matrix_norm(w, ord=2)) == pytest.approx(1.0, rel=0.05)


# ------------------------------------------------------------------------------------ flows
@pytest.mark.slow
def test_realnvp_log_det_equals_slogdet_of_its_full_jacobian_and_inverts():
    """The whole flow (every layer is checked alone in test_ch10_functional.py and below)."""
    torch.manual_seed(0)
    m = create_model("glow-realnvp", img_size=4, scales=1, hidden=8)
    x = torch.rand(6, 1, 4, 4) * 0.9 + 0.05
    m.train()
    m(x)  # actnorm's data-dependent initialisation
    for p in m.parameters():  # non-trivial couplings (the last layers start at zero)
        p.data.add_(0.05 * torch.randn_like(p))
    m.eval()
    z, logdet = m(x[:2])
    assert torch.allclose(logdet, jacobian_logdet(lambda v: m(v).z, x[:2]), atol=1e-3)
    assert torch.allclose(m.inverse(z), x[:2], atol=1e-4)
    assert m.log_prob(x[:2]).shape == (2,)


def test_realnvp_multiscale_inverts_and_refuses_bad_inputs():
    torch.manual_seed(0)
    m = create_model("realnvp", img_size=8, hidden=8).eval()
    x = torch.rand(2, 1, 8, 8)
    z, _ = m(x)
    assert z.shape == x.shape and torch.allclose(m.inverse(z), x, atol=1e-4)
    with pytest.raises(ShapeError, match="not finite"):
        m.log_prob(x + 2.0)
    with pytest.raises(ConfigError, match="divisible"):
        create_model("realnvp", img_size=30)


def test_flow_layers_log_dets_equal_slogdet_of_their_jacobians():
    from tensorprism.models.generative.flows import (
        ActNorm,
        AffineCoupling,
        InvConv1x1,
        LogitTransform,
    )

    torch.manual_seed(0)
    x = torch.rand(2, 2, 4, 4) * 0.9 + 0.05
    for layer in (LogitTransform(), ActNorm(2), InvConv1x1(2), AffineCoupling(2, 4, "checkerboard", 0),
                  AffineCoupling(2, 4, "channel", 1)):
        layer.train()
        layer(x)
        for p in layer.parameters():
            p.data.add_(0.1 * torch.randn_like(p))
        layer.eval()
        y, ld = layer(x)
        assert torch.allclose(ld, jacobian_logdet(lambda v, f=layer: f(v)[0], x), atol=1e-4), type(layer).__name__
        assert torch.allclose(layer.inverse(y), x, atol=1e-5)


# ------------------------------------------------------------------------------------ PixelCNN
def test_pixelcnn_is_causal_in_raster_order():
    torch.manual_seed(0)
    m = create_model("pixelcnn", img_size=6, channels=8, blocks=2).eval()
    x = torch.bernoulli(torch.full((1, 1, 6, 6), 0.5)).requires_grad_(True)
    i, j = 3, 2
    m(x)[0, 0, i, j].backward()
    g = x.grad[0, 0].abs()
    order = torch.arange(36).view(6, 6)
    assert g[order >= i * 6 + j].sum() == 0  # nothing from this pixel or later ones
    assert g[order < i * 6 + j].sum() > 0


def test_pixelcnn_has_the_documented_blind_spot_of_stacked_square_masks():
    torch.manual_seed(0)
    m = create_model("pixelcnn", img_size=12).eval()  # 7x7 type A, then 3x3 type B
    x = torch.bernoulli(torch.full((1, 1, 12, 12), 0.5)).requires_grad_(True)
    i, j = 6, 2
    m(x)[0, 0, i, j].backward()
    g = x.grad[0, 0].abs()
    assert g[i - 1, j + 3] > 0  # one row up, as far right as the 7x7 first layer reaches
    assert g[i - 1, j + 4] == 0  # earlier in raster order, yet never seen: the blind spot
    assert g[i - 2, j + 4] > 0 and g[i - 2, j + 5] == 0


def test_pixelcnn_log_prob_is_exact_and_needs_binary_data():
    torch.manual_seed(0)
    m = create_model("pixelcnn", img_size=2, channels=4, blocks=1).eval()
    grid = torch.tensor([[(k >> b) & 1 for b in range(4)] for k in range(16)], dtype=torch.float32).view(16, 1, 2, 2)
    total = torch.logsumexp(m.log_prob(grid), 0)
    assert torch.allclose(total, torch.zeros(()), atol=1e-5)  # a normalised distribution over all 16 images
    with pytest.raises(ShapeError, match="binar"):
        m.log_prob(torch.rand(1, 1, 2, 2))
    assert set(m.sample(3).unique().tolist()) <= {0.0, 1.0}
