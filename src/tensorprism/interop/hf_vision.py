"""Load Hugging Face ``transformers`` ViT and Swin weights into tensorprism's :class:`ViT` and :class:`Swin`.

The same rules as :mod:`tensorprism.interop.hf` (BERT, GPT-2): every source tensor is mapped or the
loader raises :class:`CheckpointError` naming the leftovers; configuration settings our models
cannot represent raise :class:`ConfigError` naming the setting; a ``transformers`` model object is
checked on a probe batch of random images (``verify=False`` skips it).

Layout mapping (ours <- theirs). Both the current names (``transformers`` >= 5) and the older ones
(``attention.attention.query``, ``intermediate.dense``...) are read:

=====================================  ===================================================
ViT                                    ``vit.`` prefix optional
=====================================  ===================================================
``patch_embed.proj``                   ``embeddings.patch_embeddings.projection``
``cls_token`` / ``pos_embed``          ``embeddings.cls_token`` / ``embeddings.position_embeddings``
``blocks.layers.i.self_attn.in_proj``  ``layers.i.attention.{q,k,v}_proj`` stacked ``(3D, D)``
``blocks.layers.i.self_attn.out_proj`` ``layers.i.attention.o_proj``
``blocks.layers.i.norm1`` / ``norm2``  ``layers.i.layernorm_before`` / ``layernorm_after``
``blocks.layers.i.ff.linear1/2``       ``layers.i.mlp.fc1`` / ``fc2``
``norm``, ``pre_logits.0``, ``head``   ``layernorm``, ``pooler.dense``, ``classifier``
=====================================  ===================================================

=========================================  ===============================================
Swin                                       ``swin.`` prefix optional
=========================================  ===============================================
``patch_embed.proj`` / ``patch_embed.norm``  ``embeddings.patch_embeddings.projection`` / ``embeddings.norm``
``stages.s.blocks.j.attn.qkv``             ``encoder.layers.s.blocks.j.attention.{q,k,v}_proj`` stacked
``stages.s.blocks.j.attn.proj``            ``...attention.o_proj``
``stages.s.blocks.j.attn.relative_...``    ``...attention.relative_position_bias.relative_position_bias_table``
``stages.s.blocks.j.norm1/2``, ``mlp``     ``...layernorm_before/after``, ``...mlp.fc1/fc2``
``stages.s.downsample``                    ``encoder.layers.s.downsample`` (reduction, norm)
``norm``, ``head``                         ``layernorm``, ``classifier``
=========================================  ===============================================

Hugging Face's ViT pooler (``dense + tanh`` on [CLS]) is our ``representation_size`` pre-logits
layer; Swin's pooler is the token average, which is our ``forward_head(pre_logits=True)``.
Hugging Face pads images (and Swin feature maps) that are not multiples of the patch (window); our
models refuse them instead, so the probe uses the configured image size.
"""

from __future__ import annotations

import re
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from ..models.vit.swin import Swin, SwinConfig, stage_windows
from ..models.vit.vit import ViT, ViTConfig
from .hf import (
    _PROBE_TOL,
    _activation,
    _cfg_get,
    _check_close,
    _load,
    _model_type,
    _require,
    _Source,
)

__all__ = ["vit_config_from_hf", "vit_state_from_hf", "load_hf_vit", "swin_config_from_hf",
           "swin_state_from_hf", "load_hf_swin", "verify_image_probe"]

# older transformers names -> current ones (the renames transformers applies itself on loading)
_RENAMES = (
    (r"(^|\.)encoder\.layer\.(\d+)\.", r"\1layers.\2."),  # ViT: encoder.layer.i -> layers.i
    (r"attention\.attention\.query", "attention.q_proj"), (r"attention\.attention\.key", "attention.k_proj"),
    (r"attention\.attention\.value", "attention.v_proj"),
    (r"attention\.self\.query", "attention.q_proj"), (r"attention\.self\.key", "attention.k_proj"),
    (r"attention\.self\.value", "attention.v_proj"),
    (r"attention\.self\.relative_position_bias_table", "attention.relative_position_bias.relative_position_bias_table"),
    (r"attention\.output\.dense", "attention.o_proj"),
    (r"intermediate\.dense", "mlp.fc1"), (r"(?<!attention\.)output\.dense", "mlp.fc2"),
)
_IGNORED = re.compile(r"relative_position_index$")


