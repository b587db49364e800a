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


@dataclass
class FewShotConfig(RecipeConfig):
    """Few-shot classification over MNIST (or Fashion-MNIST) classes held out from meta-training.

    Attributes:
        dataset: ``"mnist"`` or ``"fashion-mnist"``.
        train_classes: classes of the meta-training episodes (their *training* images).
        test_classes: classes of the test episodes (their *test* images); disjoint from the above.
        n_way: classes per episode; shots: the K values (each method is trained and tested per K).
        methods: any of ``protonet``, ``maml`` (second order), ``fomaml``, ``reptile``, and
            ``pixels`` (the baseline without learning: nearest class mean of the raw pixels).
        protonet_episodes: training episodes of the prototypical network.
        meta_iterations, meta_batch: outer steps and tasks per step of the optimisation-based methods.
        inner_lr, inner_steps, test_inner_steps: their inner SGD (1 step in training, more at test).
        queries: query images per class and episode.
        eval_episodes: test episodes (the papers use 600).
        width: channels of the Conv-4 embedding.
    """

    dataset: str = setting("mnist", choices=("mnist", "fashion-mnist"))
    train_classes: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])
    test_classes: list[int] = field(default_factory=lambda: [5, 6, 7, 8, 9])
    n_way: int = setting(5, min=2)
    shots: list[int] = field(default_factory=lambda: [1, 5])
    methods: list[str] = field(default_factory=lambda: ["protonet", "fomaml", "maml", "reptile"])
    protonet_episodes: int = setting(1000, min=1)
    meta_iterations: int = setting(300, min=1)
    meta_batch: int = setting(4, min=1)
    inner_lr: float = setting(0.1, gt=0)  # Finn et al.'s 0.4 (with batch norm) collapses this BN-free net
    inner_steps: int = setting(1, min=1)
    test_inner_steps: int = setting(10, min=1)
    queries: int = setting(15, min=1)
    eval_episodes: int = setting(600, min=2)
    width: int = setting(32, min=1)
    data_root: str | None = None


@register_recipe("ch11-fewshot", config=FewShotConfig)
def fewshot(cfg: FewShotConfig) -> dict:
    """Train each method for each K on the training classes; accuracy ± 95 % CI on the held-out classes."""
    import torch

    from .. import load_dataset
    from ..errors import ConfigError
    from ..meta.fewshot import (
        EpisodeSampler,
        FewShotNet,
        conv_embedding,
        evaluate_fewshot,
        meta_train_fewshot,
        train_protonet,
    )

    bad = set(cfg.methods) - {"protonet", "maml", "fomaml", "reptile", "pixels"}
    if bad:
        raise ConfigError(f"unknown methods {sorted(bad)}; expected protonet, maml, fomaml, reptile, pixels")
    if set(cfg.train_classes) & set(cfg.test_classes):
        raise ConfigError(f"train_classes {cfg.train_classes} and test_classes {cfg.test_classes} overlap: the "
                          "test classes must be held out from meta-training")
    x_tr, y_tr = load_dataset(cfg.dataset, root=cfg.data_root, split="train").tensors()
    x_te, y_te = load_dataset(cfg.dataset, root=cfg.data_root, split="test").tensors()
    train = EpisodeSampler(x_tr, y_tr, cfg.train_classes)
    test = EpisodeSampler(x_te, y_te, cfg.test_classes)
    rows = []
    for k in cfg.shots:
        for method in cfg.methods:
            torch.manual_seed(cfg.seed)
            t0 = time.perf_counter()
            if method == "pixels":  # no learning: prototypes of the raw images
                learner = torch.nn.Flatten(1)
            elif method == "protonet":
                learner = train_protonet(conv_embedding(x_tr.shape[1], cfg.width), train,
                                         episodes=cfg.protonet_episodes, n_way=cfg.n_way, k_shot=k,
                                         queries=cfg.queries, seed=cfg.seed)
            else:
                learner = meta_train_fewshot(FewShotNet(cfg.n_way, x_tr.shape[1], cfg.width, x_tr.shape[-1]), method,
                                             train, iterations=cfg.meta_iterations, n_way=cfg.n_way, k_shot=k,
                                             queries=cfg.queries, meta_batch=cfg.meta_batch, inner_lr=cfg.inner_lr,
                                             inner_steps=cfg.inner_steps, seed=cfg.seed)
            train_s = time.perf_counter() - t0
            res = evaluate_fewshot(learner, "protonet" if method == "pixels" else method, test, n_way=cfg.n_way, k_shot=k, episodes=cfg.eval_episodes,
                                   queries=cfg.queries, inner_lr=cfg.inner_lr, inner_steps=cfg.test_inner_steps,
                                   seed=cfg.seed + 12345)
            rows.append({"method": method, "k_shot": k, "accuracy": res.accuracy, "ci95": res.ci95,
                         "episodes": res.episodes, "train_s": train_s})
    split = (f"{cfg.dataset}: meta-train on the training images of classes {cfg.train_classes}, test on the test "
             f"images of classes {cfg.test_classes}")
    return save_result(cfg, {"rows": rows, "split": split, "n_way": cfg.n_way, "config": asdict(cfg)})
