"""Chapter 11: DP-SGD on MNIST at several privacy budgets (ε at δ = 1e-5), beside the same network
trained without privacy for the same number of epochs (``ch11-dp-mnist``); federated averaging
over simulated MNIST clients with IID and label-skewed splits (``ch11-fedavg``).

Each run uses the ``"dp-classification"`` task with the :class:`~tensorprism.privacy.dpsgd.DPSGD`
callback: Poisson-sampled batches of expected size ``batch_size``, per-example clipping at
``max_grad_norm``, and the smallest noise multiplier whose RDP-accounted ε over the whole run
stays within the budget. The network is the ``simple-cnn`` without normalisation (BatchNorm mixes
examples and cannot be trained privately).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..config import setting
from . import register_recipe
from .kit import RecipeConfig, make_trainer, save_result


@dataclass
class DPMnistConfig(RecipeConfig):
    """DP-SGD on MNIST.

    Attributes:
        epsilons: the privacy budgets ε, one run each (δ = ``delta``).
        epochs: passes over the training set (``1/q`` Poisson batches each).
        batch_size: expected batch size ``q N``.
        lr: SGD learning rate (the noisy average gradient is small: DP-SGD uses large rates).
        max_grad_norm: per-example clipping bound ``C``.
        non_private: also train the same network without DP (same epochs and batch size, learning
            rate ``non_private_lr``: without clipping, DP-SGD's large rate diverges).
        max_train, max_test: subsets of the 55,000 training and 10,000 test images (``None``: all).
        channels, hidden: the ``simple-cnn``'s conv widths and hidden layer.
    """

    epsilons: list[float] = field(default_factory=lambda: [1.0, 3.0, 8.0])
    delta: float = setting(1e-5, gt=0, max=0.5)
    epochs: int = setting(1, min=1)
    batch_size: int = setting(256, min=1)
    lr: float = setting(1.0, gt=0)
    max_grad_norm: float = setting(1.0, gt=0)
    non_private: bool = True
    non_private_lr: float = setting(0.1, gt=0)
    max_train: int | None = setting(None, min=1)
    max_test: int | None = setting(None, min=1)
    channels: tuple[int, ...] = (16, 32)
    hidden: tuple[int, ...] = (32,)
    data_root: str | None = None


@register_recipe("ch11-dp-mnist", config=DPMnistConfig)
def dp_mnist(cfg: DPMnistConfig) -> dict:
    """One DP-SGD run per ε (and a non-private one); test accuracy, noise and the ε spent."""
    import torch

    from ..models import create_model
    from ..privacy.dpsgd import DPSGD
    from ..train.tasks import create_task
    from .ch11_compress import _splits, accuracy

    train, test, dataset = _splits("lenet5", cfg.seed, cfg.max_train, cfg.max_test, cfg.data_root)
    rows = []
    arms: list[float | None] = [*cfg.epsilons, *([None] if cfg.non_private else [])]
    for eps in arms:
        torch.manual_seed(cfg.seed)
        model = create_model("simple-cnn", channels=tuple(cfg.channels), hidden=tuple(cfg.hidden))
        sub = f"eps-{eps:g}" if eps is not None else "non-private"
        common = dict(epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, optimizer="sgd", scheduler="constant",
                      device="cpu", eval_batch_size=1000)
        if eps is None:
            common["lr"] = cfg.non_private_lr
            trainer = make_trainer(cfg, model, "classification", train, sub=sub, dataset=dataset, **common)
            cb = None
        else:
            cb = DPSGD(target_epsilon=eps, delta=cfg.delta, max_grad_norm=cfg.max_grad_norm)
            task = create_task("dp-classification", seed=cfg.seed)  # evaluated as plain classification
            trainer = make_trainer(cfg, model, task, train, sub=sub, dataset=dataset, task_name="classification",
                                   callbacks=[cb], **common)
        t0 = time.perf_counter()
        trainer.fit()
        rows.append({"target_epsilon": eps, "delta": cfg.delta if eps is not None else None,
                     "noise_multiplier": cb.noise_multiplier if cb else 0.0,
                     "epsilon_spent": cb.epsilon() if cb else None, "steps": trainer.global_step,
                     "test_acc": accuracy(model, test), "train_s": time.perf_counter() - t0})
    return save_result(cfg, {"rows": rows, "config": asdict(cfg)})


# ------------------------------------------------------------------------------------ FedAvg
@dataclass
class FedAvgMnistConfig(RecipeConfig):
    """Federated averaging on MNIST: the same clients' data split IID and by label, side by side.

    Attributes:
        splits: any of ``iid`` (uniform random, equal sizes), ``shards`` (McMahan et al.'s
            pathological non-IID: label-sorted shards, ``shards_per_client`` per client, so most
            clients see two classes) and ``dirichlet`` (each class divided in Dirichlet(``alpha``)
            proportions: skewed labels *and* unequal client sizes, where weighting by size matters).
        clients: simulated clients; ``clients_per_round``: sampled each round (``None``: all).
        rounds: communication rounds; ``local_epochs``, ``local_batch``, ``lr``: each client's SGD
            on its own data per round (through the :class:`~tensorprism.train.Trainer`).
        max_train, max_test: MNIST subsets (``None``: all 55,000 / 10,000).
        channels, hidden: the ``simple-cnn`` (no normalisation layer).
    """

    splits: list[str] = field(default_factory=lambda: ["iid", "shards", "dirichlet"])
    clients: int = setting(10, min=1)
    clients_per_round: int | None = setting(None, min=1)
    rounds: int = setting(20, min=1)
    local_epochs: int = setting(1, min=1)
    local_batch: int = setting(50, min=1)
    lr: float = setting(0.05, gt=0)
    shards_per_client: int = setting(2, min=1)
    alpha: float = setting(0.5, gt=0)
    max_train: int | None = setting(10000, min=1)
    max_test: int | None = setting(None, min=1)
    channels: tuple[int, ...] = (8, 16)
    hidden: tuple[int, ...] = (32,)
    data_root: str | None = None


def _labels(data) -> list[int]:
    return [int(data[i][1]) for i in range(len(data))]


@register_recipe("ch11-fedavg", config=FedAvgMnistConfig)
def fedavg_mnist(cfg: FedAvgMnistConfig) -> dict:
    """FedAvg from the same initial weights on each split; test accuracy after every round."""
    import torch

    from ..errors import ConfigError
    from ..models import create_model
    from ..privacy.federated import federated_averaging, split_iid, split_label_skew
    from ..train import Trainer
    from .ch11_compress import _splits, accuracy

    unknown = set(cfg.splits) - {"iid", "shards", "dirichlet"}
    if unknown:
        raise ConfigError(f"unknown splits {sorted(unknown)}; expected iid, shards or dirichlet")
    train, test, _ = _splits("lenet5", cfg.seed, cfg.max_train, cfg.max_test, cfg.data_root)
    labels = torch.tensor(_labels(train))
    curves, rows = {}, []
    for split in cfg.splits:
        if split == "iid":
            clients = split_iid(len(train), cfg.clients, seed=cfg.seed)
        else:
            clients = split_label_skew(labels, cfg.clients, shards_per_client=cfg.shards_per_client,
                                       alpha=cfg.alpha if split == "dirichlet" else None, seed=cfg.seed)
        torch.manual_seed(cfg.seed)  # every split starts from the same weights
        model = create_model("simple-cnn", channels=tuple(cfg.channels), hidden=tuple(cfg.hidden))

        runs = itertools.count()

        def local_train(local, data, runs=runs):  # a fresh shuffling seed for every client and round
            Trainer(local, "classification", train_data=data, epochs=cfg.local_epochs, batch_size=cfg.local_batch,
                    lr=cfg.lr, optimizer="sgd", scheduler="constant", device="cpu", progress=False,
                    tensorboard=False, plots=False, seed=cfg.seed + next(runs)).fit()

        t0 = time.perf_counter()
        history = federated_averaging(model, train, clients, rounds=cfg.rounds, local_train=local_train,
                                      evaluate=lambda m: accuracy(m, test), clients_per_round=cfg.clients_per_round,
                                      seed=cfg.seed)
        sizes = [len(c) for c in clients]
        classes = [len(set(labels[c].tolist())) for c in clients if c]
        curves[split] = [h["acc"] for h in history]
        rows.append({"split": split, "final_acc": curves[split][-1], "best_acc": max(curves[split]),
                     "client_sizes": sizes, "classes_per_client_mean": sum(classes) / max(len(classes), 1),
                     "train_s": time.perf_counter() - t0})
    result = {"rows": rows, "curves": curves, "config": asdict(cfg)}
    if cfg.out_dir and cfg.plots and curves:
        result["figure"] = str(plot_fedavg(curves, Path(cfg.out_dir) / "fedavg.png", cfg))
    return save_result(cfg, result)


def plot_fedavg(curves: dict[str, list[float]], path: Path, cfg: FedAvgMnistConfig) -> Path:
    """Test accuracy of the global model after each round, one line per split."""
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 4))
    for split, acc in curves.items():
        ax.plot(range(1, len(acc) + 1), [100 * a for a in acc], "o-", ms=3, label=split)
    ax.set_xlabel("communication round")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"FedAvg on MNIST: {cfg.clients} clients, {cfg.local_epochs} local epoch(s) a round")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
