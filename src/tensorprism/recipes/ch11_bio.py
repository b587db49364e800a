"""Chapter 11, biologically inspired learning: a surrogate-gradient spiking network on MNIST (on the
Trainer), principal components learned by Hebbian rules, and Hopfield-network capacity.

* ``ch11-snn`` -- ``snn-mlp`` (LIF neurons, :mod:`tensorprism.models.spiking`) trained with the
  ``classification`` task; reports test accuracy and the hidden firing rate.
* ``ch11-hebbian`` -- Oja's rule and Sanger's GHA on scikit-learn's digits (8×8, 1,797 images)
  against PCA: the cosine between each learned weight vector and the principal component, and the
  book's plain Hebbian rule whose norm diverges.
* ``ch11-hopfield`` -- recall of random ±1 patterns against the load ``P/N`` beside Amit,
  Gutfreund & Sompolinsky's ``α_c ≈ 0.138``, with a plot.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..config import setting
from . import register_recipe
from .kit import RecipeConfig, make_trainer, run_dir, save_result

# Published MNIST test accuracies of spiking networks, for context (different budgets and sizes).
SNN_MNIST_PUBLISHED = {
    "Diehl & Cook 2015 (unsupervised STDP, 6,400 excitatory neurons)": 95.0,
    "Lee, Delbruck & Pfeiffer 2016 (backprop on membrane potentials, 784-800-10)": 98.71,
    "Wu et al. 2018, STBP (surrogate gradient, 784-800-10)": 98.89,
    "Shrestha & Orchard 2018, SLAYER (spiking CNN)": 99.36,
}


@dataclass
class SNNConfig(RecipeConfig):
    """Surrogate-gradient spiking network on MNIST.

    Attributes:
        hidden: LIF layer widths.
        steps: time steps each image is presented for.
        tau: membrane time constant in steps (the decay is trained from there).
        epochs, batch_size, lr: Adam training on the ``classification`` task.
        max_train, max_test: seeded subsets (``None``: all 55,000 / 10,000).
    """

    hidden: tuple[int, ...] = (256,)
    steps: int = setting(25, min=1)
    tau: float = setting(5.0, gt=0)
    epochs: int = setting(1, min=1)
    batch_size: int = setting(128, min=1)
    lr: float = setting(1e-3, gt=0)
    max_train: int | None = setting(None, min=1)
    max_test: int | None = setting(None, min=1)
    data_root: str | None = None


def _subset(ds, limit: int | None, seed: int):
    import torch

    if limit and limit < len(ds):
        idx = torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed))[:limit].tolist()
        return torch.utils.data.Subset(ds, idx)
    return ds


@register_recipe("ch11-snn", config=SNNConfig)
def snn_mnist(cfg: SNNConfig) -> dict:
    """Train ``snn-mlp`` on MNIST; test accuracy and firing rate beside published SNN results."""
    import torch

    from .. import load_dataset
    from ..models import count_parameters, create_model

    train = _subset(load_dataset("mnist", root=cfg.data_root, split="train"), cfg.max_train, cfg.seed)
    test = _subset(load_dataset("mnist", root=cfg.data_root, split="test"), cfg.max_test, cfg.seed)
    torch.manual_seed(cfg.seed)
    model = create_model("snn-mlp", hidden=tuple(cfg.hidden), steps=cfg.steps, tau=cfg.tau)
    trainer = make_trainer(cfg, model, "classification", train,
                           dataset={"name": "mnist", "root": cfg.data_root}, epochs=cfg.epochs,
                           batch_size=cfg.batch_size, lr=cfg.lr, optimizer="adam", eval_batch_size=500)
    t0 = time.perf_counter()
    trainer.fit()
    train_s = time.perf_counter() - t0
    metrics = trainer.evaluate(test, prefix="test")
    result = {"test_acc": metrics["test/acc"], "test_loss": metrics["test/loss"],
              "firing_rate": model.firing_rate, "steps": cfg.steps, "parameters": count_parameters(model),
              "membrane_decay": [float(lif.beta.detach()) for lif in model.lifs], "train_s": train_s,
              "optimizer_steps": trainer.global_step, "published_mnist_acc": SNN_MNIST_PUBLISHED,
              "config": asdict(cfg)}
    return save_result(cfg, result)


@dataclass
class HebbianConfig(RecipeConfig):
    """Hebbian learning of principal components on scikit-learn's digits.

    Attributes:
        components: neurons trained with Sanger's rule (Oja's trains one).
        epochs, lr, batch_size: the online schedule (see :class:`~tensorprism.unsupervised.hebbian.HebbianPCA`).
        hebb_epochs: epochs of the book's plain rule (its norm grows geometrically).
    """

    components: int = setting(3, min=1, max=64)
    epochs: int = setting(100, min=1)
    lr: float = setting(0.5, gt=0)
    batch_size: int = setting(64, min=1)
    hebb_epochs: int = setting(5, min=1)


@register_recipe("ch11-hebbian", config=HebbianConfig)
def hebbian_pca(cfg: HebbianConfig) -> dict:
    """Cosine of Oja's / Sanger's weights with the principal components of the digits."""
    import numpy as np
    from sklearn.datasets import load_digits

    from ..unsupervised import PCA
    from ..unsupervised.hebbian import HebbianPCA

    X = load_digits().data
    pca = PCA(cfg.components).fit(X)
    ref = pca.components_

    def cosines(W):
        W = W / np.linalg.norm(W, axis=1, keepdims=True)
        return [float(abs(W[i] @ ref[i])) for i in range(len(W))]

    common = dict(lr=cfg.lr, epochs=cfg.epochs, batch_size=cfg.batch_size, random_state=cfg.seed)
    t0 = time.perf_counter()
    oja = HebbianPCA(1, rule="oja", **common).fit(X)
    gha = HebbianPCA(cfg.components, rule="sanger", **common).fit(X)
    hebb = HebbianPCA(1, rule="hebb", **{**common, "epochs": cfg.hebb_epochs}).fit(X)
    result = {"data": "sklearn digits (1797 x 64)", "explained_variance_ratio": pca.explained_variance_ratio_.tolist(),
              "oja_cosine_pc1": cosines(oja.components_)[0], "oja_norm": float(np.linalg.norm(oja.components_)),
              "sanger_cosines": cosines(gha.components_),
              "sanger_norms": np.linalg.norm(gha.components_, axis=1).tolist(),
              "hebb_cosine_pc1": cosines(hebb.components_)[0], "hebb_norm_by_epoch": hebb.norm_history_,
              "updates": oja.n_iter_, "fit_s": time.perf_counter() - t0, "config": asdict(cfg)}
    return save_result(cfg, result)


@dataclass
class HopfieldConfig(RecipeConfig):
    """Hopfield capacity: recall against the load ``P/N``.

    Attributes:
        neurons: ``N``.
        loads: the loads ``α = P/N`` measured.
        trials: independent pattern sets per load.
        noise: fraction of each probe's bits flipped before recall.
        mode: ``"async"`` or ``"sync"`` updates.
    """

    neurons: int = setting(500, min=2)
    loads: list[float] = field(default_factory=lambda: [0.02, 0.05, 0.08, 0.1, 0.12, 0.13, 0.14, 0.15, 0.16,
                                                        0.18, 0.2, 0.25])
    trials: int = setting(3, min=1)
    noise: float = setting(0.05, min=0, max=0.49)
    mode: str = setting("async", choices=("async", "sync"))


@register_recipe("ch11-hopfield", config=HopfieldConfig)
def hopfield_capacity(cfg: HopfieldConfig) -> dict:
    """The recall-vs-load table (and plot) of a Hopfield network."""
    import math

    from ..unsupervised.hopfield import AGS_CAPACITY, capacity_curve

    t0 = time.perf_counter()
    points = capacity_curve(cfg.neurons, list(cfg.loads), trials=cfg.trials, noise=cfg.noise, seed=cfg.seed,
                            mode=cfg.mode)
    rows = [asdict(p) for p in points]
    # the measured capacity: the largest load at which at least half of the patterns are still recalled
    ok = [p.load for p in points if p.recalled >= 0.5]
    result = {"neurons": cfg.neurons, "rows": rows, "ags_capacity": AGS_CAPACITY,
              "measured_capacity_recall50": max(ok) if ok else None,
              "exact_recall_bound_load": 1 / (4 * math.log(cfg.neurons)),  # McEliece et al.: P < N / (4 ln N)
              "run_s": time.perf_counter() - t0, "config": asdict(cfg)}
    out = run_dir(cfg)
    if out is not None and cfg.plots:
        out.mkdir(parents=True, exist_ok=True)
        result["figure"] = str(_plot_capacity(points, cfg, out / "capacity.png"))
    return save_result(cfg, result)


def _plot_capacity(points, cfg: HopfieldConfig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    from ..unsupervised.hopfield import AGS_CAPACITY

    loads = [p.load for p in points]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(loads, [p.mean_overlap for p in points], "o-", label="mean final overlap m")
    ax.plot(loads, [p.recalled for p in points], "s-", label="patterns recalled (m ≥ 0.95)")
    ax.plot(loads, [p.exact for p in points], "^-", label="patterns recalled exactly")
    ax.axvline(AGS_CAPACITY, color="k", ls="--", lw=0.8, label="α_c ≈ 0.138 (AGS)")
    ax.set_xlabel("load α = P / N")
    ax.set_ylabel("fraction / overlap")
    ax.set_title(f"Hopfield recall, N = {cfg.neurons}, {cfg.noise:.0%} of bits flipped, {cfg.mode}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
