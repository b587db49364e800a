"""Compressing a trained MNIST network with CP, Tucker and tensor-train factorisations (§2.2.3 applied).

A registered model (LeNet-5 by default, or the book's 784-128-64-10 MLP ``mlp-mnist``) is trained
with the :class:`~tensorprism.train.Trainer`; then, for each method and each parameter fraction,
:func:`~tensorprism.compress.compress` factorises every Linear/Conv2d weight of a copy, the copy is
evaluated on the MNIST test set as is and after a short fine-tuning, and the accuracy is plotted
against the fraction of the whole model's parameters kept (``compression.png``). Layers with fewer
than ``min_params`` parameters (LeNet-5's first conv and classifier) stay dense.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import register_recipe
from .kit import RecipeConfig, make_trainer, save_result


@dataclass
class MnistCompressConfig(RecipeConfig):
    model: str = "lenet5"
    epochs: int = 2
    batch_size: int = 128
    lr: float = 2e-3
    methods: list[str] = field(default_factory=lambda: ["cp", "tucker", "tt"])
    ratios: list[float] = field(default_factory=lambda: [0.5, 0.2, 0.1])
    min_params: int = 1000  # layers smaller than this (first conv, classifier) stay dense
    finetune_steps: int = 200
    finetune_lr: float = 5e-4
    max_train: int | None = None  # the first images of the 55,000 training images (smoke tests)
    data_root: str | None = None
    device: str = "auto"
    seed: int = 0


@register_recipe("ch02-mnist-compress", config=MnistCompressConfig)
def mnist_compress(cfg: MnistCompressConfig) -> dict:
    """Train, then compress at several parameter fractions with CP/Tucker/TT; returns accuracy vs ratio."""
    import torch

    from .. import Trainer, create_model, load_dataset
    from ..compress import compress, parameter_ratio
    from ..models import count_parameters

    torch.manual_seed(cfg.seed)
    train = load_dataset("mnist", root=cfg.data_root, split="train")
    if cfg.max_train:
        train = torch.utils.data.Subset(train, range(cfg.max_train))
    val = load_dataset("mnist", root=cfg.data_root, split="val")
    test = load_dataset("mnist", root=cfg.data_root, split="test")
    sizes = {"batch_size": cfg.batch_size, "eval_batch_size": 1000}
    mnist = {"name": "mnist", "root": cfg.data_root}

    def accuracy(model) -> float:  # an in-memory evaluator: it writes nothing
        return float(Trainer(model, "classification", device=cfg.device, progress=False, **sizes)
                     .evaluate(test, prefix="test")["test/acc"])

    model = create_model(cfg.model)
    t0 = time.perf_counter()
    make_trainer(cfg, model, "classification", train, val, sub="dense", dataset=mnist, epochs=cfg.epochs,
                 lr=cfg.lr, **sizes).fit()
    base_acc = accuracy(model)
    rows = []
    for method in cfg.methods:
        for ratio in cfg.ratios:
            t1 = time.perf_counter()
            small = compress(model, method, ratio, min_params=cfg.min_params)
            decompose_s = time.perf_counter() - t1
            acc0 = accuracy(small)
            # the factorised model is no registered model: its run holds weights and metrics only
            make_trainer(cfg, small, "classification", train, sub=f"{method}-{ratio:g}", epochs=1,
                         max_steps=cfg.finetune_steps, lr=cfg.finetune_lr, **sizes).fit()
            rows.append({"method": method, "target_ratio": ratio, "param_ratio": parameter_ratio(small, model),
                         "params": count_parameters(small), "acc_no_finetune": acc0, "acc_finetuned": accuracy(small),
                         "decompose_s": decompose_s})
    result = {"config": asdict(cfg), "model": cfg.model, "params": count_parameters(model), "test_acc": base_acc,
              "rows": rows, "seconds": time.perf_counter() - t0}
    if cfg.out_dir and cfg.plots:
        out = Path(cfg.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        result["figure"] = str(plot_compression(result, out / "compression.png"))
    return save_result(cfg, result)


def plot_compression(result: dict, path: Path) -> Path:
    """Test accuracy against the fraction of parameters kept, one colour per method."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for i, method in enumerate(dict.fromkeys(r["method"] for r in result["rows"])):
        rows = sorted((r for r in result["rows"] if r["method"] == method), key=lambda r: r["param_ratio"])
        x = [r["param_ratio"] for r in rows]
        colour = f"C{i}"
        ax.plot(x, [100 * r["acc_finetuned"] for r in rows], "o-", color=colour, label=f"{method} + fine-tune")
        ax.plot(x, [100 * r["acc_no_finetune"] for r in rows], "x--", color=colour, alpha=0.6, label=f"{method}, no fine-tune")
    ax.axhline(100 * result["test_acc"], color="k", lw=0.8, label=f"dense {result['model']}")
    ax.set_xscale("log")
    ax.set_xlabel("parameters kept (fraction of the dense model)")
    ax.set_ylabel("MNIST test accuracy (%)")
    ax.set_title(f"Tensor-decomposition compression of {result['model']}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
