"""Loading Hugging Face weights cannot be silently wrong: every tensor is mapped or the load
raises naming it, every config setting is carried over or refused, and a model object is
checked on a probe batch. Tiny random models only (no downloads)."""

from __future__ import annotations

import itertools
import json

import pytest
import torch

from tensorprism.errors import CheckpointError, ConfigError
from tensorprism.interop.hf import (
    bert_state_from_hf,
    gpt2_state_from_hf,
    load_hf_albert,
    load_hf_bert,
    load_hf_gpt2,
)

transformers = pytest.importorskip("transformers")

GPT2_BASE = dict(vocab_size=61, n_positions=24, n_embd=16, n_layer=2, n_head=2, bos_token_id=0, eos_token_id=0)
BERT_BASE = dict(vocab_size=53, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=24,
                 max_position_embeddings=40)
ACTIVATIONS = ["gelu_new", "gelu", "relu", "silu", "gelu_pytorch_tanh", "gelu_fast"]


def _gpt2(cls="GPT2LMHeadModel", **kw):
    torch.manual_seed(0)
    return getattr(transformers, cls)(transformers.GPT2Config(**{**GPT2_BASE, **kw})).eval()


@pytest.mark.parametrize("tied,n_inner,act", itertools.product([True, False], [None, 40], ACTIVATIONS))
def test_gpt2_config_space_matches_transformers(tied, n_inner, act):
    hf = _gpt2(tie_word_embeddings=tied, n_inner=n_inner, activation_function=act, layer_norm_epsilon=1e-6)
    ours = load_hf_gpt2(hf).eval()
    assert (ours.lm_head.weight is ours.wte.weight) == tied
    ids = torch.randint(0, 61, (2, 12))
    with torch.no_grad():
        assert (ours(ids) - hf(ids).logits).abs().max() <= 1e-5


def test_gpt2_untied_head_is_loaded_not_dropped():
    """The reviewed bug: an untied lm_head was dropped and logits were off by up to 2.5."""
    hf = _gpt2(tie_word_embeddings=False)
    assert not torch.equal(hf.lm_head.weight, hf.transformer.wte.weight)
    ours = load_hf_gpt2(hf)
    assert torch.equal(ours.lm_head.weight, hf.lm_head.weight)


def test_gpt2_reorder_and_upcast_attn_is_supported_in_float32():
    hf = _gpt2(reorder_and_upcast_attn=True)
    ours = load_hf_gpt2(hf).eval()
    ids = torch.randint(0, 61, (2, 10))
    with torch.no_grad():
        assert (ours(ids) - hf(ids).logits).abs().max() <= 1e-5


def test_bare_gpt2_model_loads_tied_and_refuses_untied_without_head():
    load_hf_gpt2(_gpt2("GPT2Model"))  # the probe compares hidden states projected on wte
    with pytest.raises(CheckpointError, match="lm_head.weight"):
        load_hf_gpt2(_gpt2("GPT2Model", tie_word_embeddings=False))


@pytest.mark.parametrize("setting,value", [("scale_attn_weights", False), ("scale_attn_by_inverse_layer_idx", True),
                                           ("add_cross_attention", True), ("activation_function", "quick_gelu"),
                                           ("activation_function", "tanh")])
def test_gpt2_settings_we_cannot_represent_are_refused(setting, value):
    with pytest.raises(ConfigError, match=setting):
        load_hf_gpt2(_gpt2(**{setting: value}))


@pytest.mark.parametrize("cls", ["GPT2DoubleHeadsModel", "GPT2ForSequenceClassification"])
def test_gpt2_classes_with_other_heads_are_refused(cls):
    with pytest.raises(ConfigError, match=cls):
        load_hf_gpt2(_gpt2(cls))


def test_gpt2_unmapped_and_missing_tensors_are_named():
    sd = dict(_gpt2().state_dict())
    with pytest.raises(CheckpointError, match="transformer.h.0.extra.weight"):
        gpt2_state_from_hf({**sd, "transformer.h.0.extra.weight": torch.zeros(2)}, 2)
    with pytest.raises(CheckpointError, match="transformer.h.1.mlp.c_fc.bias"):
        gpt2_state_from_hf({k: v for k, v in sd.items() if k != "transformer.h.1.mlp.c_fc.bias"}, 2)
    with pytest.raises(CheckpointError, match="transformer.h.2"):  # config says 2 layers, checkpoint has 2
        gpt2_state_from_hf(sd, 3)
    three = dict(_gpt2(n_layer=3).state_dict())
    with pytest.raises(CheckpointError, match="transformer.h.2"):  # a layer the config does not describe
        gpt2_state_from_hf(three, 2)