def _canonical(sd: dict[str, Tensor], prefix: str) -> dict[str, Tensor]:
    """Current-style names without the model prefix (``vit.``/``swin.``); ignored buffers dropped."""
    out = {}
    for k, v in sd.items():
        if _IGNORED.search(k):
            continue
        for pat, rep in _RENAMES:
            k = re.sub(pat, rep, k)
        out[k[len(prefix):] if k.startswith(prefix) else k] = v
    return out


def _qkv(src: _Source, p: str, out: dict[str, Tensor], ours: str) -> None:
    out[ours + ".weight"] = torch.cat([src[f"{p}{n}_proj.weight"] for n in "qkv"])
    if f"{p}q_proj.bias" in src:
        out[ours + ".bias"] = torch.cat([src[f"{p}{n}_proj.bias"] for n in "qkv"])


def _pairs(src: _Source, pairs: dict[str, str], out: dict[str, Tensor], optional: bool = False) -> None:
    for ours, theirs in pairs.items():
        for kind in ("weight", "bias"):
            key = f"{theirs}.{kind}"
            if key in src or not optional and kind == "weight":
                out[f"{ours}.{kind}"] = src[key]


def _img_size(cfg: Any) -> int | tuple[int, int]:
    size = _cfg_get(cfg, "image_size", 224)
    return size if isinstance(size, int) else (int(size[0]), int(size[1]))


def _mlp_ratio(cfg: Any, what: str, hidden: int, inner: int) -> float:
    ratio = inner / hidden
    if int(hidden * ratio) != inner:
        raise ConfigError(f"{what} config sets intermediate_size={inner}, which no mlp_ratio of width {hidden} gives")
    return ratio


# -------------------------------------------------------------------------------------------- ViT
def vit_config_from_hf(hf_config: Any, *, pooler: bool = False, num_classes: int = 0, **overrides: Any) -> ViTConfig:
    """Our :class:`ViTConfig` from a ``transformers.ViTConfig`` (or its dict). ``pooler`` adds the
    ``dense + tanh`` pre-logits layer; ``num_classes`` the classifier."""
    _model_type(hf_config, "load_hf_vit", ("vit",))
    _require(hf_config, "ViT", "pooler_act", lambda v: v in (None, "tanh"), "tanh", "'tanh'")
    patch = _cfg_get(hf_config, "patch_size", 16)
    if not isinstance(patch, int):
        raise ConfigError(f"ViT config sets patch_size={patch!r}; tensorprism's ViT has square patches")
    hidden = _cfg_get(hf_config, "hidden_size")
    values = dict(
        img_size=_img_size(hf_config), patch_size=patch, in_chans=_cfg_get(hf_config, "num_channels", 3),
        num_classes=num_classes, embed_dim=hidden, depth=_cfg_get(hf_config, "num_hidden_layers"),
        num_heads=_cfg_get(hf_config, "num_attention_heads"),
        mlp_ratio=_mlp_ratio(hf_config, "ViT", hidden, _cfg_get(hf_config, "intermediate_size")),
        qkv_bias=bool(_cfg_get(hf_config, "qkv_bias", True)), class_token=True, global_pool="token",
        representation_size=(_cfg_get(hf_config, "pooler_output_size", None) or hidden) if pooler else None,
        drop_rate=_cfg_get(hf_config, "hidden_dropout_prob", 0.0),
        attn_drop_rate=_cfg_get(hf_config, "attention_probs_dropout_prob", 0.0),
        layer_norm_eps=_cfg_get(hf_config, "layer_norm_eps", 1e-12),
        activation=_activation(hf_config, "ViT", "hidden_act", "gelu"),
    )
    values.update(overrides)
    return ViTConfig(**values)


def vit_state_from_hf(sd: dict[str, Tensor], depth: int) -> dict[str, Tensor]:
    """Rename/stack a ``ViTModel`` / ``ViTForImageClassification`` state dict into :class:`ViT`'s;
    :class:`CheckpointError` names every source tensor left unmapped."""
    src = _Source(_canonical(sd, "vit."), "ViT")
    out = {"cls_token": src["embeddings.cls_token"], "pos_embed": src["embeddings.position_embeddings"]}
    _pairs(src, {"patch_embed.proj": "embeddings.patch_embeddings.projection", "norm": "layernorm"}, out)
    for i in range(depth):
        h, o = f"layers.{i}.", f"blocks.layers.{i}."
        _qkv(src, h + "attention.", out, o + "self_attn.in_proj")
        _pairs(src, {o + "self_attn.out_proj": h + "attention.o_proj", o + "norm1": h + "layernorm_before",
                     o + "norm2": h + "layernorm_after", o + "ff.linear1": h + "mlp.fc1",
                     o + "ff.linear2": h + "mlp.fc2"}, out)
    _pairs(src, {"pre_logits.0": "pooler.dense", "head": "classifier"}, out, optional=True)
    src.finish()
    return out


