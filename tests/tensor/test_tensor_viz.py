"""Visualisation wrappers (§2.6): figures are built headless and hold the expected artists;
embeddings equal the libraries' own estimators with the same settings."""

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from tensorprism.errors import ConfigError, ShapeError  # noqa: E402
from tensorprism.tensor.geometry import Mesh  # noqa: E402
from tensorprism.viz.embeddings import embed, plot_embedding  # noqa: E402
from tensorprism.viz.geometry import plot_mesh, plot_point_cloud  # noqa: E402
from tensorprism.viz.tensor import heatmap, quiver, slice_heatmaps, streamlines, tensor_field_quiver  # noqa: E402

BOOK_X = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12]], dtype=float)  # L17, L18, L20


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_heatmap_annotates_every_entry_of_fig_2_1():
    fig = heatmap(torch.arange(1, 10).reshape(3, 3))
    assert sorted(t.get_text() for t in fig.axes[0].texts) == [str(i) for i in range(1, 10)]
    with pytest.raises(ShapeError, match="slice_heatmaps"):
        heatmap(torch.zeros(2, 2, 2))


def test_slice_heatmaps_draw_one_panel_per_frontal_slice():
    t = torch.stack([torch.arange(1, 10.0).reshape(3, 3), torch.arange(9, 0, -1.0).reshape(3, 3)], dim=2)
    fig = slice_heatmaps(t)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["T(:,:,1)", "T(:,:,2)"]
    assert len(slice_heatmaps(torch.zeros(5, 2, 2), mode=0).axes[0].images) == 1


def test_quiver_and_streamlines_of_the_rotational_field():
    def field(x, y):
        return y, -x

    q = quiver(field, n=10).axes[0].collections[0]
    assert q.N == 100  # 10 x 10 arrows, Fig. 2.2
    np.testing.assert_allclose(q.U, q.XY[:, 1])
    s = streamlines(field, n=100)
    assert len(s.axes[0].collections) >= 1
    fig = tensor_field_quiver(lambda x, y: torch.stack([torch.stack([x, y], -1), torch.stack([y, x], -1)], -2), n=5)
    assert len(fig.axes[0].collections) == 2


def test_point_cloud_and_mesh_plots_accept_both_layouts():
    pts = torch.randn(3, 20)
    a = plot_point_cloud(pts, layout="3N").axes[0].collections[0]
    b = plot_point_cloud(pts.T, layout="N3").axes[0].collections[0]
    np.testing.assert_allclose(np.array(a._offsets3d), np.array(b._offsets3d))
    mesh = Mesh(torch.tensor([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]]),
                torch.tensor([[0, 1, 2], [0, 1, 3], [0, 2, 3], [1, 2, 3]]))
    assert len(plot_mesh(mesh).axes[0].collections) == 1


def test_embedding_wrappers_equal_the_library_estimators():
    from sklearn.manifold import TSNE, Isomap

    torch.testing.assert_close(embed(BOOK_X, "isomap", n_neighbors=2),
                               torch.tensor(Isomap(n_components=2, n_neighbors=2).fit_transform(BOOK_X), dtype=torch.float32))
    ours = embed(BOOK_X, "tsne", perplexity=2, random_state=0)
    ref = TSNE(n_components=2, perplexity=2, random_state=0).fit_transform(BOOK_X)
    torch.testing.assert_close(ours, torch.tensor(ref, dtype=torch.float32))
    # Isomap of the collinear toy data: one axis carries all the distance (L18, ≈ ±7.794, ±2.598)
    iso = embed(BOOK_X, "isomap", n_neighbors=2)
    np.testing.assert_allclose(np.sort(np.abs(iso[:, 0].numpy())), [2.598, 2.598, 7.794, 7.794], atol=1e-3)
    assert embed(BOOK_X, "mds").shape == (4, 2) and embed(BOOK_X, "pca").shape == (4, 2)


def test_erratum_e24_n_neighbors_must_be_strictly_below_the_sample_count_l2104():
    """L18's comment says n_neighbors ≤ n_samples; scikit-learn needs n_neighbors < n_samples."""
    with pytest.raises(ConfigError, match="n_neighbors < n_samples"):
        embed(BOOK_X, "isomap", n_neighbors=4)
    with pytest.raises(ConfigError, match="perplexity < n_samples"):
        embed(BOOK_X, "tsne", perplexity=4)
    with pytest.raises(ConfigError, match="unknown embedding"):
        embed(BOOK_X, "lle")


@pytest.mark.slow
def test_umap_wrapper_runs_on_a_small_dataset():
    """Slow only because umap-learn JIT-compiles its kernels on first use (about 30 s)."""
    pytest.importorskip("umap")
    x = np.random.default_rng(0).normal(size=(40, 5))
    e = embed(x, "umap", n_neighbors=5, n_epochs=20)
    assert e.shape == (40, 2) and torch.isfinite(e).all()


def test_plot_embedding_colours_by_label_and_annotates():
    e = torch.tensor([[math.cos(t), math.sin(t)] for t in range(6)])
    fig = plot_embedding(e, labels=[0, 1, 0, 1, 2, 2], annotate=list("abcdef"), title="toy")
    assert len(fig.axes[0].texts) == 6 and fig.axes[0].get_legend() is not None
