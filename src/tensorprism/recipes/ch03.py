"""Chapter 3 case studies (§3.7) as recipes, on real data, trained with the generic Trainer.

=======================  ====================================================================
``prism run ...``        what it does
=======================  ====================================================================
``mnist-mlp``            784-128-64-10 ReLU MLP on MNIST (book §3.7.1–3.7.2), logits + CE
``mnist-mlp-bn``         the same with batch norm (before ReLU) and dropout (book L4149, L4276)
``diabetes-regression``  d-128-64-1 regression (book §3.7.3 "housing.csv", which the book never
                         names) on scikit-learn's diabetes table, beside a linear baseline
``digits-multilabel``    multi-label head: four attributes of each digit (even, ≥ 5, prime,
                         has a closed loop), independent sigmoids + BCE
``sst2-bow``             bag-of-words MLP for SST-2 sentiment beside a logistic-regression
                         baseline on the same TF-IDF features
``xor``                  the 2-2-1 tanh network that solves XOR, with its decision boundary
=======================  ====================================================================

Each returns the numbers it measured and, with ``out_dir``, writes ``result.json`` and plots.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ..train.callbacks import Callback
from ..train.tasks.multilabel import SigmoidTask
from . import register_recipe
from .kit import RecipeConfig, make_trainer, save_result


class KeepBest(Callback):
    """Keep a copy of the model weights of the epoch with the best ``monitor`` (higher is better)."""

    def __init__(self, monitor: str = "val/acc"):
        self.monitor, self.best, self.epoch, self.state = monitor, float("-inf"), 0, None

    def on_epoch_end(self, trainer, logs) -> None:
        if logs.get(self.monitor, float("-inf")) > self.best:
            self.best, self.epoch = logs[self.monitor], trainer.epoch
            self.state = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}


def _trainer(model, task, train, val, cfg, callbacks=None, sub: str | None = None, **extra):
    """The Trainer of the Chapter 3 recipes: the optimiser, schedule and epochs of ``cfg``."""
    return make_trainer(cfg, model, task, train, val, callbacks=callbacks, sub=sub, optimizer=cfg.optimizer,
                        lr=cfg.lr, weight_decay=cfg.weight_decay, epochs=cfg.epochs, batch_size=cfg.batch_size,
                        **extra)


# ------------------------------------------------------------------------------------ MNIST
@dataclass
class MnistMLPConfig(RecipeConfig):
    model: str = "mlp-mnist"
    model_config: dict[str, Any] = field(default_factory=dict)
    epochs: int = 10
    batch_size: int = 128
    optimizer: str = "adamw"
    lr: float = 1e-3
    weight_decay: float = 1e-4
    scheduler: str | None = "cosine"
    label_smoothing: float = 0.0
    max_train: int | None = None  # a subset of the 55,000 training images (smoke tests)
    seed: int = 0
    device: str = "auto"


def run_mnist_mlp(cfg: MnistMLPConfig) -> dict[str, Any]:
    """Train on MNIST train (55,000), follow val (5,000), report test accuracy (10,000)."""
    from .. import count_parameters, create_model, load_dataset
    from ..train.tasks import create_task

    train, val, test = (load_dataset("mnist", split=s) for s in ("train", "val", "test"))
    if cfg.max_train:
        train = torch.utils.data.Subset(train, range(cfg.max_train))
    torch.manual_seed(cfg.seed)
    model = create_model(cfg.model, **cfg.model_config)
    task = create_task("classification", label_smoothing=cfg.label_smoothing)
    t0 = time.perf_counter()
    trainer = _trainer(model, task, train, val, cfg, scheduler=cfg.scheduler, dataset={"name": "mnist"},
                       task_config={"label_smoothing": cfg.label_smoothing})
    trainer.fit()
    seconds = time.perf_counter() - t0
    test_metrics = trainer.evaluate(test, prefix="test")
    result = {"recipe": "mnist-mlp", "model": cfg.model, "parameters": count_parameters(model),
              "val_acc": trainer.final_metrics.get("val/acc"), "test_acc": test_metrics["test/acc"],
              "test_loss": test_metrics["test/loss"], "epochs": trainer.epoch, "train_seconds": round(seconds, 1),
              "config": asdict(cfg)}
    if cfg.out_dir:
        from ..viz.images import plot_image_grid
        from ..viz.weights import plot_weight_histograms

        out = Path(cfg.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        x, y = next(iter(torch.utils.data.DataLoader(test, batch_size=12)))  # next(it): the book's .next() is gone (E7)
        model.eval()
        with torch.no_grad():
            preds = model(x.to(trainer.device)).argmax(1).cpu()
        plot_image_grid(x, y, preds, path=out / "samples.png")
        model.train()
        F.cross_entropy(model(x.to(trainer.device)), y.to(trainer.device)).backward()
        plot_weight_histograms(model, path=out / "weights.png")
    return save_result(cfg, result)


register_recipe("mnist-mlp", config=MnistMLPConfig, description="784-128-64-10 MLP on MNIST (book §3.7)")(run_mnist_mlp)
register_recipe("mnist-mlp-bn", config=MnistMLPConfig, description="784-128-64-10 MLP + batch norm + dropout on MNIST",
                model="mlp-mnist-bn", epochs=30)(run_mnist_mlp)


@dataclass
class MLPTrainingConfig(RecipeConfig):
    """Settings shared by the small-data recipes (each overrides the defaults it needs)."""

    hidden: tuple[int, ...] = (128,)
    dropout: float = 0.0
    epochs: int = 10
    batch_size: int = 32
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    seed: int = 0
    device: str = "cpu"


# ----------------------------------------------------------------------------- regression
@dataclass
class RegressionConfig(MLPTrainingConfig):
    hidden: tuple[int, ...] = (128, 64)
    epochs: int = 50  # the book's listing: 50 epochs, batch 32, Adam 1e-3 (L4892-4921)
    test_size: float = 0.2
    seed: int = 42  # train_test_split(random_state=42) as the book


@register_recipe("diabetes-regression", config=RegressionConfig)
def diabetes_regression(cfg: RegressionConfig) -> dict[str, Any]:
    """MLP regression on scikit-learn's diabetes table (442 patients, 10 features, disease progression
    after one year), standardised on the training split, beside ordinary least squares."""
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import LinearRegression
    from sklearn.metrics import mean_squared_error, r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    from ..nn.mlp import MLP

    x, y = load_diabetes(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=cfg.test_size, random_state=cfg.seed)
    sx = StandardScaler().fit(x_tr)
    mu, sd = y_tr.mean(), y_tr.std()  # the book leaves y unscaled (E26); scaling y helps Adam at lr 1e-3
    to_t = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    train = torch.utils.data.TensorDataset(to_t(sx.transform(x_tr)), to_t((y_tr - mu) / sd))
    torch.manual_seed(cfg.seed)
    model = MLP(x.shape[1], cfg.hidden, 1, dropout=cfg.dropout, head="regression")
    trainer = _trainer(model, "regression", train, None, cfg)
    trainer.fit()
    model.eval()
    with torch.no_grad():
        pred = model(to_t(sx.transform(x_te))).squeeze(1).numpy() * sd + mu
    ols = LinearRegression().fit(sx.transform(x_tr), y_tr).predict(sx.transform(x_te))
    result = {"recipe": "diabetes-regression", "n_train": len(x_tr), "n_test": len(x_te),
              "mlp_test_mse": float(mean_squared_error(y_te, pred)), "mlp_test_r2": float(r2_score(y_te, pred)),
              "linear_test_mse": float(mean_squared_error(y_te, ols)), "linear_test_r2": float(r2_score(y_te, ols)),
              "config": asdict(cfg)}
    return save_result(cfg, result)


# ----------------------------------------------------------------------------- multi-label
DIGIT_ATTRIBUTES = {  # attribute -> digits that have it
    "even": (0, 2, 4, 6, 8),
    "at_least_5": (5, 6, 7, 8, 9),
    "prime": (2, 3, 5, 7),
    "closed_loop": (0, 4, 6, 8, 9),
}


def digit_attributes(labels: torch.Tensor) -> torch.Tensor:
    """``(N,)`` digit labels → ``(N, 4)`` 0/1 attribute targets (:data:`DIGIT_ATTRIBUTES`)."""
    table = torch.zeros(10, len(DIGIT_ATTRIBUTES))
    for k, digits in enumerate(DIGIT_ATTRIBUTES.values()):
        table[list(digits), k] = 1.0
    return table[labels]


@dataclass
class MultilabelConfig(MLPTrainingConfig):
    epochs: int = 40
    lr: float = 2e-3
    dropout: float = 0.1


@register_recipe("digits-multilabel", config=MultilabelConfig)
def digits_multilabel(cfg: MultilabelConfig) -> dict[str, Any]:
    """Multi-label MLP (book L2813: K sigmoid outputs) predicting four attributes of 8×8 digits."""
    from .. import load_dataset
    from ..nn.mlp import MLP

    def split(name):
        ds = load_dataset("digits", split=name)
        x, y = ds.tensors()
        return torch.utils.data.TensorDataset(x, digit_attributes(y))

    train, val, test = split("train"), split("val"), split("test")
    k = len(DIGIT_ATTRIBUTES)
    torch.manual_seed(cfg.seed)
    model = MLP(64, cfg.hidden, k, dropout=cfg.dropout, head="multilabel")
    trainer = _trainer(model, SigmoidTask(k), train, val, cfg)
    trainer.fit()
    metrics = trainer.evaluate(test, prefix="test")
    x_te, y_te = test.tensors
    model.eval()
    with torch.no_grad():
        per_label = ((model(x_te) > 0).float() == y_te).float().mean(0)
    result = {"recipe": "digits-multilabel", "labels": list(DIGIT_ATTRIBUTES),
              "test_label_acc": metrics["test/acc"], "test_exact_match": metrics["test/exact"],
              "test_micro_f1": metrics["test/f1"],
              "test_acc_per_label": dict(zip(DIGIT_ATTRIBUTES, per_label.tolist(), strict=True)), "config": asdict(cfg)}
    return save_result(cfg, result)


# ------------------------------------------------------------------------- SST-2 bag of words
class BagOfWords(torch.utils.data.Dataset):
    """Rows of a SciPy CSR matrix with labels; batches collate to ``((indices, offsets, values), y)``,
    the input of :class:`~tensorprism.nn.mlp.SparseLinear`."""

    def __init__(self, csr, labels):
        self.csr, self.labels = csr.tocsr().astype("float32"), torch.as_tensor(labels, dtype=torch.long)

    def __len__(self) -> int:
        return self.csr.shape[0]

    def __getitem__(self, i: int) -> int:
        return i

    def collate_fn(self, rows: list[int]):
        sub = self.csr[rows]
        bow = (torch.from_numpy(sub.indices).long(), torch.from_numpy(sub.indptr[:-1]).long(), torch.from_numpy(sub.data))
        return bow, self.labels[rows]


@dataclass
class SST2BowConfig(MLPTrainingConfig):
    ngram_max: int = 2
    min_df: int = 2
    dropout: float = 0.5
    input_dropout: float = 0.0  # word dropout on the bag of words
    epochs: int = 3
    batch_size: int = 256
    lr: float = 2e-3
    logreg_c: tuple[float, ...] = (1.0, 4.0, 16.0)  # the baseline's C is chosen on dev
    max_train: int | None = None


@register_recipe("sst2-bow", config=SST2BowConfig)
def sst2_bow(cfg: SST2BowConfig) -> dict[str, Any]:
    """TF-IDF bag of uni+bi-grams → MLP (first layer a sparse gather-sum) vs logistic regression.

    Both use the same features fitted on the 67,349 training phrases; the MLP's epoch and the
    baseline's C are chosen on dev (872 sentences); both are scored once on test (1,821).
    """
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from .. import load_dataset
    from ..nn.mlp import MLP

    rows = {s: load_dataset("sst2", split=s) for s in ("train", "dev", "test")}
    rows["train"] = rows["train"][: cfg.max_train]
    vec = TfidfVectorizer(ngram_range=(1, cfg.ngram_max), min_df=cfg.min_df, sublinear_tf=True)
    vec.fit([s for s, _ in rows["train"]])
    feats = {k: (vec.transform([s for s, _ in v]), np.array([y for _, y in v])) for k, v in rows.items()}
    t0 = time.perf_counter()
    best_lr = max((LogisticRegression(C=c, solver="liblinear").fit(*feats["train"]) for c in cfg.logreg_c),
                  key=lambda m: m.score(*feats["dev"]))
    lr_seconds = time.perf_counter() - t0
    data = {k: BagOfWords(*v) for k, v in feats.items()}
    torch.manual_seed(cfg.seed)
    model = MLP(len(vec.vocabulary_), cfg.hidden, 2, dropout=cfg.dropout, input_dropout=cfg.input_dropout,
                sparse_input=True)
    t0 = time.perf_counter()
    keep = KeepBest("val/acc")
    trainer = _trainer(model, "classification", data["train"], data["dev"], cfg, callbacks=[keep])
    trainer.fit()
    mlp_seconds = time.perf_counter() - t0
    model.load_state_dict(keep.state)
    test_acc = trainer.evaluate(data["test"], prefix="test")["test/acc"]
    result = {"recipe": "sst2-bow", "features": len(vec.vocabulary_), "n_train": len(rows["train"]),
              "mlp_dev_acc": keep.best, "mlp_best_epoch": keep.epoch, "mlp_test_acc": test_acc,
              "logreg_C": best_lr.C, "logreg_dev_acc": best_lr.score(*feats["dev"]),
              "logreg_test_acc": best_lr.score(*feats["test"]), "mlp_seconds": round(mlp_seconds, 1),
              "logreg_seconds": round(lr_seconds, 1), "config": asdict(cfg)}
    return save_result(cfg, result)


# ------------------------------------------------------------------------------------ XOR
XOR_X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = torch.tensor([[0.0], [1.0], [1.0], [0.0]])


@dataclass
class XorConfig(RecipeConfig):
    activation: str = "tanh"
    epochs: int = 500  # full-batch steps
    optimizer: str = "adam"
    lr: float = 0.05
    weight_decay: float = 0.0
    batch_size: int = 4
    restarts: int = 10  # 2-2-1 nets sometimes stall in a poor minimum: count how often
    seed: int = 0
    device: str = "cpu"


@register_recipe("xor", config=XorConfig)
def xor(cfg: XorConfig) -> dict[str, Any]:
    """Train the 2-2-1 network on XOR from ``restarts`` seeds; report how many solve it and plot
    the decision boundary of the first that does. (A single linear layer cannot: XOR is not
    linearly separable.)"""
    from .. import create_model

    data = torch.utils.data.TensorDataset(XOR_X, XOR_Y)
    runs = []
    for r in range(cfg.restarts):
        torch.manual_seed(cfg.seed + r)
        model = create_model("mlp-xor", activation=cfg.activation)
        _trainer(model, SigmoidTask(1), data, None, cfg, sub=f"restart-{r}").fit()
        model.eval()
        with torch.no_grad():
            prob = torch.sigmoid(model(XOR_X)).squeeze(1)
        runs.append({"seed": cfg.seed + r, "solved": bool(((prob > 0.5).float() == XOR_Y.squeeze(1)).all()),
                     "outputs": [round(p, 4) for p in prob.tolist()], "model": model})
    solved = [r for r in runs if r["solved"]]
    if cfg.out_dir and solved:
        from ..viz.decision import plot_decision_boundary

        Path(cfg.out_dir).mkdir(parents=True, exist_ok=True)
        plot_decision_boundary(solved[0]["model"], XOR_X, XOR_Y, path=Path(cfg.out_dir) / "xor_boundary.png",
                               title="2-2-1 tanh network on XOR: σ(output)")
    for r in runs:
        r.pop("model")
    result = {"recipe": "xor", "solved": len(solved), "restarts": cfg.restarts, "runs": runs, "config": asdict(cfg)}
    return save_result(cfg, result)