def load_hf_vit(hf_model: Any, *, verify: bool = True, **overrides: Any) -> ViT:
    """Our :class:`ViT` with the weights of a ``transformers`` ``ViTModel`` (with or without its
    pooler) or ``ViTForImageClassification``, checked on a probe batch unless ``verify=False``."""
    name = type(hf_model).__name__
    if name not in ("ViTModel", "ViTForImageClassification"):
        raise ConfigError(f"load_hf_vit loads ViTModel or ViTForImageClassification, got {name}")
    sd = hf_model.state_dict()
    pooler = any(k.endswith("pooler.dense.weight") for k in sd)
    num_classes = int(sd["classifier.weight"].shape[0]) if "classifier.weight" in sd else 0
    if any(k.endswith("mask_token") for k in sd):
        raise ConfigError("the ViT has a mask token (use_mask_token=True, masked image modelling), which "
                          "tensorprism's ViT does not have; load a model without it")
    cfg = vit_config_from_hf(hf_model.config, pooler=pooler, num_classes=num_classes, **overrides)
    model = _load(ViT(cfg), vit_state_from_hf(sd, cfg.depth), "ViT")
    if verify:
        verify_image_probe(hf_model, model, "ViT")
    return model


# ------------------------------------------------------------------------------------------- Swin
def swin_config_from_hf(hf_config: Any, *, num_classes: int = 0, **overrides: Any) -> SwinConfig:
    """Our :class:`SwinConfig` from a ``transformers.SwinConfig`` (or its dict)."""
    _model_type(hf_config, "load_hf_swin", ("swin",))
    _require(hf_config, "Swin", "use_absolute_embeddings", lambda v: not v, False,
             "False (Swin's relative position bias only)")
    _activation(hf_config, "Swin", "hidden_act", "gelu")
    _require(hf_config, "Swin", "hidden_act", lambda v: v in ("gelu", "gelu_python"), "gelu", "'gelu'")
    patch = _cfg_get(hf_config, "patch_size", 4)
    if not isinstance(patch, int):
        raise ConfigError(f"Swin config sets patch_size={patch!r}; tensorprism's Swin has square patches")
    depths, heads = tuple(_cfg_get(hf_config, "depths")), tuple(_cfg_get(hf_config, "num_heads"))
    values = dict(
        img_size=_img_size(hf_config), patch_size=patch, in_chans=_cfg_get(hf_config, "num_channels", 3),
        num_classes=num_classes, embed_dim=_cfg_get(hf_config, "embed_dim"), depths=depths, num_heads=heads,
        window_size=_cfg_get(hf_config, "window_size", 7), mlp_ratio=float(_cfg_get(hf_config, "mlp_ratio", 4.0)),
        qkv_bias=bool(_cfg_get(hf_config, "qkv_bias", True)),
        drop_rate=_cfg_get(hf_config, "hidden_dropout_prob", 0.0),
        attn_drop_rate=_cfg_get(hf_config, "attention_probs_dropout_prob", 0.0),
        drop_path_rate=_cfg_get(hf_config, "drop_path_rate", 0.1),
        layer_norm_eps=_cfg_get(hf_config, "layer_norm_eps", 1e-5),
    )
    values.update(overrides)
    cfg = SwinConfig(**values)
    size = cfg.img_size if isinstance(cfg.img_size, tuple) else (cfg.img_size, cfg.img_size)
    res = (size[0] // patch, size[1] // patch)
    for s in range(len(depths)):
        if stage_windows(res, cfg.window_size, 0)[0] < cfg.window_size:
            raise ConfigError(
                f"Swin stage {s} has a {res[0]}×{res[1]} map, smaller than window_size={cfg.window_size}: the reference "
                "code (and tensorprism) then shrink the window and its bias table, Hugging Face keeps the full "
                "table, so the weights do not correspond; use an image size whose last map is at least the window")
        res = (res[0] // 2, res[1] // 2)
    return cfg


def swin_state_from_hf(sd: dict[str, Tensor], depths: tuple[int, ...]) -> dict[str, Tensor]:
    """Rename/stack a ``SwinModel`` / ``SwinForImageClassification`` state dict into :class:`Swin`'s;
    :class:`CheckpointError` names every source tensor left unmapped."""
    src = _Source(_canonical(sd, "swin."), "Swin")
    out: dict[str, Tensor] = {}
    _pairs(src, {"patch_embed.proj": "embeddings.patch_embeddings.projection", "patch_embed.norm": "embeddings.norm",
                 "norm": "layernorm"}, out)
    for s, depth in enumerate(depths):
        for j in range(depth):
            h, o = f"encoder.layers.{s}.blocks.{j}.", f"stages.{s}.blocks.{j}."
            _qkv(src, h + "attention.", out, o + "attn.qkv")
            _pairs(src, {o + "attn.proj": h + "attention.o_proj", o + "norm1": h + "layernorm_before",
                         o + "norm2": h + "layernorm_after", o + "mlp.linear1": h + "mlp.fc1",
                         o + "mlp.linear2": h + "mlp.fc2"}, out)
            out[o + "attn.relative_position_bias_table"] = src[
                h + "attention.relative_position_bias.relative_position_bias_table"]
        if s < len(depths) - 1:
            d = f"encoder.layers.{s}.downsample."
            out[f"stages.{s}.downsample.reduction.weight"] = src[d + "reduction.weight"]
            _pairs(src, {f"stages.{s}.downsample.norm": d + "norm"}, out)
    _pairs(src, {"head": "classifier"}, out, optional=True)
    src.finish()
    return out


def load_hf_swin(hf_model: Any, *, verify: bool = True, **overrides: Any) -> Swin:
    """Our :class:`Swin` with the weights of a ``transformers`` ``SwinModel`` or
    ``SwinForImageClassification``, checked on a probe batch unless ``verify=False``."""
    name = type(hf_model).__name__
    if name not in ("SwinModel", "SwinForImageClassification"):
        raise ConfigError(f"load_hf_swin loads SwinModel or SwinForImageClassification, got {name}")
    sd = hf_model.state_dict()
    if any(k.endswith("mask_token") for k in sd):
        raise ConfigError("the Swin has a mask token (masked image modelling), which tensorprism's Swin does not have")
    num_classes = int(sd["classifier.weight"].shape[0]) if "classifier.weight" in sd else 0
    cfg = swin_config_from_hf(hf_model.config, num_classes=num_classes, **overrides)
    model = _load(Swin(cfg), swin_state_from_hf(sd, cfg.depths), "Swin")
    if verify:
        verify_image_probe(hf_model, model, "Swin")
    return model


# ------------------------------------------------------------------------------------------ probe
def _probe_images(model: nn.Module, batch: int = 2) -> Tensor:
    C, H, W = model.input_size
    return torch.randn(batch, C, H, W, generator=torch.Generator().manual_seed(0))


@torch.no_grad()
def verify_image_probe(hf_model: Any, ours: nn.Module, what: str) -> None:
    """Run two fixed random images through the ``transformers`` model and ours; raise
    :class:`CheckpointError` if the last hidden states, the pooled output or the logits differ
    beyond the dtype's tolerance (``1e-4`` absolute + relative for float32)."""
    dtype = next(hf_model.parameters()).dtype
    tol = _PROBE_TOL.get(dtype, 1e-1)
    x = _probe_images(ours)
    modes = hf_model.training, ours.training
    hf_model.eval()
    ours.eval()
    try:
        dev = next(hf_model.parameters()).device
        r = hf_model(pixel_values=x.to(device=dev, dtype=dtype), output_hidden_states=True)
        feats = ours.forward_features(x.to(next(ours.parameters()).device))
        hidden = getattr(r, "last_hidden_state", None)
        if hidden is None:  # a head model: its last hidden state is the base model's
            base = getattr(hf_model, "vit", None) or getattr(hf_model, "swin", None)
            hidden = base(pixel_values=x.to(device=dev, dtype=dtype)).last_hidden_state
        _check_close(what, "last hidden state", feats, hidden, tol)
        pooled = getattr(r, "pooler_output", None)
        if pooled is not None:
            _check_close(what, "pooled output", ours.forward_head(feats, pre_logits=True), pooled, tol)
        logits = getattr(r, "logits", None)
        if logits is not None:
            _check_close(what, "logits", ours.forward_head(feats), logits, tol)
    finally:
        hf_model.train(modes[0])
        ours.train(modes[1])
