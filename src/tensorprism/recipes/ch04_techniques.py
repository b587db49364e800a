"""Chapter 4 training techniques as measured experiments (book §4.5.3–§4.5.5, §4.6.4).

* ``ch04-transfer``: pre-train on CIFAR-10 classes 0–4, save the backbone to a local safetensors file,
  then learn classes 5–9 from ``labels_per_class`` labels each: from scratch vs linear probe (frozen
  backbone, new head) vs full fine-tuning with discriminative learning rates.
* ``ch04-hpo``: grid vs random vs Bayesian (Optuna) search of learning rate × batch size for the book's
  HPO CNN on an MNIST subset, selected on a validation split; test accuracy of each winner.
* ``ch04-ensembles``: LeNet-5 members on an MNIST subset: single model vs averaging of independently
  seeded members vs bagging vs a snapshot ensemble vs stacking; and the book's scikit-learn ensembles on Iris.
* ``ch04-metric``: triplet (batch-hard) embedding of MNIST digits; recall@1 on the test set.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Subset

from . import register_recipe
from .ch04_classification import random_subset
from .kit import RecipeConfig, make_trainer, save_result


def _trainer(model, task, train, cfg, sub: str | None = None, **kw):
    """The Trainer of these studies (AdamW, one-cycle), writing into ``<out_dir>/<sub>``."""
    args = dict(epochs=cfg.epochs, batch_size=getattr(cfg, "batch_size", 64), eval_batch_size=1000, optimizer="adamw",
                lr=getattr(cfg, "lr", 1e-3), weight_decay=5e-4, scheduler="onecycle")
    args.update(kw)
    return make_trainer(cfg, model, task, train, sub=sub, **args)


def _images(name: str, split: str):
    from ..data import load_dataset

    return load_dataset(name, split=split, normalize=False)


def _mnist_setup(cfg, n: int):
    """The MNIST normaliser and the first ``n`` training images (``[0, 1]``) of the recipe."""
    from ..data.transforms import MNIST_STATS, Normalize

    return Normalize(*MNIST_STATS), random_subset(_images("mnist", "train"), n, cfg.seed)


@torch.no_grad()
def _accuracy(model, x: torch.Tensor, y: torch.Tensor, preprocess=None) -> float:
    from ..vision.ensembles import average_probabilities

    x = preprocess(x) if preprocess is not None else x
    return (average_probabilities([model], x).argmax(1) == y).float().mean().item()


# ---------------------------------------------------------------------------------------------
@dataclass
class TransferConfig(RecipeConfig):
    pretrain_samples: int | None = None  # source images of classes 0–4 (None: all 25,000)
    pretrain_epochs: int = 8
    labels_per_class: int = 50
    epochs: int = 30
    batch_size: int = 64
    lr: float = 3e-3
    lr_decay: float = 0.3  # fine-tuning: each stage closer to the input gets 0.3× the rate of the one above
    max_test_samples: int | None = None  # a random subset of each half's test images (None: all 5,000 + 5,000)
    device: str = "auto"
    seed: int = 0


def _cifar_cnn(num_classes: int = 5):
    from ..models import create_model

    return create_model("simple-cnn", in_chans=3, img_size=32, channels=(32, 64, 128), padding="same", norm="bn",
                        hidden=(), global_pool=True, num_classes=num_classes)


@register_recipe("ch04-transfer", config=TransferConfig)
def transfer(cfg: TransferConfig) -> dict[str, Any]:
    """Pre-train on CIFAR-10 classes 0–4, then learn 5–9 from few labels: scratch vs linear probe vs fine-tune."""
    from ..data.transforms import CIFAR10_STATS, Normalize
    from ..vision.training import AugmentedClassificationTask
    from ..vision.transfer import FineTuneTask, freeze, load_backbone, save_backbone
    from .ch04_classification import augmentation

    norm = Normalize(*CIFAR10_STATS)
    train, test = _images("cifar10", "trainval"), _images("cifar10", "test")
    y_tr = train.targets
    g = torch.Generator().manual_seed(cfg.seed)
    src = (y_tr < 5).nonzero().flatten()  # the archive is stored class by class: sample, never take a prefix
    src = src[torch.randperm(len(src), generator=g)[: cfg.pretrain_samples]]
    tgt = torch.cat([(y_tr == c).nonzero().flatten()[torch.randperm(int((y_tr == c).sum()), generator=g)[: cfg.labels_per_class]]
                     for c in range(5, 10)])

    class Relabel(Subset):  # classes 5..9 -> 0..4
        def __getitem__(self, i):
            x, y = super().__getitem__(i)
            return x, y - 5

        def __getitems__(self, idx):
            return [self[i] for i in idx]

    target_train = Relabel(train, tgt.tolist())
    x_all, y_all = test.tensors()
    if cfg.max_test_samples:  # the same random images for every variant (the archive is class-sorted)
        pick = torch.randperm(len(y_all), generator=torch.Generator().manual_seed(cfg.seed))
        x_all, y_all = x_all[pick], y_all[pick]
    seen = y_all < 5
    (x_src, y_src), (x_test, yt) = [(x_all[m][: cfg.max_test_samples], y_all[m][: cfg.max_test_samples])
                                    for m in (seen, ~seen)]
    yt = yt - 5
    aug = augmentation("cifar", cfg.seed)
    t0 = time.perf_counter()
    source = _cifar_cnn()
    _trainer(source, AugmentedClassificationTask(aug, norm, 5), Subset(train, src.tolist()), cfg, sub="source",
             epochs=cfg.pretrain_epochs).fit()
    out_dir = Path(cfg.out_dir) if cfg.out_dir else Path(tempfile.mkdtemp())
    weights = save_backbone(source, out_dir / "cifar5_backbone.safetensors")
    pre_acc = _accuracy(source, x_src, y_src, norm)
    results = {}
    for variant in ("scratch", "linear_probe", "fine_tune"):
        model = _cifar_cnn()
        task = AugmentedClassificationTask(aug, norm, 5)
        if variant != "scratch":
            load_backbone(model, weights)
        if variant == "linear_probe":
            freeze(model, keep_trainable=("classifier",))
        if variant == "fine_tune":
            task = FineTuneTask(aug, norm, 5, lr_decay=cfg.lr_decay)
        _trainer(model, task, target_train, cfg, sub=variant).fit()
        results[f"acc_{variant}"] = _accuracy(model, x_test, yt, norm)
    return save_result(cfg, {"config": asdict(cfg), "source_acc_classes_0_4": pre_acc, **results,
                             "weights_file": str(weights), "wall_s": round(time.perf_counter() - t0, 1)})


# ---------------------------------------------------------------------------------------------
@dataclass
class HPOConfig(RecipeConfig):
    train_samples: int = 3000
    val_samples: int = 2000
    epochs: int = 1
    trials: int = 9
    device: str = "cpu"
    seed: int = 0


@register_recipe("ch04-hpo", config=HPOConfig)
def hpo(cfg: HPOConfig) -> dict[str, Any]:
    """Grid vs random vs Bayesian (Optuna) search of lr × batch size for the book's CNN on MNIST."""
    from ..models import create_model
    from ..train.search import bayes_search, grid_search, random_search
    from ..vision.training import AugmentedClassificationTask

    norm, train = _mnist_setup(cfg, cfg.train_samples)
    x_val, y_val = (t[: cfg.val_samples] for t in _images("mnist", "val").tensors())
    x_test, y_test = _images("mnist", "test").tensors()

    fits = []

    def fit(params):
        torch.manual_seed(cfg.seed)
        model = create_model("hpo-cnn-book")
        fits.append(params)
        _trainer(model, AugmentedClassificationTask(None, norm, 10), train, cfg, sub=f"fit-{len(fits)}", lr=params["lr"],
                 batch_size=int(params["batch_size"]), optimizer="adam", weight_decay=0.0, scheduler=None).fit()
        return model

    def objective(params):
        return _accuracy(fit(params), x_val, y_val, norm)

    grid = {"lr": [1e-3, 1e-2, 1e-1], "batch_size": [16, 32, 64]}  # book line 7724
    ranges = {"lr": ("log", 1e-4, 1e-1), "batch_size": [16, 32, 64]}
    out = {"config": asdict(cfg)}
    t0 = time.perf_counter()
    for name, res in [("grid", grid_search(objective, grid)), ("random", random_search(objective, ranges, cfg.trials, cfg.seed)),
                      ("bayes", bayes_search(objective, ranges, cfg.trials, cfg.seed))]:
        out[name] = {"best_params": res.best_params, "val_acc": res.best_value,
                     "test_acc": _accuracy(fit(res.best_params), x_test, y_test, norm), "trials": len(res.trials)}
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    return save_result(cfg, out)


