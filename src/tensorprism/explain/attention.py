"""Looking inside Transformers (book §6.6.3, lines 14536-14629): attention maps, rollout, and
gradient attributions on token embeddings.

* :func:`attention_maps` — every layer's attention weights ``(N, h, L, S)`` from a tensorprism
  BERT or GPT (the book's ``output_attentions=True``, I1).
* :func:`plot_attention` / :func:`plot_attention_grid` — heat maps, keys on x and queries on y,
  token tick labels (I2), one panel per (layer, head).
* :func:`attention_rollout` — Abnar & Zuidema (2020): average the heads, add the residual
  ``0.5 A + 0.5 I``, renormalise, multiply through the layers: how much each input token flows
  into each output position.
* :func:`patch_attention`, :func:`rollout_grid`, :func:`overlay_attention`,
  :func:`plot_image_attention` — the same for vision transformers: each head's attention from the
  [CLS] token to the patches as a map over the patch grid, the rollout over the grid, overlaid on
  the input image.
* :func:`saliency` — ``|dy/dx|`` summed over the embedding dimension (I3; the book's listing
  L6-18 asks for gradients of integer ids, which do not exist: take them on the embeddings).
* :func:`integrated_gradients` — Sundararajan et al. (2017),
  ``IG(x) = (x - x') * int_0^1 df(x' + a (x - x'))/dx da``, by the trapezoid rule over ``steps``
  intervals; the book leaves baseline and quadrature unspecified (I4). Attributions satisfy
  completeness, ``sum IG = f(x) - f(x')``, up to the quadrature error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from ..errors import ShapeError

__all__ = [
    "attention_maps",
    "attention_rollout",
    "plot_attention",
    "plot_attention_grid",
    "patch_attention",
    "rollout_grid",
    "overlay_attention",
    "plot_image_attention",
    "saliency",
    "integrated_gradients",
]


@torch.no_grad()
def attention_maps(model: nn.Module, input_ids: Tensor, **kwargs) -> list[Tensor]:
    """Per-layer attention weights ``[(N, h, L, L)] * num_layers`` of a BERT-family model (plain
    encoder or with a head), a :class:`~tensorprism.models.transformer.gpt.GPT` or a ViT (``input_ids``
    are then images ``(N, C, H, W)`` and ``L`` counts the [CLS]/[DIST] tokens and the patches)."""
    was = model.training
    model.eval()
    try:
        if hasattr(model, "forward_attention"):  # vision transformers
            return list(model.forward_attention(input_ids, **kwargs)[1])
        bert = getattr(model, "bert", model)
        if hasattr(bert, "embeddings") and hasattr(bert, "encoder"):
            return list(bert(input_ids, need_weights=True, **kwargs).attentions)
        out = model(input_ids, need_weights=True, **kwargs)
        if isinstance(out, tuple) and len(out) == 2:
            return list(out[1])
        raise TypeError(f"{type(model).__name__} does not return attention weights with need_weights=True")
    finally:
        model.train(was)


def attention_rollout(maps: Sequence[Tensor], residual: bool = True) -> Tensor:
    """Rollout ``(N, L, L)``: row ``i`` gives the share of each input token in position ``i``
    after the last layer. ``maps`` are per-layer ``(N, h, L, L)`` weights, first layer first."""
    if not maps:
        raise ShapeError("attention_rollout needs at least one layer of attention weights")
    out = None
    for a in maps:
        a = a.mean(1)  # average the heads: (N, L, L)
        if residual:
            a = 0.5 * a + 0.5 * torch.eye(a.shape[-1], device=a.device, dtype=a.dtype)
        a = a / a.sum(-1, keepdim=True).clamp_min(1e-12)
        out = a if out is None else a @ out
    return out


def plot_attention(weights: Tensor, keys: Sequence[str] | None = None, queries: Sequence[str] | None = None,
                   ax=None, title: str = "Attention Map", cmap: str = "viridis"):
    """Heat map of one ``(L, S)`` attention matrix (book's ``plot_attention``, line 15592)."""
    import matplotlib.pyplot as plt

    if weights.dim() != 2:
        raise ShapeError(f"plot_attention takes one (L, S) matrix, got {tuple(weights.shape)}; index layer and head")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6))
    im = ax.matshow(weights.detach().cpu().numpy(), cmap=cmap)
    if keys is not None:
        ax.set_xticks(range(len(keys)), list(keys), rotation=90, fontsize=8)
    if queries is not None:
        ax.set_yticks(range(len(queries)), list(queries), fontsize=8)
    ax.set_xlabel("Key Positions")
    ax.set_ylabel("Query Positions")
    ax.set_title(title)
    ax.figure.colorbar(im, ax=ax, fraction=0.046)
    return ax


