"""Chapter 11: explaining a trained model -- permutation importance, exact and sampled Shapley
values and LIME on a real table (scikit-learn's wine, 13 features, or another bundled table), and
LIME over image patches for an MNIST CNN.

Global: permutation importance on the test split (the drop of the score, by default the negative
log-loss, positive for a used feature)
beside the mean absolute exact Shapley value over ``points`` test rows (value function: the
interventional expectation over ``background`` training rows), with their rank correlation.
Local: for the first test row, the exact Shapley values, the permutation-sampling estimate's error,
and LIME's coefficients. Image: LIME coefficients of the ``patch × patch`` squares of one test digit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..config import setting
from . import register_recipe
from .kit import RecipeConfig, make_trainer, save_result


@dataclass
class ExplainConfig(RecipeConfig):
    """Permutation importance, Shapley values and LIME for an MLP on a table (and a CNN on MNIST).

    Attributes:
        table: a bundled scikit-learn table (``wine``, ``breast-cancer``, ``iris``).
        epochs: training epochs of the MLP (Adam, lr 1e-2).
        repeats: shuffles per feature of the permutation importance.
        scoring: its score: ``neg_cross_entropy`` (the test log-loss; sensitive even when no
            prediction flips) or ``accuracy``.
        points, background: test rows explained, training rows of the Shapley value function.
        permutations: orders of the sampling Shapley estimator.
        lime_samples: perturbations per LIME explanation.
        image: also explain an MNIST CNN with image LIME (needs MNIST).
        image_train, image_epochs, patch: the CNN's training images and epochs; LIME's square size.
    """

    table: str = setting("wine", choices=("wine", "breast-cancer", "iris"))
    epochs: int = setting(60, min=1)
    repeats: int = setting(10, min=1)
    scoring: str = setting("neg_cross_entropy", choices=("neg_cross_entropy", "accuracy"))
    points: int = setting(10, min=1)
    background: int = setting(30, min=1)
    permutations: int = setting(200, min=1)
    lime_samples: int = setting(2000, min=2)
    image: bool = True
    image_train: int = setting(5000, min=1)
    image_epochs: int = setting(1, min=1)
    patch: int = setting(7, min=1)
    data_root: str | None = None


@register_recipe("ch11-explain", config=ExplainConfig)
def explain(cfg: ExplainConfig) -> dict:
    """Global and local attributions of a trained MLP (and image LIME of a CNN)."""
    import numpy as np
    import torch
    from scipy.stats import spearmanr

    from .. import load_dataset
    from ..explain.lime import lime_image, lime_tabular, patch_segments
    from ..explain.permutation import permutation_importance
    from ..explain.shapley import exact_shapley, sampling_shapley
    from ..models import create_model

    train, val, test = (load_dataset(cfg.table, split=s, seed=cfg.seed) for s in ("train", "val", "test"))
    xtr, ytr = train.tensors()
    xte, yte = test.tensors()
    torch.manual_seed(cfg.seed)
    model = create_model("mlp", in_features=xtr.shape[1], num_classes=train.num_classes, hidden=[32])
    make_trainer(cfg, model, "classification", train, val, test, sub="mlp", dataset={"name": cfg.table},
                 epochs=cfg.epochs, lr=1e-2, optimizer="adam", batch_size=32, device="cpu").fit()
    model.eval()
    with torch.no_grad():
        test_acc = float((model(xte).argmax(1) == yte).double().mean())
    perm = permutation_importance(model, xte, yte, scoring=cfg.scoring, n_repeats=cfg.repeats, seed=cfg.seed)
    bg = xtr[torch.randperm(len(xtr), generator=torch.Generator().manual_seed(cfg.seed))[:cfg.background]]

    def prob(x):  # the explained output: the probability of each row's predicted class is picked below
        with torch.no_grad():
            return torch.softmax(model(x.float()), dim=1)

    pts = xte[: cfg.points]
    classes = prob(pts).argmax(1)
    phis = [exact_shapley(lambda z, c=int(c): prob(z)[:, c], p.double(), bg.double()).values
            for p, c in zip(pts, classes, strict=True)]
    mean_abs = torch.stack(phis).abs().mean(0).numpy()
    rho = float(spearmanr(perm.importances_mean, mean_abs).statistic)
    c0 = int(classes[0])
    exact0 = phis[0]
    sampled = sampling_shapley(lambda z: prob(z)[:, c0], pts[0].double(), bg.double(),
                               n_permutations=cfg.permutations, seed=cfg.seed)
    lime = lime_tabular(lambda z: prob(z)[:, c0], pts[0].double(), xtr.double(), num_samples=cfg.lime_samples,
                        seed=cfg.seed)
    import sklearn.datasets

    loader = {"wine": "load_wine", "breast-cancer": "load_breast_cancer", "iris": "load_iris"}[cfg.table]
    names = list(getattr(sklearn.datasets, loader)().feature_names)  # the bundled table's column names
    features = [{"feature": str(n), "permutation_importance": float(perm.importances_mean[j]),
                 "permutation_std": float(perm.importances_std[j]), "mean_abs_shapley": float(mean_abs[j]),
                 "shapley_point0": float(exact0[j]), "sampled_point0": float(sampled.values[j]),
                 "lime_point0": float(lime.coef[j])} for j, n in enumerate(names)]
    result = {"table": cfg.table, "test_acc": test_acc, "scoring": cfg.scoring, "baseline_score": perm.baseline,
              "spearman_permutation_vs_shapley": rho,
              "sampling_max_abs_error": float((sampled.values - exact0).abs().max()),
              "sampling_max_stderr": float(sampled.stderr.max()),
              "efficiency_error": float(abs(exact0.sum() - (prob(pts[:1].double())[0, c0] - prob(bg)[:, c0].mean()))),
              "lime_score": lime.score, "features": features}
    if cfg.image:
        mnist = load_dataset("mnist", root=cfg.data_root, split="train")
        sub = torch.utils.data.Subset(mnist, range(min(cfg.image_train, len(mnist))))
        torch.manual_seed(cfg.seed)
        cnn = create_model("simple-cnn", channels=(16,), hidden=(64,))
        make_trainer(cfg, cnn, "classification", sub, sub="cnn", dataset={"name": "mnist", "root": cfg.data_root},
                     epochs=cfg.image_epochs, lr=1e-3, optimizer="adam", batch_size=64, device="cpu").fit()
        cnn.eval()
        img, label = load_dataset("mnist", root=cfg.data_root, split="test")[0]
        seg = patch_segments(28, 28, cfg.patch)
        with torch.no_grad():
            pred = int(cnn(img[None]).argmax(1))
        exp = lime_image(lambda b: torch.softmax(cnn(b.float()), 1)[:, pred], img.double(), seg,
                         num_samples=cfg.lime_samples, seed=cfg.seed)
        side = int(np.ceil(28 / cfg.patch))
        result["image"] = {"label": int(label), "predicted": pred, "lime_score": exp.score,
                           "patch_coefficients": exp.coef.reshape(side, side).tolist()}
    return save_result(cfg, {**result, "config": asdict(cfg)})