# ---------------------------------------------------------------------------------------------
@dataclass
class EnsembleConfig(RecipeConfig):
    train_samples: int = 5000
    members: int = 5
    epochs: int = 3
    batch_size: int = 64
    lr: float = 3e-3
    device: str = "cpu"
    seed: int = 0


@register_recipe("ch04-ensembles", config=EnsembleConfig)
def ensembles(cfg: EnsembleConfig) -> dict[str, Any]:
    """LeNet-5 ensembles on MNIST (seed averaging, bagging, snapshots, stacking) and the book's Iris ensembles."""
    from ..data.transforms import MNIST_STATS, Normalize
    from ..models import create_model
    from ..vision.ensembles import (
        SnapshotCollector,
        StackedEnsemble,
        average_probabilities,
        bootstrap_indices,
    )
    from ..vision.training import AugmentedClassificationTask

    norm = Normalize(*MNIST_STATS)
    base = _images("mnist", "train")
    x_val, y_val = (t[:2000] for t in _images("mnist", "val").tensors())
    x_test, y_test = _images("mnist", "test").tensors()
    x_val, x_test = norm(x_val), norm(x_test)
    t0 = time.perf_counter()

    members = []

    def member(indices, seed, **kw):
        torch.manual_seed(seed)
        model = create_model("lenet5")
        members.append(seed)
        _trainer(model, AugmentedClassificationTask(None, norm, 10), Subset(base, indices), cfg,
                 sub=f"member-{len(members)}", seed=seed, **kw).fit()
        return model.eval()

    def acc(models):
        return (average_probabilities(models, x_test).argmax(1) == y_test).float().mean().item()

    n = cfg.train_samples
    seeded = [member(list(range(n)), cfg.seed + m) for m in range(cfg.members)]
    bagged = [member(bootstrap_indices(n, cfg.seed + 100 + m).tolist(), cfg.seed + m) for m in range(cfg.members)]
    steps_per_epoch = -(-n // cfg.batch_size)
    cycle = steps_per_epoch * cfg.epochs
    collector = SnapshotCollector(cycle)
    member(list(range(n)), cfg.seed, epochs=cfg.epochs * cfg.members, callbacks=[collector],
           scheduler={"name": "cosine", "cycle": cycle})
    # the fair baseline of a snapshot ensemble (Huang et al. 2017): one model, one schedule, the same total epochs
    same_budget = member(list(range(n)), cfg.seed, epochs=cfg.epochs * cfg.members)
    stacked = StackedEnsemble(seeded).fit(x_val, y_val)
    single = [acc([m]) for m in seeded]
    result = {
        "config": asdict(cfg), "single_mean": sum(single) / len(single), "single_best": max(single),
        "average_of_seeds": acc(seeded), "bagging": acc(bagged), "snapshot": acc(collector.snapshots),
        "snapshot_last_only": acc(collector.snapshots[-1:]), "n_snapshots": len(collector.snapshots),
        "snapshot_last_k": {k: acc(collector.snapshots[-k:]) for k in range(2, len(collector.snapshots) + 1)},
        "single_same_budget": acc([same_budget]),
        "stacking": (stacked.predict(x_test) == y_test).float().mean().item(),
        "iris": iris_ensembles(), "wall_s": round(time.perf_counter() - t0, 1),
    }
    return save_result(cfg, result)


def iris_ensembles() -> dict[str, float]:
    """The book's scikit-learn ensembles on Iris (70/30 split, random_state 42; lines 7958–8114)."""
    from sklearn.datasets import load_iris
    from sklearn.ensemble import AdaBoostClassifier, RandomForestClassifier, StackingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.tree import DecisionTreeClassifier

    x, y = load_iris(return_X_y=True)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.3, random_state=42)
    base = [("lr", LogisticRegression(max_iter=1000)), ("dt", DecisionTreeClassifier(random_state=42)), ("knn", KNeighborsClassifier())]
    out = {
        "random_forest": RandomForestClassifier(n_estimators=100, random_state=42).fit(xtr, ytr).score(xte, yte),
        "adaboost": AdaBoostClassifier(n_estimators=100, random_state=42).fit(xtr, ytr).score(xte, yte),
        "stacking": StackingClassifier(base, final_estimator=RandomForestClassifier(n_estimators=100, random_state=42))
        .fit(xtr, ytr).score(xte, yte),
    }
    # blending (book L67): base models on 80 % of the training part, meta-model on their hard predictions for the rest
    xa, xb, ya, yb = train_test_split(xtr, ytr, test_size=0.2, random_state=42)
    fitted = [m.fit(xa, ya) for _, m in base]
    import numpy as np

    meta = RandomForestClassifier(n_estimators=100, random_state=42).fit(np.column_stack([m.predict(xb) for m in fitted]), yb)
    out["blending"] = meta.score(np.column_stack([m.predict(xte) for m in fitted]), yte)
    return {k: float(v) for k, v in out.items()}


