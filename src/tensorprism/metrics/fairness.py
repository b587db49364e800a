r"""Group fairness metrics of a binary classifier (book I11.17, L24882-24918).

For a protected attribute :math:`A` with groups :math:`a`, predictions :math:`\hat y\in\{0,1\}` and
labels :math:`y`:

* accuracy gap :math:`\max_a\mathrm{Acc}_a-\min_a\mathrm{Acc}_a` (the book's
  :math:`|\mathrm{Acc}_A-\mathrm{Acc}_B|`), and the same for the true- and false-positive rates;
* demographic parity difference :math:`\max_a P(\hat y=1\mid a)-\min_a P(\hat y=1\mid a)`;
* equalised odds difference :math:`\max(\text{TPR gap},\ \text{FPR gap})` (Hardt et al. 2016).

These follow ``fairlearn.metrics`` (``demographic_parity_difference``,
``equalized_odds_difference`` with ``agg="worst_case"``, ``MetricFrame(...).difference()``), and are
tested equal to them. A group without positives (or negatives) has no TPR (FPR): it is left out of
that gap, where fairlearn would count its rate as 0.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..errors import ShapeError


def _arrays(y_true, y_pred, groups) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    yt = np.asarray(torch.as_tensor(y_true).cpu()).astype(np.int64).reshape(-1)
    yp = np.asarray(torch.as_tensor(y_pred).cpu()).astype(np.int64).reshape(-1)
    g = np.asarray(groups.cpu() if isinstance(groups, Tensor) else groups).reshape(-1)
    if not len(yt) == len(yp) == len(g) or len(yt) == 0:
        raise ShapeError(f"fairness metrics need labels, predictions and groups of one length N >= 1, got "
                         f"{len(yt)}, {len(yp)} and {len(g)}")
    for name, arr in (("labels", yt), ("predictions", yp)):
        if not np.isin(arr, (0, 1)).all():
            raise ShapeError(f"fairness metrics are defined for binary {name} in {{0, 1}}, got values "
                             f"{sorted(set(arr.tolist()))[:5]}")
    return yt, yp, g


def group_rates(y_true, y_pred, groups) -> dict:
    """Per group: ``count``, ``accuracy``, ``selection_rate`` :math:`P(\\hat y=1)`, ``tpr``, ``fpr``
    (``nan`` where the group has no positives / negatives). ``{group: {metric: value}}``."""
    yt, yp, g = _arrays(y_true, y_pred, groups)
    out = {}
    for a in np.unique(g):
        m = g == a
        t, p = yt[m], yp[m]
        pos, neg = t == 1, t == 0
        out[a.item() if hasattr(a, "item") else a] = {
            "count": int(m.sum()), "accuracy": float((t == p).mean()), "selection_rate": float(p.mean()),
            "tpr": float(p[pos].mean()) if pos.any() else float("nan"),
            "fpr": float(p[neg].mean()) if neg.any() else float("nan"),
        }
    return out


def _gap(rates: dict, key: str) -> float:
    vals = [r[key] for r in rates.values() if not np.isnan(r[key])]
    return float(max(vals) - min(vals)) if vals else 0.0


def demographic_parity_difference(y_true, y_pred, groups) -> float:
    """Largest difference of selection rates :math:`P(\\hat y=1\\mid a)` between groups (0: parity)."""
    return _gap(group_rates(y_true, y_pred, groups), "selection_rate")


def equalized_odds_difference(y_true, y_pred, groups) -> float:
    """The larger of the TPR gap and the FPR gap between groups (0: equalised odds)."""
    rates = group_rates(y_true, y_pred, groups)
    return max(_gap(rates, "tpr"), _gap(rates, "fpr"))


def fairness_report(y_true, y_pred, groups) -> dict:
    """Overall accuracy, the per-group rates and every gap: ``accuracy``, ``accuracy_gap``,
    ``tpr_gap``, ``fpr_gap``, ``demographic_parity_difference``, ``equalized_odds_difference``,
    ``groups``."""
    yt, yp, g = _arrays(y_true, y_pred, groups)
    rates = group_rates(yt, yp, g)
    return {
        "accuracy": float((yt == yp).mean()),
        "accuracy_gap": _gap(rates, "accuracy"), "tpr_gap": _gap(rates, "tpr"), "fpr_gap": _gap(rates, "fpr"),
        "demographic_parity_difference": _gap(rates, "selection_rate"),
        "equalized_odds_difference": max(_gap(rates, "tpr"), _gap(rates, "fpr")),
        "groups": {str(k): v for k, v in rates.items()},
    }


__all__ = ["group_rates", "demographic_parity_difference", "equalized_odds_difference", "fairness_report"]
