"""Colour PixelCNN: R → G → B channel masking is causal (gradients), the model is a normalised
distribution over every image of a tiny grid, and it trains on the density task with bits/dim."""

import itertools

import pytest
import torch
from torch.utils.data import TensorDataset

from tensorprism.errors import ConfigError, ShapeError
from tensorprism.models import create_model
from tensorprism.models.generative.pixelcnn_colour import colour_mask
from tensorprism.train import Trainer
from tensorprism.train.tasks import create_task

QUIET = {"progress": False, "tensorboard": False, "plots": False, "device": "cpu"}


def test_colour_masks_let_each_channel_see_earlier_pixels_and_earlier_colours_only():
    a = colour_mask(6, 3, 3, 3, "A")  # image → 6 features (2 per colour)
    assert a[:, :, 0].eq(1).all() and a[:, :, 1, 0].eq(1).all() and a[:, :, 1, 2:].eq(0).all() and a[:, :, 2].eq(0).all()
    centre = a[:, :, 1, 1]
    assert centre.tolist() == [[0, 0, 0], [0, 0, 0], [1, 0, 0], [1, 0, 0], [1, 1, 0], [1, 1, 0]]
    b = colour_mask(3, 6, 1, 3, "B")[:, :, 0, 0]
    assert b.tolist() == [[1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]]
    with pytest.raises(ConfigError, match="multiples"):
        colour_mask(4, 3, 3, 3, "B")


def test_each_sub_pixel_depends_only_on_earlier_pixels_and_earlier_colours():
    torch.manual_seed(0)
    m = create_model("pixelcnn-colour", img_size=5, levels=4, channels=12, blocks=2, first_kernel=5)
    x = (torch.randint(0, 4, (1, 3, 5, 5)).float() / 3).requires_grad_(True)
    for (i, j, c) in [(2, 2, 0), (2, 2, 1), (2, 2, 2), (0, 0, 0), (4, 4, 2)]:
        x.grad = None
        m(x)[0, c, :, i, j].sum().backward()
        g = x.grad[0].abs()
        later = torch.zeros(3, 5, 5, dtype=torch.bool)
        later.view(3, -1)[:, i * 5 + j + 1:] = True  # later pixels, every colour
        later[c:, i, j] = True  # this pixel: this colour and the later ones
        assert float(g[later].sum()) == 0.0, (i, j, c)
        if (i, j, c) == (2, 2, 2):
            assert float(g[:2, 2, 2].sum()) > 0 and float(g[:, 1, 2].sum()) > 0  # R, G here and the pixel above


def test_colour_pixelcnn_is_normalised_over_all_images_of_a_tiny_grid():
    torch.manual_seed(0)
    m = create_model("pixelcnn-colour", img_size=2, levels=2, channels=6, blocks=1, first_kernel=3).double()
    imgs = torch.tensor(list(itertools.product((0.0, 1.0), repeat=12)), dtype=torch.float64).view(-1, 3, 2, 2)
    with torch.no_grad():
        total = torch.logsumexp(m.log_prob(imgs), 0)
    assert abs(float(total)) < 1e-9  # Σ_x p(x) = 1 over the 4,096 images
    with pytest.raises(ShapeError, match="k/1"):
        m.log_prob(imgs[:2] * 0.5)


def test_colour_pixelcnn_trains_on_the_density_task_and_reports_bits_per_dim():
    torch.manual_seed(0)
    x = (torch.randint(0, 8, (64, 3, 6, 6)) // 4 * 7).float() / 7  # two intensities used out of eight
    m = create_model("pixelcnn-colour", img_size=6, levels=8, channels=12, blocks=1, first_kernel=3)
    task = create_task("density")
    data = TensorDataset(x, torch.zeros(64))
    before = Trainer(m, task, val_data=data, **QUIET).evaluate("val")["val/bits_per_dim"]
    t = Trainer(m, task, train_data=data, val_data=data, epochs=3, batch_size=16, lr=1e-2, **QUIET).fit()
    after = t.final_metrics["val/bits_per_dim"]
    assert after < before and before == pytest.approx(3.0, abs=0.5)  # ≈ log2(8) at the start
    assert m.sample(1).shape == (1, 3, 6, 6)
