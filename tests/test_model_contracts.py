"""Every registered model honours its paradigm's contract (docs/ARCHITECTURE.md, "Model contracts").

Parametrised over ``list_models()``, so a model registered later is checked on arrival:

* on the meta device (no memory) at its default config: it declares a paradigm, image models have a
  consistent ``default_cfg``/``forward_features``/``forward_head``/``reset_classifier``, and its
  ``prism_spec`` survives JSON and rebuilds the same architecture;
* for real, once per builder (variants differ only in defaults, checked above), at its default config
  or — where that is large — at a small config from ``SMALL`` and images of at most 80 pixels: a
  forward on its declared ``example_input`` has the paradigm's output shape, and the model saved with
  the checkpoint functions and rebuilt from its ``prism_spec`` gives identical outputs;
* every model that embeds token ids rejects float ids and ids outside its vocabulary.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from tensorprism.errors import ConfigError, ShapeError, UnknownNameError
from tensorprism.models import (
    count_parameters,
    create_model,
    list_models,
    model_default_cfg,
    model_entry,
    model_paradigm,
)
from tensorprism.models.contract import (
    GENERATIVE_KINDS,
    GRAPH_LEVELS,
    check_token_ids,
    forward_on,
    paradigm_of,
)
from tensorprism.train.checkpoint import load_model, save_checkpoint

NAMES = list_models()
MAX_REAL_PARAMS = 3_000_000  # larger defaults are checked at a SMALL config (fast on 2 CPU cores)
UNSHRINKABLE = {"alexnet", "alexnet-book", "inception_v3", "capsnet", "googlenet"}  # fixed-width heads/stems


def _resnet(d: dict) -> dict:
    return dict(widths=tuple(8 * 2**i for i in range(len(d.get("layers", (2, 2, 2, 2))))), stem_width=8)


# small configs per config class: ``defaults -> overrides`` (a new large model family adds a line here)
SMALL = {
    "VGGConfig": lambda d: dict(widths=(8, 8, 16, 16, 16), hidden=(32, 32), pool_size=1, num_classes=10),
    "ResNetConfig": lambda d: {**_resnet(d), "num_classes": 10},
    "DenseNetConfig": lambda d: dict(growth_rate=4, init_features=8, block_config=(2, 2, 2, 2), num_classes=10),
    "EfficientNetConfig": lambda d: dict(width=0.1, depth=0.3, img_size=64, num_classes=10),
    "MobileNetV1Config": lambda d: dict(width=0.25, num_classes=10),
    "MobileNetV2Config": lambda d: dict(width=0.25, num_classes=10),
    "MobileNetV3Config": lambda d: dict(width=0.25, num_classes=10),
    "SimpleCNNConfig": lambda d: dict(channels=(8,) * len(d.get("channels", (32,)))),
    "FCNConfig": lambda d: dict(backbone_kwargs=_resnet({})) if d.get("backbone", "book") != "book" else {},
    "UNetConfig": lambda d: dict(base_width=4, depth=2),
    "BertConfig": lambda d: dict(vocab_size=97, hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64,
                                 max_position=32, **({"embedding_size": 16} if d.get("embedding_size") else {})),
    "GPTConfig": lambda d: dict(vocab_size=97, block_size=32, n_layer=2, n_head=2, n_embd=32),
    "RNNLMConfig": lambda d: dict(vocab_size=97, embed_dim=32, hidden_size=32),
    "RNNClassifierConfig": lambda d: dict(vocab_size=97, embed_dim=16, hidden_size=16),
    "Seq2SeqConfig": lambda d: (dict(src_vocab=97, tgt_vocab=89, embed_dim=16, hidden_size=16, attn_dim=16)
                                if "src_vocab" in d else
                                dict(src_vocab_size=97, tgt_vocab_size=89, d_model=32, nhead=2, num_encoder_layers=1,
                                     num_decoder_layers=1, d_ff=64)),
    "TextGraphConfig": lambda d: dict(vocab_size=97),
    "ViTConfig": lambda d: dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=10),
    "SwinConfig": lambda d: dict(img_size=32, patch_size=2, embed_dim=16, depths=(1, 1), num_heads=(1, 2),
                                 window_size=4, num_classes=10),
    "CycleGANConfig": lambda d: dict(width=8, res_blocks=2, d_width=8, img_size=32 if d.get("downsample") else 16),
}


def _meta(name: str, **kw):
    with torch.device("meta"):
        return create_model(name, **kw)


def _small_overrides(name: str) -> dict:
    entry = model_entry(name)
    if name in UNSHRINKABLE or count_parameters(_meta(name)) <= MAX_REAL_PARAMS:
        return {}
    cls = entry.config.__name__
    assert cls in SMALL, f"{name} has {count_parameters(_meta(name)):,} parameters: add a small {cls} to SMALL"
    defaults = {f.name: f.default for f in dataclasses.fields(entry.config)} | entry.defaults
    return SMALL[cls](defaults)


# ------------------------------------------------------------------------------------ meta device
@pytest.mark.parametrize("name", NAMES)
def test_declares_a_paradigm_and_its_image_contract(name):
    m = _meta(name).eval()
    spec = json.loads(json.dumps(m.prism_spec))  # what a checkpoint stores
    rebuilt = _meta(spec["name"], **spec["config"])
    assert rebuilt.prism_spec == spec
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {k: v.shape for k, v in m.state_dict().items()}
    paradigm = paradigm_of(m)
    assert callable(getattr(m, "example_input", None))
    if paradigm == "graph":
        assert m.level in GRAPH_LEVELS
    if paradigm in ("lm", "encoder"):
        assert m.vocab_size > 0 and (m.block_size is None or m.block_size > 0)
    if paradigm == "sequence":
        assert m.input_layout in ("tokens", "features", "documents")
    if paradigm == "detection":
        assert m.num_classes > 0 and callable(m.loss) and callable(m.detect) and m.default_cfg["num_classes"] == m.num_classes
    if paradigm not in ("image", "dense"):
        return
    cfg = m.default_cfg
    assert cfg == model_default_cfg(name)  # readable from the registry without real weights
    C, H, W = cfg["input_size"]
    assert C == m.in_chans and len(cfg["mean"]) == len(cfg["std"]) == C
    assert cfg["num_classes"] == m.num_classes
    x = m.example_input(2)
    assert x.shape == (2, C, H, W)
    if paradigm == "dense":
        out = m(x)
        assert out.dim() == 4 and out.shape[:2] == (2, m.num_classes)
        return
    feats = m.forward_features(x)
    assert m.forward_head(feats).shape == m(x).shape == (2, m.num_classes)
    assert m.forward_head(feats, pre_logits=True).shape[:2] == (2, m.num_features) == (2, cfg["num_features"])
    m.reset_classifier(0)
    assert m(x).shape[:2] == (2, m.num_features) and m.default_cfg["num_classes"] == 0
    m.reset_classifier(3)
    assert m(x).shape == (2, 3)


# ------------------------------------------------------------------------------------ real weights
def _outputs(out) -> torch.Tensor:
    """The main output tensor of a forward (BERT heads return dicts / named tuples)."""
    if isinstance(out, dict):
        return next(v for v in out.values() if isinstance(v, torch.Tensor))
    if isinstance(out, tuple) and hasattr(out, "_fields"):
        return out[0]
    return out


def _check_output_shape(m, inp, out: torch.Tensor) -> None:
    p = m.paradigm
    first = inp[0] if isinstance(inp, tuple) else inp
    n = first.shape[0]
    if p == "image":
        assert out.shape == (n, m.num_classes)
    elif p == "lm":
        assert out.shape == (*first.shape, m.vocab_size)
    elif p == "encoder":
        assert out.shape[:2] == first.shape
    elif p == "seq2seq":
        assert out.shape == (n, inp[1].shape[1], m.tgt_vocab_size)
    elif p in ("sequence", "tabular"):
        assert out.dim() == 2 and out.shape[0] == n
    elif p == "graph" and m.level == "node":
        assert out.shape[0] == first.shape[0]
    elif p == "graph" and m.level in ("graph", "pair"):
        batch = inp[2] if m.level == "graph" else inp[4]
        assert out.shape[0] == int(batch.max()) + 1
    elif p == "graph":  # temporal
        assert out.shape[0] == n and out.shape[2] == first.shape[2]
    elif p == "multimodal":
        assert out.shape[0] == n and out.dim() == (2 if m.output == "logits" else 3)
    elif p == "generative":  # reconstruction, VAE decoder output, GAN sample, flow latent or pixel logits
        levels = getattr(m, "levels", None)  # multi-level autoregressive models: (N, C, levels, H, W) logits
        shape = (n, m.data_shape[0], levels, *m.data_shape[1:]) if levels else (n, *m.data_shape)
        assert m.kind in GENERATIVE_KINDS and out.shape == shape
    elif p == "detection":  # the first raw output (e.g. objectness per anchor); detect gives one dict per image
        dets = m.detect(forward_on(m, inp))
        assert out.shape[0] == n and len(dets) == n and all({"boxes", "scores", "labels"} <= set(d) for d in dets)


def _one_per_builder(names: list[str]) -> list[str]:
    seen: dict[tuple, str] = {}
    for n in names:
        e = model_entry(n)
        seen.setdefault((e.fn, e.config), n)
    return sorted(seen.values())


MAX_REAL_IMAGE = 80  # Inception-v3 needs at least 75


@pytest.mark.parametrize("name", _one_per_builder(NAMES))
def test_forward_on_example_input_and_rebuild_from_spec(name, tmp_path):
    torch.manual_seed(0)
    m = create_model(name, **_small_overrides(name)).eval()
    if m.paradigm in ("image", "dense") and max(m.input_size[1:]) > MAX_REAL_IMAGE:
        m.set_input_defaults(MAX_REAL_IMAGE)  # global pooling / fully convolutional: keeps the test fast
    inp = m.example_input(2)
    with torch.no_grad():
        out = _outputs(forward_on(m, inp))
    assert torch.isfinite(out).all()
    _check_output_shape(m, inp, out)

    path = save_checkpoint(tmp_path / "m.safetensors", m.state_dict(), {"model_spec": m.prism_spec})
    rebuilt = load_model(path).eval()
    assert type(rebuilt) is type(m) and rebuilt.prism_spec == m.prism_spec
    with torch.no_grad():
        again = _outputs(forward_on(rebuilt, inp))
    assert torch.equal(out, again)


# ------------------------------------------------------------------------------------ token ids
def _embeds_tokens(name: str) -> bool:
    """Its config has a vocabulary (and the variant uses it: ``lstm-ucr`` sets ``vocab_size=None``)."""
    entry = model_entry(name)
    fields = {f.name for f in dataclasses.fields(entry.config)} if entry.config else set()
    return bool({"vocab_size", "src_vocab", "src_vocab_size"} & fields) and entry.defaults.get("vocab_size", 1) is not None


TOKEN_MODELS = [n for n in NAMES if _embeds_tokens(n)]


@pytest.mark.parametrize("name", TOKEN_MODELS)
def test_token_ids_must_be_integers_inside_the_vocabulary(name):
    m = create_model(name, **_small_overrides(name)).eval()
    inp = m.example_input(2)
    args = list(inp) if isinstance(inp, tuple) else [inp]
    k = getattr(m, "token_argument", None) or 0  # multimodal models name their token argument
    ids = args[k]

    def with_ids(bad):
        return tuple([*args[:k], bad, *args[k + 1:]])

    vocab = getattr(m, "src_vocab_size", None) or m.vocab_size
    owner = type(m).__name__
    with pytest.raises(ShapeError, match=rf"{owner}.*integer.*float32"):
        forward_on(m, with_ids(ids.float()))
    too_big = ids.clone()
    too_big.view(-1)[0] = vocab + 5
    with pytest.raises(ShapeError, match=rf"{owner}.*\[0, {vocab}\).*id {vocab + 5}"):
        forward_on(m, with_ids(too_big))
    negative = ids.clone()
    negative.view(-1)[-1] = -1
    with pytest.raises(ShapeError, match=r"id -1"):
        forward_on(m, with_ids(negative))


def test_token_check_is_skipped_on_the_meta_device_and_names_the_caller():
    check_token_ids(torch.empty(2, 3, dtype=torch.long, device="meta"), 5, "M")  # no values to read
    check_token_ids(torch.zeros(0, dtype=torch.long), 5, "M")
    with pytest.raises(ShapeError, match="M expects integer token ids .*torch.bool"):
        check_token_ids(torch.ones(2, dtype=torch.bool), 5, "M")
    with pytest.raises(ShapeError, match="got list"):
        check_token_ids([1, 2], 5, "M")


def test_seq2seq_target_ids_are_checked_against_the_target_vocabulary():
    m = create_model("transformer-small", **_small_overrides("transformer-small")).eval()
    src, tgt = m.example_input(2)
    tgt[0, 0] = m.tgt_vocab_size  # inside the source vocabulary (97), outside the target one (89)
    with pytest.raises(ShapeError, match=r"target ids .*\[0, 89\)"):
        m(src, tgt)


def test_src_mask_equals_padding_and_generate_starts_with_bos():
    for name in ("transformer-small", "rnn-seq2seq"):
        m = create_model(name, **_small_overrides(name)).eval()
        src, tgt = m.example_input(2)
        src[:, -2:] = m.pad_id
        with torch.no_grad():
            torch.testing.assert_close(m(src, tgt), m(src, tgt, src_mask=src != m.pad_id))
            out = m.generate(src, max_len=4)
        assert out.shape[0] == 2 and 2 <= out.shape[1] <= 5 and (out[:, 0] == 2).all()
        with pytest.raises(ShapeError, match="src_mask must be a boolean"):
            m(src, tgt, src_mask=(src != m.pad_id).long())


def test_language_models_generate_and_offer_a_loss():
    for name in ("gpt-char", "char-rnn-book"):
        m = create_model(name).eval()
        prompt = m.example_input(2)[:, :3]
        out = m.generate(prompt, max_new_tokens=4)
        assert out.shape == (2, 7) and torch.equal(out[:, :3], prompt)
        assert m.loss(m.example_input(2)).dim() == 0


def test_sequence_models_name_the_expected_layout():
    with pytest.raises(ShapeError, match=r"univariate series needs x.unsqueeze\(-1\)"):
        create_model("rnn-forecaster")(torch.randn(2, 12))
    with pytest.raises(ShapeError, match=r"token ids \(N, T\)"):
        create_model("sentiment-lstm-book")(torch.randint(0, 9, (2, 5, 1)))


def test_graph_models_run_on_a_graph_object():
    from tensorprism.data.graph import Graph

    m = create_model("gcn", in_channels=4, num_classes=3).eval()
    x, edge_index = m.example_input(1)
    x = x[:, :4]
    g = Graph(edge_index=edge_index, x=x)
    torch.testing.assert_close(m.forward_graph(g), m(x, edge_index))
    pair = create_model("gcn-pair")
    with pytest.raises(ShapeError, match="pair-level model"):
        pair.forward_graph(g)


def test_capsnet_follows_the_image_contract_with_capsules_as_classifier():
    m = create_model("capsnet", routing_iterations=1).eval()
    x = m.example_input(2)
    with torch.no_grad():
        torch.testing.assert_close(m(x), m.capsules(x).norm(dim=-1))
        assert m.forward_head(m.forward_features(x), pre_logits=True).shape == (2, m.num_features)
    m.reset_classifier(0)
    assert m.decoder is None and m.get_classifier().__class__.__name__ == "Identity"
    with pytest.raises(ConfigError, match="reset_classifier"):
        m.capsules(x)


def test_default_cfg_is_refused_for_non_image_models_and_reports_variant_resolution():
    assert model_default_cfg("efficientnet_b3")["input_size"] == (3, 300, 300)
    assert model_default_cfg("resnet20-cifar")["mean"] == (0.4914, 0.4822, 0.4465)
    assert model_default_cfg("lenet5", img_size=32)["input_size"] == (1, 32, 32)
    with pytest.raises(ConfigError, match="'gpt2' is a lm model"):
        model_default_cfg("gpt2")


def test_a_model_without_a_contract_is_named_and_registry_reads_need_no_weights():
    with pytest.raises(ShapeError, match=r"Linear declares no paradigm.*image, dense, lm"):
        paradigm_of(torch.nn.Linear(2, 2))
    assert model_paradigm("gat") == "graph" and model_paradigm("transformer-small") == "seq2seq"
    with pytest.raises(UnknownNameError, match="Did you mean 'resnet18'"):
        model_paradigm("resnet-18")
