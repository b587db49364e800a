"""Chapter 11: MAML / first-order MAML / Reptile on Finn et al.'s sinusoids, against pre-training on
all tasks + fine-tuning. Reports the query MSE on 200 new tasks after 0, 1 and 10 SGD steps on K
support points (the quantity of Finn et al. 2017, Fig. 2)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

from ..config import setting
from . import register_recipe
from .kit import RecipeConfig, save_result


@dataclass
class MetaSinusoidConfig(RecipeConfig):
    """Meta-learning on sinusoid regression.

    Attributes:
        methods: any of ``maml`` (second order), ``fomaml``, ``reptile`` and ``pretrain``.
        ks: shot counts K (each method is trained and tested with each K).
        iterations: meta-iterations (Finn et al. train 70,000; the outer batch is 25 tasks).
        eval_tasks: new tasks the adapted networks are tested on (100 query points each).
    """

    methods: list[str] = field(default_factory=lambda: ["maml", "fomaml", "reptile", "pretrain"])
    ks: list[int] = field(default_factory=lambda: [5, 10])
    iterations: int = setting(2000, min=1)
    meta_batch: int = setting(25, min=1)
    inner_lr: float = setting(0.01, gt=0)
    outer_lr: float = setting(1e-3, gt=0)
    eval_tasks: int = setting(200, min=1)


@register_recipe("ch11-maml", config=MetaSinusoidConfig)
def meta_sinusoid(cfg: MetaSinusoidConfig) -> dict:
    """Train each method for each K; post-adaptation MSE after 0/1/10 steps."""
    import torch

    from ..errors import ConfigError
    from ..meta import evaluate_adaptation, meta_train, pretrain, sinusoid_net

    bad = set(cfg.methods) - {"maml", "fomaml", "reptile", "pretrain"}
    if bad:
        raise ConfigError(f"unknown methods {sorted(bad)}; expected maml, fomaml, reptile, pretrain")
    rows = []
    for k in cfg.ks:
        for method in cfg.methods:
            torch.manual_seed(cfg.seed)
            net = sinusoid_net()
            t0 = time.perf_counter()
            if method == "pretrain":
                pretrain(net, iterations=cfg.iterations, k=k, meta_batch=cfg.meta_batch, lr=cfg.outer_lr, seed=cfg.seed)
            else:
                meta_train(net, method, iterations=cfg.iterations, k=k, meta_batch=cfg.meta_batch,
                           inner_lr=cfg.inner_lr, outer_lr=cfg.outer_lr, seed=cfg.seed)
            mse = evaluate_adaptation(net, k=k, n_tasks=cfg.eval_tasks, lr=cfg.inner_lr)
            rows.append({"method": method, "k": k, "mse_0": mse[0], "mse_1": mse[1], "mse_10": mse[10],
                         "train_s": time.perf_counter() - t0})
    return save_result(cfg, {"rows": rows, "iterations": cfg.iterations, "config": asdict(cfg)})
