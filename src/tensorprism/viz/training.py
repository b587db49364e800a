"""Plots of a training run (curves from ``metrics.jsonl``, confusion matrices).

Defined in :mod:`tensorprism.train.plots`, beside the callbacks that draw them into a run directory
(``viz`` sits below ``train`` in the layering, so it may import from it, not the other way round).
"""

from __future__ import annotations

from ..train.plots import _figure, plot_confusion_matrix, plot_metrics, read_metrics

__all__ = ["read_metrics", "plot_metrics", "plot_confusion_matrix", "_figure"]
