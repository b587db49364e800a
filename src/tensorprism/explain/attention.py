"""Looking inside Transformers (book §6.6.3, lines 14536-14629): attention maps, rollout, and
gradient attributions on token embeddings.

* :func:`attention_maps` — every layer's attention weights ``(N, h, L, S)`` from a tensorprism
  BERT or GPT (the book's ``output_attentions=True``, I1).
* :func:`plot_attention` / :func:`plot_attention_grid` — heat maps, keys on x and queries on y,
  token tick labels (I2), one panel per (layer, head).
* :func:`attention_rollout` — Abnar & Zuidema (2020): average the heads, add the residual
  ``0.5 A + 0.5 I``, renormalise, multiply through the layers: how much each input token flows
  into each output position.
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
    "saliency",
    "integrated_gradients",
]


@torch.no_grad()
def attention_maps(model: nn.Module, input_ids: Tensor, **kwargs) -> list[Tensor]:
    """Per-layer attention weights ``[(N, h, L, L)] * num_layers`` of a BERT-family model (plain
    encoder or with a head) or a :class:`~tensorprism.models.transformer.gpt.GPT`."""
    was = model.training
    model.eval()
    try:
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
