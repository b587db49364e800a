"""Plots of a training run: loss/metric curves from ``metrics.jsonl`` and confusion matrices.

They live in ``train`` because the run-directory callbacks draw them; ``tensorprism.viz.training``
re-exports them for plotting outside a run.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path


def read_metrics(path: str | Path) -> list[dict]:
    """The records of a ``metrics.jsonl`` file (one JSON object per line)."""
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _figure():
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "cairo"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


#: one colour per split, the same on every plot (PNG here, SVG in the HTML report)
SPLIT_COLOURS = {"train": "#1f77b4", "val": "#ff7f0e", "test": "#2ca02c"}


def plot_metrics(metrics_path: str | Path, out_dir: str | Path) -> list[Path]:
    """One PNG per metric name (``loss.png``, ``acc.png``...) with its train/val/test curves, titled
    with the metric and its splits, each split in its colour of :data:`SPLIT_COLOURS`.

    Epoch-level records are plotted against the epoch; the file names are the metric names with
    the split prefix removed. Returns the paths written.
    """
    # epoch-level records only (step records, written with log_every_steps, carry a "batch" key)
    records = [r for r in read_metrics(metrics_path) if "batch" not in r and any("/" in k for k in r)]
    series: dict[str, dict[str, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        x = r.get("epoch", 0)
        for key, value in r.items():
            if "/" in key and isinstance(value, (int, float)):
                split, name = key.split("/", 1)
                series[name][split].append((x, value))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plt = _figure()
    written = []
    for name, splits in sorted(series.items()):
        fig, ax = plt.subplots(figsize=(5, 3.4))
        for split, points in sorted(splits.items()):
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, label=split, color=SPLIT_COLOURS.get(split))
        ax.set_title(f"{name}: {', '.join(sorted(splits))} by epoch", fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        path = out_dir / f"{name.replace('/', '_')}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def plot_confusion_matrix(matrix: Sequence[Sequence[float]], path: str | Path,
                          labels: Sequence[str] | None = None, normalize: bool = False,
                          title: str | None = None) -> Path:
    """Heat map of a ``(C, C)`` confusion matrix (rows: true class, columns: predicted class),
    saved as a PNG at ``path``."""
    fig = confusion_matrix_figure(matrix, labels, normalize, title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    _figure().close(fig)
    return path


def confusion_matrix_figure(matrix: Sequence[Sequence[float]], labels: Sequence[str] | None = None,
                            normalize: bool = False, title: str | None = None):
    """The matplotlib figure of :func:`plot_confusion_matrix` (for TensorBoard's ``add_figure``)."""
    import numpy as np

    cm = np.asarray(matrix, dtype=float)
    if normalize:
        cm = cm / np.clip(cm.sum(axis=1, keepdims=True), 1, None)
    plt = _figure()
    c = cm.shape[0]
    size = max(3.5, 0.45 * c + 1.5)
    fig, ax = plt.subplots(figsize=(size, size))
    im = ax.imshow(cm, cmap="Blues")
    ticks = list(labels) if labels is not None else [str(i) for i in range(c)]
    ax.set_xticks(range(c), ticks, rotation=90 if c > 10 else 0)
    ax.set_yticks(range(c), ticks)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if c <= 20:
        thresh = cm.max() / 2 if cm.size else 0
        for i in range(c):
            for j in range(c):
                text = f"{cm[i, j]:.2f}" if normalize else f"{int(cm[i, j])}"
                ax.text(j, i, text, ha="center", va="center", fontsize=7,
                        color="white" if cm[i, j] > thresh else "black")
    fig.colorbar(im, ax=ax, fraction=0.046)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


__all__ = ["SPLIT_COLOURS", "read_metrics", "plot_metrics", "plot_confusion_matrix", "confusion_matrix_figure"]