def plot_attention_grid(maps: Sequence[Tensor], tokens: Sequence[str] | None = None, index: int = 0,
                        layers: Sequence[int] | None = None, heads: Sequence[int] | None = None):
    """A grid of heat maps, one row per layer and one column per head, for example ``index``."""
    import matplotlib.pyplot as plt

    layers = list(range(len(maps))) if layers is None else list(layers)
    heads = list(range(maps[0].shape[1])) if heads is None else list(heads)
    fig, axes = plt.subplots(len(layers), len(heads), figsize=(2.2 * len(heads), 2.2 * len(layers)),
                             squeeze=False)
    for r, layer in enumerate(layers):
        for c, head in enumerate(heads):
            ax = axes[r][c]
            ax.matshow(maps[layer][index, head].detach().cpu().numpy(), cmap="viridis")
            ax.set_xticks([])
            ax.set_yticks([])
            if tokens is not None and c == 0:
                ax.set_yticks(range(len(tokens)), list(tokens), fontsize=5)
            ax.set_title(f"L{layer} H{head}", fontsize=7)
    fig.tight_layout()
    return fig


def _grid_of(model_or_grid) -> tuple[int, int]:
    grid = getattr(getattr(model_or_grid, "patch_embed", None), "grid_size", model_or_grid)
    return (int(grid[0]), int(grid[1]))


def patch_attention(maps: Sequence[Tensor], grid, layer: int = -1, num_prefix: int = 1,
                    query: int = 0) -> Tensor:
    """Each head's attention from token ``query`` (the [CLS] token) to the patches, as maps over the
    patch grid ``(N, h, gh, gw)``; ``grid`` is ``(gh, gw)`` or the ViT itself."""
    gh, gw = _grid_of(grid)
    a = maps[layer]
    if a.dim() != 4 or a.shape[-1] != num_prefix + gh * gw:
        raise ShapeError(f"attention weights must be (N, h, {num_prefix} + {gh}*{gw}, same) for a {gh}×{gw} grid "
                         f"with {num_prefix} prefix tokens, got {tuple(a.shape)}")
    return a[:, :, query, num_prefix:].reshape(a.shape[0], a.shape[1], gh, gw)


def rollout_grid(maps: Sequence[Tensor], grid, num_prefix: int = 1, residual: bool = True) -> Tensor:
    """Attention rollout from the [CLS] token to the patches, ``(N, gh, gw)``, each map summing to 1."""
    gh, gw = _grid_of(grid)
    r = attention_rollout(maps, residual)[:, 0, num_prefix:]
    r = r / r.sum(-1, keepdim=True).clamp_min(1e-12)
    return r.reshape(r.shape[0], gh, gw)


