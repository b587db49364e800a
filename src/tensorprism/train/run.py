"""Config-driven runs: a nested dict (YAML) → model, data, task and :class:`Trainer`.

The run configuration has the same layout as the ``config.yaml`` a run directory holds, so any
run can be repeated with ``prism train --config runs/x/config.yaml``::

    model:   {name: mlp, config: {hidden: [128, 64]}}
    dataset: {name: digits, config: {}, root: null}
    task:    {name: classification, config: {}}
    trainer: {epochs: 40, lr: 0.003, ...}          # TrainerConfig fields

``key=value`` overrides address it with dots; values are parsed as YAML (``hidden=[256,128]``,
``scheduler={name: cosine, warmup: 50}``). Shortcuts: ``model=NAME``, ``dataset=NAME``,
``task=NAME`` set the name; ``model.X`` / ``dataset.X`` / ``task.X`` set ``<part>.config.X``;
a bare TrainerConfig field (``epochs=5``) sets ``trainer.<field>``; ``out=DIR`` is ``out_dir``.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError, suggest
from .trainer import Trainer, TrainerConfig

PARTS = ("model", "dataset", "task")
TRAINER_FIELDS = tuple(f.name for f in dataclasses.fields(TrainerConfig))

# `prism train` with no arguments: the registered `mlp` (64-128-64-10) on scikit-learn digits.
DEFAULT_RUN: dict[str, Any] = {
    "model": {"name": "mlp", "config": {"dropout": 0.1}},
    "dataset": {"name": "digits", "config": {}, "root": None},
    "task": {"name": "classification", "config": {}},
    "trainer": {"epochs": 40, "batch_size": 32, "lr": 3e-3, "weight_decay": 1e-4,
                "optimizer": "adamw", "scheduler": "cosine", "seed": 0},
}


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def normalize_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """Accept ``model: NAME`` shorthands and top-level trainer fields; reject unknown keys."""
    out: dict[str, Any] = {}
    for key, value in (cfg or {}).items():
        if key in PARTS:
            part = {"name": value} if isinstance(value, str) else dict(value or {})
            extra = {k: v for k, v in part.items() if k not in ("name", "config", "root", "class")}
            part = {k: v for k, v in part.items() if k in ("name", "config", "root")}
            part["config"] = {**(part.get("config") or {}), **extra}
            out[key] = part
        elif key == "trainer":
            out.setdefault("trainer", {}).update(value or {})
        elif key in TRAINER_FIELDS or key == "out":
            out.setdefault("trainer", {})["out_dir" if key == "out" else key] = value
        else:
            known = (*PARTS, "trainer", *TRAINER_FIELDS)
            close = suggest(key, known)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"unknown run setting {key!r}{hint}; use model, dataset, task, trainer "
                              f"or a trainer field such as epochs, lr, batch_size")
    for key in out.get("trainer", {}):
        if key not in TRAINER_FIELDS:
            close = suggest(key, TRAINER_FIELDS)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"unknown trainer setting {key!r}{hint}")
    return out


def parse_assignment(item: str) -> tuple[str, Any]:
    """``"key=value"`` → ``(key, value)`` with the value parsed as YAML (``5``, ``[1, 2]``, ``null``)."""
    if "=" not in item:
        raise ConfigError(f"override {item!r} is not of the form key=value (e.g. epochs=5)")
    key, raw = item.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw != "" else None
    except yaml.YAMLError as exc:
        raise ConfigError(f"cannot parse the value of {key}: {exc}") from exc
    return key.strip(), _number(value)


def _numbers(doc: Any) -> Any:
    """:func:`_number` applied throughout a YAML document."""
    if isinstance(doc, dict):
        return {k: _numbers(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_numbers(v) for v in doc]
    return _number(doc)


def _number(value: Any) -> Any:
    """YAML 1.1 reads ``1e-3`` (no dot) as a string; read such strings as the floats they are."""
    if isinstance(value, str):
        try:
            return float(value) if value.strip().lower() not in ("nan", "inf", "-inf", "infinity") else value
        except ValueError:
            return value
    return value


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["epochs=5", "model.hidden=[64]"]`` → a nested config fragment (values parsed as YAML)."""
    frag: dict[str, Any] = {}
    for item in items:
        key, value = parse_assignment(item)
        path = key.split(".")
        head = path[0]
        if head in PARTS:
            if len(path) == 1:
                frag = deep_merge(frag, {head: {"name": value}})
                continue
            sub = path[1:] if path[1] in ("name", "config", "root") else ["config", *path[1:]]
            path = [head, *sub]
        elif head in TRAINER_FIELDS or head == "out":
            path = ["trainer", "out_dir" if head == "out" else head, *path[1:]]
        node: dict[str, Any] = {}
        cur = node
        for p in path[:-1]:
            cur[p] = {}
            cur = cur[p]
        cur[path[-1]] = value
        frag = deep_merge(frag, node)
    return frag