# ---------------------------------------------------------------------------------------------
@dataclass
class MetricConfig(RecipeConfig):
    train_samples: int = 10000
    epochs: int = 3
    batch_size: int = 128
    lr: float = 3e-3
    dim: int = 32
    margin: float = 0.2
    device: str = "cpu"
    seed: int = 0


@register_recipe("ch04-metric", config=MetricConfig)
def metric(cfg: MetricConfig) -> dict[str, Any]:
    """Triplet (batch-hard) embedding of MNIST digits; test recall@1."""
    from ..models import create_model
    from ..vision.metric_learning import EmbeddingNet, TripletTask, recall_at_k

    norm, train = _mnist_setup(cfg, cfg.train_samples)
    x_test, y_test = _images("mnist", "test").tensors()
    net = EmbeddingNet(create_model("lenet5", num_classes=0), cfg.dim)
    t0 = time.perf_counter()
    _trainer(net, TripletTask(cfg.margin, norm), train, cfg).fit()
    net.eval()
    with torch.no_grad():
        emb = torch.cat([net(norm(x_test[i : i + 1000])) for i in range(0, len(x_test), 1000)])
    return save_result(cfg, {"config": asdict(cfg),
                             "test_recall_at_1": recall_at_k(emb, y_test, emb, y_test, 1, exclude_self=True),
                             "wall_s": round(time.perf_counter() - t0, 1)})
