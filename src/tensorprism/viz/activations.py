"""Activation functions with their derivatives (book Figs 3.2–3.8), from the reference equations."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from ..functional.activations import ACTIVATIONS
from .training import _figure

BOOK_FIGURES = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "swish", "mish")


def plot_activations(names: Sequence[str] = BOOK_FIGURES, path: str | Path | None = None,
                     lim: float = 5.0, points: int = 401):
    """One panel per activation: f(z) (solid) and its analytic derivative f'(z) (dashed) on
    ``[-lim, lim]`` (the book plots tanh on ``linspace(-5, 5, 100)``, L2972). Returns the figure,
    saved to ``path`` when given."""
    plt = _figure()
    z = torch.linspace(-lim, lim, points, dtype=torch.float64)
    cols = min(4, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        spec = ACTIVATIONS[name]
        ax.plot(z, spec.forward(z), label="f(z)")
        ax.plot(z, spec.derivative(z), "--", label="f'(z)")
        ax.axhline(0, color="grey", lw=0.5)
        ax.axvline(0, color="grey", lw=0.5)
        ax.set_title(name)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    axes.flat[0].legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig
