"""Chapter 11: adversarial robustness on MNIST -- a normally trained and a PGD-trained CNN, each
evaluated clean, under FGSM and under PGD (Madry et al. 2018's MNIST protocol: L∞, ε = 0.3,
40 steps of 0.01 from a random start).

Both networks are the same ``simple-cnn`` trained for the same epochs on MNIST in [0, 1]
(``normalize=False``: the budget is in pixel units). The robust one uses the
``"adversarial-training"`` task: every batch is replaced by its PGD examples (``train_steps``
steps, fewer than Madry et al.'s 40 to fit a CPU budget).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from ..config import setting
from . import register_recipe
from .kit import RecipeConfig, make_trainer, save_result


@dataclass
class AdversarialConfig(RecipeConfig):
    """PGD adversarial training on MNIST against a normally trained baseline.

    Attributes:
        eps: the L∞ budget ε in pixel units (MNIST in [0, 1]).
        norm: ``"inf"`` or ``"2"`` (training and evaluation attacks).
        train_steps: PGD steps per training batch (step ``2.5 ε / train_steps``).
        eval_steps, eval_alpha: the evaluation PGD (40 steps of 0.01 in Madry et al.).
        restarts: random restarts of the evaluation PGD (the worst case per example is kept).
        epochs, batch_size, lr: training of both networks (Adam).
        warm_epochs: epochs of clean training before the adversarial epochs (``epochs`` counts both).
        channels, hidden: the ``simple-cnn``'s conv widths (3×3, 'same', each + 2×2 max pool) and FC sizes.
        max_train, max_test: seeded subsets of the 55,000 training and 10,000 test images (``None``:
            all); clean accuracy uses them all, the attacks the first ``max_eval`` of them.
        baseline: also train the normally trained network.
    """

    eps: float = setting(0.3, min=0)
    norm: str = setting("inf", choices=("inf", "2"))
    train_steps: int = setting(7, min=1)
    eval_steps: int = setting(40, min=1)
    eval_alpha: float = setting(0.01, gt=0)
    restarts: int = setting(1, min=1)
    epochs: int = setting(3, min=1)
    warm_epochs: int = setting(0, min=0)
    batch_size: int = setting(128, min=1)
    lr: float = setting(1e-3, gt=0)
    channels: tuple[int, ...] = (32, 64)
    hidden: tuple[int, ...] = (256,)
    max_train: int | None = setting(None, min=1)
    max_test: int | None = setting(None, min=1)
    max_eval: int | None = setting(2000, min=1)
    baseline: bool = True
    data_root: str | None = None


def mnist_unit_range(split: str, limit: int | None, seed: int, data_root: str | None):
    """MNIST ``split`` with pixels in [0, 1] (a seeded random subset of ``limit`` images)."""
    import torch

    from .. import load_dataset

    ds = load_dataset("mnist", root=data_root, split=split, normalize=False)
    if limit and limit < len(ds):
        idx = torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed))[:limit].tolist()
        ds = torch.utils.data.Subset(ds, idx)
    return ds


def robust_accuracy(model, data, attack, batch_size: int = 500) -> float:
    """Accuracy of ``model`` on ``attack(model, x, y)`` over ``data`` (``attack=None``: clean)."""
    import torch

    model.eval()
    correct = total = 0
    for x, y in torch.utils.data.DataLoader(data, batch_size=batch_size):
        if attack is not None:
            x = attack(model, x, y)
        with torch.no_grad():
            correct += int((model(x).argmax(1) == y).sum())
        total += len(y)
    return correct / max(total, 1)


@register_recipe("ch11-adversarial", config=AdversarialConfig)
def adversarial(cfg: AdversarialConfig) -> dict:
    """Clean, FGSM and PGD accuracy of a normally trained and a PGD-trained MNIST CNN."""
    import torch

    from ..functional.attacks import check_budget, fgsm, pgd
    from ..models import create_model
    from ..train.tasks import create_task

    check_budget(cfg.eps, cfg.eval_alpha, cfg.eval_steps)
    train = mnist_unit_range("train", cfg.max_train, cfg.seed, cfg.data_root)
    test = mnist_unit_range("test", cfg.max_test, cfg.seed, cfg.data_root)
    attack_set = torch.utils.data.Subset(test, range(min(cfg.max_eval or len(test), len(test))))
    dataset = {"name": "mnist", "config": {"normalize": False}, "root": cfg.data_root}
    gen = torch.Generator().manual_seed(cfg.seed)
    attacks = {
        "clean": None,
        "fgsm": lambda m, x, y: fgsm(m, x, y, cfg.eps, norm=cfg.norm),
        f"pgd{cfg.eval_steps}": lambda m, x, y: pgd(m, x, y, cfg.eps, alpha=cfg.eval_alpha, steps=cfg.eval_steps,
                                                   norm=cfg.norm, restarts=cfg.restarts, generator=gen),
    }
    common = dict(batch_size=cfg.batch_size, lr=cfg.lr, optimizer="adam", scheduler="constant",
                  eval_batch_size=1000, device="cpu")
    rows = []
    for arm in (["standard"] if cfg.baseline else []) + ["pgd-trained"]:
        torch.manual_seed(cfg.seed)
        model = create_model("simple-cnn", channels=tuple(cfg.channels), hidden=tuple(cfg.hidden), padding="same")
        t0 = time.perf_counter()
        task_config = {}
        if arm == "standard" or cfg.warm_epochs:
            clean_epochs = cfg.epochs if arm == "standard" else min(cfg.warm_epochs, cfg.epochs)
            make_trainer(cfg, model, "classification", train, sub=f"{arm}-clean" if arm != "standard" else arm,
                         dataset=dataset, epochs=clean_epochs, **common).fit()
        if arm == "pgd-trained" and cfg.epochs > cfg.warm_epochs:
            task_config = {"eps": cfg.eps, "steps": cfg.train_steps, "norm": cfg.norm, "seed": cfg.seed}
            task = create_task("adversarial-training", **task_config)
            make_trainer(cfg, model, task, train, sub=arm, dataset=dataset, task_config=task_config,
                         epochs=cfg.epochs - cfg.warm_epochs, **common).fit()
        train_s = time.perf_counter() - t0
        row = {"model": arm, "train_s": round(train_s, 1), "train_pgd_steps": task_config.get("steps", 0)}
        for name, attack in attacks.items():
            row[f"{name}_acc"] = robust_accuracy(model, test if attack is None else attack_set, attack)
        rows.append(row)
    return save_result(cfg, {"rows": rows, "eps": cfg.eps, "norm": cfg.norm, "attack_images": len(attack_set),
                             "config": asdict(cfg)})
