import torch

from tensorprism.nn.mlp import MLP
from tensorprism.viz.activations import BOOK_FIGURES, plot_activations
from tensorprism.viz.decision import decision_grid, plot_decision_boundary
from tensorprism.viz.images import plot_image_grid
from tensorprism.viz.weights import plot_weight_histograms


def test_activation_plot_draws_function_and_derivative(tmp_path):
    fig = plot_activations(path=tmp_path / "act.png")
    assert (tmp_path / "act.png").stat().st_size > 5000
    assert sum(1 for ax in fig.axes if ax.lines) == len(BOOK_FIGURES)
    sig = fig.axes[0].lines
    assert abs(max(sig[1].get_ydata()) - 0.25) < 1e-12  # σ'(0) = 1/4 on the grid


def test_decision_grid_and_boundary(tmp_path):
    x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    xx, yy, v = decision_grid(lambda g: (g[:, 0] > 0.5).float(), x, steps=11, margin=0.0)
    assert v.shape == (11, 11) and v[0, 0] == 0 and v[0, -1] == 1
    plot_decision_boundary(MLP(2, (2,), 1, head="binary"), x, torch.tensor([0, 1, 1, 0]), path=tmp_path / "b.png")
    assert (tmp_path / "b.png").exists()


def test_weight_histograms_and_image_grid(tmp_path):
    m = MLP(4, (8,), 3)
    m(torch.randn(5, 4)).sum().backward()
    fig = plot_weight_histograms(m, path=tmp_path / "w.png")
    assert len(fig.axes) == 4  # 2 weights × (values, grads)
    fig = plot_image_grid(torch.rand(6, 1, 8, 8), torch.tensor([1, 2, 3, 4, 5, 6]), torch.tensor([1, 2, 0, 4, 5, 6]), path=tmp_path / "g.png")
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0] == "Label: 1→1" and fig.axes[2].title.get_color() == "red"
