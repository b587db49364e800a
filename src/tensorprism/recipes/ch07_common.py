"""What the Chapter 7 case studies share: one attention model and its no-attention baseline trained
at the same budget on the general Trainer (one run sub-folder each), and the attention pictures.

Every Chapter 7 recipe returns ``{"attention": {...}, "baseline": {...}, "difference": {...}}``
(``difference`` = attention - baseline for each shared number) and writes its pictures under
``<out_dir>/pictures/``.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .kit import RecipeConfig, make_trainer, run_dir


@dataclass
class Ch07Config(RecipeConfig):
    """Settings shared by the Chapter 7 case studies.

    Attributes:
        epochs: training epochs of each model.
        batch_size: training batch size.
        lr: Adam learning rate.
        max_train: use at most this many training items (a seeded subset; ``None``: all).
        max_eval: evaluate on at most this many validation/test items (``None``: all).
        pictures: how many examples to draw attention pictures for.
    """

    epochs: int = 5
    batch_size: int = 64
    lr: float = 1e-3
    max_train: int | None = None
    max_eval: int | None = None
    pictures: int = 6


def subset(ds, n: int | None, seed: int = 0):
    """A seeded random subset of ``n`` items (all when ``n`` is None or larger)."""
    from torch.utils.data import Subset

    if not n or n >= len(ds):
        return ds
    return Subset(ds, torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed))[:n].tolist())


def fit(cfg: Ch07Config, sub: str, model, task, train, val=None, test=None, **settings) -> tuple[Any, dict]:
    """Train ``model`` into ``<out_dir>/<sub>`` and return ``(trainer, numbers)`` (test metrics,
    parameters, wall time)."""
    trainer = make_trainer(cfg, model, task, train, val, test, sub=sub, epochs=cfg.epochs, batch_size=cfg.batch_size,
                           lr=cfg.lr, optimizer="adam", **settings)
    t0 = time.perf_counter()
    trainer.fit()
    numbers = {k.removeprefix("test/"): float(v) for k, v in trainer.final_metrics.items()
               if k.startswith("test/") and (isinstance(v, (int, float)) or (torch.is_tensor(v) and v.numel() == 1))}
    numbers.update(parameters=sum(p.numel() for p in model.parameters()), train_wall_s=round(time.perf_counter() - t0, 1))
    return trainer, numbers


def seed_all(seed: int) -> None:
    """Seed before building a model, so the attention model and its baseline start alike."""
    torch.manual_seed(seed)


def compare(attention: dict, baseline: dict) -> dict:
    """``{"attention", "baseline", "difference"}`` with the difference of every shared number."""
    diff = {k: round(attention[k] - baseline[k], 6) for k in attention
            if k in baseline and isinstance(attention[k], (int, float)) and k not in ("parameters", "train_wall_s")}
    return {"attention": attention, "baseline": baseline, "difference": diff}


def pictures_dir(cfg: Ch07Config) -> Path | None:
    """``<out_dir>/pictures`` (created), where a recipe saves its figures; ``None`` without an ``out_dir``."""
    out = run_dir(cfg, "pictures")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    return out


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def overlay_maps(path: Path, images: torch.Tensor, maps: torch.Tensor, titles: list[str]) -> None:
    """Images ``(N, C, H, W)`` in [0, 1] with attention maps ``(N, h, w)`` drawn over them."""
    plt = _plt()
    n = len(images)
    fig, axes = plt.subplots(2, n, figsize=(1.8 * n, 3.8), squeeze=False)
    for i in range(n):
        img = images[i].detach().cpu()
        img = img[0] if img.shape[0] == 1 else img.permute(1, 2, 0)
        m = torch.nn.functional.interpolate(maps[i][None, None].float().cpu(), size=images.shape[-2:],
                                            mode="nearest")[0, 0]
        axes[0, i].imshow(img.clamp(0, 1), cmap="gray" if img.dim() == 2 else None)
        axes[0, i].set_title(titles[i], fontsize=7)
        axes[1, i].imshow(img.clamp(0, 1), cmap="gray" if img.dim() == 2 else None)
        axes[1, i].imshow(m, cmap="inferno", alpha=0.6)
        for ax in axes[:, i]:
            ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def weights_over_frames(path: Path, frames: torch.Tensor, weights: torch.Tensor, title: str) -> None:
    """Frames ``(T, 1, H, W)`` in a row with their attention weights as bars below."""
    plt = _plt()
    T = len(frames)
    fig = plt.figure(figsize=(0.9 * T, 2.6))
    for t in range(T):
        ax = fig.add_subplot(2, T, t + 1)
        ax.imshow(frames[t, 0].cpu(), cmap="gray")
        ax.axis("off")
    ax = fig.add_subplot(2, 1, 2)
    ax.bar(range(T), weights.detach().cpu().numpy())
    ax.set_xlim(-0.5, T - 0.5)
    ax.set_xlabel("frame")
    ax.set_ylabel("weight")
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def weights_over_time(path: Path, features: torch.Tensor, weights: torch.Tensor, title: str) -> None:
    """A spectrogram ``(T, F)`` with the attention weight of each frame ``(T,)`` plotted above it."""
    plt = _plt()
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(6, 3.2), sharex=True, gridspec_kw={"height_ratios": [1, 2]})
    a1.plot(weights.detach().cpu().numpy())
    a1.set_ylabel("weight")
    a1.set_title(title, fontsize=8)
    a2.imshow(features.detach().cpu().T, origin="lower", aspect="auto", cmap="magma")
    a2.set_xlabel("frame")
    a2.set_ylabel("mel band")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def text_weights_html(path: Path, docs: list[dict]) -> None:
    """An HTML page of documents with each word's background by its attention weight and each
    sentence's bar by its weight (``docs``: ``{"title", "sentences": [(words, word_weights,
    sentence_weight)]}``)."""
    parts = ["<html><head><meta charset='utf-8'><style>body{font-family:sans-serif;max-width:60em}"
             ".s{margin:2px 0}.b{display:inline-block;height:0.8em;background:#36c;margin-right:6px}"
             "</style></head><body><h2>Hierarchical attention: word (red) and sentence (blue) weights</h2>"]
    for d in docs:
        parts.append(f"<h4>{html.escape(d['title'])}</h4>")
        for words, ww, sw in d["sentences"]:
            top = max(max(ww, default=0.0), 1e-9)
            spans = "".join(f"<span style='background:rgba(220,40,40,{w / top:.2f})'>{html.escape(t)}</span> "
                            for t, w in zip(words, ww, strict=False))
            parts.append(f"<div class='s'><span class='b' style='width:{int(80 * sw)}px' title='{sw:.3f}'></span>"
                         f"{spans}</div>")
    parts.append("</body></html>")
    path.write_text("\n".join(parts), encoding="utf-8")


__all__ = ["Ch07Config", "subset", "fit", "seed_all", "compare", "pictures_dir", "overlay_maps",
           "weights_over_frames", "weights_over_time", "text_weights_html"]