def test_gpt2_tied_head_that_differs_from_the_embedding_is_refused():
    sd = dict(_gpt2().state_dict())
    sd["lm_head.weight"] = sd["lm_head.weight"] + 1
    with pytest.raises(ConfigError, match="lm_head.weight"):
        gpt2_state_from_hf(sd, 2, tie_weights=True)


def test_probe_catches_a_model_that_computes_something_else():
    hf = _gpt2(activation_function="gelu_new")
    with pytest.raises(CheckpointError, match="probe: logits differ"):
        load_hf_gpt2(hf, activation="relu")  # a wrong override: mapping is complete, outputs differ
    load_hf_gpt2(hf, activation="relu", verify=False)  # explicitly skipped


# ------------------------------------------------------------------------------------ BERT


def _bert(cls="BertModel", **kw):
    torch.manual_seed(0)
    return getattr(transformers, cls)(transformers.BertConfig(**{**BERT_BASE, **kw})).eval()


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_bert_activations_match_transformers(act):
    hf = _bert("BertForPreTraining", hidden_act=act, layer_norm_eps=1e-6, type_vocab_size=3)
    ours = load_hf_bert(hf).eval()
    ids = torch.randint(1, 53, (2, 9))
    with torch.no_grad():
        assert (ours(ids)["mlm_logits"] - hf(ids).prediction_logits).abs().max() <= 1e-5


@pytest.mark.parametrize("setting,value", [("position_embedding_type", "relative_key"), ("is_decoder", True),
                                           ("hidden_act", "tanh"),
                                           ("problem_type", "multi_label_classification")])
def test_bert_settings_we_cannot_represent_are_refused(setting, value):
    with pytest.raises(ConfigError, match=setting):
        load_hf_bert(_bert(**{setting: value}))


def test_bert_untied_mlm_decoder_is_refused():
    hf = _bert("BertForPreTraining", tie_word_embeddings=False)
    assert not torch.equal(hf.cls.predictions.decoder.weight, hf.bert.embeddings.word_embeddings.weight)
    with pytest.raises(ConfigError, match="cls.predictions.decoder.weight"):
        load_hf_bert(hf)


def test_bert_class_with_unknown_head_is_refused_unless_a_head_is_chosen():
    hf = _bert("BertForMaskedLM")
    with pytest.raises(ConfigError, match="head='none'"):
        load_hf_bert(hf)
    ours = load_hf_bert(hf, head="none")  # explicit: the MLM head is dropped, the encoder checked
    assert ours.config.head == "none"


def test_other_model_types_are_refused():
    distil = transformers.DistilBertModel(transformers.DistilBertConfig(
        vocab_size=53, dim=16, n_layers=1, n_heads=2, hidden_dim=24))
    with pytest.raises(ConfigError, match="distilbert"):
        load_hf_bert(distil)


def test_bert_unmapped_source_tensor_is_named():
    sd = dict(_bert("BertForPreTraining").state_dict())
    sd["bert.encoder.layer.0.attention.self.rotary.weight"] = torch.zeros(3)
    with pytest.raises(CheckpointError, match="rotary.weight"):
        bert_state_from_hf(sd, 2)


