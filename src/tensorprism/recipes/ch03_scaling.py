"""Min–max scaling and polynomial features (book Ch. 3, P4/P8) measured on real tables.

* **Scaling** — the wine table (178 wines, 13 measurements whose ranges differ by four orders of
  magnitude: proline ~ 10³, hue ~ 1) classified by softmax regression trained with plain gradient
  descent: raw inputs, min–max scaled to [0, 1] (:class:`~tensorprism.data.preprocessing.MinMaxScale`)
  and standardised, at the same learning rate and number of steps.
* **Polynomial features** — the diabetes table (442 patients, 10 features) regressed by ridge
  least squares on the min–max scaled features expanded to every monomial of degree ≤ 1, 2, 3
  (:func:`~tensorprism.functional.features.polynomial_features`): 5-fold cross-validated R².

The statistics of both transforms are fitted on the training rows of each split only. The
transforms are written here (equal to scikit-learn's ``MinMaxScaler`` and ``PolynomialFeatures``,
tested in ``tests/ch03/test_features.py``); scikit-learn only provides the two tables.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..config import setting
from . import register_recipe
from .kit import RecipeConfig, save_result


@dataclass
class ScalingConfig(RecipeConfig):
    """Attributes:
    steps, lr: full-batch gradient-descent steps and learning rate of the softmax regression.
    seeds: stratified 70/30 splits of the wine table (one per seed).
    degrees: polynomial degrees compared on the diabetes table.
    ridge: L2 penalty of the least-squares fits (times the number of training rows).
    folds: cross-validation folds.
    """

    steps: int = setting(300, min=1)
    lr: float = setting(0.1, gt=0)
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])
    degrees: list[int] = field(default_factory=lambda: [1, 2, 3])
    ridge: float = setting(1e-3, min=0)
    folds: int = setting(5, min=2)


def _softmax_regression(x: torch.Tensor, y: torch.Tensor, xt: torch.Tensor, yt: torch.Tensor, steps: int,
                        lr: float, seed: int) -> tuple[float, float]:
    """Train ``Linear(F, C)`` by full-batch gradient descent; (final training loss, test accuracy)."""
    torch.manual_seed(seed)
    model = torch.nn.Linear(x.shape[1], int(y.max()) + 1)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    loss = torch.tensor(float("nan"))
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    with torch.no_grad():
        acc = (model(xt).argmax(1) == yt).float().mean()
    return float(loss.detach()), float(acc)


def ridge_r2(x: torch.Tensor, y: torch.Tensor, xt: torch.Tensor, yt: torch.Tensor, ridge: float) -> float:
    """Test R² of ``argmin ‖Xw − y‖² + ridge·N·‖w‖²`` (the intercept, column 0, is not penalised)."""
    pen = ridge * x.shape[0] * torch.eye(x.shape[1], dtype=x.dtype)
    pen[0, 0] = 0
    w = torch.linalg.solve(x.T @ x + pen, x.T @ y)
    res = yt - xt @ w
    return float(1 - res.pow(2).sum() / (yt - yt.mean()).pow(2).sum())


@register_recipe("ch03-scaling-polynomial", config=ScalingConfig)
def scaling_polynomial(cfg: ScalingConfig) -> dict:
    """Wine: test accuracy of softmax regression on raw / min–max / standardised inputs (mean over
    splits); diabetes: 5-fold R² of ridge on polynomial features of degree 1..3."""
    from ..data.preprocessing import MinMaxScale
    from ..functional.features import polynomial_features
    from ..optional import require

    datasets = require("sklearn.datasets", feature="recipe ch03-scaling-polynomial")
    model_selection = require("sklearn.model_selection", feature="recipe ch03-scaling-polynomial")
    wine = datasets.load_wine()
    xw, yw = torch.tensor(wine.data, dtype=torch.float32), torch.tensor(wine.target)
    rows: dict[str, list[tuple[float, float]]] = {"raw": [], "min_max": [], "standardised": []}
    for seed in cfg.seeds:
        tr, te = model_selection.train_test_split(range(len(yw)), test_size=0.3, stratify=yw, random_state=seed)
        x, xt, y, yt = xw[tr], xw[te], yw[tr], yw[te]
        mm = MinMaxScale.fit(x)
        mu, sd = x.mean(0), x.std(0)
        for name, (a, b) in {"raw": (x, xt), "min_max": (mm(x), mm(xt)),
                             "standardised": ((x - mu) / sd, (xt - mu) / sd)}.items():
            rows[name].append(_softmax_regression(a, y, b, yt, cfg.steps, cfg.lr, seed))
    scaling = {name: {"test_acc_mean": statistics.mean(a for _, a in r), "test_acc_min": min(a for _, a in r),
                      "final_train_loss_mean": statistics.mean(ls for ls, _ in r)} for name, r in rows.items()}

    diab = datasets.load_diabetes()
    xd, yd = torch.tensor(diab.data, dtype=torch.float64), torch.tensor(diab.target, dtype=torch.float64)
    folds = model_selection.KFold(cfg.folds, shuffle=True, random_state=0)
    poly = {}
    for degree in cfg.degrees:
        r2 = []
        for tr, te in folds.split(xd):
            mm = MinMaxScale.fit(xd[tr])
            a = polynomial_features(mm(xd[tr]).double(), degree)
            b = polynomial_features(mm(xd[te]).double(), degree)
            r2.append(ridge_r2(a, yd[tr], b, yd[te], cfg.ridge))
        poly[f"degree_{degree}"] = {"features": int(a.shape[1]), "cv_r2_mean": statistics.mean(r2),
                                    "cv_r2_std": statistics.stdev(r2)}
    return save_result(cfg, {"wine_softmax_regression": scaling, "diabetes_ridge_polynomial": poly})
