"""Decision boundaries of 2-D classifiers (e.g. the 2-2-1 XOR network)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from ..errors import ShapeError
from .training import _figure


def decision_grid(predict: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, steps: int = 200,
                  margin: float = 0.5) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Evaluate ``predict`` (``(M, 2)`` → ``(M,)`` class or score) on a ``steps × steps`` grid
    covering the points ``x`` ``(N, 2)``; returns ``(xx, yy, values)``, each ``(steps, steps)``."""
    if x.dim() != 2 or x.shape[1] != 2:
        raise ShapeError(f"decision boundaries need 2-D inputs (N, 2), got {tuple(x.shape)}")
    lo, hi = x.min(0).values - margin, x.max(0).values + margin
    xx, yy = torch.meshgrid(torch.linspace(lo[0], hi[0], steps), torch.linspace(lo[1], hi[1], steps), indexing="xy")
    with torch.no_grad():
        values = predict(torch.stack([xx.reshape(-1), yy.reshape(-1)], 1).to(x.dtype))
    return xx, yy, values.reshape(steps, steps).float()


def plot_decision_boundary(model: torch.nn.Module | Callable, x: torch.Tensor, y: torch.Tensor,
                           path: str | Path | None = None, title: str = "", proba: bool = True):
    """Filled contours of the model's output over the plane with the labelled points on top.

    ``model`` maps ``(M, 2)`` to logits: one column (binary, shown as σ(z)) or K columns (shown as
    the arg-max class). Returns the figure, saved to ``path`` when given.
    """

    def predict(grid: torch.Tensor) -> torch.Tensor:
        out = model(grid)
        if out.dim() == 1 or out.shape[-1] == 1:
            out = out.reshape(-1)
            return torch.sigmoid(out) if proba else (out > 0).float()
        return out.argmax(-1).float()

    was_training = getattr(model, "training", False)
    if was_training:
        model.eval()
    xx, yy, values = decision_grid(predict, x)
    if was_training:
        model.train()
    plt = _figure()
    fig, ax = plt.subplots(figsize=(4.2, 3.6))
    cs = ax.contourf(xx, yy, values, levels=20, cmap="RdBu_r", alpha=0.75)
    fig.colorbar(cs, ax=ax)
    ax.scatter(x[:, 0], x[:, 1], c=y.reshape(-1).float(), cmap="RdBu_r", edgecolors="k", s=40)
    ax.set_title(title or "decision boundary")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig
