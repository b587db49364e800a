"""Chapter 11 efficiency case studies: int8 quantisation, pruning and knowledge distillation, measured.

* ``ch11-quantize`` — trains the MNIST MLP (784-128-64-10), an LSTM classifier reading MNIST images
  row by row (28 steps of 28 pixels) and the CIFAR-10 ResNet-20, then compares fp32 with int8:
  dynamic quantisation for the MLP and the LSTM, static (calibrated) quantisation and
  quantisation-aware training for the CNN. Accuracy on the test set, CPU latency (one thread, one
  batch, median) and weight size; each float model is also exported to ONNX and checked in
  onnxruntime.
* ``ch11-prune`` — LeNet-5 on MNIST (or ResNet-20 on CIFAR-10): unstructured magnitude pruning per
  layer and global, an iterative prune–fine-tune schedule, structured L1 filter pruning (parameters
  and latency), and the Tucker factorisation of :mod:`tensorprism.compress` at the same parameter
  budgets; accuracy before and after a short fine-tune.
* ``ch11-distill`` — a small CNN student trained with and without a LeNet-5 teacher at the same
  budget, over several seeds.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..config import setting
from . import register_recipe
from .kit import RecipeConfig, make_trainer, save_result

# model -> (dataset, input layout the model reads); "rows": (N, 28, 28) sequences of image rows
_DATA = {"mlp-mnist": ("mnist", "flat"), "lstm-mnist": ("mnist", "rows"), "lenet5": ("mnist", "image"),
         "resnet20-cifar": ("cifar10", "image"), "simple-cnn": ("mnist", "image")}


class _Mapped:
    """A dataset whose images are reshaped for the model: ``flat`` (784,) or ``rows`` (28, 28)."""

    def __init__(self, ds: Any, layout: str):
        self.ds, self.layout = ds, layout

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i: int):
        x, y = self.ds[i]
        return (x.reshape(-1) if self.layout == "flat" else x.reshape(x.shape[-2], x.shape[-1])), y


def _build(name: str, **kw):
    from ..models import create_model

    if name == "lstm-mnist":  # one-layer LSTM over the 28 rows, last state -> classes
        return create_model("rnn-classifier", vocab_size=None, input_size=28, embed_dim=64, hidden_size=128,
                            bidirectional=False, pooling="last", dropout=0.0, num_classes=10, **kw)
    return create_model(name, **kw)


def _splits(model: str, seed: int, max_train: int | None, max_test: int | None, data_root: str | None):
    import torch

    from .. import load_dataset

    if model not in _DATA:
        from ..errors import ConfigError

        raise ConfigError(f"no data is set up for model {model!r}; expected one of {sorted(_DATA)}")
    name, layout = _DATA[model]
    out = []
    for split, limit in (("train", max_train), ("test", max_test)):
        ds = load_dataset(name, root=data_root, split=split)
        if limit and limit < len(ds):  # a seeded random subset (CIFAR-10 is stored class by class)
            idx = torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed))[:limit].tolist()
            ds = torch.utils.data.Subset(ds, idx)
        out.append(ds if layout == "image" else _Mapped(ds, layout))
    return (*out, {"name": name, "root": data_root} if layout == "image" else None)


def accuracy(model, data, batch_size: int = 500) -> float:
    """Top-1 accuracy of ``model`` on ``data`` on the CPU (works for int8 modules too)."""
    import torch

    loader = torch.utils.data.DataLoader(data, batch_size=batch_size)
    correct = total = 0
    model.eval()
    with torch.inference_mode():
        for x, y in loader:
            correct += int((model(x).argmax(1) == y).sum())
            total += len(y)
    return correct / max(total, 1)


def _calibration(data, batches: int, batch_size: int = 64, seed: int = 0):
    import torch

    loader = torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=True,
                                         generator=torch.Generator().manual_seed(seed))
    out = []
    for i, (x, _) in enumerate(loader):
        if i >= batches:
            break
        out.append(x)
    return out


def _train(cfg, model, train, test, dataset, sub: str, **settings):
    """Train ``model`` into the run's ``sub`` folder (AdamW + one-cycle unless overridden)."""
    base = dict(epochs=cfg.epochs, batch_size=cfg.batch_size, eval_batch_size=500, lr=cfg.lr,
                optimizer="adamw", weight_decay=5e-4, scheduler="onecycle", device="cpu")
    base.update(settings)
    trainer = make_trainer(cfg, model, "classification", train, test=test, sub=sub, dataset=dataset, **base)
    t0 = time.perf_counter()
    trainer.fit()
    return time.perf_counter() - t0


def _load_or_train(cfg, name, train, test, dataset, sub, pretrained: str | None, **settings):
    if pretrained:
        from ..train.checkpoint import load_model

        return load_model(pretrained).cpu().eval(), 0.0
    model = _build(name)
    return model, _train(cfg, model, train, test, dataset, sub, **settings)


# ------------------------------------------------------------------------------------ quantise
@dataclass
class QuantizeConfig(RecipeConfig):
    """int8 vs fp32 on the MNIST MLP, the row-LSTM and ResNet-20.

    Attributes:
        models: any of ``mlp-mnist``, ``lstm-mnist`` (dynamic int8), ``resnet20-cifar`` and
            ``lenet5`` (static int8 and QAT).
        epochs: float training epochs of each model (ResNet-20 gets ``cnn_epochs``).
        cnn_epochs: training epochs of ResNet-20.
        max_train: training images per model (``None``: all); ``cnn_max_train`` for CIFAR-10.
        max_test: test images (``None``: all 10,000).
        pretrained: ``{model: run directory}`` to reuse trained float weights instead of training.
        calib_batches: batches of 64 training images that calibrate the static quantiser.
        qat_steps: quantisation-aware fine-tuning steps of ResNet-20 (0: skip QAT).
        latency_batch: the batch whose forward pass is timed (one thread, median of ``latency_repeats``).
        onnx: export every float model to ONNX and check it in onnxruntime.
    """

    models: list[str] = field(default_factory=lambda: ["mlp-mnist", "lstm-mnist", "resnet20-cifar"])
    epochs: int = setting(2, min=1)
    cnn_epochs: int = setting(4, min=1)
    batch_size: int = setting(128, min=1)
    lr: float = setting(3e-3, gt=0)
    max_train: int | None = setting(None, min=1)
    cnn_max_train: int | None = setting(20000, min=1)
    max_test: int | None = setting(None, min=1)
    pretrained: dict[str, str] = field(default_factory=dict)
    calib_batches: int = setting(8, min=1)
    qat_steps: int = setting(200, min=0)
    qat_lr: float = setting(1e-4, gt=0)
    latency_batch: int = setting(64, min=1)
    latency_repeats: int = setting(20, min=1)
    backend: str = setting("x86", choices=("x86", "fbgemm", "onednn", "qnnpack"))
    onnx: bool = True
    data_root: str | None = None