def load_config(path: str | Path | None = None, overrides: list[str] | None = None,
                base: dict[str, Any] | None = None) -> dict[str, Any]:
    """``base`` (default :data:`DEFAULT_RUN`) ← YAML file ← overrides, normalised and checked."""
    cfg = normalize_config(copy.deepcopy(DEFAULT_RUN if base is None else base))
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file {p} not found")
        cfg = deep_merge(cfg, normalize_config(_numbers(yaml.safe_load(p.read_text()) or {})))
    if overrides:
        cfg = deep_merge(cfg, normalize_config(parse_overrides(overrides)))
    return cfg


def load_split(cfg: dict[str, Any], split: str):
    """Split ``split`` of the configured dataset (``None`` if the dataset has no such split)."""
    from ..data import load_dataset

    ds = cfg["dataset"]
    try:
        return load_dataset(ds["name"], root=ds.get("root"), split=split, **ds.get("config", {}))
    except ConfigError as exc:
        if "split" in str(exc) and split != "train":
            return None
        raise


def _sample_shape(dataset: Any) -> tuple[int, ...]:
    shape = getattr(dataset, "sample_shape", None)
    if shape is not None:
        return tuple(shape)
    first = dataset[0]
    x = first[0] if isinstance(first, (tuple, list)) else first
    return tuple(getattr(x, "shape", ()))


def _sample_dtype(dataset: Any) -> str:
    first = dataset[0]
    x = first[0] if isinstance(first, (tuple, list)) else first
    return str(getattr(x, "dtype", "")).replace("torch.", "")


def infer_model_config(cfg: dict[str, Any], train: Any) -> dict[str, Any]:
    """Fill ``in_features`` / ``in_channels`` / ``num_classes`` of the model from the data when
    the model has such fields and the user did not set them."""
    from ..models import model_entry

    entry = model_entry(cfg["model"]["name"])
    user = cfg["model"].get("config", {})
    fields = {f.name for f in dataclasses.fields(entry.config)} if entry.config else set()
    shape = _sample_shape(train)
    inferred: dict[str, Any] = {}
    if "in_features" in fields and "in_features" not in user and shape:
        inferred["in_features"] = math.prod(shape)
    if "in_channels" in fields and "in_channels" not in user and len(shape) == 3:
        inferred["in_channels"] = shape[0]
    num_classes = getattr(train, "num_classes", None)
    if ("num_classes" in fields and "num_classes" not in user and num_classes
            and cfg["task"]["name"] == "classification"):
        inferred["num_classes"] = num_classes
    return inferred


def build_trainer(cfg: dict[str, Any], **trainer_overrides: Any) -> Trainer:
    """Seed, load the data, build model and task, and return the configured :class:`Trainer`."""
    from ..models import create_model
    from .seeding import seed_everything
    from .tasks import create_task

    if not cfg.get("model", {}).get("name"):
        raise ConfigError("the run configuration names no registered model (model: {name: ...}); runs "
                          "of models built in Python are resumed with Trainer.fit(resume_from=...)")
    tcfg = {**cfg.get("trainer", {}), **trainer_overrides}
    seed_everything(int(tcfg.get("seed", 0)), bool(tcfg.get("deterministic", False)))
    train = load_split(cfg, "train")
    val, test = load_split(cfg, "val"), load_split(cfg, "test")
    model_cfg = {**infer_model_config(cfg, train), **cfg["model"].get("config", {})}
    model = create_model(cfg["model"]["name"], **model_cfg)
    task = create_task(cfg["task"]["name"], **cfg["task"].get("config", {}))
    run_info = {"dataset": cfg["dataset"], "task": cfg["task"],
                "input": {"shape": list(_sample_shape(train)), "dtype": _sample_dtype(train)}}
    return Trainer(model, task, train_data=train, val_data=val, test_data=test, run_info=run_info, **tcfg)


def config_from_run(run_dir: str | Path) -> dict[str, Any]:
    """The run configuration saved in a run directory's ``config.yaml``."""
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise ConfigError(f"{run_dir} is not a run directory: {path} is missing")
    doc = yaml.safe_load(path.read_text())
    return normalize_config({k: v for k, v in doc.items() if k in (*PARTS, "trainer")})




def load_run(path: str | Path, prefer: str = "last") -> tuple[dict[str, Any], Any, Path]:
    """``(run config, model with the checkpoint's weights, checkpoint path)`` from a checkpoint
    file or run directory; everything needed is in the checkpoint itself."""
    from ..errors import CheckpointError
    from ..models import create_model
    from .checkpoint import load_weights, read_checkpoint, resolve_checkpoint

    ckpt = resolve_checkpoint(path, prefer)
    weights, state = read_checkpoint(ckpt)
    spec = state.get("model_spec")
    if not spec:
        raise CheckpointError(f"{ckpt} does not say which registered model it holds; load it in Python "
                              f"with load_weights(model, path)")
    info = state.get("run_info", {})
    cfg = normalize_config({"model": {"name": spec["name"]}, "dataset": info.get("dataset", {}),
                            "task": info.get("task", {"name": "classification"}),
                            "trainer": state.get("config", {})})
    cfg["run_info"] = info
    model = create_model(spec["name"], **spec.get("config", {}))
    load_weights(model, weights, source=str(ckpt))
    return cfg, model, ckpt


__all__ = ["DEFAULT_RUN", "load_config", "parse_overrides", "build_trainer", "config_from_run",
           "deep_merge", "load_run", "load_split", "parse_assignment"]
