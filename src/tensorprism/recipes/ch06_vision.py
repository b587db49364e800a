"""Chapter 6 vision transformers on CIFAR-10 (book §6.5) and efficient attention on long contexts (§6.6.2).

* ``ch06-cifar10-vit`` -- a small ViT from scratch (4×4 patches) with the augmentation ViTs need on
  small data: random crop + flip, RandAugment, mixup or cutmix, label smoothing; AdamW, warm-up +
  cosine decay (the book's L6-10 fine-tunes a pretrained ViT instead, which needs downloaded weights).
* ``ch06-cifar10-swin`` -- the same training of ``swin-cifar``.
* ``ch06-cifar10-deit`` -- DeiT: ``deit-cifar`` learns from the labels and, through its distillation
  token, from a ResNet-20 teacher (trained first by ``ch04-cifar10-resnet20``, or read from
  ``teacher_run``), with hard or soft distillation.
* ``ch06-long-lm`` -- a character GPT on Tiny Shakespeare with a long context (1024 by default),
  trained once per attention (full, linear, Performer, sliding window...) with the same settings;
  reports validation loss and the forward+backward time of each at ``speed_context`` (2048).

Every model trains through :func:`~tensorprism.recipes.kit.make_trainer` into ``<out_dir>/<model or
attention>`` and the numbers go to ``result.json``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..config import setting
from . import register_recipe
from .kit import RecipeConfig, make_trainer, run_dir, save_result


@dataclass
class CifarViTConfig(RecipeConfig):
    """Training of a vision transformer on CIFAR-10 from scratch.

    Attributes:
        model: registered image model (``vit-cifar``, ``swin-cifar``, ``deit-cifar``...).
        model_kwargs: overrides of the model's config (e.g. ``{"depth": 4}``).
        epochs, batch_size: the schedule.
        lr, weight_decay, warmup_epochs: AdamW, linear warm-up then cosine decay (per step).
        label_smoothing: on the hard labels.
        randaugment: RandAugment ops per image (0: none) at ``randaugment_magnitude``.
        mix: ``"none"``, ``"mixup"`` or ``"cutmix"`` (with ``mix_alpha``).
        max_train_samples: a random subset of the 50,000 training images (``None``: all).
        max_test_samples: a random subset of the 10,000 test images (``None``: all, the reported number).
        max_steps: stop after this many optimiser steps; the warm-up + cosine schedule then ends there too
            (how a fixed compute budget is given without cutting the schedule short).
        teacher_run: DeiT only -- the run directory of a trained CIFAR-10 classifier (e.g. of
            ``prism run ch04-cifar10-resnet20``); ``None`` trains ResNet-20 first into ``<out_dir>/teacher``
            (``teacher_epochs``, the settings of ``ch04-cifar10-resnet20``).
        distill_kind, distill_alpha, distill_temperature: DeiT's hard or soft distillation.
    """

    model: str = "vit-cifar"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    epochs: int = setting(100, min=1)
    batch_size: int = setting(128, min=1)
    lr: float = setting(1e-3, gt=0)
    weight_decay: float = setting(0.05, min=0)
    warmup_epochs: float = setting(5.0, min=0)
    label_smoothing: float = setting(0.1, min=0, max=1)
    randaugment: int = setting(2, min=0)
    randaugment_magnitude: float = setting(9.0, min=0)
    mix: str = setting("cutmix", choices=("none", "mixup", "cutmix"))
    mix_alpha: float = setting(1.0, min=0)
    max_train_samples: int | None = setting(None, min=1)
    max_test_samples: int | None = setting(None, min=1)
    max_steps: int | None = setting(None, min=1)
    teacher_run: str | None = None
    teacher_epochs: int = setting(30, min=1)
    distill_kind: str = setting("hard", choices=("hard", "soft"))
    distill_alpha: float = setting(0.5, min=0, max=1)
    distill_temperature: float = setting(3.0, gt=0)


def vit_augmentation(cfg: CifarViTConfig):
    """Crop (4-pixel padding) + flip, RandAugment, then mixup/cutmix, on ``[0, 1]`` batches."""
    from ..data import augment as A

    steps: list = [A.RandomCrop(32, padding=4), A.RandomHorizontalFlip()]
    if cfg.randaugment:
        steps.append(A.RandAugment(cfg.randaugment, cfg.randaugment_magnitude))
    if cfg.mix == "mixup":
        steps.append(A.Mixup(cfg.mix_alpha, 10))
    elif cfg.mix == "cutmix":
        steps.append(A.CutMix(cfg.mix_alpha, 10))
    return A.Compose(steps, seed=cfg.seed)


def _train_teacher(cfg: CifarViTConfig, train, test, norm) -> tuple[str, dict]:
    """ResNet-20 trained as ``ch04-cifar10-resnet20`` does (SGD 0.1, Nesterov, wd 1e-4, one-cycle, crop +
    flip) for ``teacher_epochs``, into ``<out_dir>/teacher``; returns its run directory and test accuracy."""
    from ..data import augment as A
    from ..models import create_model
    from ..vision.training import AugmentedClassificationTask

    model = create_model("resnet20-cifar", num_classes=10)
    aug = A.Compose([A.RandomCrop(32, padding=4), A.RandomHorizontalFlip()], seed=cfg.seed)
    trainer = make_trainer(cfg, model, AugmentedClassificationTask(aug, norm, 10), train, test=test, sub="teacher",
                           dataset={"name": "cifar10"}, task_name="classification", epochs=cfg.teacher_epochs,
                           batch_size=128, eval_batch_size=500, optimizer="sgd",
                           optimizer_kwargs={"momentum": 0.9, "nesterov": True}, lr=0.1, weight_decay=1e-4,
                           scheduler="onecycle")
    t0 = time.perf_counter()
    trainer.fit()
    return str(run_dir(cfg, "teacher") or ""), {"teacher": model.eval(), "teacher_test_acc": float(
        trainer.final_metrics["test/acc"]), "teacher_train_wall_s": round(time.perf_counter() - t0, 1)}


def run_cifar_vit(cfg: CifarViTConfig) -> dict[str, Any]:
    from ..data.transforms import Normalize
    from ..models import count_parameters, create_model
    from ..models.contract import CIFAR10_MEAN, CIFAR10_STD
    from ..train.tasks.deit import DeiTDistillationTask
    from ..vision.training import AugmentedClassificationTask
    from .ch04_classification import load_split

    train = load_split("cifar10", "trainval", cfg.max_train_samples, cfg.seed)
    test = load_split("cifar10", "test", cfg.max_test_samples, cfg.seed)
    torch.manual_seed(cfg.seed)
    model = create_model(cfg.model, num_classes=10, **cfg.model_kwargs)
    norm = Normalize(CIFAR10_MEAN, CIFAR10_STD)
    extra: dict[str, Any] = {}
    if getattr(model, "head_dist", None) is not None:  # DeiT: a teacher first
        teacher: Any = cfg.teacher_run
        if teacher is None:
            path, extra = _train_teacher(cfg, train, test, norm)
            teacher = extra.pop("teacher")
            extra["teacher_run"] = path
        else:
            extra["teacher_run"] = teacher
        task = DeiTDistillationTask(teacher, cfg.distill_kind, cfg.distill_alpha, cfg.distill_temperature,
                                    augment=vit_augmentation(cfg), preprocess=norm, num_classes=10,
                                    label_smoothing=cfg.label_smoothing)
    else:
        task = AugmentedClassificationTask(vit_augmentation(cfg), norm, 10, cfg.label_smoothing)
    steps_per_epoch = -(-len(train) // cfg.batch_size)
    trainer = make_trainer(
        cfg, model, task, train, test=test, sub=cfg.model, dataset={"name": "cifar10"},
        task_name="classification", task_config={"label_smoothing": cfg.label_smoothing}, epochs=cfg.epochs,
        batch_size=cfg.batch_size, eval_batch_size=500, optimizer="adamw", lr=cfg.lr,
        weight_decay=cfg.weight_decay, grad_clip_norm=1.0, max_steps=cfg.max_steps,
        scheduler={"name": "cosine", "warmup": int(cfg.warmup_epochs * steps_per_epoch), "min_factor": 0.01})
    t0, c0 = time.perf_counter(), time.process_time()
    trainer.fit()
    metrics = trainer.final_metrics
    return save_result(cfg, {
        "model": cfg.model, "parameters": count_parameters(model), "epochs_run": trainer.epoch,
        "steps": trainer.global_step, "train_wall_s": round(time.perf_counter() - t0, 1),
        "train_cpu_s": round(time.process_time() - c0, 1), "test_acc": float(metrics["test/acc"]),
        "test_loss": float(metrics["test/loss"]), "device": str(trainer.device), **extra})


for _name, _model in (("ch06-cifar10-vit", "vit-cifar"), ("ch06-cifar10-swin", "swin-cifar"),
                      ("ch06-cifar10-deit", "deit-cifar")):
    register_recipe(_name, config=CifarViTConfig, model=_model,
                    description=f"{_model} on CIFAR-10 from scratch (book §6.5)")(run_cifar_vit)


# ------------------------------------------------------------------------------------ long context
@dataclass
class LongLMConfig(RecipeConfig):
    """Character language models with a long context, one per attention.

    Attributes:
        attentions: the attentions to compare (``nn.efficient_attention.ATTENTION_KINDS``; causal ones).
        attention_kwargs: settings per attention, e.g. ``{"local": {"window": 128}}``.
        block_size: training context (characters).
        n_layer, n_head, n_embd: the GPT's size (learned positions).
        batch_size, max_iters, lr, min_lr, warmup, weight_decay, grad_clip: the training (AdamW, cosine).
        eval_windows: validation windows of ``block_size`` (non-overlapping; ``None``: the whole text).
        speed_context: context of the forward+backward timing of each trained model's architecture.
        speed_reps: repetitions of that timing (median).
    """

    attentions: tuple[str, ...] = ("full", "linear", "performer", "local")
    attention_kwargs: dict[str, dict[str, Any]] = field(default_factory=lambda: {
        "local": {"window": 256}, "performer": {"num_features": 64, "redraw_interval": 100}})
    block_size: int = setting(1024, min=2)
    n_layer: int = setting(2, min=1)
    n_head: int = setting(4, min=1)
    n_embd: int = setting(128, min=4)
    batch_size: int = setting(8, min=1)
    max_iters: int = setting(600, min=1)
    lr: float = setting(2e-3, gt=0)
    min_lr: float = setting(2e-4, gt=0)
    warmup: int = setting(50, min=0)
    weight_decay: float = setting(0.1, min=0)
    grad_clip: float = setting(1.0, gt=0)
    eval_windows: int | None = setting(None, min=1)
    speed_context: int = setting(2048, min=2)
    speed_reps: int = setting(3, min=1)


def _time_fwd_bwd(model, context: int, vocab: int, reps: int) -> float:
    ids = torch.randint(0, vocab, (1, context))
    times = []
    for _ in range(reps + 1):  # the first run warms the code paths
        t0 = time.perf_counter()
        model.loss(ids).backward()
        times.append(time.perf_counter() - t0)
        model.zero_grad(set_to_none=True)
    return sorted(times[1:])[len(times[1:]) // 2]


@register_recipe("ch06-long-lm", config=LongLMConfig)
def long_lm(cfg: LongLMConfig) -> dict:
    """Train one character GPT per attention on Tiny Shakespeare; val loss and speed of each."""
    from .. import create_model, load_dataset
    from ..data.text.lm import SlidingWindowDataset
    from ..data.text.tokenize import CharTokenizer
    from ..errors import ConfigError
    from ..nn.efficient_attention import ATTENTION_KINDS

    bad = [a for a in cfg.attentions if a not in ATTENTION_KINDS]
    if bad or "linformer" in cfg.attentions:
        raise ConfigError(f"attentions must be causal kinds of {ATTENTION_KINDS} (linformer has no causal form), "
                          f"got {list(cfg.attentions)}")
    train_text = load_dataset("tinyshakespeare", split="train")
    val_text = load_dataset("tinyshakespeare", split="val")
    tok = CharTokenizer.fit(train_text + val_text)
    train_ids, val_ids = torch.tensor(tok.encode(train_text)), torch.tensor(tok.encode(val_text))
    if cfg.eval_windows:
        val_ids = val_ids[: cfg.eval_windows * cfg.block_size + 1]
    arch = dict(vocab_size=len(tok), n_layer=cfg.n_layer, n_head=cfg.n_head, n_embd=cfg.n_embd, bias=False,
                activation="gelu", dropout=0.0)
    rows: dict[str, dict[str, Any]] = {}
    for kind in cfg.attentions:
        kw = dict(cfg.attention_kwargs.get(kind, {}))
        torch.manual_seed(cfg.seed)
        model = create_model("gpt-char", block_size=cfg.block_size, attention=kind, attention_kwargs=kw, **arch)
        trainer = make_trainer(
            cfg, model, "causal-lm", SlidingWindowDataset(train_ids, cfg.block_size),
            SlidingWindowDataset(val_ids, cfg.block_size, stride=cfg.block_size), sub=kind,
            optimizer="adamw", optimizer_kwargs={"betas": (0.9, 0.99)}, lr=cfg.lr, weight_decay=cfg.weight_decay,
            batch_size=cfg.batch_size, eval_batch_size=8, epochs=1, max_steps=cfg.max_iters,
            scheduler={"name": "cosine", "warmup": cfg.warmup, "min_factor": cfg.min_lr / cfg.lr},
            grad_clip_norm=cfg.grad_clip)
        t0 = time.perf_counter()
        trainer.fit()
        train_s = time.perf_counter() - t0
        speed_model = create_model("gpt-char", block_size=max(cfg.speed_context, cfg.block_size), attention=kind,
                                   attention_kwargs=kw, **arch).to(trainer.device)
        rows[kind] = {"val_loss": float(trainer.final_metrics["val/loss"]), "train_wall_s": round(train_s, 1),
                      "s_per_iter": round(train_s / max(trainer.global_step, 1), 4),
                      f"fwd_bwd_s_at_{cfg.speed_context}": round(_time_fwd_bwd(
                          speed_model, cfg.speed_context, len(tok), cfg.speed_reps), 4),
                      "attention_kwargs": kw}
        if cfg.out_dir:
            tok.vocab.save(Path(run_dir(cfg, kind)) / "vocab.json")  # `prism generate <out_dir>/<kind>`
    key = f"fwd_bwd_s_at_{cfg.speed_context}"
    if "full" in rows:
        for row in rows.values():
            row["val_loss_minus_full"] = round(row["val_loss"] - rows["full"]["val_loss"], 4)
            row[f"speedup_vs_full_at_{cfg.speed_context}"] = round(rows["full"][key] / row[key], 3)
    return save_result(cfg, {"attentions": rows, "config": asdict(cfg), "block_size": cfg.block_size,
                             "iters": cfg.max_iters})