@register_recipe("ch11-quantize", config=QuantizeConfig)
def quantize_recipe(cfg: QuantizeConfig) -> dict:
    """Train (or load) each model, quantise it to int8, and compare accuracy, latency and size."""
    import torch

    from ..compress import (
        convert_qat,
        cpu_latency,
        export_onnx,
        model_size_bytes,
        prepare_qat,
        quantize_dynamic_int8,
        quantize_static_int8,
    )
    from ..models import count_parameters
    from ..optional import check_available

    if cfg.onnx:
        check_available(["onnx", "onnxruntime", "onnxscript"], feature="recipe ch11-quantize (onnx=True)")
    torch.manual_seed(cfg.seed)
    rows = []
    for name in cfg.models:
        cnn = _DATA.get(name, ("", ""))[1] == "image"
        big = name == "resnet20-cifar"
        train, test, dataset = _splits(name, cfg.seed, cfg.cnn_max_train if big else cfg.max_train, cfg.max_test,
                                       cfg.data_root)
        model, train_s = _load_or_train(cfg, name, train, test, dataset, name, cfg.pretrained.get(name),
                                        epochs=cfg.cnn_epochs if big else cfg.epochs,
                                        **({"optimizer": "sgd", "lr": 0.1, "weight_decay": 1e-4,
                                            "optimizer_kwargs": {"momentum": 0.9, "nesterov": True}} if big else {}))
        model = model.cpu().eval()
        x = next(iter(torch.utils.data.DataLoader(test, batch_size=cfg.latency_batch)))[0]
        variants = {"fp32": model}
        if cnn:
            calib = _calibration(train, cfg.calib_batches, seed=cfg.seed)
            variants["int8-static"] = quantize_static_int8(model, calib, backend=cfg.backend)
            if cfg.qat_steps:
                qat = prepare_qat(model, calib[0], backend=cfg.backend)
                _train(cfg, qat, train, None, None, f"{name}-qat", epochs=1, max_steps=cfg.qat_steps, lr=cfg.qat_lr,
                       optimizer="sgd", optimizer_kwargs={"momentum": 0.9}, scheduler="cosine", plots=False)
                variants["int8-qat"] = convert_qat(qat)
        else:
            variants["int8-dynamic"] = quantize_dynamic_int8(model, backend=cfg.backend)
        onnx_diff: float | str | None = None
        if cfg.onnx and cfg.out_dir:
            from ..compress import check_onnx

            try:
                path = export_onnx(model, x[:2], Path(cfg.out_dir) / f"{name}.onnx")
                onnx_diff = check_onnx(path, model, x)
            except Exception as err:  # recorded, not hidden: e.g. the LSTM's packed, data-dependent lengths
                onnx_diff = f"not exported: {type(err).__name__}: {str(err).strip().splitlines()[0][:200]}"
        base_latency = None
        for kind, m in variants.items():
            latency = cpu_latency(m, x, repeats=cfg.latency_repeats)
            base_latency = base_latency or latency
            rows.append({"model": name, "variant": kind, "test_acc": accuracy(m, test), "latency_ms": 1e3 * latency,
                         "speedup": base_latency / latency, "size_kb": model_size_bytes(m) / 1024,
                         "params": count_parameters(model), "train_s": train_s,
                         "onnx_max_abs_diff": onnx_diff if kind == "fp32" else None})
    result = {"rows": rows, "latency_batch": cfg.latency_batch, "threads": 1, "backend": cfg.backend,
              "config": asdict(cfg)}
    return save_result(cfg, result)


# ------------------------------------------------------------------------------------ prune
@dataclass
class PruneConfig(RecipeConfig):
    """Accuracy against sparsity, and the cost of structured pruning.

    Attributes:
        model: ``lenet5`` (MNIST) or ``resnet20-cifar`` (CIFAR-10).
        pretrained: run directory of a trained model to start from (``None``: train it here).
        methods: any of ``layer`` and ``global`` (unstructured magnitude), ``iterative`` (global, the
            cubic schedule to the largest sparsity in ``iterative_steps`` prune-fine-tune rounds),
            ``filters`` (structured L1) and ``tucker`` (tensor decomposition at the parameter count
            each filter-pruned model reached).
        sparsities: targets of the unstructured methods.
        filter_amounts: fraction of the filters removed from every prunable conv.
        finetune_steps: fine-tuning steps after each pruning (masks kept fixed).
    """

    model: str = setting("lenet5", choices=("lenet5", "resnet20-cifar"))
    pretrained: str | None = None
    epochs: int = setting(2, min=1)
    batch_size: int = setting(128, min=1)
    lr: float = setting(3e-3, gt=0)
    max_train: int | None = setting(None, min=1)
    max_test: int | None = setting(None, min=1)
    methods: list[str] = field(default_factory=lambda: ["layer", "global", "iterative", "filters", "tucker"])
    sparsities: list[float] = field(default_factory=lambda: [0.5, 0.75, 0.9, 0.95, 0.98])
    filter_amounts: list[float] = field(default_factory=lambda: [0.25, 0.5, 0.75])
    iterative_steps: int = setting(3, min=1)
    finetune_steps: int = setting(300, min=0)
    finetune_lr: float = setting(5e-4, gt=0)
    latency_batch: int = setting(64, min=1)
    latency_repeats: int = setting(20, min=1)
    data_root: str | None = None


