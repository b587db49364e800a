"""Weight and gradient histograms per layer (what the book's TensorBoard ``histogram_freq=1`` shows, L4543)."""

from __future__ import annotations

from pathlib import Path

import torch.nn as nn

from .training import _figure


def plot_weight_histograms(model: nn.Module, path: str | Path | None = None, grads: bool = True, bins: int = 60):
    """One row per weight tensor (≥ 2 dims): its values and, if ``grads`` and present, its ``.grad``."""
    params = [(n, p) for n, p in model.named_parameters() if p.dim() >= 2]
    show_grads = grads and any(p.grad is not None for _, p in params)
    cols = 2 if show_grads else 1
    plt = _figure()
    fig, axes = plt.subplots(len(params), cols, figsize=(4.2 * cols, 2.2 * len(params)), squeeze=False)
    for row, (name, p) in enumerate(params):
        w = p.detach().flatten().cpu()
        axes[row, 0].hist(w.numpy(), bins=bins, color="tab:blue")
        axes[row, 0].set_title(f"{name}  std={w.std():.3g}", fontsize=9)
        if show_grads:
            ax = axes[row, 1]
            if p.grad is None:
                ax.axis("off")
            else:
                g = p.grad.detach().flatten().cpu()
                ax.hist(g.numpy(), bins=bins, color="tab:orange")
                ax.set_title(f"grad {name}  std={g.std():.3g}", fontsize=9)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig
