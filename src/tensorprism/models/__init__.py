"""The model zoo: every architecture registered by name with a typed config dataclass.

Add a model by dropping a module in this package (or a sub-package) that uses
:func:`register_model`; it is discovered automatically on the first lookup::

    @dataclass
    class MLPConfig:
        in_features: int = 784
        hidden: tuple[int, ...] = (128, 64)
        num_classes: int = 10

    @register_model("mlp", config=MLPConfig, family="mlp")
    def mlp(cfg: MLPConfig) -> nn.Module:
        ...

    @register_model("mlp-mnist", config=MLPConfig, family="mlp", hidden=(128, 64))  # a variant
    def mlp_mnist(cfg): return mlp(cfg)

``create_model(name, **overrides)`` builds the config from the variant's defaults plus the
overrides, calls the builder, and records ``model.prism_spec = {"name": ..., "config": {...}}`` so
checkpoints can rebuild the exact model.

Every model follows its paradigm's contract (:mod:`tensorprism.models.contract`):
``model_paradigm(name)`` and ``model_default_cfg(name)`` read them without allocating weights.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
import torch.nn as nn

from ..errors import ConfigError
from ..registry import Entry, Registry

MODELS: Registry[nn.Module] = Registry("model", discover=__name__)
register_model = MODELS.register


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def create_model(name: str, **config: Any) -> nn.Module:
    """Build registered model ``name``; keyword arguments override its config fields.

    Raises :class:`~tensorprism.errors.UnknownNameError` (with suggestions) for an unknown name and
    :class:`~tensorprism.errors.ConfigError` for an unknown option.
    """
    entry = MODELS.get(name)
    if entry.config is None:
        model = entry.fn(**{**entry.defaults, **config})
        cfg_dict = {**entry.defaults, **config}
    else:
        cfg = entry.make_config(**config)
        model = entry.fn(cfg)
        cfg_dict = dataclasses.asdict(cfg)
    model.prism_spec = {"name": entry.name, "config": _jsonable(cfg_dict)}
    return model


def list_models(pattern: str | None = None, family: str | None = None) -> list[str]:
    """Registered model names, optionally filtered by a glob ``pattern`` or ``family``."""
    return MODELS.names(pattern, family)


def model_entry(name: str) -> Entry[nn.Module]:
    """The registry entry (builder, config class, defaults, family) of model ``name``."""
    return MODELS.get(name)


def model_option_names(name: str) -> set[str]:
    """The option names of registered model ``name`` (none for a model without a config dataclass)."""
    import dataclasses

    entry = model_entry(name)
    return {f.name for f in dataclasses.fields(entry.config)} if entry.config else set()


def _on_meta(name: str, **config: Any) -> nn.Module:
    """``create_model`` on the meta device: the structure and attributes, no memory, no init."""
    with torch.device("meta"):
        return create_model(name, **config)


def model_paradigm(name: str) -> str:
    """The paradigm (``image``, ``lm``, ``seq2seq``, ``graph``...) of registered model ``name``."""
    from .contract import paradigm_of

    return paradigm_of(_on_meta(name))


def model_kind(name: str) -> str:
    """The ``kind`` of generative model ``name`` (``gan``, ``vae``, ``flow``... see ``GENERATIVE_KINDS``);
    ``""`` for models of other paradigms."""
    return getattr(_on_meta(name), "kind", "")


def model_input_layout(name: str, **config: Any) -> str:
    """The ``input_layout`` of sequence model ``name`` (``tokens``, ``features``, ``documents``), ``""``
    for models without one; read on the meta device."""
    return getattr(_on_meta(name, **config), "input_layout", "")


def model_default_cfg(name: str, **config: Any) -> dict[str, Any]:
    """timm-style ``default_cfg`` (``input_size (C, H, W)``, ``mean``, ``std``, ``num_classes``...)
    of image model ``name`` (with config overrides), without allocating its weights."""
    model = _on_meta(name, **config)
    if not hasattr(model, "default_cfg"):
        raise ConfigError(f"{name!r} is a {getattr(model, 'paradigm', 'non-image') or 'non-image'} model: only "
                          "image and dense image models have a default_cfg (input size, mean, std)")
    return model.default_cfg


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (shared parameters counted once)."""
    seen = {id(p): p for p in model.parameters() if p.requires_grad or not trainable_only}
    return sum(p.numel() for p in seen.values())


__all__ = ["MODELS", "register_model", "create_model", "list_models", "model_entry", "model_option_names",
           "model_paradigm", "model_kind", "model_input_layout", "model_default_cfg", "count_parameters"]