@register_recipe("ch11-prune", config=PruneConfig)
def prune_recipe(cfg: PruneConfig) -> dict:
    """Prune a trained model by each method and amount; accuracy before/after fine-tuning."""
    import copy

    import torch

    from ..compress import (
        check_amount,
        compress,
        cpu_latency,
        prune_filters_l1,
        prune_magnitude,
        remove_masks,
        sparsity,
        sparsity_schedule,
    )
    from ..errors import ConfigError
    from ..models import count_parameters

    unknown = set(cfg.methods) - {"layer", "global", "iterative", "filters", "tucker"}
    if unknown:
        raise ConfigError(f"unknown pruning methods {sorted(unknown)}; expected layer, global, iterative, filters, tucker")
    for a in [*cfg.sparsities, *cfg.filter_amounts]:
        check_amount(a)
    torch.manual_seed(cfg.seed)
    train, test, dataset = _splits(cfg.model, cfg.seed, cfg.max_train, cfg.max_test, cfg.data_root)
    model, train_s = _load_or_train(cfg, cfg.model, train, test, dataset, "dense", cfg.pretrained)
    model = model.cpu().eval()
    x = next(iter(torch.utils.data.DataLoader(test, batch_size=cfg.latency_batch)))[0]
    dense_params, dense_latency = count_parameters(model), cpu_latency(model, x, repeats=cfg.latency_repeats)
    base = {"test_acc": accuracy(model, test), "params": dense_params, "latency_ms": 1e3 * dense_latency}

    def finetune(m, sub, steps):
        if steps:
            _train(cfg, m, train, None, None, sub, epochs=1, max_steps=steps, lr=cfg.finetune_lr, scheduler="constant",
                   plots=False)
        return m

    rows = []

    def record(method, target, m, acc0, **extra):
        rows.append({"method": method, "target": target, "sparsity": sparsity(m), "params": count_parameters(m),
                     "acc_no_finetune": acc0, "acc_finetuned": accuracy(m, test), **extra})

    for scope in [s for s in ("layer", "global") if s in cfg.methods]:
        for s in cfg.sparsities:
            m = prune_magnitude(copy.deepcopy(model), s, scope=scope)
            acc0 = accuracy(m, test)
            record(scope, s, remove_masks(finetune(m, f"{scope}-{s:g}", cfg.finetune_steps)), acc0)
    if "iterative" in cfg.methods:
        final = max(cfg.sparsities)
        m = copy.deepcopy(model)
        for k, s in enumerate(sparsity_schedule(final, cfg.iterative_steps)):
            prune_magnitude(m, s, scope="global")
            acc0 = accuracy(m, test)
            finetune(m, f"iterative-{k}", cfg.finetune_steps // cfg.iterative_steps)
        record("iterative", final, remove_masks(m), acc0, rounds=cfg.iterative_steps)
    budgets = []
    if "filters" in cfg.methods:
        for a in cfg.filter_amounts:
            m = prune_filters_l1(model, a)
            acc0 = accuracy(m, test)
            finetune(m, f"filters-{a:g}", cfg.finetune_steps)
            latency = cpu_latency(m, x, repeats=cfg.latency_repeats)
            budgets.append(count_parameters(m) / dense_params)
            record("filters", a, m, acc0, latency_ms=1e3 * latency, speedup=dense_latency / latency)
    if "tucker" in cfg.methods:
        for ratio in budgets or [0.5, 0.25]:
            m = compress(model, "tucker", ratio, min_params=1000)
            acc0 = accuracy(m, test)
            finetune(m, f"tucker-{ratio:.2f}", cfg.finetune_steps)
            latency = cpu_latency(m, x, repeats=cfg.latency_repeats)
            record("tucker", round(ratio, 3), m, acc0, latency_ms=1e3 * latency, speedup=dense_latency / latency)
    result = {"model": cfg.model, "dense": base, "train_s": train_s, "rows": rows, "config": asdict(cfg)}
    if cfg.out_dir and cfg.plots:
        result["figure"] = str(plot_pruning(result, Path(cfg.out_dir) / "pruning.png"))
    return save_result(cfg, result)


def plot_pruning(result: dict, path: Path) -> Path:
    """Test accuracy (after fine-tuning) against the fraction of weights removed, per method."""
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 4))
    dense = result["dense"]
    for i, method in enumerate(dict.fromkeys(r["method"] for r in result["rows"])):
        rows = [r for r in result["rows"] if r["method"] == method]
        removed = [r["sparsity"] if method in ("layer", "global", "iterative") else 1 - r["params"] / dense["params"]
                   for r in rows]
        ax.plot(removed, [100 * r["acc_finetuned"] for r in rows], "o-", color=f"C{i}", label=method)
    ax.axhline(100 * dense["test_acc"], color="k", lw=0.8, label="dense")
    ax.set_xlabel("fraction of weights removed (zeros, or parameters for filters/tucker)")
    ax.set_ylabel("test accuracy after fine-tuning (%)")
    ax.set_title(f"Pruning {result['model']}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# ------------------------------------------------------------------------------------ distil
@dataclass
class DistillConfig(RecipeConfig):
    """A small CNN student with and without a LeNet-5 teacher, same data and steps, several seeds.

    Attributes:
        teacher_epochs: epochs of the LeNet-5 teacher; ``teacher_max_train`` of its training images
            (``None``: all 55,000).
        teacher_run: a trained teacher's run directory (``None``: train it here).
        student_channels, student_hidden: the ``simple-cnn`` student (default 4 filters, 16 hidden:
            about 12 k parameters against LeNet-5's 62 k).
        student_train: training images the student sees (a small budget shows the teacher's effect).
        student_epochs: epochs of each student run; ``seeds``: how many seeds per arm.
        temperature, alpha: the distillation loss's ``T`` and soft-target weight.
    """

    teacher_epochs: int = setting(2, min=1)
    teacher_max_train: int | None = setting(None, min=1)
    teacher_run: str | None = None
    student_channels: tuple[int, ...] = (4,)
    student_hidden: tuple[int, ...] = (16,)
    student_train: int | None = setting(5000, min=1)
    student_epochs: int = setting(5, min=1)
    seeds: int = setting(3, min=1)
    temperature: float = setting(4.0, gt=0)
    alpha: float = setting(0.9, min=0, max=1)
    batch_size: int = setting(128, min=1)
    lr: float = setting(3e-3, gt=0)
    epochs: int = setting(2, min=1)  # the teacher's, through the shared trainer helper
    max_test: int | None = setting(None, min=1)
    data_root: str | None = None


@register_recipe("ch11-distill", config=DistillConfig)
def distill_recipe(cfg: DistillConfig) -> dict:
    """Teacher, then students with (``alpha``) and without (``alpha = 0``) the teacher, per seed."""
    import torch

    from ..models import count_parameters, create_model
    from ..train.tasks import create_task

    torch.manual_seed(cfg.seed)
    train, test, dataset = _splits("lenet5", cfg.seed, None, cfg.max_test, cfg.data_root)
    teacher_data = train
    if cfg.teacher_max_train:
        teacher_data = torch.utils.data.Subset(train, range(min(cfg.teacher_max_train, len(train))))
    teacher, teacher_s = _load_or_train(cfg, "lenet5", teacher_data, test, dataset, "teacher", cfg.teacher_run,
                                        epochs=cfg.teacher_epochs)
    teacher = teacher.cpu().eval()
    arms: dict[str, list[float]] = {"student": [], "student+teacher": []}
    for k in range(cfg.seeds):
        seed = cfg.seed + k
        g = torch.Generator().manual_seed(seed)
        idx = torch.randperm(len(train), generator=g)[: cfg.student_train or len(train)].tolist()
        subset = torch.utils.data.Subset(train, idx)
        for arm, alpha in (("student", 0.0), ("student+teacher", cfg.alpha)):
            torch.manual_seed(seed)
            student = create_model("simple-cnn", channels=tuple(cfg.student_channels), hidden=tuple(cfg.student_hidden))
            task = create_task("distillation", teacher=teacher, temperature=cfg.temperature, alpha=alpha)
            trainer = make_trainer(cfg, student, task, subset, sub=f"{arm.replace('+', '-')}-seed{seed}",
                                   task_name="classification", dataset=dataset, epochs=cfg.student_epochs,
                                   batch_size=cfg.batch_size, lr=cfg.lr, optimizer="adamw", scheduler="onecycle",
                                   device="cpu", seed=seed, plots=False)
            trainer.fit()
            arms[arm].append(accuracy(student, test))
    summary = {arm: {"mean": statistics.mean(v), "std": statistics.stdev(v) if len(v) > 1 else 0.0, "runs": v}
               for arm, v in arms.items()}
    result = {"teacher_acc": accuracy(teacher, test), "teacher_params": count_parameters(teacher),
              "student_params": count_parameters(create_model("simple-cnn", channels=tuple(cfg.student_channels),
                                                              hidden=tuple(cfg.student_hidden))),
              "teacher_train_s": teacher_s, "students": summary, "config": asdict(cfg)}
    return save_result(cfg, result)
