"""Chapter 11: DP-SGD on MNIST at several privacy budgets (ε at δ = 1e-5), beside the same network
trained without privacy for the same number of epochs.

Each run uses the ``"dp-classification"`` task with the :class:`~tensorprism.privacy.dpsgd.DPSGD`
callback: Poisson-sampled batches of expected size ``batch_size``, per-example clipping at
``max_grad_norm``, and the smallest noise multiplier whose RDP-accounted ε over the whole run
stays within the budget. The network is the ``simple-cnn`` without normalisation (BatchNorm mixes
examples and cannot be trained privately).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

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
