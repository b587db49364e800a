r"""Grad-CAM (Selvaraju et al. 2017) and feature-map plots: what a CNN looks at.

For class ``c`` and the activations :math:`A^k` of a chosen conv layer,
:math:`\alpha_k^c = \frac{1}{Z}\sum_{ij} \partial y^c / \partial A^k_{ij}` and
:math:`L^c = \text{ReLU}(\sum_k \alpha_k^c A^k)`, upsampled (bilinear) to the input size. For a network
ending in global average pooling + a linear layer it equals CAM (Zhou et al. 2016) up to ``1/Z``.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

__all__ = ["GradCAM", "plot_feature_maps"]


class GradCAM:
    """``GradCAM(model, layer)(x, class_idx=None) → (N, H, W)`` heat maps in [0, 1] (per image max-normalised
    when ``normalize``); ``class_idx=None`` explains the predicted class."""

    def __init__(self, model: nn.Module, layer: nn.Module):
        self.model, self.layer = model, layer

    def __call__(self, x: Tensor, class_idx: Tensor | int | None = None, normalize: bool = True) -> Tensor:
        store: dict[str, Tensor] = {}

        def hook(_module, _inp, out):
            out.retain_grad()
            store["act"] = out

        handle = self.layer.register_forward_hook(hook)
        was = self.model.training
        self.model.eval()
        try:
            with torch.enable_grad():
                logits = self.model(x)
                if class_idx is None:
                    class_idx = logits.argmax(1)
                idx = torch.as_tensor(class_idx, device=logits.device).expand(len(x))
                logits.gather(1, idx[:, None]).sum().backward()
        finally:
            handle.remove()
            self.model.train(was)
        act, grad = store["act"], store["act"].grad
        weights = grad.mean((2, 3), keepdim=True)  # α_k
        cam = F.relu((weights * act).sum(1, keepdim=True)).detach()
        cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
        if normalize:
            cam = cam / cam.flatten(1).amax(1).clamp(min=1e-12).view(-1, 1, 1)
        return cam


def plot_feature_maps(maps: Tensor, path: str | Path, max_maps: int = 16, title: str = "") -> Path:
    """Save a grid of the first ``max_maps`` channels of one feature map ``(C, H, W)`` as an image."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    maps = maps.detach().cpu()[:max_maps]
    cols = min(8, len(maps))
    rows = -(-len(maps) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.6 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, m in zip(axes.flat, maps, strict=False):
        ax.imshow(m, cmap="viridis")
    if title:
        fig.suptitle(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80, bbox_inches="tight")
    plt.close(fig)
    return path