def test_bert_folder_with_extra_tensor_or_broken_files_raises(tmp_path):
    from safetensors.torch import save_file

    hf = _bert()
    hf.save_pretrained(tmp_path)
    load_hf_bert(tmp_path)
    sd = {k: v.contiguous() for k, v in hf.state_dict().items()}
    save_file({**sd, "encoder.layer.5.output.dense.weight": torch.zeros(2, 2)}, str(tmp_path / "model.safetensors"))
    with pytest.raises(CheckpointError, match=r"encoder\.layer\.5"):
        load_hf_bert(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"\x08\x00\x00")  # truncated
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        load_hf_bert(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_hf_bert(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(ConfigError, match="gpt2"):
        load_hf_bert(tmp_path)


# --------------------------------------------------------------------------------- RoBERTa

ROBERTA = dict(vocab_size=57, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=24,
               max_position_embeddings=34, type_vocab_size=1, pad_token_id=1)


def _roberta(cls, **kw):
    torch.manual_seed(0)
    return getattr(transformers, cls)(transformers.RobertaConfig(**{**ROBERTA, **kw})).eval()


def _padded_ids():
    """Right and left padding (pad id 1): RoBERTa positions skip the padding."""
    ids = torch.randint(3, 57, (3, 11))
    am = torch.ones_like(ids)
    ids[1, 7:], am[1, 7:] = 1, 0
    ids[2, :3], am[2, :3] = 1, 0
    return ids, am


@pytest.mark.parametrize("cls,key", [("RobertaModel", None), ("RobertaForSequenceClassification", "logits"),
                                     ("RobertaForTokenClassification", "logits"),
                                     ("RobertaForQuestionAnswering", "start_logits")])
def test_roberta_matches_transformers_with_padding(cls, key):
    hf = _roberta(cls, num_labels=2 if "Question" in cls else 3)
    ours = load_hf_bert(hf).eval()
    ids, am = _padded_ids()
    with torch.no_grad():
        r, o = hf(ids, attention_mask=am, output_hidden_states=True), ours(ids, None, am)
    keep = am.bool()
    if key is None:
        assert (o.hidden - r.last_hidden_state)[keep].abs().max() <= 1e-5
        assert (o.pooled - r.pooler_output).abs().max() <= 1e-5
    else:
        diff = o[key] - getattr(r, key)
        assert (diff if key == "logits" and "Sequence" in cls else diff[keep]).abs().max() <= 1e-5


def test_roberta_multiple_choice_matches_transformers():
    hf = _roberta("RobertaForMultipleChoice")
    ours = load_hf_bert(hf).eval()
    ids = torch.randint(3, 57, (2, 3, 8))
    with torch.no_grad():
        assert (ours(ids)["logits"] - hf(ids).logits).abs().max() <= 1e-5


def test_roberta_positions_are_offset_not_bert_positions():
    """The reviewed bug: RoBERTa loaded as BERT used positions 0.. instead of pad_token_id + 1.."""
    ours = load_hf_bert(_roberta("RobertaModel"))
    assert ours.config.roberta_positions and ours.config.type_vocab_size == 1
    from tensorprism.models.transformer.bert import roberta_position_ids

    ids, _ = _padded_ids()
    pos = roberta_position_ids(ids, torch.zeros(3, 11, 1), 1, 34)
    assert pos[0].tolist() == list(range(2, 13))
    assert pos[1, 6:].tolist() == [8, 1, 1, 1, 1] and pos[2, :4].tolist() == [1, 1, 1, 2]
    with pytest.raises(CheckpointError, match="probe: last hidden state differs"):
        load_hf_bert(_roberta("RobertaModel"), roberta_positions=False)  # BERT's positions: caught


def test_roberta_masked_lm_is_refused_unless_encoder_only():
    hf = _roberta("RobertaForMaskedLM")
    with pytest.raises(ConfigError, match="RobertaForMaskedLM"):
        load_hf_bert(hf)
    load_hf_bert(hf, head="none")


# ---------------------------------------------------------------------------------- ALBERT

ALBERT = dict(vocab_size=41, embedding_size=8, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
              intermediate_size=24)


@pytest.mark.parametrize("setting", ["inner_group_num", "num_hidden_groups"])
def test_albert_layer_groups_other_than_one_are_refused(setting):
    hf = transformers.AlbertForPreTraining(transformers.AlbertConfig(**ALBERT, **{setting: 2}))
    with pytest.raises(ConfigError, match=setting):
        load_hf_albert(hf)


def test_albert_other_classes_are_refused_and_pretraining_is_probed():
    with pytest.raises(ConfigError, match="AlbertModel"):
        load_hf_albert(transformers.AlbertModel(transformers.AlbertConfig(**ALBERT)))
    load_hf_albert(transformers.AlbertForPreTraining(transformers.AlbertConfig(**ALBERT, hidden_act="gelu")))