def overlay_attention(image: Tensor, heat: Tensor, ax=None, alpha: float = 0.5, cmap: str = "jet",
                      title: str | None = None):
    """Draw ``image (C, H, W)`` (values in [0, 1]) with ``heat (gh, gw)`` upsampled (bilinear) on top."""
    import matplotlib.pyplot as plt

    if image.dim() != 3 or heat.dim() != 2:
        raise ShapeError(f"overlay_attention takes one image (C, H, W) and one map (gh, gw), got "
                         f"{tuple(image.shape)} and {tuple(heat.shape)}")
    H, W = image.shape[-2:]
    up = torch.nn.functional.interpolate(heat[None, None].float(), size=(H, W), mode="bilinear",
                                         align_corners=False)[0, 0]
    up = (up - up.min()) / (up.max() - up.min()).clamp_min(1e-12)
    if ax is None:
        _, ax = plt.subplots(figsize=(3, 3))
    img = image.detach().cpu().clamp(0, 1)
    ax.imshow(img[0] if img.shape[0] == 1 else img.permute(1, 2, 0), cmap="gray" if img.shape[0] == 1 else None)
    ax.imshow(up.cpu().numpy(), cmap=cmap, alpha=alpha)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8)
    return ax


def plot_image_attention(model: nn.Module, images: Tensor, display: Tensor | None = None, layer: int = -1):
    """One row per image: the input, each head's [CLS] attention at ``layer`` and the rollout, overlaid.

    ``images (N, C, H, W)`` are what the model reads (normalised); ``display`` the same images in
    ``[0, 1]`` for drawing (default: ``images``). Returns the figure.
    """
    import matplotlib.pyplot as plt

    maps = attention_maps(model, images)
    p = getattr(model, "num_prefix_tokens", 1)
    heads = patch_attention(maps, model, layer, p)
    roll = rollout_grid(maps, model, p)
    shown = images if display is None else display
    n, h = images.shape[0], heads.shape[1]
    fig, axes = plt.subplots(n, h + 2, figsize=(1.8 * (h + 2), 1.9 * n), squeeze=False)
    for i in range(n):
        overlay_attention(shown[i], torch.zeros(1, 1), axes[i][0], alpha=0.0, title="input" if i == 0 else None)
        for j in range(h):
            overlay_attention(shown[i], heads[i, j], axes[i][j + 1], title=f"head {j}" if i == 0 else None)
        overlay_attention(shown[i], roll[i], axes[i][h + 1], title="rollout" if i == 0 else None)
    fig.tight_layout()
    return fig


def saliency(f: Callable[[Tensor], Tensor], embeds: Tensor) -> Tensor:
    """``|df/dx|`` summed over the last (embedding) dimension: one score per token ``(N, L)``.
    ``f`` maps embeddings ``(N, L, E)`` to one scalar per example ``(N,)``."""
    x = embeds.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(f(x).sum(), x)
    return grad.abs().sum(-1)


def integrated_gradients(f: Callable[[Tensor], Tensor], embeds: Tensor, baseline: Tensor | None = None,
                         steps: int = 50, batch: int = 16) -> Tensor:
    """Integrated gradients of ``f`` (embeddings ``(N, L, E)`` -> scores ``(N,)``) at ``embeds``.

    ``baseline`` defaults to zeros (a common choice; the ``[PAD]`` embedding is another). Returns
    attributions with the shape of ``embeds``; sum over the last dim for per-token scores.
    """
    x = embeds.detach()
    x0 = torch.zeros_like(x) if baseline is None else baseline.detach().expand_as(x)
    alphas = torch.linspace(0, 1, steps + 1, device=x.device, dtype=x.dtype)
    w = torch.ones_like(alphas)
    w[0] = w[-1] = 0.5  # trapezoid rule
    total = torch.zeros_like(x)
    for start in range(0, steps + 1, batch):
        a = alphas[start : start + batch]
        path = (x0[None] + a.view(-1, *[1] * x.dim()) * (x - x0)[None]).requires_grad_(True)  # (k, N, L, E)
        out = f(path.flatten(0, 1)).view(len(a), -1)
        (g,) = torch.autograd.grad(out.sum(), path)
        total += (w[start : start + batch].view(-1, *[1] * x.dim()) * g).sum(0)
    return (x - x0) * total / steps
